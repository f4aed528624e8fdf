//! The Llama forward pass on the CPU, over the whole sequence (no KV cache). Quantized
//! matrices are dequantized as they are used.

use super::Trace;
use super::ops::*;
use crate::model::llama::{LlamaWeights, QTensor, RopeLayout};

/// out[T, rows] = x[T, cols] · wᵀ
fn linear(x: &[f32], w: &QTensor) -> Vec<f32> {
    let mut out = vec![0.0; x.len() / w.cols * w.rows];
    matmul_forward(&mut out, x, &w.to_f32(), None, w.cols, w.rows);
    out
}

/// Logits [T, V] for every position of `tokens`; with `trace`, also each layer's attention
/// probabilities and output rows.
pub fn llama_forward(w: &LlamaWeights, tokens: &[u32], mut trace: Option<&mut Trace>) -> Vec<f32> {
    let cfg = &w.config;
    let (t, c, hs) = (tokens.len(), cfg.n_embd, cfg.head_size);
    let adjacent = cfg.rope_layout == RopeLayout::Adjacent;
    let mut x: Vec<f32> = tokens
        .iter()
        .flat_map(|&tok| w.token_embd.row_f32(tok as usize))
        .collect();
    let mut ln = vec![0.0; t * c];
    for b in &w.blocks {
        rmsnorm_forward(&mut ln, &x, &b.attn_norm, cfg.rms_norm_eps, c);
        let mut q = linear(&ln, &b.attn_q);
        let mut k = linear(&ln, &b.attn_k);
        let v = linear(&ln, &b.attn_v);
        rope_forward(&mut q, 0, cfg.n_head, hs, cfg.rope_theta, adjacent);
        rope_forward(&mut k, 0, cfg.n_kv_head, hs, cfg.rope_theta, adjacent);
        let mut att = vec![0.0; t * cfg.q_width()];
        let mut probs = trace.as_ref().map(|_| vec![0.0; cfg.n_head * t * t]);
        let p = probs.as_deref_mut();
        attention_forward(&mut att, p, &q, &k, &v, 0, cfg.n_head, cfg.n_kv_head, hs);
        if let (Some(tr), Some(p)) = (trace.as_deref_mut(), probs) {
            tr.attention.push(p);
        }
        residual_forward(&mut x, &linear(&att, &b.attn_output));

        rmsnorm_forward(&mut ln, &x, &b.ffn_norm, cfg.rms_norm_eps, c);
        let gate = linear(&ln, &b.ffn_gate);
        let up = linear(&ln, &b.ffn_up);
        let mut h = vec![0.0; gate.len()];
        swiglu_forward(&mut h, &gate, &up);
        residual_forward(&mut x, &linear(&h, &b.ffn_down));
        if let Some(tr) = trace.as_deref_mut() {
            tr.residual.push(x.clone());
        }
    }
    llama_head(w, &x)
}

/// output_norm and output: logits [T, V] of the residual rows `x` [T, C].
pub fn llama_head(w: &LlamaWeights, x: &[f32]) -> Vec<f32> {
    let cfg = &w.config;
    let mut ln = vec![0.0; x.len()];
    rmsnorm_forward(&mut ln, x, &w.output_norm, cfg.rms_norm_eps, cfg.n_embd);
    linear(&ln, w.output())
}
