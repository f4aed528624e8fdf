//! The model view: a thumbnail of every layer × head's attention matrix in one canvas;
//! click one to open it large in the attention view. Each layer is read back in turn
//! (heads × n × 256 floats) and shrunk on the CPU to at most `THUMB` pixels across, keeping
//! each block's largest probability so that a sharp pattern stays visible.

use super::AppState;
use super::viz::{Tab, UnderTheHood, refresh};
use super::web;
use crate::gpu::Gpu;
use crate::gpu::model::GpuModel;
use leptos::prelude::*;
use wasm_bindgen::{Clamped, JsCast};

/// Pixels across a thumbnail.
const THUMB: usize = 48;
/// Pixels between thumbnails, and for the labels at the left and top.
const GAP: usize = 6;
const MARGIN: usize = 28;

#[derive(Clone, Debug, PartialEq)]
pub struct Grid {
    pub n: usize,
    pub n_layer: usize,
    pub n_head: usize,
    /// Pixels across one thumbnail.
    pub size: usize,
    /// RGBA, size² × 4 bytes, per (layer, head), layer-major.
    pub thumbs: Vec<Vec<u8>>,
    /// Main-thread milliseconds spent turning probabilities into thumbnails.
    pub build_ms: f64,
}

impl Grid {
    /// Reads every layer's attention over the first `n` positions and shrinks it.
    pub async fn read(
        gpu: &Gpu,
        model: &GpuModel,
        n: usize,
        n_head: usize,
    ) -> Result<Grid, String> {
        let n_layer = model.attention_layers();
        let size = THUMB;
        let mut thumbs = Vec::with_capacity(n_layer * n_head);
        let mut build_ms = 0.0;
        for layer in 0..n_layer {
            let p = model
                .read_attention(gpu, layer, n)
                .await
                .map_err(|e| e.to_string())?;
            let t0 = web::now_ms();
            for h in 0..n_head {
                thumbs.push(thumbnail(&p[h * n * n..][..n * n], n, size));
            }
            build_ms += web::now_ms() - t0;
        }
        Ok(Grid {
            n,
            n_layer,
            n_head,
            size,
            thumbs,
            build_ms,
        })
    }

    /// The canvas's width and height.
    fn extent(&self) -> (usize, usize) {
        let step = self.size + GAP;
        (MARGIN + self.n_head * step, MARGIN + self.n_layer * step)
    }

    /// The (layer, head) under canvas pixel (x, y).
    fn at(&self, x: usize, y: usize) -> Option<(usize, usize)> {
        let step = self.size + GAP;
        let (h, l) = (x.checked_sub(MARGIN)? / step, y.checked_sub(MARGIN)? / step);
        (l < self.n_layer && h < self.n_head).then_some((l, h))
    }
}

/// One head's [n, n] matrix as size × size RGBA pixels: each pixel the largest probability
/// of the cells it covers (a cell covers several pixels when n < size), white 0 → blue 1
/// (square root, as the heatmap).
fn thumbnail(p: &[f32], n: usize, size: usize) -> Vec<u8> {
    // The cells under pixel a: [a·n/size, (a+1)·n/size), at least one.
    let span = |a: usize| {
        let lo = a * n / size;
        lo..((a + 1) * n / size).max(lo + 1)
    };
    let mut px = Vec::with_capacity(size * size * 4);
    for a in 0..size {
        for b in 0..size {
            let mut v = 0.0f32;
            for i in span(a) {
                // Keys after the query are masked: zero.
                for j in span(b).take_while(|&j| j <= i) {
                    v = v.max(p[i * n + j]);
                }
            }
            let s = (255.0 * (1.0 - v.clamp(0.0, 1.0).sqrt())) as u8;
            px.extend([s, s, 255, 255]);
        }
    }
    px
}

fn draw(el: &web_sys::HtmlCanvasElement, g: &Grid) -> Result<(), wasm_bindgen::JsValue> {
    let (w, h) = g.extent();
    el.set_width(w as u32);
    el.set_height(h as u32);
    let ctx: web_sys::CanvasRenderingContext2d = el
        .get_context("2d")?
        .ok_or("no 2d context")?
        .unchecked_into();
    ctx.set_fill_style_str("#667");
    ctx.set_font("11px sans-serif");
    let step = g.size + GAP;
    for hd in 0..g.n_head {
        ctx.fill_text(&hd.to_string(), (MARGIN + hd * step) as f64, 14.0)?;
    }
    for l in 0..g.n_layer {
        ctx.fill_text(&l.to_string(), 2.0, (MARGIN + l * step + 12) as f64)?;
        for hd in 0..g.n_head {
            let px = &g.thumbs[l * g.n_head + hd];
            let img = web_sys::ImageData::new_with_u8_clamped_array_and_sh(
                Clamped(px),
                g.size as u32,
                g.size as u32,
            )?;
            ctx.put_image_data(
                &img,
                (MARGIN + hd * step) as f64,
                (MARGIN + l * step) as f64,
            )?;
        }
    }
    Ok(())
}

#[component]
pub fn GridView() -> impl IntoView {
    let state = expect_context::<AppState>();
    let canvas = NodeRef::<leptos::html::Canvas>::new();
    // Main-thread milliseconds of the last drawing.
    let draw_ms = RwSignal::new(0.0);
    Effect::new(move |_| {
        let Some(el) = canvas.get() else { return };
        state.grid.with(|g| {
            if let Some(g) = g {
                let t0 = web::now_ms();
                if let Err(e) = draw(&el, g) {
                    state.fail(format!("cannot draw the grid: {}", web::js_error(e)));
                }
                draw_ms.set(web::now_ms() - t0);
            }
        });
    });
    let open = move |ev: web_sys::MouseEvent| {
        let Some(el) = canvas.get_untracked() else {
            return;
        };
        // The canvas may be shown smaller than its pixels: scale the pointer to them.
        let scale = el.width() as f64 / el.client_width().max(1) as f64;
        let (x, y) = (ev.offset_x() as f64 * scale, ev.offset_y() as f64 * scale);
        let hit = state
            .grid
            .with_untracked(|g| g.as_ref().and_then(|g| g.at(x as usize, y as usize)));
        if let Some((layer, head)) = hit {
            state.viz_layer.set(layer);
            state
                .viz_heads
                .update(|v| v.iter_mut().enumerate().for_each(|(i, b)| *b = i == head));
            state.viz_tab.set(Tab::Attention);
            refresh(state);
        }
    };
    view! {
        <UnderTheHood
            formula="Every layer (rows) × head (columns): softmax(Q·Kᵀ/√d_k) over the tokens in the cache, query down, key across; each pixel is the largest probability of the cells it covers. Click one to open it large."
            files=&["attention.wgsl"]/>
        {move || state.grid.with(|g| match g {
            None => view! { <p class="muted">"Generate or chat to see every head."</p> }.into_any(),
            Some(g) => view! {
                <p class="muted" data-testid="viz-grid-timing" data-build-ms=format!("{:.1}", g.build_ms)
                    data-draw-ms=move || format!("{:.1}", draw_ms.get())>
                    {format!("{} layers × {} heads over {} tokens; main thread: {:.0} ms to shrink, ",
                        g.n_layer, g.n_head, g.n, g.build_ms)}
                    {move || format!("{:.0} ms to draw", draw_ms.get())}
                </p>
            }.into_any(),
        })}
        <canvas class="grid" data-testid="viz-grid" node_ref=canvas on:click=open
            data-layers=move || state.grid.with(|g| g.as_ref().map(|g| g.n_layer.to_string()))
            data-heads=move || state.grid.with(|g| g.as_ref().map(|g| g.n_head.to_string()))
            data-n=move || state.grid.with(|g| g.as_ref().map(|g| g.n.to_string()))
            data-size=move || state.grid.with(|g| g.as_ref().map(|g| g.size.to_string()))
            data-gap=GAP.to_string() data-margin=MARGIN.to_string()></canvas>
    }
}
