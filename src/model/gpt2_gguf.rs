//! GPT-2 as llama.cpp writes it in GGUF (`general.architecture = "gpt2"`): the same model as
//! the Hugging Face checkpoint, its tensors named the GGUF way (`blk.{i}.attn_qkv` for
//! `h.{i}.attn.c_attn`, already [out, in]), its hyperparameters in `gpt2.*` metadata.

use super::config::Gpt2Config;
use super::gguf::Gguf;
use super::llama::QTensor;
use super::quant::Format;
use super::weights::{Gpt2Block, Gpt2Weights, LayerNorm, Linear};
use crate::error::{LanternError, Result};

pub fn load(g: &Gguf) -> Result<Gpt2Weights> {
    let key = |k: &str| format!("gpt2.{k}");
    let int = |k: &str| -> Result<usize> { Ok(g.u64(&key(k))? as usize) };
    let n_embd = int("embedding_length")?;
    let n_head = int("attention.head_count")?;
    if n_head == 0 || n_embd % n_head != 0 {
        return Err(LanternError::Config {
            file: g.file().to_string(),
            reason: format!(
                "{}: {n_head} heads do not divide the width {n_embd}",
                key("attention.head_count")
            ),
        });
    }
    let tokens = g.strings("tokenizer.ggml.tokens")?.len();
    let config = Gpt2Config {
        vocab_size: g
            .get(&key("vocab_size"))
            .map_or(Ok(tokens), |_| int("vocab_size"))?,
        n_positions: int("context_length")?,
        n_embd,
        n_layer: int("block_count")?,
        n_head,
        n_inner: int("feed_forward_length")?,
        layer_norm_epsilon: g.f64(&key("attention.layer_norm_epsilon"))? as f32,
    };
    let c = &config;
    let dims = [
        c.vocab_size,
        c.n_positions,
        c.n_embd,
        c.n_layer,
        c.n_head,
        c.n_inner,
    ];
    if dims.iter().any(|&d| d == 0 || d > 1 << 24) {
        return Err(LanternError::Config {
            file: g.file().to_string(),
            reason: format!("implausible dimensions {config:?}"),
        });
    }
    let (c, f, v) = (config.n_embd, config.n_inner, config.vocab_size);
    let norm = |name: &str| -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: g.vector(&format!("{name}.weight"), c)?,
            bias: g.vector(&format!("{name}.bias"), c)?,
        })
    };
    let linear = |name: &str, n_in: usize, n_out: usize| -> Result<Linear> {
        let t = g.matrix(&format!("{name}.weight"), n_out, n_in)?;
        Ok(Linear {
            weight: t.to_f32(),
            bias: g.vector(&format!("{name}.bias"), n_out)?,
            n_in,
            n_out,
            quantized: quantized(t),
        })
    };
    let blocks = (0..config.n_layer)
        .map(|i| {
            let p = |s: &str| format!("blk.{i}.{s}");
            Ok(Gpt2Block {
                ln_1: norm(&p("attn_norm"))?,
                attn_c_attn: linear(&p("attn_qkv"), c, 3 * c)?,
                attn_c_proj: linear(&p("attn_output"), c, c)?,
                ln_2: norm(&p("ffn_norm"))?,
                mlp_c_fc: linear(&p("ffn_up"), c, f)?,
                mlp_c_proj: linear(&p("ffn_down"), f, c)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let output = match g.tensor("output.weight") {
        Some(_) => Some(g.matrix("output.weight", v, c)?),
        None => None,
    };
    let wte = g.matrix("token_embd.weight", v, c)?;
    Ok(Gpt2Weights {
        // The float matrices' format (f32, f16 or bf16, when all share it); quantized ones
        // stay in their blocks beside their values.
        format: matrices_format(g, config.n_layer),
        wte: wte.to_f32(),
        wpe: g
            .matrix("position_embd.weight", config.n_positions, c)?
            .to_f32(),
        blocks,
        ln_f: norm("output_norm")?,
        lm_head: output.as_ref().map(QTensor::to_f32),
        wte_quantized: quantized(wte),
        lm_head_quantized: output.and_then(quantized),
        config,
    })
}

/// `t` when it is quantized (the GPU reads it so); float matrices go by the model's format.
fn quantized(t: QTensor) -> Option<QTensor> {
    (!matches!(t.format, Format::F32 | Format::F16 | Format::BF16)).then_some(t)
}

/// F16 or BF16 when every float matrix is stored so, else F32.
fn matrices_format(g: &Gguf, n_layer: usize) -> Format {
    let mut names = vec!["token_embd.weight".to_string(), "output.weight".to_string()];
    for i in 0..n_layer {
        for m in ["attn_qkv", "attn_output", "ffn_up", "ffn_down"] {
            names.push(format!("blk.{i}.{m}.weight"));
        }
    }
    let formats: Vec<Format> = names
        .iter()
        .filter_map(|n| g.tensor(n))
        .map(|t| t.format)
        .filter(|f| matches!(f, Format::F32 | Format::F16 | Format::BF16))
        .collect();
    match formats[..] {
        [f @ (Format::F16 | Format::BF16), ..] if formats.iter().all(|&x| x == f) => f,
        _ => Format::F32,
    }
}
