//! The logit lens: for one position, what each layer would predict if its output went
//! straight to the final norm and the unembedding (read on the GPU by
//! `GpuModel::logit_lens`: the model's own norm and matmul kernels, then top_k.wgsl).

use super::AppState;
use super::predictions::{Candidate, candidates, prob_colour};
use super::viz::{UnderTheHood, refresh, token_text};
use crate::gpu::top_k::TopK;
use crate::model::Tokenizer;
use leptos::prelude::*;

/// Candidates shown per layer.
const SHOWN: usize = 5;

#[derive(Clone, Debug, PartialEq)]
pub struct LensView {
    pub pos: usize,
    pub token: String,
    /// The token that followed, if any.
    pub next: Option<String>,
    /// Per layer: its top candidates (id, text, p) and the probability of `next`.
    pub layers: Vec<(Vec<Candidate>, Option<f32>)>,
}

impl LensView {
    pub fn new(tok: &Tokenizer, seq: &[u32], pos: usize, rows: Vec<TopK>) -> Self {
        Self {
            pos,
            token: token_text(tok, seq[pos]),
            next: seq.get(pos + 1).map(|&i| token_text(tok, i)),
            layers: rows
                .iter()
                .map(|r| (candidates(tok, r), r.chosen))
                .collect(),
        }
    }
}

#[component]
pub fn LensPanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    let pick = move |i: usize| {
        state.lens_pos.set(Some(i));
        refresh(state);
    };
    let shown = move || state.lens.get().map(|l| l.pos);
    view! {
        <UnderTheHood
            formula="For the chosen position and each layer ℓ: softmax(unembed(norm(x_ℓ))), where x_ℓ is the residual stream after block ℓ, and norm and unembed are the model's final ones. The last layer's row is the model's real prediction. Click a token to choose the position."
            files=&["linear.wgsl", "matmul.wgsl", "quant.wgsl", "top_k.wgsl"]/>
        <div class="tokens">
            {move || state.preds.get().into_iter().enumerate().take(super::engine::CAPTURE).map(|(i, t)| view! {
                <span class="token" data-testid=format!("viz-lens-token-{i}")
                    class:focus=move || shown() == Some(i)
                    on:click=move |_| pick(i)>{t.text}</span>
            }).collect_view()}
        </div>
        {move || match state.lens.get() {
            None => view! { <p class="muted">"Generate or chat, then pick a position."</p> }.into_any(),
            Some(l) => {
                let next = l.next.clone();
                view! {
                    <table class="lens" data-testid="viz-logit-lens" data-pos=l.pos.to_string()>
                        <caption>{format!("After “{}” (position {}){}: what each layer would predict",
                            l.token, l.pos,
                            next.as_ref().map(|n| format!(", followed by “{n}”")).unwrap_or_default())}</caption>
                        <tr><th>"layer"</th>{(1..=SHOWN).map(|r| view! { <th>{format!("#{r}")}</th> }).collect_view()}
                            <th>{next.as_ref().map(|n| format!("p(“{n}”)")).unwrap_or_default()}</th></tr>
                        {l.layers.iter().enumerate().map(|(layer, (top, np))| {
                            let ids = top.iter().map(|c| c.0.to_string()).collect::<Vec<_>>().join(",");
                            let probs = top.iter().map(|c| c.2.to_string()).collect::<Vec<_>>().join(",");
                            view! {
                                <tr data-testid=format!("viz-lens-row-{layer}") data-ids=ids data-probs=probs
                                    data-next-prob=np.map(|p| p.to_string())>
                                    <th>{layer.to_string()}</th>
                                    {top.iter().take(SHOWN).map(|(_, text, p)| view! {
                                        <td style=format!("background: {}", prob_colour(*p)) title=format!("{:.4}", p)>
                                            {text.clone()}<small>{format!(" {:.0}%", 100.0 * p)}</small>
                                        </td>
                                    }).collect_view()}
                                    <td class="num">{np.map(|p| format!("{:.2}%", 100.0 * p))}</td>
                                </tr>
                            }
                        }).collect_view()}
                    </table>
                }.into_any()
            }
        }}
    }
}
