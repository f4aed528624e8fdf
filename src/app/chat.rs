//! Chat mode: the conversation, rendered by the model's own chat template, each answer
//! streaming in. Turns after the first only run their new tokens (the KV cache keeps the
//! rest). Model text is shown as text, never parsed as HTML.

use super::AppState;
use super::engine::CONTEXT;
use super::generate::{spawn_generation, stream};
use super::history;
use leptos::prelude::*;

/// One message on screen.
#[derive(Clone)]
pub struct Line {
    id: usize,
    pub role: &'static str,
    pub text: RwSignal<String>,
}

impl Line {
    pub fn new(id: usize, role: &'static str, text: String) -> Self {
        Self {
            id,
            role,
            text: RwSignal::new(text),
        }
    }
}

#[component]
pub fn ChatPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let input = RwSignal::new(String::new());
    let log = NodeRef::<leptos::html::Div>::new();
    // Keeps the newest text in view as it streams in.
    let scroll_down = move || {
        if let Some(el) = log.get_untracked() {
            el.set_scroll_top(el.scroll_height());
        }
    };
    let send = move || {
        let text = input.get_untracked().trim().to_string();
        if text.is_empty() || state.busy.get_untracked() || !state.ready() {
            return;
        }
        input.set(String::new());
        let n = state.chat_log.with_untracked(Vec::len);
        let answer = Line::new(n + 1, "assistant", String::new());
        state.chat_log.update(|log| {
            log.push(Line::new(n, "user", text.clone()));
            log.push(answer.clone());
        });
        // The question is saved at once; the answer every few pieces and when it ends.
        history::save(state, true);
        let mut pieces = 0;
        spawn_generation(state, async move {
            let chat = state.chat.get_value();
            let room = state.settings.get_untracked().max_tokens.min(CONTEXT / 2);
            let out = stream(
                state,
                true,
                |e| {
                    chat.borrow_mut()
                        .prompt_for(&e.loaded, &text, e.model.context, room)
                },
                |piece, _| {
                    answer.text.update(|t| t.push_str(piece));
                    scroll_down();
                    pieces += 1;
                    if pieces % history::SAVE_EVERY == 0 {
                        history::save(state, false);
                    }
                },
            )
            .await;
            history::save(state, true);
            let mut chat = chat.borrow_mut();
            let asked = chat.messages.last().is_some_and(|m| m.role == "user");
            match out {
                Ok(out) => chat.answered(&out.text, out.cached_ids),
                Err(e) => {
                    // Keep what was said; the cache may not match it any more.
                    if asked {
                        chat.answered(&answer.text.get_untracked(), Vec::new());
                    }
                    chat.cache_lost();
                    if answer.text.with_untracked(String::is_empty) {
                        answer.text.set("(no answer)".into());
                    }
                    return Err(e);
                }
            }
            Ok(())
        });
    };
    let new_chat = move |_| history::start_new(state);
    view! {
        <div class="chat">
            <div class="chat-log" data-testid="chat-log" node_ref=log data-busy=move || state.busy.get().to_string()>
                <For each=move || state.chat_log.get() key=|line| line.id
                    children=move |line| view! {
                        <div class=format!("message {}", line.role) data-role=line.role>
                            <span class="role">{if line.role == "user" { "You" } else { "Lantern" }}</span>
                            <div class="text">{move || line.text.get()}</div>
                        </div>
                    }/>
            </div>
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
