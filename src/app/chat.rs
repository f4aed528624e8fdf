//! Chat mode: the conversation, rendered by the model's own chat template, each answer
//! streaming in as Markdown (built as DOM nodes: `markdown.rs`; never parsed as HTML).
//! What is on screen is the conversation: each answer is prompted from it (with the
//! conversation's own system prompt), so regenerating an answer or editing a question and
//! sending it again answers from there, and the KV cache is reused up to the first token
//! that changed (`Chat::prompt`).

use super::AppState;
use super::generate::{spawn_generation, stream};
use super::{history, markdown, web};
use crate::model::chat::Message;
use leptos::prelude::*;
use std::sync::atomic::{AtomicUsize, Ordering};

/// One message on screen.
#[derive(Clone)]
pub struct Line {
    /// Unique for the page's life: a regenerated answer is a new line, never a reused key.
    id: usize,
    pub role: &'static str,
    pub text: RwSignal<String>,
    /// The seed an answer was drawn with (to regenerate it with the same one).
    pub seed: RwSignal<u64>,
    /// A question being edited.
    editing: RwSignal<bool>,
}

impl Line {
    /// A line whose signals belong to the page (`AppState::root`), not to whatever component
    /// is current: a handler of the line it replaces would otherwise take them with it.
    pub fn new(state: AppState, role: &'static str, text: String) -> Self {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        state.root.with_value(|root| {
            root.with(|| Self {
                id: NEXT.fetch_add(1, Ordering::Relaxed),
                role,
                text: RwSignal::new(text),
                seed: RwSignal::new(0),
                editing: RwSignal::new(false),
            })
        })
    }
}

/// The turns on screen as messages, without an answer still empty.
fn turns(lines: &[Line]) -> Vec<Message> {
    lines
        .iter()
        .map(|l| Message::new(l.role, &l.text.get_untracked()))
        .filter(|m| !(m.role == "assistant" && m.content.is_empty()))
        .collect()
}

/// Tokens the answer may take, as the prompt leaves room for in a context of `context`.
fn room(max_tokens: usize, context: usize) -> usize {
    max_tokens.min(context / 2)
}

/// Counts the conversation's tokens as the model reads it (when no task holds the model).
pub fn count_tokens(state: AppState) {
    let cell = state.engine();
    let Ok(engine) = cell.try_borrow() else {
        return;
    };
    let Some(e) = engine.as_ref() else {
        state.chat_tokens.set(None);
        return;
    };
    let mut chat = crate::chat::Chat::new("");
    chat.set_turns(
        &state.chat_system.get_untracked(),
        state.chat_log.with_untracked(|l| turns(l)),
    );
    let n = chat.token_count(&e.loaded).ok();
    state.chat_tokens.set(n.map(|n| (n, e.model.context)));
}

/// Answers the conversation `before` (its last line the user's question) in a new line,
/// drawn with `seed`.
fn answer(state: AppState, before: Vec<Line>, seed: u64) {
    if state.busy.get_untracked() || !state.ready() {
        return;
    }
    let reply = Line::new(state, "assistant", String::new());
    reply.seed.set(seed);
    let messages = turns(&before);
    state.chat_log.set([before, vec![reply.clone()]].concat());
    // The question is saved at once; the answer every few pieces and when it ends.
    history::save(state, true);
    let system = state.chat_system.get_untracked();
    let mut pieces = 0;
    spawn_generation(state, async move {
        let chat = state.chat.get_value();
        let out = stream(
            state,
            true,
            seed,
            |e| {
                let mut chat = chat.borrow_mut();
                chat.set_turns(&system, messages);
                let max_tokens = state.settings.get_untracked().max_tokens;
                chat.prompt(
                    &e.loaded,
                    e.model.context,
                    room(max_tokens, e.model.context),
                )
            },
            |piece, _| {
                reply.text.try_update(|t| t.push_str(piece));
                pieces += 1;
                if pieces % history::SAVE_EVERY == 0 {
                    history::save(state, false);
                }
            },
        )
        .await;
        history::save(state, true);
        let result = match out {
            Ok(out) => {
                chat.borrow_mut().answered(&out.text, out.cached_ids);
                Ok(())
            }
            Err(e) => {
                // Keep what was said; the cache may not match it any more.
                chat.borrow_mut().cache_lost();
                if reply.text.with_untracked(String::is_empty) {
                    reply.text.set("(no answer)".into());
                }
                Err(e)
            }
        };
        count_tokens(state);
        result
    });
}

/// A seed for "Regenerate": another draw than the answer had.
fn fresh_seed() -> u64 {
    (js_sys::Math::random() * 9_007_199_254_740_992.0) as u64
}

/// Copies `text` to the clipboard; `done` shows "Copied" for a moment.
fn copy(state: AppState, text: String, done: Option<RwSignal<bool>>) {
    leptos::task::spawn_local(async move {
        match web::copy_text(&text).await {
            Ok(()) => {
                if let Some(done) = done {
                    done.set(true);
                    // The message may be gone by then (a new chat): no signal to set.
                    set_timeout(
                        move || {
                            done.try_set(false);
                        },
                        std::time::Duration::from_millis(1500),
                    );
                }
            }
            Err(e) => state.fail(format!("could not copy to the clipboard: {e}")),
        }
    });
}

/// A code block's copy button (inside an answer's Markdown): copies that block's code.
fn on_log_click(state: AppState, ev: web_sys::MouseEvent) {
    use wasm_bindgen::JsCast;
    let Some(target) = ev
        .target()
        .and_then(|t| t.dyn_into::<web_sys::Element>().ok())
    else {
        return;
    };
    let Ok(Some(button)) = target.closest(".copy-code") else {
        return;
    };
    let code = button
        .closest(".code-block")
        .ok()
        .flatten()
        .and_then(|b| b.query_selector("code").ok().flatten())
        .and_then(|c| c.text_content());
    if let Some(code) = code {
        copy(state, code, None);
        button.set_text_content(Some("Copied"));
    }
}

#[component]
fn ChatMessage(line: Line, last: Signal<bool>) -> impl IntoView {
    let state = expect_context::<AppState>();
    let idle = move || state.ready() && !state.busy.get();
    let copied = RwSignal::new(false);
    let draft = RwSignal::new(String::new());
    let body = NodeRef::<leptos::html::Div>::new();
    let is_user = line.role == "user";
    // Answers render as Markdown, again at every piece (a few hundred tokens: cheap).
    Effect::new(move |_| {
        let text = line.text.get();
        if let Some(el) = body.get()
            && !is_user
        {
            markdown::fill(&el, &text);
        }
    });
    let id = line.id;
    let position = move || {
        state
            .chat_log
            .with_untracked(|l| l.iter().position(|x| x.id == id))
    };
    let regenerate = move |same: bool| {
        let Some(at) = position() else { return };
        let before = state.chat_log.with_untracked(|l| l[..at].to_vec());
        let seed = if same {
            line.seed.get_untracked()
        } else {
            fresh_seed()
        };
        answer(state, before, seed);
    };
    let resend = move || {
        let Some(at) = position() else { return };
        let text = draft.get_untracked().trim().to_string();
        if text.is_empty() {
            return;
        }
        let mut before = state.chat_log.with_untracked(|l| l[..at].to_vec());
        before.push(Line::new(state, "user", text));
        answer(state, before, state.settings.get_untracked().seed);
    };
    let text_for_copy = line.text;
    view! {
        <div class=format!("message {}", line.role) data-role=line.role
            data-text=move || line.text.get()>
            <span class="role">{if is_user { "You" } else { "Lantern" }}</span>
            <Show when=move || !line.editing.get()
                fallback=move || view! {
                    <div class="edit">
                        <textarea data-testid="edit-input" rows="2"
                            prop:value=move || draft.get()
                            on:input=move |ev| draft.set(event_target_value(&ev))></textarea>
                        <div class="row">
                            <button data-testid="edit-send" disabled=move || !idle()
                                on:click=move |_| resend()>"Send"</button>
                            <button data-testid="edit-cancel"
                                on:click=move |_| line.editing.set(false)>"Cancel"</button>
                        </div>
                    </div>
                }>
                {if is_user {
                    view! { <div class="text plain">{move || line.text.get()}</div> }.into_any()
                } else {
                    view! { <div class="text markdown" node_ref=body></div> }.into_any()
                }}
            </Show>
            <div class="message-actions">
                {if is_user {
                    view! {
                        <button data-testid="edit-message" title="Edit this question and send it again"
                            disabled=move || !idle()
                            on:click=move |_| {
                                draft.set(line.text.get_untracked());
                                line.editing.set(true);
                            }>"Edit"</button>
                    }.into_any()
                } else {
                    view! {
                        <button data-testid="copy-answer" title="Copy this answer (Markdown)"
                            on:click=move |_| copy(state, text_for_copy.get_untracked(), Some(copied))>
                            {move || if copied.get() { "Copied" } else { "Copy" }}</button>
                        <Show when=move || last.get()>
                            <button data-testid="regenerate" title="Answer again with a new seed"
                                disabled=move || !idle() on:click=move |_| regenerate(false)>"Regenerate"</button>
                            <button data-testid="regenerate-same" title="Answer again with the same seed (after changing the settings, say)"
                                disabled=move || !idle() on:click=move |_| regenerate(true)>"Same seed"</button>
                        </Show>
                    }.into_any()
                }}
            </div>
        </div>
    }
}

/// "N of 2048 tokens", and a warning before the next answer would overflow the context.
#[component]
fn TokenCount() -> impl IntoView {
    let state = expect_context::<AppState>();
    let near = move || {
        let (n, context) = state.chat_tokens.get()?;
        let room = room(state.settings.get().max_tokens, context);
        (n + room > context).then_some((n, context, room))
    };
    view! {
        <p class="muted token-count" data-testid="token-count"
            data-tokens=move || state.chat_tokens.get().map(|(n, _)| n.to_string()).unwrap_or_default()>
            {move || state.chat_tokens.get().map(|(n, c)| format!("{n} of {c} tokens of context"))}
        </p>
        <Show when=move || near().is_some()>
            <p class="warning" data-testid="context-warning">
                {move || near().map(|(n, context, room)| format!(
                    "This conversation takes {n} of the {context} tokens of context, and an answer \
                     may take {room} more: the next answer will drop the oldest turns from what the \
                     model reads (they stay on screen). Start a new chat to begin afresh, or lower \
                     Max new tokens."))}
            </p>
        </Show>
    }
}

#[component]
pub fn ChatPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let input = RwSignal::new(String::new());
    let log = NodeRef::<leptos::html::Div>::new();
    // Keeps the newest text in view as it streams in.
    Effect::new(move |_| {
        state.chat_log.with(|l| l.last().map(|l| l.text.track()));
        if let Some(el) = log.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    });
    let send = move || {
        let text = input.get_untracked().trim().to_string();
        if text.is_empty() || state.busy.get_untracked() || !state.ready() {
            return;
        }
        input.set(String::new());
        let mut before = state.chat_log.get_untracked();
        before.push(Line::new(state, "user", text));
        answer(state, before, state.settings.get_untracked().seed);
    };
    let new_chat = move |_| {
        history::start_new(state);
        count_tokens(state);
    };
    let last_id = Memo::new(move |_| state.chat_log.with(|l| l.last().map(|l| l.id)));
    view! {
        <div class="chat">
            <details class="system-prompt">
                <summary>"System prompt"</summary>
                <textarea data-testid="system-input" rows="2"
                    placeholder="None: the model's template decides"
                    prop:value=move || state.chat_system.get()
                    on:change=move |ev| {
                        state.chat_system.set(event_target_value(&ev));
                        history::save(state, true);
                        count_tokens(state);
                    }></textarea>
                <p class="muted">"Saved with this conversation; the next answer reads it."</p>
            </details>
            <div class="chat-log" data-testid="chat-log" node_ref=log
                data-busy=move || state.busy.get().to_string()
                on:click=move |ev| on_log_click(state, ev)>
                <For each=move || state.chat_log.get() key=|line| line.id
                    children=move |line| {
                        let id = line.id;
                        let last = Signal::derive(move || last_id.get() == Some(id));
                        view! { <ChatMessage line last/> }
                    }/>
            </div>
            <TokenCount/>
            <Show when=move || state.device.get().is_some_and(|d| d.base_model)>
                <p class="muted" data-testid="base-model-note">
                    "This is a base model: it was trained to continue text, not to chat. Chat \
                     talks to it as \"User: … / Assistant: …\" lines; Generate suits it better."
                </p>
            </Show>
            <form class="row" on:submit=move |ev| { ev.prevent_default(); send(); }>
                <textarea data-testid="chat-input" rows="2"
                    placeholder="Ask something (Enter sends, Shift+Enter for a new line)"
                    prop:value=move || input.get()
                    on:input=move |ev| input.set(event_target_value(&ev))
                    on:keydown=move |ev: web_sys::KeyboardEvent| {
                        if ev.key() == "Enter" && !ev.shift_key() {
                            ev.prevent_default();
                            send();
                        }
                    }></textarea>
                <button type="submit" data-testid="chat-send"
                    disabled=move || !state.ready() || state.busy.get()>"Send"</button>
                <button type="button" data-testid="chat-new" on:click=new_chat
                    disabled=move || state.busy.get()>"New chat"</button>
            </form>
        </div>
    }
}
