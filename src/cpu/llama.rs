//! The Llama forward pass on the CPU, over the whole sequence (no KV cache). Quantized
//! matrices are dequantized as they are used.

use super::Trace;
use super::ops::*;
use crate::model::llama::{Activation, LlamaWeights, QTensor, RopeLayout};

/// out[T, rows] = x[T, cols] · wᵀ (+ bias)
fn linear(x: &[f32], w: &QTensor, bias: Option<&Vec<f32>>) -> Vec<f32> {
    let mut out = vec![0.0; x.len() / w.cols * w.rows];
    let bias = bias.map(Vec::as_slice);
    matmul_forward(&mut out, x, &w.to_f32(), bias, w.cols, w.rows);
    out
}

/// RMS norm of each row of `len` values (a head, or the whole row), in place, when the
/// architecture has the norm.
fn norm_rows(x: &mut Vec<f32>, weight: Option<&Vec<f32>>, eps: f32) {
    if let Some(g) = weight {
        let mut out = vec![0.0; x.len()];
        rmsnorm_forward(&mut out, x, g, eps, g.len());
        *x = out;
    }
}

/// Logits [T, V] for every position of `tokens`; with `trace`, also each layer's attention
/// probabilities and output rows.
pub fn llama_forward(w: &LlamaWeights, tokens: &[u32], mut trace: Option<&mut Trace>) -> Vec<f32> {
    let cfg = &w.config;
    let (t, c, hs, eps) = (tokens.len(), cfg.n_embd, cfg.head_size, cfg.rms_norm_eps);
    let adjacent = cfg.rope_layout == RopeLayout::Adjacent;
    let mut x: Vec<f32> = tokens
        .iter()
        .flat_map(|&tok| w.token_embd.row_f32(tok as usize))
        .map(|v| v * cfg.embedding_scale)
        .collect();
    let mut ln = vec![0.0; t * c];
    for (i, b) in w.blocks.iter().enumerate() {
        rmsnorm_forward(&mut ln, &x, &b.attn_norm, eps, c);
        let mut q = linear(&ln, &b.attn_q, b.attn_q_bias.as_ref());
        let mut k = linear(&ln, &b.attn_k, b.attn_k_bias.as_ref());
        let v = linear(&ln, &b.attn_v, b.attn_v_bias.as_ref());
        norm_rows(&mut q, b.attn_q_norm.as_ref(), eps);
        norm_rows(&mut k, b.attn_k_norm.as_ref(), eps);
        let (window, theta) = cfg.layer_attention(i);
        let table = rope_table(t, hs, theta, &cfg.rope_freq_factors);
        rope_forward(&mut q, &table, 0, cfg.n_head, hs, adjacent);
        rope_forward(&mut k, &table, 0, cfg.n_kv_head, hs, adjacent);
        let heads = Heads {
            scale: cfg.attention_scale,
            window,
            ..Heads::new(cfg.n_head, cfg.n_kv_head, hs)
        };
        let mut att = vec![0.0; t * cfg.q_width()];
        let mut probs = trace.as_ref().map(|_| vec![0.0; cfg.n_head * t * t]);
        attention_forward(&mut att, probs.as_deref_mut(), &q, &k, &v, 0, heads);
        if let (Some(tr), Some(p)) = (trace.as_deref_mut(), probs) {
            tr.attention.push(p);
        }
        let mut o = linear(&att, &b.attn_output, None);
        norm_rows(&mut o, b.post_attention_norm.as_ref(), eps);
        residual_forward(&mut x, &o);

        rmsnorm_forward(&mut ln, &x, &b.ffn_norm, eps, c);
        let gate = linear(&ln, &b.ffn_gate, None);
        let up = linear(&ln, &b.ffn_up, None);
        let mut h = vec![0.0; gate.len()];
        match cfg.activation {
            Activation::Silu => swiglu_forward(&mut h, &gate, &up),
            Activation::GeluTanh => geglu_forward(&mut h, &gate, &up),
        }
        let mut down = linear(&h, &b.ffn_down, None);
        norm_rows(&mut down, b.post_ffw_norm.as_ref(), eps);
        residual_forward(&mut x, &down);
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
    linear(&ln, w.output(), None)
}
