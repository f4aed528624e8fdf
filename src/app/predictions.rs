//! The prediction view: the text as tokens, each generated one shaded by the probability
//! the model gave it (red = unlikely, green = likely); click one to see the candidates it
//! was drawn from (`shaders/top_k.wgsl`, read back with each sampled id).

use super::AppState;
use super::viz::{UnderTheHood, token_text};
use crate::gpu::top_k::TopK;
use crate::model::Tokenizer;
use leptos::prelude::*;

/// A candidate next token: id, text, probability.
pub type Candidate = (u32, String, f32);

/// One token of the sequence on screen.
#[derive(Clone, Debug, PartialEq)]
pub struct Pred {
    pub id: u32,
    pub text: String,
    /// The probability the model gave this token when it was sampled (None: a prompt token).
    pub prob: Option<f32>,
    /// The candidates: (id, text, probability), most likely first.
    pub top: Vec<Candidate>,
}

/// A top-k row as candidates with their texts.
pub fn candidates(tok: &Tokenizer, t: &TopK) -> Vec<Candidate> {
    t.ids
        .iter()
        .zip(&t.probs)
        .map(|(&i, &p)| (i, token_text(tok, i), p))
        .collect()
}

impl Pred {
    pub fn new(tok: &Tokenizer, id: u32, top: Option<TopK>) -> Self {
        let (prob, top) = match top {
            None => (None, Vec::new()),
            Some(t) => (t.chosen, candidates(tok, &t)),
        };
        Self {
            id,
            text: token_text(tok, id),
            prob,
            top,
        }
    }
}

/// Red (0) through yellow to green (1).
pub fn prob_colour(p: f32) -> String {
    format!("hsl({:.0}, 80%, 80%)", 120.0 * p.clamp(0.0, 1.0))
}

#[component]
pub fn PredictionView() -> impl IntoView {
    let state = expect_context::<AppState>();
    // The token whose candidates are shown: the one clicked, else the last generated.
    let picked = move || {
        state.preds.with(|p| {
            state
                .viz_pick
                .get()
                .filter(|&i| p.get(i).is_some_and(|t| t.prob.is_some()))
                .or_else(|| p.iter().rposition(|t| t.prob.is_some()))
        })
    };
    view! {
        <UnderTheHood
            formula="p = softmax(logits) of the last layer at temperature 1 (the model's own odds, before your sampling settings); top 10 by probability. Click a generated token to see what else the model could have said."
            files=&["top_k.wgsl", "sample.wgsl"]/>
        <div class="tokens">
            {move || state.preds.get().into_iter().enumerate().map(|(i, t)| {
                let style = t.prob.map(|p| format!("background: {}", prob_colour(p))).unwrap_or_default();
                let title = t.prob.map(|p| format!("p = {p:.4}")).unwrap_or_else(|| "prompt".into());
                view! {
                    <span class="token" class:generated=t.prob.is_some() style=style title=title
                        class:focus=move || picked() == Some(i)
                        data-testid=format!("viz-pred-token-{i}")
                        data-prob=t.prob.map(|p| p.to_string())
                        data-id=t.id.to_string()
                        on:click=move |_| state.viz_pick.set(Some(i))>{t.text.clone()}</span>
                }
            }).collect_view()}
        </div>
        {move || match picked().and_then(|i| state.preds.with(|p| p.get(i).cloned()).map(|t| (i, t))) {
            None => view! { <p class="muted">"Generate or chat to see the model's predictions."</p> }.into_any(),
            Some((i, t)) => {
                let ids = t.top.iter().map(|c| c.0.to_string()).collect::<Vec<_>>().join(",");
                let probs = t.top.iter().map(|c| c.2.to_string()).collect::<Vec<_>>().join(",");
                view! {
                    <table class="topk" data-testid="viz-topk" data-pos=i.to_string()
                        data-ids=ids data-probs=probs data-chosen=t.id.to_string()>
                        <caption>{format!("Position {i}: the model chose “{}” (p = {:.4}); it could have said:",
                            t.text, t.prob.unwrap_or(0.0))}</caption>
                        {t.top.iter().map(|(id, text, p)| view! {
                            <tr class:chosen=*id == t.id>
                                <td class="tok">{text.clone()}</td>
                                <td class="bar"><span style=format!("width: {:.1}%", 100.0 * p)></span></td>
                                <td class="num">{format!("{:.2}%", 100.0 * p)}</td>
                            </tr>
                        }).collect_view()}
                    </table>
                }.into_any()
            }
        }}
    }
}
