//! "Inside the model": the panel that shows what the GPU computed for the tokens on screen,
//! in four views — attention of one layer (head view + heatmap), all layers × heads
//! (thumbnails), predictions (top-k per generated token), and the logit lens — each with
//! its formula and the WGSL source that computed it. Nothing is read back while it is closed.

use super::AppState;
use super::attention::{self, Attn};
use super::grid::{self, Grid};
use super::lens::{self, LensView};
use super::predictions::{self, Pred};
use crate::gpu::Gpu;
use crate::gpu::model::GpuModel;
use crate::model::Tokenizer;
use leptos::prelude::*;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tab {
    Attention,
    Grid,
    Predictions,
    Lens,
}

/// The text of a token, for display: a newline shown as ↵, a token of only spaces as ␣.
pub fn token_text(tok: &Tokenizer, id: u32) -> String {
    let t = String::from_utf8_lossy(tok.token_bytes(id)).replace('\n', "↵");
    if t.trim().is_empty() {
        t.replace(' ', "␣")
    } else {
        t
    }
}

/// Adds the tokens a generation has run or produced since `preds` was last brought up to
/// date: `seq` = the prompt's ids then the generated ones, `top` the candidates of each
/// generated one, and the first `keep` entries already right (in the cache before).
pub fn track(
    state: AppState,
    tok: &Tokenizer,
    seq: &[u32],
    prompt_len: usize,
    top: &[Option<crate::gpu::top_k::TopK>],
    keep: usize,
) {
    state.preds.update(|preds| {
        preds.truncate(keep.min(seq.len()));
        let from = preds.len();
        for (i, &id) in seq.iter().enumerate().skip(from) {
            let t = i.checked_sub(prompt_len).and_then(|g| top.get(g)).cloned();
            preds.push(Pred::new(tok, id, t.flatten()));
        }
    });
}

/// Reads back what the open tab shows, for the cache's tokens (`seq`: the tokens the
/// cache holds, then possibly the token sampled after them).
pub async fn read(
    state: AppState,
    gpu: &Gpu,
    model: &GpuModel,
    tok: &Tokenizer,
    n_head: usize,
    seq: &[u32],
) -> Result<(), String> {
    if !state.viz_open.get_untracked() {
        return Ok(());
    }
    let cached = model.position().min(seq.len());
    let n = attention::shown(cached);
    let ids = &seq[..cached];
    match state.viz_tab.get_untracked() {
        Tab::Attention => {
            let layer = state.viz_layer.get_untracked();
            let p = model
                .read_attention(gpu, layer, n)
                .await
                .map_err(|e| e.to_string())?;
            state
                .attention
                .set(Some(Attn::new(tok, ids, layer, n_head, p)));
        }
        Tab::Grid => {
            let g = Grid::read(gpu, model, n, n_head).await?;
            state.grid.set(Some(g));
        }
        Tab::Predictions => {}
        Tab::Lens => {
            if n == 0 {
                return Ok(());
            }
            let pos = state.lens_pos.get_untracked().unwrap_or(n - 1).min(n - 1);
            let next = seq.get(pos + 1).copied();
            let rows = model
                .logit_lens(gpu, pos, next)
                .await
                .map_err(|e| e.to_string())?;
            state.lens.set(Some(LensView::new(tok, seq, pos, rows)));
        }
    }
    Ok(())
}

/// Reads the open tab again (opened, tab or layer changed, position picked) when no
/// generation holds the engine; a running generation reads after each token itself.
pub fn refresh(state: AppState) {
    if !state.viz_open.get_untracked() || state.busy.get_untracked() {
        return;
    }
    leptos::task::spawn_local(async move {
        let cell = state.engine();
        let Some(e) = cell.borrow_mut().take() else {
            // Another read holds the engine (a slow one: the lens on a CPU adapter): this
            // request runs when it ends, rather than being lost.
            REFRESH_PENDING.set(true);
            return;
        };
        let seq: Vec<u32> = state
            .preds
            .with_untracked(|p| p.iter().map(|p| p.id).collect());
        let n_head = e.loaded.weights.n_head();
        let r = read(state, &e.gpu, &e.model, &e.loaded.tokenizer, n_head, &seq).await;
        *cell.borrow_mut() = Some(e);
        if let Err(err) = r {
            state.fail(err);
        } else if REFRESH_PENDING.replace(false) {
            refresh(state);
        }
    });
}

thread_local! {
    /// A refresh was asked for while another read held the engine.
    static REFRESH_PENDING: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

#[component]
pub fn VizPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let toggle = move |_| {
        state.viz_open.update(|o| *o = !*o);
        refresh(state);
    };
    let tab = move |t: Tab, label: &'static str, id: &'static str| {
        view! {
            <button class="tab" data-testid=id class:active=move || state.viz_tab.get() == t
                on:click=move |_| { state.viz_tab.set(t); refresh(state); }>{label}</button>
        }
    };
    view! {
        <section class="panel viz">
            <div class="row">
                <button data-testid="viz-open" on:click=toggle>
                    {move || if state.viz_open.get() { "Hide inside the model" } else { "Show inside the model" }}
                </button>
                <Show when=move || state.viz_open.get()>
                    <nav class="tabs viz-tabs">
                        {tab(Tab::Attention, "Attention", "viz-tab-attention")}
                        {tab(Tab::Grid, "All heads", "viz-tab-grid")}
                        {tab(Tab::Predictions, "Predictions", "viz-tab-predictions")}
                        {tab(Tab::Lens, "Logit lens", "viz-tab-lens")}
                    </nav>
                </Show>
            </div>
            <Show when=move || state.viz_open.get()>
                {move || match state.viz_tab.get() {
                    Tab::Attention => view! { <attention::AttentionView/> }.into_any(),
                    Tab::Grid => view! { <grid::GridView/> }.into_any(),
                    Tab::Predictions => view! { <predictions::PredictionView/> }.into_any(),
                    Tab::Lens => view! { <lens::LensPanel/> }.into_any(),
                }}
            </Show>
        </section>
    }
}

/// "Under the hood": the formula of a view and the WGSL files that computed it, each
/// openable to its source.
#[component]
pub fn UnderTheHood(formula: &'static str, files: &'static [&'static str]) -> impl IntoView {
    view! {
        <div class="hood">
            <p class="formula">{formula}</p>
            {files.iter().map(|&f| {
                let src = crate::gpu::SHADERS
                    .iter()
                    .find(|(name, _)| *name == f)
                    .map_or("", |(_, s)| *s);
                view! {
                    <details class="source" data-testid=format!("viz-source-{f}")>
                        <summary>"shaders/"{f}</summary>
                        <pre><code>{src}</code></pre>
                    </details>
                }
            }).collect_view()}
        </div>
    }
}
