//! Conversations kept in the browser (IndexedDB, through `web/storage.js`): each saved as it
//! happens (a message when it is sent, a streaming answer every few pieces and when it
//! ends), listed in a sidebar to restore, rename, delete or export (JSON, Markdown). The
//! newest one is restored when the page opens.

use super::AppState;
use super::chat::Line;
use super::web::{self, from_js, js_error, to_js};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/web/storage.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = saveChat)]
    async fn js_save(record: JsValue) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = listChats)]
    async fn js_list() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = loadChat)]
    async fn js_load(id: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = deleteChat)]
    async fn js_delete(id: &str) -> Result<JsValue, JsValue>;
}

/// Pieces of a streaming answer between two saves.
pub const SAVE_EVERY: usize = 4;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Saved {
    pub role: String,
    pub text: String,
}

/// One conversation as stored.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub title: String,
    pub created: f64,
    pub updated: f64,
    /// The model that answered (its name).
    pub model: String,
    /// The conversation's system prompt (absent in records saved before it was kept:
    /// Lantern's default then).
    #[serde(default = "default_system")]
    pub system: String,
    pub messages: Vec<Saved>,
}

fn default_system() -> String {
    crate::defaults::SYSTEM_PROMPT.to_string()
}

/// A conversation in the sidebar.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Summary {
    pub id: String,
    pub title: String,
    pub updated: f64,
    pub count: usize,
}

fn now() -> f64 {
    js_sys::Date::now()
}

/// The conversation on screen, as a record (a new id the first time).
fn record(state: AppState) -> Record {
    let messages: Vec<Saved> = state.chat_log.with_untracked(|log| {
        log.iter()
            .map(|l| Saved {
                role: l.role.to_string(),
                text: l.text.get_untracked(),
            })
            .collect()
    });
    let id = state.chat_id.get_untracked().unwrap_or_else(|| {
        let id = format!(
            "{:x}-{:x}",
            now() as u64,
            (js_sys::Math::random() * 1e9) as u64
        );
        state.chat_id.set(Some(id.clone()));
        id
    });
    let title = state.chat_title.get_untracked().unwrap_or_else(|| {
        let first = messages.iter().find(|m| m.role == "user");
        let t = first.map_or("New conversation", |m| m.text.as_str()).trim();
        let short: String = t.chars().take(48).collect();
        if short.len() < t.len() {
            format!("{short}…")
        } else {
            short
        }
    });
    Record {
        id,
        title,
        created: state.chat_created.get_value().unwrap_or_else(now),
        updated: now(),
        model: state.model_name(),
        system: state.chat_system.get_untracked(),
        messages,
    }
}

/// Saves the conversation on screen; with `list`, reads the sidebar's list again after.
/// A failure is shown (the conversation stays on screen).
pub fn save(state: AppState, list: bool) {
    if state.chat_log.with_untracked(Vec::is_empty) {
        return;
    }
    if state.chat_created.get_value().is_none() {
        state.chat_created.set_value(Some(now()));
    }
    let r = record(state);
    // The write is queued now, so writes keep the order of the calls.
    let js = to_js(&r);
    leptos::task::spawn_local(async move {
        let saved = match js {
            Ok(js) => js_save(js).await.map_err(js_error),
            Err(e) => Err(e),
        };
        if let Err(e) = saved {
            state.fail(format!(
                "could not save this conversation in the browser ({e}); it stays on screen, \
                 export it to keep it"
            ));
        }
        if list {
            refresh(state).await;
        }
    });
}

/// Reads the sidebar's list again.
pub async fn refresh(state: AppState) {
    match js_list().await.map_err(js_error).and_then(|v| from_js(&v)) {
        Ok(list) => state.chats.set(list),
        Err(e) => state.fail(format!("cannot read the saved conversations: {e}")),
    }
}

/// Starts a new, empty conversation (saved at its first message).
pub fn start_new(state: AppState) {
    state.chat.get_value().borrow_mut().reset();
    state.chat_log.set(Vec::new());
    state.chat_system.set(default_system());
    state.chat_id.set(None);
    state.chat_title.set(None);
    state.chat_created.set_value(None);
}

/// Shows a saved conversation and makes it the one the next message continues (its whole
/// text runs through the model again then: the KV cache holds another conversation).
pub async fn open(state: AppState, id: &str) -> Result<(), String> {
    let r: Record = from_js(&js_load(id).await.map_err(js_error)?)?;
    // The KV cache holds another conversation; the next answer prompts from the screen.
    state.chat.get_value().borrow_mut().cache_lost();
    let lines = r
        .messages
        .iter()
        .map(|m| {
            let role = if m.role == "user" {
                "user"
            } else {
                "assistant"
            };
            Line::new(state, role, m.text.clone())
        })
        .collect();
    state.chat_log.set(lines);
    state.chat_system.set(r.system);
    super::chat::count_tokens(state);
    state.chat_id.set(Some(r.id));
    state.chat_title.set(Some(r.title));
    state.chat_created.set_value(Some(r.created));
    Ok(())
}

/// At start: the list, and the newest conversation on screen.
pub async fn restore_latest(state: AppState) {
    refresh(state).await;
    let newest = state.chats.get_untracked().first().map(|c| c.id.clone());
    if let Some(id) = newest
        && state.chat_log.with_untracked(Vec::is_empty)
        && let Err(e) = open(state, &id).await
    {
        state.fail(format!("cannot restore the last conversation: {e}"));
    }
}

fn markdown(r: &Record) -> String {
    let mut md = format!("# {}\n\n*Lantern, {}*\n", r.title, r.model);
    if !r.system.is_empty() {
        md.push_str(&format!("\n**System:** {}\n", r.system));
    }
    for m in &r.messages {
        let who = if m.role == "user" { "You" } else { "Lantern" };
        md.push_str(&format!("\n**{who}:** {}\n", m.text));
    }
    md
}

/// Offers a saved conversation as a file: JSON (the record) or Markdown.
async fn export(id: String, as_markdown: bool) -> Result<(), String> {
    let r: Record = from_js(&js_load(&id).await.map_err(js_error)?)?;
    let stem: String = r
        .title
        .chars()
        .map(|c| if c.is_alphanumeric() { c } else { '-' })
        .collect();
    let stem = stem.trim_matches('-').to_lowercase();
    let stem = if stem.is_empty() {
        "conversation".into()
    } else {
        stem
    };
    if as_markdown {
        web::download(&format!("{stem}.md"), "text/markdown", &markdown(&r))
    } else {
        let json = serde_json::to_string_pretty(&r).map_err(|e| e.to_string())?;
        web::download(&format!("{stem}.json"), "application/json", &json)
    }
    .map_err(js_error)
}

/// Runs a sidebar action, shows its failure, and reads the list again.
fn act(state: AppState, task: impl Future<Output = Result<(), String>> + 'static) {
    leptos::task::spawn_local(async move {
        if let Err(e) = task.await {
            state.fail(e);
        }
        refresh(state).await;
    });
}

async fn rename(state: AppState, id: String, title: String) -> Result<(), String> {
    let mut r: Record = from_js(&js_load(&id).await.map_err(js_error)?)?;
    r.title = title.clone();
    js_save(to_js(&r)?).await.map_err(js_error)?;
    if state.chat_id.get_untracked().as_deref() == Some(id.as_str()) {
        state.chat_title.set(Some(title));
    }
    Ok(())
}

async fn delete(state: AppState, id: String) -> Result<(), String> {
    if state.chat_id.get_untracked().as_deref() == Some(id.as_str()) {
        start_new(state);
    }
    js_delete(&id).await.map_err(js_error)?;
    Ok(())
}

/// The saved conversations, newest first.
#[component]
pub fn ChatList() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <details class="panel chats" open>
            <summary>"Conversations"</summary>
            <ul data-testid="chat-list">
                {move || state.chats.get().into_iter().map(|c| view! { <ChatItem c/> }).collect_view()}
            </ul>
        </details>
    }
}

/// One saved conversation: its title (click to open it; Rename turns it into a text box,
/// Enter keeps the new title), how many messages, export and delete.
#[component]
fn ChatItem(c: Summary) -> impl IntoView {
    let state = expect_context::<AppState>();
    let id = StoredValue::new(c.id.clone());
    let editing = RwSignal::new(false);
    let idle = move || !state.busy.get();
    let current = move || state.chat_id.get() == Some(id.get_value());
    let (title, input_title) = (c.title.clone(), c.title.clone());
    view! {
        <li data-testid=format!("chat-item-{}", c.id) class:current=current
            data-title=c.title.clone() data-count=c.count.to_string()>
            <Show when=move || editing.get()
                fallback=move || view! {
                    <button class="link title" data-testid="chat-open" disabled=move || !idle()
                        on:click=move |_| act(state, async move { open(state, &id.get_value()).await })>
                        {title.clone()}
                    </button>
                }>
                <input data-testid="chat-title-input" value=input_title.clone()
                    on:keydown=move |ev: web_sys::KeyboardEvent| match ev.key().as_str() {
                        "Enter" => {
                            editing.set(false);
                            let t = event_target_value(&ev).trim().to_string();
                            if !t.is_empty() {
                                act(state, rename(state, id.get_value(), t));
                            }
                        }
                        "Escape" => editing.set(false),
                        _ => {}
                    }/>
            </Show>
            <span class="muted">{format!(" {} messages", c.count)}</span>
            <span class="actions">
                <button data-testid=format!("chat-rename-{}", c.id)
                    on:click=move |_| editing.set(true)>"Rename"</button>
                <button data-testid=format!("chat-export-json-{}", c.id)
                    on:click=move |_| act(state, export(id.get_value(), false))>"JSON"</button>
                <button data-testid=format!("chat-export-md-{}", c.id)
                    on:click=move |_| act(state, export(id.get_value(), true))>"Markdown"</button>
                <button data-testid=format!("chat-delete-{}", c.id) disabled=move || !idle()
                    on:click=move |_| act(state, delete(state, id.get_value()))>"Delete"</button>
            </span>
        </li>
    }
}
