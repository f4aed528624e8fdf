//! The reference implementation: plain Rust, slow and obviously right (in the style of
//! llm.c's `train_gpt2.c`). Output first, dimensions last; sums in f64. The GPU kernels are
//! tested against these functions.

mod gpt2;
mod llama;
mod ops;
mod sample;

pub use gpt2::gpt2_forward;
pub use llama::llama_forward;
pub use ops::*;
pub use sample::{SampleParams, sample, top_k};

use crate::model::Weights;

/// Logits [T, V] for every position of `tokens`, whatever the architecture.
pub fn forward(w: &Weights, tokens: &[u32]) -> Vec<f32> {
    match w {
        Weights::Gpt2(w) => gpt2_forward(w, tokens, None),
        Weights::Llama(w) => llama_forward(w, tokens, None),
    }
}

/// Each layer's attention probabilities [NH, T, T] over `tokens` (row i = query i).
pub fn attention(w: &Weights, tokens: &[u32]) -> Vec<Vec<f32>> {
    let mut all = Vec::new();
    match w {
        Weights::Gpt2(w) => gpt2_forward(w, tokens, Some(&mut all)),
        Weights::Llama(w) => llama_forward(w, tokens, Some(&mut all)),
    };
    all
}
