//! The model panel: what is loaded, the progress of a load (bytes and percent, with
//! Cancel), and the ways to load another model: files (picked or dropped), a URL or a
//! Hugging Face model id.

use super::device::megabytes;
use super::engine::{CAPTURE, CONTEXT, DEFAULT_MODEL_URL, Source};
use super::{AppState, web};
use crate::catalog::{Fit, SUGGESTED, budget, fit};
use leptos::prelude::*;
use wasm_bindgen::JsCast;

fn files_of(list: Option<web_sys::FileList>) -> Vec<web_sys::File> {
    let Some(list) = list else { return Vec::new() };
    (0..list.length()).filter_map(|i| list.get(i)).collect()
}

#[component]
pub fn ModelPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let url = RwSignal::new(String::new());
    let dragging = RwSignal::new(false);
    let load_files = move |files: Vec<web_sys::File>| {
        if !files.is_empty() {
            state.load(Source::Files(files));
        }
    };
    let load_url = move || match Source::from_input(&url.get_untracked()) {
        Ok(source) => state.load(source),
        Err(e) => state.fail(e),
    };
    let idle = move || !state.loading.get() && !state.busy.get();
    view! {
        <details class="panel" open>
            <summary>"Model"</summary>
            <Progress/>
            <div class="drop" class:dragging=move || dragging.get()
                on:dragover=move |ev: web_sys::DragEvent| { ev.prevent_default(); dragging.set(true); }
                on:dragleave=move |_| dragging.set(false)
                on:drop=move |ev: web_sys::DragEvent| {
                    ev.prevent_default();
                    dragging.set(false);
                    load_files(files_of(ev.data_transfer().and_then(|d| d.files())));
                }>
                <p>"Drop a "<code>".gguf"</code>", or a Hugging Face checkpoint's "
                   <code>"config.json"</code>" + "<code>"model.safetensors"</code>" + "
                   <code>"tokenizer.json"</code>", here, or "</p>
                <input type="file" multiple accept=".gguf,.json,.safetensors,.txt"
                    data-testid="model-file-input" disabled=move || !idle()
                    on:change=move |ev| {
                        let input: web_sys::HtmlInputElement = ev.target().unwrap().unchecked_into();
                        load_files(files_of(input.files()));
                        input.set_value("");
                    }/>
            </div>
            <form class="row" on:submit=move |ev| { ev.prevent_default(); load_url(); }>
                <input type="text" placeholder="URL or Hugging Face id, e.g. openai-community/gpt2"
                    data-testid="model-url-input"
                    on:input=move |ev| url.set(event_target_value(&ev))/>
                <button type="submit" data-testid="model-url-load" disabled=move || !idle()>"Load"</button>
            </form>
            <button class="link" disabled=move || !idle()
                on:click=move |_| state.load(Source::Url(DEFAULT_MODEL_URL.into()))>
                "Load the default model (SmolLM2-135M-Instruct)"
            </button>
            <LoadedModelInfo/>
            <Suggestions/>
        </details>
    }
}

/// What the loaded model is: its architecture, its tokenizer, and whether it chats.
#[component]
fn LoadedModelInfo() -> impl IntoView {
    let state = expect_context::<AppState>();
    move || {
        state.device.get().map(|d| {
            let chat = if d.base_model {
                "a base model (no chat template): it continues text; Chat talks to it in a plain \
                 \"User: … / Assistant: …\" format, and it may answer poorly"
            } else {
                "its own chat template"
            };
            view! {
                <dl class="model-info" data-testid="model-info" data-base=d.base_model.to_string()>
                    <dt>"Architecture"</dt><dd data-testid="model-architecture">{d.architecture}</dd>
                    <dt>"Tokenizer"</dt><dd data-testid="model-tokenizer">{d.tokenizer}</dd>
                    <dt>"Chat"</dt><dd data-testid="model-chat">{chat}</dd>
                </dl>
            }
        })
    }
}

/// Real models to load by their Hugging Face id (Q4_K_M GGUF), each with its download and
/// the GPU memory it needs here, and whether that fits before anything is downloaded.
#[component]
fn Suggestions() -> impl IntoView {
    let state = expect_context::<AppState>();
    let idle = move || !state.loading.get() && !state.busy.get();
    let budget = budget(web::device_memory_gb());
    let (context, capture) = (CONTEXT as u64, CAPTURE as u64);
    view! {
        <p class="muted">"Or one of these (downloaded from Hugging Face, kept in this browser):"</p>
        <ul class="suggested" data-testid="suggested-models" data-budget=budget.to_string()>
            {SUGGESTED.iter().enumerate().map(|(i, s)| {
                let needs = s.gpu_bytes(context, capture);
                let fits = fit(needs, budget) == Fit::Fits;
                let verdict = if fits {
                    format!("fits (≈ {} of GPU memory)", megabytes(needs))
                } else {
                    format!("may not fit: needs ≈ {} of GPU memory, this device ≈ {}",
                        megabytes(needs), megabytes(budget))
                };
                let (url, shown_url) = (s.url(), s.url());
                view! {
                    <li data-testid=format!("suggested-{i}") data-fits=fits.to_string()
                        data-url=shown_url>
                        <button class="link" disabled=move || !idle()
                            on:click=move |_| state.load(Source::Url(url.clone()))>{s.name}</button>
                        <span class="muted">{format!(" {}/{} · {} · {} download · ",
                            s.repo, s.file, s.architecture, megabytes(s.download_bytes))}</span>
                        <span class:warn=!fits data-testid=format!("suggested-{i}-fit")>{verdict}</span>
                    </li>
                }
            }).collect_view()}
        </ul>
    }
}

/// The progress of a load: the phase, bytes and percent, and Cancel.
#[component]
fn Progress() -> impl IntoView {
    let state = expect_context::<AppState>();
    // (value, max, text) of the bar.
    let bar = move || {
        let Some(p) = state.progress.get() else {
            return (0.0, 1.0, String::new());
        };
        match p.total {
            Some(t) if t > 0 => {
                let pct = (p.done as f64 / t as f64 * 100.0).min(100.0);
                let text = format!(
                    "{}: {} of {} ({pct:.0}%)",
                    p.phase,
                    megabytes(p.done),
                    megabytes(t)
                );
                (p.done.min(t) as f64, t as f64, text)
            }
            _ if p.done > 0 => (0.0, 1.0, format!("{}: {}", p.phase, megabytes(p.done))),
            _ => (0.0, 1.0, format!("{}…", p.phase)),
        }
    };
    view! {
        <Show when=move || state.progress.get().is_some()>
            <div class="progress">
                <progress data-testid="load-progress"
                    max=move || bar().1 value=move || bar().0></progress>
                <span data-testid="load-progress-text">{move || bar().2}</span>
                <button data-testid="load-cancel" on:click=move |_| state.cancel_load()>
                    "Cancel"
                </button>
            </div>
        </Show>
    }
}

/// The models kept in this browser: name, size, when; Load and Delete; the site's storage
/// use; and the last word on storing.
#[component]
pub fn StoredModels() -> impl IntoView {
    let state = expect_context::<AppState>();
    let idle = move || !state.loading.get() && !state.busy.get();
    let delete = move |key: String| {
        leptos::task::spawn_local(async move {
            if let Err(e) = super::store::delete(&key).await {
                state.fail(format!("cannot delete the stored model: {e}"));
            }
            state.refresh_stored().await;
        });
    };
    view! {
        <details class="panel stored" open>
            <summary>"Stored in this browser"</summary>
            <p class="muted" data-testid="storage-note">{move || state.storage_note.get()}</p>
            <ul data-testid="stored-models">
                {move || state.stored.get().into_iter().map(|m| {
                    let (key, key2, name) = (m.key.clone(), m.key.clone(), m.name.clone());
                    view! {
                        <li data-testid=format!("stored-model-{}", m.key) data-name=m.name.clone()
                            data-bytes=m.bytes.to_string()>
                            <span class="name">{m.name.clone()}</span>
                            <span class="muted">{format!(" {}", megabytes(m.bytes))}</span>
                            <button data-testid=format!("stored-load-{}", m.key) disabled=move || !idle()
                                on:click=move |_| state.load(Source::Stored { key: key.clone(), name: name.clone() })>
                                "Load"</button>
                            <button data-testid=format!("stored-delete-{}", m.key) disabled=move || !idle()
                                on:click=move |_| delete(key2.clone())>"Delete"</button>
                        </li>
                    }
                }).collect_view()}
            </ul>
            <p class="muted" data-testid="storage-estimate"
                data-usage=move || state.estimate.get().map(|e| e.usage.to_string())
                data-quota=move || state.estimate.get().map(|e| e.quota.to_string())>
                {move || state.estimate.get().map(|e| format!(
                    "This site uses {} of the {} the browser allows{}.",
                    megabytes(e.usage as u64), megabytes(e.quota as u64),
                    if e.persisted { " (persistent: kept unless you clear it)" } else { " (may be evicted when the disk is short)" }))}
            </p>
        </details>
    }
}
