//! Llama-family models (SmolLM2, Llama, TinyLlama…): config and weights, from a GGUF file or a
//! Hugging Face folder. Weights keep GGUF's names (`attn_q`, `ffn_gate`, …); the Hugging Face
//! names (`self_attn.q_proj`, `mlp.gate_proj`, …) are mapped to them on load.

use super::gguf::Gguf;
use super::quant::{Format, dequantize};
use super::safetensors::Reader;
use crate::error::{LanternError, Result};
use serde_json::Value;

/// Which pairs of a head's dimensions RoPE rotates together.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RopeLayout {
    /// (2i, 2i + 1): GGUF files, whose converter permuted the rows of Q and K for it.
    Adjacent,
    /// (i, i + head_size / 2): Hugging Face's `rotate_half`.
    Halves,
}

/// Example values are SmolLM2-135M's.
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    /// e.g. 49152
    pub vocab_size: usize,
    /// Longest context the model was trained for, e.g. 8192.
    pub context_length: usize,
    /// e.g. 576
    pub n_embd: usize,
    /// e.g. 30
    pub n_layer: usize,
    /// Query heads, e.g. 9.
    pub n_head: usize,
    /// Key/value heads, e.g. 3 (grouped-query attention: 3 query heads share each).
    pub n_kv_head: usize,
    /// e.g. 64
    pub head_size: usize,
    /// Hidden width of the SwiGLU MLP, e.g. 1536.
    pub n_ff: usize,
    /// e.g. 1e-5
    pub rms_norm_eps: f32,
    /// e.g. 100000
    pub rope_theta: f32,
    pub rope_layout: RopeLayout,
}

impl LlamaConfig {
    pub fn q_width(&self) -> usize {
        self.n_head * self.head_size
    }

    pub fn kv_width(&self) -> usize {
        self.n_kv_head * self.head_size
    }

    /// Number of parameters, counting a tied output matrix once.
    pub fn parameter_count(&self, tied: bool) -> usize {
        let (c, f) = (self.n_embd, self.n_ff);
        let block =
            2 * c + c * (self.q_width() + 2 * self.kv_width()) + self.q_width() * c + 3 * c * f;
        self.vocab_size * c * if tied { 1 } else { 2 } + self.n_layer * block + c
    }

    fn check(&self, file: &str) -> Result<()> {
        let bad = |reason: String| {
            Err(LanternError::Config {
                file: file.to_string(),
                reason,
            })
        };
        let dims = [
            self.vocab_size,
            self.context_length,
            self.n_embd,
            self.n_layer,
            self.n_head,
            self.n_kv_head,
            self.head_size,
            self.n_ff,
        ];
        if dims.iter().any(|&d| d == 0 || d > 1 << 24) {
            return bad(format!("implausible dimensions {self:?}"));
        }
        if !self.n_head.is_multiple_of(self.n_kv_head) {
            return bad(format!(
                "{} query heads cannot share {} key/value heads evenly",
                self.n_head, self.n_kv_head
            ));
        }
        if !self.head_size.is_multiple_of(2) {
            return bad(format!(
                "head size {} is odd; RoPE needs pairs",
                self.head_size
            ));
        }
        Ok(())
    }
}

/// A weight matrix [rows, cols] (a linear layer's [out, in]) in its stored format.
#[derive(Clone)]
pub struct QTensor {
    pub format: Format,
    pub rows: usize,
    pub cols: usize,
    pub bytes: Vec<u8>,
}

impl QTensor {
    pub fn from_f32(rows: usize, cols: usize, values: &[f32]) -> Self {
        Self {
            format: Format::F32,
            rows,
            cols,
            bytes: bytemuck::cast_slice(values).to_vec(),
        }
    }

    /// `values` stored in a float `format` (F32, F16 or BF16), rounded to it.
    pub fn encode(format: Format, rows: usize, cols: usize, values: &[f32]) -> Self {
        let bytes = match format {
            Format::F16 => values
                .iter()
                .flat_map(|&v| half::f16::from_f32(v).to_le_bytes())
                .collect(),
            Format::BF16 => values
                .iter()
                .flat_map(|&v| half::bf16::from_f32(v).to_le_bytes())
                .collect(),
            _ => return Self::from_f32(rows, cols, values),
        };
        Self {
            format,
            rows,
            cols,
            bytes,
        }
    }

    /// All values as f32 (for the CPU reference).
    pub fn to_f32(&self) -> Vec<f32> {
        dequantize(self.format, &self.bytes)
    }

    /// Row `r` as f32.
    pub fn row_f32(&self, r: usize) -> Vec<f32> {
        let row_bytes = self.format.bytes_for(self.cols);
        dequantize(self.format, &self.bytes[r * row_bytes..(r + 1) * row_bytes])
    }

    /// Rows of several matrices of the same format stacked into one (q, k and v into qkv).
    pub fn stack(parts: &[&QTensor]) -> QTensor {
        let f = parts[0].format;
        let same = parts
            .iter()
            .all(|p| p.format == f && p.cols == parts[0].cols);
        let rows = parts.iter().map(|p| p.rows).sum();
        if same {
            let bytes = parts.iter().flat_map(|p| p.bytes.iter().copied()).collect();
            return QTensor {
                format: f,
                rows,
                cols: parts[0].cols,
                bytes,
            };
        }
        // Mixed formats: fall back to f32.
        let values: Vec<f32> = parts.iter().flat_map(|p| p.to_f32()).collect();
        QTensor::from_f32(rows, parts[0].cols, &values)
    }
}

/// One block: `blk.{i}.*` in GGUF, `model.layers.{i}.*` in Hugging Face files.
pub struct LlamaBlock {
    pub attn_norm: Vec<f32>,  // [C]          input_layernorm
    pub attn_q: QTensor,      // [H·hs, C]    self_attn.q_proj
    pub attn_k: QTensor,      // [KV·hs, C]   self_attn.k_proj
    pub attn_v: QTensor,      // [KV·hs, C]   self_attn.v_proj
    pub attn_output: QTensor, // [C, H·hs]    self_attn.o_proj
    pub ffn_norm: Vec<f32>,   // [C]          post_attention_layernorm
    pub ffn_gate: QTensor,    // [F, C]       mlp.gate_proj
    pub ffn_up: QTensor,      // [F, C]       mlp.up_proj
    pub ffn_down: QTensor,    // [C, F]       mlp.down_proj
}

pub struct LlamaWeights {
    pub config: LlamaConfig,
    pub token_embd: QTensor, // [V, C]  model.embed_tokens
    pub blocks: Vec<LlamaBlock>,
    pub output_norm: Vec<f32>, // [C]  model.norm
    /// [V, C] lm_head; `None` when tied to `token_embd`.
    pub output: Option<QTensor>,
}

impl LlamaWeights {
    pub fn output(&self) -> &QTensor {
        self.output.as_ref().unwrap_or(&self.token_embd)
    }

    /// Bytes of all weights as stored (what the GPU holds).
    pub fn bytes(&self) -> usize {
        let q = |t: &QTensor| t.bytes.len();
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| {
                4 * (b.attn_norm.len() + b.ffn_norm.len())
                    + q(&b.attn_q)
                    + q(&b.attn_k)
                    + q(&b.attn_v)
                    + q(&b.attn_output)
                    + q(&b.ffn_gate)
                    + q(&b.ffn_up)
                    + q(&b.ffn_down)
            })
            .sum();
        q(&self.token_embd)
            + blocks
            + 4 * self.output_norm.len()
            + self.output.as_ref().map_or(0, q)
    }
}

// ---- GGUF ----

/// Reads the config and weights of a GGUF file whose `general.architecture` is "llama".
pub fn load_gguf(g: &Gguf) -> Result<LlamaWeights> {
    let file = g.file().to_string();
    let arch = g.str("general.architecture")?;
    if arch != "llama" {
        return Err(LanternError::UnsupportedArchitecture {
            file,
            arch: arch.to_string(),
            supported: "GGUF files of architecture \"llama\" (SmolLM2, Llama, TinyLlama…)".into(),
        });
    }
    let n_embd = g.u64("llama.embedding_length")? as usize;
    let n_head = g.u64("llama.attention.head_count")? as usize;
    let head_size = match g.get("llama.rope.dimension_count") {
        Some(_) => g.u64("llama.rope.dimension_count")? as usize,
        None => n_embd / n_head.max(1),
    };
    let tokens = g.strings("tokenizer.ggml.tokens")?.len();
    let config = LlamaConfig {
        vocab_size: g
            .get("llama.vocab_size")
            .and_then(|v| v.as_u64())
            .map_or(tokens, |v| v as usize),
        context_length: g.u64("llama.context_length")? as usize,
        n_embd,
        n_layer: g.u64("llama.block_count")? as usize,
        n_head,
        n_kv_head: match g.get("llama.attention.head_count_kv") {
            Some(_) => g.u64("llama.attention.head_count_kv")? as usize,
            None => n_head,
        },
        head_size,
        n_ff: g.u64("llama.feed_forward_length")? as usize,
        rms_norm_eps: g.f64("llama.attention.layer_norm_rms_epsilon")? as f32,
        rope_theta: g
            .get("llama.rope.freq_base")
            .and_then(|v| v.as_f64())
            .unwrap_or(10000.0) as f32,
        rope_layout: RopeLayout::Adjacent,
    };
    config.check(&file)?;
    let c = &config;
    let matrix = |name: &str, rows: usize, cols: usize| -> Result<QTensor> {
        let t = g.tensor(name).ok_or_else(|| LanternError::MissingTensor {
            file: file.clone(),
            tensor: name.to_string(),
        })?;
        // GGUF lists dimensions fastest first: [cols, rows], or [cols] for a vector.
        let expected: Vec<u64> = if rows == 1 {
            vec![cols as u64]
        } else {
            vec![cols as u64, rows as u64]
        };
        if t.dims != expected {
            return Err(LanternError::ShapeMismatch {
                file: file.clone(),
                tensor: name.to_string(),
                got: t.dims.iter().map(|&d| d as usize).collect(),
                expected: expected.iter().map(|&d| d as usize).collect(),
            });
        }
        let bytes = g.data(t);
        // Kept as stored (16-bit floats too): the kernels read every format.
        Ok(QTensor {
            format: t.format,
            rows,
            cols,
            bytes: bytes.to_vec(),
        })
    };
    let vector =
        |name: &str, len: usize| -> Result<Vec<f32>> { Ok(matrix(name, 1, len)?.to_f32()) };
    let (q, kv, f) = (c.q_width(), c.kv_width(), c.n_ff);
    let blocks = (0..c.n_layer)
        .map(|i| {
            let n = |s: &str| format!("blk.{i}.{s}.weight");
            Ok(LlamaBlock {
                attn_norm: vector(&n("attn_norm"), c.n_embd)?,
                attn_q: matrix(&n("attn_q"), q, c.n_embd)?,
                attn_k: matrix(&n("attn_k"), kv, c.n_embd)?,
                attn_v: matrix(&n("attn_v"), kv, c.n_embd)?,
                attn_output: matrix(&n("attn_output"), c.n_embd, q)?,
                ffn_norm: vector(&n("ffn_norm"), c.n_embd)?,
                ffn_gate: matrix(&n("ffn_gate"), f, c.n_embd)?,
                ffn_up: matrix(&n("ffn_up"), f, c.n_embd)?,
                ffn_down: matrix(&n("ffn_down"), c.n_embd, f)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let output = match g.tensor("output.weight") {
        Some(_) => Some(matrix("output.weight", c.vocab_size, c.n_embd)?),
        None => None,
    };
    Ok(LlamaWeights {
        token_embd: matrix("token_embd.weight", c.vocab_size, c.n_embd)?,
        blocks,
        output_norm: vector("output_norm.weight", c.n_embd)?,
        output,
        config,
    })
}

// ---- Hugging Face safetensors ----

/// Parses a Llama `config.json` (model_type "llama").
pub fn config_from_json(obj: &serde_json::Map<String, Value>, file: &str) -> Result<LlamaConfig> {
    let err = |reason: String| LanternError::Config {
        file: file.to_string(),
        reason,
    };
    let int = |name: &str| -> Result<usize> {
        let v = obj
            .get(name)
            .ok_or_else(|| err(format!("missing field `{name}`")))?;
        v.as_u64()
            .filter(|&n| n > 0 && n <= 1 << 24)
            .map(|n| n as usize)
            .ok_or_else(|| {
                err(format!(
                    "field `{name}` must be a positive integer, got {v}"
                ))
            })
    };
    let float = |name: &str, default: f64| -> Result<f32> {
        match obj.get(name) {
            None | Some(Value::Null) => Ok(default as f32),
            Some(v) => v
                .as_f64()
                .map(|x| x as f32)
                .ok_or_else(|| err(format!("field `{name}` must be a number, got {v}"))),
        }
    };
    if let Some(act) = obj.get("hidden_act").and_then(Value::as_str)
        && act != "silu"
    {
        return Err(err(format!(
            "field `hidden_act` is \"{act}\"; Lantern's Llama MLP is SwiGLU (\"silu\")"
        )));
    }
    let n_embd = int("hidden_size")?;
    let n_head = int("num_attention_heads")?;
    let config = LlamaConfig {
        vocab_size: int("vocab_size")?,
        context_length: int("max_position_embeddings")?,
        n_embd,
        n_layer: int("num_hidden_layers")?,
        n_head,
        n_kv_head: if obj.contains_key("num_key_value_heads") {
            int("num_key_value_heads")?
        } else {
            n_head
        },
        head_size: if obj.get("head_dim").is_some_and(|v| !v.is_null()) {
            int("head_dim")?
        } else {
            n_embd / n_head
        },
        n_ff: int("intermediate_size")?,
        rms_norm_eps: float("rms_norm_eps", 1e-6)?,
        rope_theta: float("rope_theta", 10000.0)?,
        rope_layout: RopeLayout::Halves,
    };
    config.check(file)?;
    Ok(config)
}

/// Reads Llama weights from Hugging Face safetensors (names `model.layers.{i}.…`).
pub fn load_safetensors(config: LlamaConfig, r: &Reader) -> Result<LlamaWeights> {
    let tensor = |name: &str, shape: &[usize]| r.tensor(name, shape);
    let c = &config;
    // Matrices stored in 16 bits stay so (their f32 values are exact copies).
    let matrix = |name: &str, rows: usize, cols: usize| -> Result<QTensor> {
        let values = tensor(name, &[rows, cols])?;
        let format = r.format_of(name).unwrap_or(Format::F32);
        Ok(QTensor::encode(format, rows, cols, &values))
    };
    let (q, kv, f) = (c.q_width(), c.kv_width(), c.n_ff);
    let blocks = (0..c.n_layer)
        .map(|i| {
            let n = |s: &str| format!("model.layers.{i}.{s}.weight");
            Ok(LlamaBlock {
                attn_norm: tensor(&n("input_layernorm"), &[c.n_embd])?,
                attn_q: matrix(&n("self_attn.q_proj"), q, c.n_embd)?,
                attn_k: matrix(&n("self_attn.k_proj"), kv, c.n_embd)?,
                attn_v: matrix(&n("self_attn.v_proj"), kv, c.n_embd)?,
                attn_output: matrix(&n("self_attn.o_proj"), c.n_embd, q)?,
                ffn_norm: tensor(&n("post_attention_layernorm"), &[c.n_embd])?,
                ffn_gate: matrix(&n("mlp.gate_proj"), f, c.n_embd)?,
                ffn_up: matrix(&n("mlp.up_proj"), f, c.n_embd)?,
                ffn_down: matrix(&n("mlp.down_proj"), c.n_embd, f)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let output = if r.has("lm_head.weight") {
        Some(matrix("lm_head.weight", c.vocab_size, c.n_embd)?)
    } else {
        None
    };
    Ok(LlamaWeights {
        token_embd: matrix("model.embed_tokens.weight", c.vocab_size, c.n_embd)?,
        blocks,
        output_norm: tensor("model.norm.weight", &[c.n_embd])?,
        output,
        config,
    })
}
