//! Generate mode (a prompt, continued), the sampling settings, and `stream`, the loop both
//! modes run: one GPU pass per token, each complete piece of text sent to the screen.

use super::engine::Engine;
use super::{AppState, viz, web};
use crate::generate::Generation;
use leptos::prelude::*;

/// How a generation went.
pub struct Outcome {
    /// Everything generated (also when stopped).
    pub text: String,
    /// The tokens the KV cache holds afterwards (for the next chat turn).
    pub cached_ids: Vec<u32>,
}

/// Runs one generation on the loaded model. `prompt` builds the prompt's ids (and how many
/// the KV cache already holds); `on_piece` gets each new piece of text and all ids so far.
/// Stops at the end of text (for a `chat` answer, also where the chat format's turn ends),
/// the token limit, or when the user presses Stop.
pub async fn stream(
    state: AppState,
    chat: bool,
    seed: u64,
    prompt: impl FnOnce(&mut Engine) -> crate::Result<(Vec<u32>, usize)>,
    mut on_piece: impl FnMut(&str, &[u32]),
) -> Result<Outcome, String> {
    // The task owns the engine while it runs (no borrow is held across an await) and puts
    // it back whatever happens.
    let cell = state.engine();
    let mut engine = cell.borrow_mut().take().ok_or("no model is loaded")?;
    let out = run(state, &mut engine, chat, seed, prompt, &mut on_piece).await;
    *cell.borrow_mut() = Some(engine);
    out
}

async fn run(
    state: AppState,
    e: &mut Engine,
    chat: bool,
    seed: u64,
    prompt: impl FnOnce(&mut Engine) -> crate::Result<(Vec<u32>, usize)>,
    on_piece: &mut impl FnMut(&str, &[u32]),
) -> Result<Outcome, String> {
    let (prompt_ids, cached) = prompt(e).map_err(|e| e.to_string())?;
    let opts = crate::generate::GenerateOptions {
        seed,
        ..state.settings.get_untracked().options()
    };
    let fresh = prompt_ids.len() - cached.min(prompt_ids.len());
    let mut g = Generation::resume(
        &e.gpu,
        &mut e.model,
        &e.loaded.tokenizer,
        &e.loaded.stop_ids,
        prompt_ids,
        cached,
        opts,
    )
    .map_err(|e| e.to_string())?;
    if chat {
        g = g.stop_at_texts(&e.loaded.chat_format().stop_texts);
    }
    state.speed.set(format!("reading {fresh} prompt tokens…"));
    let start = web::now_ms();
    let mut first: Option<f64> = None;
    while !state.stop.get_untracked() {
        let piece = match g.next_piece().await {
            Ok(Some(piece)) => piece,
            Ok(None) => break,
            Err(err) => return Err(err.to_string()),
        };
        let now = web::now_ms();
        let first = *first.get_or_insert(now);
        let n = g.generated_ids.len();
        let prefill = (first - start) / 1e3;
        let decode = if n > 1 && now > first {
            format!(" · {:.2} tokens/s", (n - 1) as f64 / ((now - first) / 1e3))
        } else {
            String::new()
        };
        state.speed.set(format!(
            "{n} tokens · prompt ({fresh} tokens) {prefill:.1} s{decode}"
        ));
        on_piece(&piece, &g.generated_ids);
        let seq = g.sequence();
        let tok = &e.loaded.tokenizer;
        viz::track(state, tok, &seq, g.prompt_ids.len(), &g.predictions, cached);
        let n_head = e.loaded.weights.n_head();
        viz::read(state, &e.gpu, g.model(), tok, n_head, &seq).await?;
    }
    let seq = g.sequence();
    viz::track(
        state,
        &e.loaded.tokenizer,
        &seq,
        g.prompt_ids.len(),
        &g.predictions,
        cached,
    );
    let cached_ids = g.cached_ids();
    Ok(Outcome {
        text: g.text(),
        cached_ids,
    })
}

/// Starts `task` as the one generating task: marks the page busy, clears Stop, and shows a
/// failure in the error banner.
pub fn spawn_generation(state: AppState, task: impl Future<Output = Result<(), String>> + 'static) {
    if state.busy.get_untracked() {
        return;
    }
    state.busy.set(true);
    state.stop.set(false);
    state.error.set(None);
    leptos::task::spawn_local(async move {
        // A lost device has its own banner; the failed read that followed it says no more.
        if let Err(e) = task.await
            && state.lost.get_untracked().is_none()
        {
            state.fail(e);
        }
        state.busy.set(false);
        // The view shows the whole conversation as it now stands in the cache.
        viz::refresh(state);
    });
}

#[component]
pub fn GeneratePanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let prompt = RwSignal::new(String::new());
    let output = RwSignal::new(String::new());
    let ids = RwSignal::new(Vec::<u32>::new());
    let generate = move || {
        let text = prompt.get_untracked();
        output.set(String::new());
        ids.set(Vec::new());
        let seed = state.settings.get_untracked().seed;
        spawn_generation(state, async move {
            stream(
                state,
                false,
                seed,
                |e| Ok((e.loaded.encode_prompt(&text), 0)),
                |piece, all| {
                    output.update(|o| o.push_str(piece));
                    ids.set(all.to_vec());
                },
            )
            .await
            .map(|_| ())
        });
    };
    let id_list = move || {
        ids.get()
            .iter()
            .map(u32::to_string)
            .collect::<Vec<_>>()
            .join(",")
    };
    view! {
        <div class="generate">
            <textarea data-testid="prompt-input" rows="4"
                placeholder="Type the start of a text; the model continues it."
                prop:value=move || prompt.get()
                on:input=move |ev| prompt.set(event_target_value(&ev))></textarea>
            <div class="row">
                <button data-testid="generate-button" on:click=move |_| generate()
                    disabled=move || !state.ready() || state.busy.get()>"Generate"</button>
            </div>
            <pre class="output" data-testid="output" data-token-ids=id_list
                data-busy=move || state.busy.get().to_string()>
                <span class="prompt">{move || prompt.get()}</span>{move || output.get()}
            </pre>
        </div>
    }
}

#[component]
pub fn StopButton() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <button data-testid="stop-button" disabled=move || !state.busy.get()
            on:click=move |_| state.stop.set(true)>"Stop"</button>
    }
}

/// Temperature, top-k, top-p, repetition penalty, max new tokens and seed. A value that
/// does not parse keeps the last good one. A model that loads brings its own sampling
/// defaults, and the inputs show them (with where they come from).
#[component]
pub fn SettingsPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let field = move |label: &'static str,
                      id: &'static str,
                      step: &'static str,
                      value: String,
                      set: fn(&mut super::Settings, &str) -> bool| {
        view! {
            <label>{label}
                <input type="number" step=step data-testid=id value=value
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        let mut next = state.settings.get_untracked();
                        if set(&mut next, &text) {
                            state.settings.set(next);
                        }
                    }/>
            </label>
        }
    };
    // Made again when a model brings its defaults (the source changes), not while typing.
    let fields = move || {
        state.settings_source.track();
        let s = state.settings.get_untracked();
        let p = s.sample;
        view! {
            {field("Temperature (0 = greedy)", "temperature-input", "0.1", p.temperature.to_string(),
                |s, t| t.parse().ok().filter(|v: &f32| *v >= 0.0).map(|v| s.sample.temperature = v).is_some())}
            {field("Top-k (0 = off)", "top-k-input", "1", p.top_k.to_string(),
                |s, t| t.parse().ok().map(|v| s.sample.top_k = v).is_some())}
            {field("Top-p", "top-p-input", "0.05", p.top_p.to_string(),
                |s, t| t.parse().ok().filter(|v: &f32| *v > 0.0 && *v <= 1.0).map(|v| s.sample.top_p = v).is_some())}
            {field("Repetition penalty (1 = off)", "repeat-penalty-input", "0.05", p.repeat_penalty.to_string(),
                |s, t| t.parse().ok().filter(|v: &f32| *v > 0.0 && v.is_finite()).map(|v| s.sample.repeat_penalty = v).is_some())}
            {field("Max new tokens", "max-tokens-input", "1", s.max_tokens.to_string(),
                |s, t| t.parse().ok().filter(|v: &usize| *v > 0).map(|v| s.max_tokens = v).is_some())}
            {field("Seed", "seed-input", "1", s.seed.to_string(),
                |s, t| t.parse().ok().map(|v| s.seed = v).is_some())}
        }
    };
    view! {
        <details class="panel settings" open>
            <summary>"Sampling"</summary>
            {fields}
            <p class="muted" data-testid="settings-source">
                {move || {
                    let from = state.settings_source.get();
                    if from.is_empty() { String::new() } else { format!("Defaults from {from}.") }
                }}
            </p>
        </details>
    }
}
