//! GPT-2's forward pass on the CPU, over the whole sequence (no KV cache).

use super::Trace;
use super::ops::*;
use crate::model::Gpt2Weights;

/// Logits [T, V] for every position of `tokens`; with `trace`, also each layer's attention
/// probabilities and output rows.
pub fn gpt2_forward(w: &Gpt2Weights, tokens: &[u32], mut trace: Option<&mut Trace>) -> Vec<f32> {
    let cfg = &w.config;
    let (t, c, f) = (tokens.len(), cfg.n_embd, cfg.n_inner);
    let mut x = vec![0.0; t * c]; // the residual stream
    let mut ln = vec![0.0; t * c];
    let mut qkv = vec![0.0; t * 3 * c];
    let (mut q, mut k, mut vv) = (vec![0.0; t * c], vec![0.0; t * c], vec![0.0; t * c]);
    let mut att = vec![0.0; t * c];
    let mut proj = vec![0.0; t * c];
    let mut fc = vec![0.0; t * f];
    let mut fc_gelu = vec![0.0; t * f];
    embedding_forward(&mut x, tokens, &w.wte, &w.wpe, 0, c);

    for b in &w.blocks {
        layernorm_forward(
            &mut ln,
            &x,
            &b.ln_1.weight,
            &b.ln_1.bias,
            cfg.layer_norm_epsilon,
            c,
        );
        let l = &b.attn_c_attn;
        matmul_forward(&mut qkv, &ln, &l.weight, Some(&l.bias), c, 3 * c);
        for i in 0..t {
            q[i * c..][..c].copy_from_slice(&qkv[i * 3 * c..][..c]);
            k[i * c..][..c].copy_from_slice(&qkv[i * 3 * c + c..][..c]);
            vv[i * c..][..c].copy_from_slice(&qkv[i * 3 * c + 2 * c..][..c]);
        }
        let mut probs = trace.as_ref().map(|_| vec![0.0; cfg.n_head * t * t]);
        attention_forward(
            &mut att,
            probs.as_deref_mut(),
            &q,
            &k,
            &vv,
            0,
            Heads::new(cfg.n_head, cfg.n_head, cfg.head_size()),
        );
        if let (Some(tr), Some(p)) = (trace.as_deref_mut(), probs) {
            tr.attention.push(p);
        }
        let l = &b.attn_c_proj;
        matmul_forward(&mut proj, &att, &l.weight, Some(&l.bias), c, c);
        residual_forward(&mut x, &proj);

        layernorm_forward(
            &mut ln,
            &x,
            &b.ln_2.weight,
            &b.ln_2.bias,
            cfg.layer_norm_epsilon,
            c,
        );
        let l = &b.mlp_c_fc;
        matmul_forward(&mut fc, &ln, &l.weight, Some(&l.bias), c, f);
        gelu_forward(&mut fc_gelu, &fc);
        let l = &b.mlp_c_proj;
        matmul_forward(&mut proj, &fc_gelu, &l.weight, Some(&l.bias), f, c);
        residual_forward(&mut x, &proj);
        if let Some(tr) = trace.as_deref_mut() {
            tr.residual.push(x.clone());
        }
    }
    gpt2_head(w, &x)
}

/// ln_f and lm_head: logits [T, V] of the residual rows `x` [T, C].
pub fn gpt2_head(w: &Gpt2Weights, x: &[f32]) -> Vec<f32> {
    let cfg = &w.config;
    let (c, v) = (cfg.n_embd, cfg.vocab_size);
    let mut ln = vec![0.0; x.len()];
    layernorm_forward(
        &mut ln,
        x,
        &w.ln_f.weight,
        &w.ln_f.bias,
        cfg.layer_norm_epsilon,
        c,
    );
    let mut logits = vec![0.0; x.len() / c * v];
    matmul_forward(&mut logits, &ln, w.lm_head(), None, c, v);
    logits
}
