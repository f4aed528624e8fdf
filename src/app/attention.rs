//! The attention view: what each token attends to, per layer and head, from the
//! probabilities `shaders/attention.wgsl` wrote on the GPU. A head view (hover a token to
//! shade the earlier tokens it attends to, one colour per head) and a heatmap of one head.
//! Probabilities are read back only while the view is open.

use super::AppState;
use super::engine::CAPTURE;
use super::viz::{UnderTheHood, refresh};
use crate::model::Tokenizer;
use leptos::prelude::*;
use wasm_bindgen::JsCast;

/// One layer's attention over the tokens in the cache.
#[derive(Clone, Debug, PartialEq)]
pub struct Attn {
    pub layer: usize,
    pub n_head: usize,
    /// Tokens shown (the first `n` of the cache).
    pub n: usize,
    pub tokens: Vec<String>,
    /// [n_head, n, n]: row i = query i, zero above the diagonal.
    pub probs: Vec<f32>,
}

impl Attn {
    pub fn new(tok: &Tokenizer, ids: &[u32], layer: usize, n_head: usize, probs: Vec<f32>) -> Self {
        let n = ((probs.len() / n_head.max(1)) as f64).sqrt() as usize;
        let tokens = ids[..n]
            .iter()
            .map(|&id| String::from_utf8_lossy(tok.token_bytes(id)).into_owned())
            .collect();
        Self {
            layer,
            n_head,
            n,
            tokens,
            probs,
        }
    }

    pub fn p(&self, h: usize, i: usize, j: usize) -> f32 {
        self.probs[(h * self.n + i) * self.n + j]
    }

    /// `{"layer", "tokens", "heads": [head][query][key]}`, as `lantern attention` prints.
    pub fn to_json(&self) -> String {
        let heads: Vec<Vec<&[f32]>> = self
            .probs
            .chunks(self.n * self.n)
            .map(|h| h.chunks(self.n).collect())
            .collect();
        serde_json::json!({ "layer": self.layer, "tokens": self.tokens, "heads": heads })
            .to_string()
    }
}

/// Positions the view reads for a cache of `len` tokens.
pub fn shown(len: usize) -> usize {
    len.min(CAPTURE)
}

/// The colour of head `h` of `n`.
fn colour(h: usize, n: usize, alpha: f32) -> String {
    format!("hsla({}, 75%, 45%, {alpha:.3})", h * 360 / n.max(1))
}

#[component]
pub fn AttentionView() -> impl IntoView {
    let state = expect_context::<AppState>();
    let heads_on = state.viz_heads;
    let focus = RwSignal::new(None::<usize>);
    view! {
        <div class="row">
            <label>"Layer "
                <select data-testid="viz-layer-select" on:change=move |ev| {
                    if let Ok(l) = event_target_value(&ev).parse() {
                        state.viz_layer.set(l);
                        refresh(state);
                    }
                }>
                    {move || (0..state.shape.get().0).map(|l| view! {
                        <option value=l.to_string() selected=move || state.viz_layer.get() == l>
                            {l.to_string()}
                        </option>
                    }).collect_view()}
                </select>
            </label>
            <span class="heads">"Heads "
                {move || {
                    let n = state.shape.get().1;
                    (0..n).map(|h| view! {
                        <button class="head" data-testid=format!("viz-head-toggle-{h}")
                            class:off=move || !heads_on.get().get(h).copied().unwrap_or(true)
                            style=format!("border-color: {}", colour(h, n, 1.0))
                            on:click=move |_| heads_on.update(|v| if let Some(b) = v.get_mut(h) { *b = !*b })>
                            {h.to_string()}
                        </button>
                    }).collect_view()
                }}
            </span>
            <button data-testid="viz-export" disabled=move || state.attention.get().is_none()
                on:click=move |_| {
                    if let Some(a) = state.attention.get_untracked()
                        && let Err(e) = super::web::download(&format!("attention-layer-{}.json", a.layer), "application/json", &a.to_json())
                    {
                        state.fail(format!("cannot export: {}", super::web::js_error(e)));
                    }
                }>"Export JSON"</button>
        </div>
        <UnderTheHood
            formula="Attention(Q, K, V) = softmax(Q·Kᵀ / √d_k)·V: each row is one query token's softmax over the keys (zero for later tokens: the causal mask). Hover a token to see what it attends to."
            files=&["attention.wgsl"]/>
        {move || match state.attention.get() {
            None => view! { <p class="muted">"Generate or chat to see attention."</p> }.into_any(),
            Some(a) => view! { <HeadView a=a.clone() heads_on focus/> <Heatmap a heads_on/> }.into_any(),
        }}
    }
}

/// The tokens; hovering token i shades each earlier token j by p(i → j), in the colour of
/// the active head that attends most.
#[component]
fn HeadView(
    a: Attn,
    heads_on: RwSignal<Vec<bool>>,
    focus: RwSignal<Option<usize>>,
) -> impl IntoView {
    let a = StoredValue::new(a);
    let shade = move |j: usize| {
        let Some(i) = focus.get() else {
            return String::new();
        };
        if j > i {
            return String::new();
        }
        let on = heads_on.get();
        a.with_value(|a| {
            let best = (0..a.n_head)
                .filter(|&h| on.get(h).copied().unwrap_or(true))
                .map(|h| (h, a.p(h, i, j)))
                .max_by(|x, y| x.1.total_cmp(&y.1));
            match best {
                Some((h, p)) => format!("background: {}", colour(h, a.n_head, p.sqrt())),
                None => String::new(),
            }
        })
    };
    view! {
        <div class="tokens" on:mouseleave=move |_| focus.set(None)>
            {a.with_value(|a| a.tokens.clone()).into_iter().enumerate().map(|(i, t)| view! {
                <span class="token" data-testid=format!("viz-token-{i}")
                    class:focus=move || focus.get() == Some(i)
                    style=move || shade(i)
                    on:mouseenter=move |_| focus.set(Some(i)) on:click=move |_| focus.set(Some(i))>{t.replace('\n', "↵")}</span>
            }).collect_view()}
        </div>
    }
}

/// Room at the left and top of the heatmap for the token labels.
const LABELS: usize = 80;

/// The heatmap's cell size in pixels for `n` tokens (at most 512 pixels of cells).
fn cell_px(n: usize) -> usize {
    (512 / n.max(1)).clamp(1, 24)
}

/// One head's full matrix (the first active head), darker = more attention, query tokens
/// down the left and key tokens across the top; its values are on the element
/// (`data-values`, row-major) for tests and export.
#[component]
fn Heatmap(a: Attn, heads_on: RwSignal<Vec<bool>>) -> impl IntoView {
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    let a = StoredValue::new(a);
    // The (query, key) cell under the pointer.
    let hover = RwSignal::new(None::<(usize, usize)>);
    let on_move = move |ev: web_sys::MouseEvent| {
        let Some(el) = canvas.get_untracked() else {
            return;
        };
        let n = a.with_value(|a| a.n).max(1);
        // The canvas may be shown smaller than its pixels (max-width): scale to them.
        let scale = el.width() as f64 / el.client_width().max(1) as f64;
        let (x, y) = (ev.offset_x() as f64 * scale, ev.offset_y() as f64 * scale);
        let cell = cell_px(n) as f64;
        let (j, i) = ((x - LABELS as f64) / cell, (y - LABELS as f64) / cell);
        let inside = i >= 0.0 && j >= 0.0 && (i as usize) < n && (j as usize) < n;
        hover.set(inside.then_some((i as usize, j as usize)));
    };
    let head = move || heads_on.get().iter().position(|&b| b).unwrap_or(0);
    let values = move || {
        let h = head();
        a.with_value(|a| {
            (0..a.n * a.n)
                .map(|k| format!("{:.6}", a.p(h, k / a.n, k % a.n)))
                .collect::<Vec<_>>()
                .join(",")
        })
    };
    Effect::new(move |_| {
        let h = head();
        let Some(el) = canvas.get() else { return };
        a.with_value(|a| draw(&el, a, h));
    });
    view! {
        <figure class="heatmap">
            <canvas data-testid="viz-heatmap" node_ref=canvas on:mousemove=on_move
                on:mouseleave=move |_| hover.set(None)
                data-layer=move || a.with_value(|a| a.layer.to_string())
                data-head=move || head().to_string()
                data-n=move || a.with_value(|a| a.n.to_string())
                data-cell=move || a.with_value(|a| cell_px(a.n).to_string())
                data-labels=LABELS.to_string()
                data-values=values></canvas>
            <figcaption>{move || a.with_value(|a| format!(
                "Layer {}, head {}: row = query token (left), column = key token (top); white 0 → blue 1",
                a.layer, head()))}</figcaption>
            <figcaption data-testid="viz-heatmap-value">{move || hover.get().map(|(i, j)| a.with_value(|a| format!(
                "“{}” → “{}”: {:.4}", a.tokens[i], a.tokens[j], a.p(head(), i, j))))}</figcaption>
        </figure>
    }
}

/// A token label that fits the margin.
fn label(t: &str) -> String {
    let t = t.replace('\n', "↵");
    if t.chars().count() > 10 {
        t.chars().take(9).chain(['…']).collect()
    } else {
        t
    }
}

/// Paints head `h` of `a`: one square per (query, key), the tokens along the axes (every
/// k-th when the cells are too small for each).
fn draw(el: &web_sys::HtmlCanvasElement, a: &Attn, h: usize) {
    let cell = cell_px(a.n);
    let side = (LABELS + cell * a.n) as u32;
    el.set_width(side);
    el.set_height(side);
    let Some(ctx) = el
        .get_context("2d")
        .ok()
        .flatten()
        .and_then(|c| c.dyn_into::<web_sys::CanvasRenderingContext2d>().ok())
    else {
        return;
    };
    let (c, m) = (cell as f64, LABELS as f64);
    for i in 0..a.n {
        for j in 0..=i {
            let shade = 255.0 * (1.0 - a.p(h, i, j).clamp(0.0, 1.0).sqrt());
            ctx.set_fill_style_str(&format!("rgb({shade:.0},{shade:.0},255)"));
            ctx.fill_rect(m + j as f64 * c, m + i as f64 * c, c, c);
        }
    }
    let font = cell.clamp(8, 12);
    let every = (font + 2).div_ceil(cell);
    ctx.set_font(&format!("{font}px sans-serif"));
    ctx.set_fill_style_str("#333");
    ctx.set_text_baseline("middle");
    ctx.set_text_align("right");
    for (i, t) in a.tokens.iter().enumerate().step_by(every) {
        let _ = ctx.fill_text(&label(t), m - 4.0, m + (i as f64 + 0.5) * c);
    }
    // Key labels: rotated a quarter turn, reading upwards.
    ctx.save();
    ctx.translate(m, m).ok();
    ctx.rotate(-std::f64::consts::FRAC_PI_2).ok();
    ctx.set_text_align("left");
    for (j, t) in a.tokens.iter().enumerate().step_by(every) {
        let _ = ctx.fill_text(&label(t), 4.0, (j as f64 + 0.5) * c);
    }
    ctx.restore();
}
