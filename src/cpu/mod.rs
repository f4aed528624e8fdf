//! The reference implementation: plain Rust, slow and obviously right (in the style of
//! llm.c's `train_gpt2.c`). Output first, dimensions last; sums in f64. The GPU kernels are
//! tested against these functions.

mod gpt2;
mod llama;
mod ops;
mod sample;

pub use gpt2::{gpt2_forward, gpt2_head};
pub use llama::{llama_forward, llama_head};
pub use ops::*;
pub use sample::{PENALTY_WINDOW, SampleParams, penalize, penalty_window, sample, top_k};

use crate::model::Weights;

/// Logits [T, V] for every position of `tokens`, whatever the architecture.
pub fn forward(w: &Weights, tokens: &[u32]) -> Vec<f32> {
    match w {
        Weights::Gpt2(w) => gpt2_forward(w, tokens, None),
        Weights::Llama(w) => llama_forward(w, tokens, None),
    }
}

/// What a forward pass can record besides its logits, per layer: the attention
/// probabilities [NH, T, T] (row i = query i) and the block's output rows [T, C].
#[derive(Debug, Default)]
pub struct Trace {
    pub attention: Vec<Vec<f32>>,
    pub residual: Vec<Vec<f32>>,
}

/// Runs `tokens` through the model and records its [`Trace`].
pub fn trace(w: &Weights, tokens: &[u32]) -> Trace {
    let mut tr = Trace::default();
    match w {
        Weights::Gpt2(w) => gpt2_forward(w, tokens, Some(&mut tr)),
        Weights::Llama(w) => llama_forward(w, tokens, Some(&mut tr)),
    };
    tr
}

/// Each layer's attention probabilities [NH, T, T] over `tokens` (row i = query i).
pub fn attention(w: &Weights, tokens: &[u32]) -> Vec<Vec<f32>> {
    trace(w, tokens).attention
}

/// The logit lens at `pos`: each layer's output row there, through the final norm and the
/// unembedding: logits [V] per layer.
pub fn logit_lens(w: &Weights, tokens: &[u32], pos: usize) -> Vec<Vec<f32>> {
    let c = w.n_embd();
    trace(w, tokens)
        .residual
        .iter()
        .map(|x| {
            let row = &x[pos * c..][..c];
            match w {
                Weights::Gpt2(w) => gpt2_head(w, row),
                Weights::Llama(w) => llama_head(w, row),
            }
        })
        .collect()
}
