//! `config.json` of a Hugging Face GPT-2 checkpoint.

use crate::error::{LanternError, Result};
use serde_json::Value;

/// Shapes and constants of a GPT-2 model. Example values are GPT-2 small (124M).
#[derive(Debug, Clone, PartialEq)]
pub struct Gpt2Config {
    /// Tokens in the vocabulary, e.g. 50257.
    pub vocab_size: usize,
    /// Longest context, e.g. 1024.
    pub n_positions: usize,
    /// Width of the residual stream, e.g. 768.
    pub n_embd: usize,
    /// Transformer blocks, e.g. 12.
    pub n_layer: usize,
    /// Attention heads, e.g. 12 (head size n_embd / n_head = 64).
    pub n_head: usize,
    /// Width of the MLP's hidden layer, e.g. 3072 (`n_inner`, or 4 * n_embd when null).
    pub n_inner: usize,
    /// Layer-norm epsilon, e.g. 1e-5.
    pub layer_norm_epsilon: f32,
}

impl Gpt2Config {
    pub fn head_size(&self) -> usize {
        self.n_embd / self.n_head
    }

    /// Reads a GPT-2 `config.json` (already parsed; the loader has checked its
    /// architecture); `file` names it in errors.
    pub fn from_json(obj: &serde_json::Map<String, Value>, file: &str) -> Result<Self> {
        let err = |reason: String| LanternError::Config {
            file: file.to_string(),
            reason,
        };
        if let Some(act) = obj.get("activation_function").and_then(Value::as_str)
            && !matches!(act, "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast")
        {
            return Err(err(format!(
                "field `activation_function` is \"{act}\"; Lantern implements the tanh GELU (\"gelu_new\")"
            )));
        }

        let usize_field = |name: &str| -> Result<usize> {
            let value = obj
                .get(name)
                .ok_or_else(|| err(format!("missing field `{name}`")))?;
            value
                .as_u64()
                .filter(|&n| n > 0 && n <= 1 << 24)
                .map(|n| n as usize)
                .ok_or_else(|| {
                    err(format!(
                        "field `{name}` must be a positive integer, got {value}"
                    ))
                })
        };
        let n_embd = usize_field("n_embd")?;
        let n_head = usize_field("n_head")?;
        if n_embd % n_head != 0 {
            return Err(err(format!(
                "field `n_embd` ({n_embd}) is not a multiple of `n_head` ({n_head})"
            )));
        }
        let n_inner = match obj.get("n_inner") {
            None | Some(Value::Null) => 4 * n_embd,
            Some(_) => usize_field("n_inner")?,
        };
        let layer_norm_epsilon = match obj.get("layer_norm_epsilon") {
            None => 1e-5,
            Some(v) => v.as_f64().filter(|e| *e > 0.0 && *e < 1.0).ok_or_else(|| {
                err(format!(
                    "field `layer_norm_epsilon` must be in (0, 1), got {v}"
                ))
            })? as f32,
        };
        Ok(Self {
            vocab_size: usize_field("vocab_size")?,
            n_positions: usize_field("n_positions")?,
            n_embd,
            n_layer: usize_field("n_layer")?,
            n_head,
            n_inner,
            layer_norm_epsilon,
        })
    }

    /// Number of parameters, counting a tied lm_head once.
    pub fn parameter_count(&self) -> usize {
        let (c, f) = (self.n_embd, self.n_inner);
        let block = 2 * c + (c * 3 * c + 3 * c) + (c * c + c) + 2 * c + (c * f + f) + (f * c + c);
        self.vocab_size * c + self.n_positions * c + self.n_layer * block + 2 * c
    }
}
