//! Llama-family models: config and weights, from a GGUF file or a Hugging Face folder. One
//! decoder body serves the architectures that differ from Llama by a few parts, each an
//! optional field: Llama 3 (RoPE frequency factors), Qwen 2 (q/k/v biases), Qwen 3 (per-head
//! q/k RMS norms), Gemma 3 (those norms, norms after attention and the MLP, GeGLU, embeddings
//! scaled by √n_embd, sliding-window attention on local layers with their own RoPE base).
//! Weights keep GGUF's names (`attn_q`, `ffn_gate`, …); the Hugging Face names
//! (`self_attn.q_proj`, `mlp.gate_proj`, …) are mapped to them on load.

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

/// The architectures this body runs, by their GGUF names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arch {
    Llama,
    Qwen2,
    Qwen3,
    Gemma3,
}

impl Arch {
    /// Each architecture with its GGUF name (`general.architecture`) and its name as people
    /// write it.
    const NAMES: [(Arch, &'static str, &'static str); 4] = [
        (Arch::Llama, "llama", "Llama"),
        (Arch::Qwen2, "qwen2", "Qwen 2"),
        (Arch::Qwen3, "qwen3", "Qwen 3"),
        (Arch::Gemma3, "gemma3", "Gemma 3"),
    ];

    /// Every architecture this body runs from GGUF: "llama, qwen2, qwen3, gemma3".
    pub fn supported() -> String {
        Self::NAMES.map(|(_, name, _)| name).join(", ")
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::NAMES
            .iter()
            .find(|(_, n, _)| *n == name)
            .map(|&(arch, _, _)| arch)
    }

    fn names(self) -> (&'static str, &'static str) {
        let &(_, name, title) = Self::NAMES
            .iter()
            .find(|(a, _, _)| *a == self)
            .expect("every Arch is in NAMES");
        (name, title)
    }

    /// The GGUF name: "gemma3".
    pub fn name(self) -> &'static str {
        self.names().0
    }

    /// As people write it: "Gemma 3".
    pub fn title(self) -> &'static str {
        self.names().1
    }
}

/// The MLP's gate: SwiGLU (Llama, Qwen) or GeGLU with the tanh GELU (Gemma).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Activation {
    Silu,
    GeluTanh,
}

/// Example values are SmolLM2-135M's (Gemma 3 270M's where only Gemma has them).
#[derive(Debug, Clone, PartialEq)]
pub struct LlamaConfig {
    pub arch: Arch,
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
    /// RoPE frequency i is divided by factor i (Llama 3's `rope_freqs.weight`); empty: none.
    pub rope_freq_factors: Vec<f32>,
    /// q · k is multiplied by this, e.g. 1/√64 = 0.125 (Gemma 3: 1/√256).
    pub attention_scale: f32,
    /// Token embeddings are multiplied by this: 1, or √n_embd for Gemma (25.3).
    pub embedding_scale: f32,
    pub activation: Activation,
    /// Keys a local layer's query sees, itself included, e.g. 512; 0: no local layers.
    pub sliding_window: usize,
    /// Which layers are local (sliding window, RoPE base `rope_theta_local`): Gemma 3's five
    /// of every six.
    pub local_layers: Vec<bool>,
    /// e.g. 10000
    pub rope_theta_local: f32,
}

impl LlamaConfig {
    pub fn q_width(&self) -> usize {
        self.n_head * self.head_size
    }

    pub fn kv_width(&self) -> usize {
        self.n_kv_head * self.head_size
    }

    /// Layer `i`'s sliding window (0: it sees every key) and RoPE base.
    pub fn layer_attention(&self, i: usize) -> (usize, f32) {
        if self.local_layers.get(i).copied().unwrap_or(false) {
            (self.sliding_window, self.rope_theta_local)
        } else {
            (0, self.rope_theta)
        }
    }

    /// A plain Llama config (no optional parts) of these shapes.
    #[allow(clippy::too_many_arguments)]
    pub fn llama(
        vocab_size: usize,
        context_length: usize,
        n_embd: usize,
        n_layer: usize,
        n_head: usize,
        n_kv_head: usize,
        n_ff: usize,
        rope_layout: RopeLayout,
    ) -> Self {
        let head_size = n_embd / n_head.max(1);
        Self {
            arch: Arch::Llama,
            vocab_size,
            context_length,
            n_embd,
            n_layer,
            n_head,
            n_kv_head,
            head_size,
            n_ff,
            rms_norm_eps: 1e-5,
            rope_theta: 10000.0,
            rope_layout,
            rope_freq_factors: Vec::new(),
            attention_scale: 1.0 / (head_size as f32).sqrt(),
            embedding_scale: 1.0,
            activation: Activation::Silu,
            sliding_window: 0,
            local_layers: vec![false; n_layer],
            rope_theta_local: 10000.0,
        }
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
/// The `Option`s are the parts only some architectures have.
pub struct LlamaBlock {
    pub attn_norm: Vec<f32>,                   // [C]       input_layernorm
    pub attn_q: QTensor,                       // [H·hs, C]  self_attn.q_proj
    pub attn_k: QTensor,                       // [KV·hs, C] self_attn.k_proj
    pub attn_v: QTensor,                       // [KV·hs, C] self_attn.v_proj
    pub attn_q_bias: Option<Vec<f32>>,         // [H·hs]     Qwen 2
    pub attn_k_bias: Option<Vec<f32>>,         // [KV·hs]    Qwen 2
    pub attn_v_bias: Option<Vec<f32>>,         // [KV·hs]    Qwen 2
    pub attn_q_norm: Option<Vec<f32>>,         // [hs]       Qwen 3, Gemma 3: each head RMS-normed
    pub attn_k_norm: Option<Vec<f32>>,         // [hs]
    pub attn_output: QTensor,                  // [C, H·hs]  self_attn.o_proj
    pub post_attention_norm: Option<Vec<f32>>, // [C]       Gemma 3: on attention's output
    pub ffn_norm: Vec<f32>,                    // [C]       post_attention_layernorm
    pub ffn_gate: QTensor,                     // [F, C]    mlp.gate_proj
    pub ffn_up: QTensor,                       // [F, C]    mlp.up_proj
    pub ffn_down: QTensor,                     // [C, F]    mlp.down_proj
    pub post_ffw_norm: Option<Vec<f32>>,       // [C]       Gemma 3: on the MLP's output
}

impl LlamaBlock {
    /// The optional vectors (biases, extra norms) this block has, for iteration.
    pub fn optional_vectors(&self) -> impl Iterator<Item = &Vec<f32>> {
        [
            &self.attn_q_bias,
            &self.attn_k_bias,
            &self.attn_v_bias,
            &self.attn_q_norm,
            &self.attn_k_norm,
            &self.post_attention_norm,
            &self.post_ffw_norm,
        ]
        .into_iter()
        .flatten()
    }

    fn optional_floats(&self) -> usize {
        self.optional_vectors().map(Vec::len).sum()
    }
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
                4 * (b.attn_norm.len() + b.ffn_norm.len() + b.optional_floats())
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

/// Reads the config and weights of a GGUF file of one of [`Arch::supported`]. Every
/// hyperparameter comes from the file's metadata (`{arch}.…`); a missing one is an error
/// naming its key, and so is one that contradicts another.
pub fn load_gguf(g: &Gguf) -> Result<LlamaWeights> {
    let file = g.file().to_string();
    let name = g.str("general.architecture")?;
    let arch = Arch::from_name(name).ok_or_else(|| LanternError::UnsupportedArchitecture {
        file: file.clone(),
        arch: name.to_string(),
        supported: format!("GGUF files of architecture {}, or gpt2", Arch::supported()),
    })?;
    let key = |k: &str| format!("{name}.{k}");
    let int = |k: &str| -> Result<usize> { Ok(g.u64(&key(k))? as usize) };
    let int_or = |k: &str, default: usize| -> Result<usize> {
        match g.get(&key(k)) {
            Some(_) => int(k),
            None => Ok(default),
        }
    };
    let float_or = |k: &str, default: f64| -> Result<f32> {
        match g.get(&key(k)) {
            Some(_) => Ok(g.f64(&key(k))? as f32),
            None => Ok(default as f32),
        }
    };
    let bad = |k: &str, reason: String| LanternError::Config {
        file: file.clone(),
        reason: format!("{}: {reason}", key(k)),
    };
    let n_embd = int("embedding_length")?;
    let n_head = int("attention.head_count")?;
    let n_layer = int("block_count")?;
    if n_head == 0 || (g.get(&key("attention.key_length")).is_none() && n_embd % n_head != 0) {
        return Err(bad(
            "attention.head_count",
            format!("{n_head} heads do not divide the width {n_embd}"),
        ));
    }
    let head_size = int_or("attention.key_length", n_embd / n_head)?;
    if int_or("attention.value_length", head_size)? != head_size {
        return Err(bad(
            "attention.value_length",
            "differs from attention.key_length; Lantern needs them equal".into(),
        ));
    }
    let context_length = int("context_length")?;
    let sliding_window = match arch {
        Arch::Gemma3 => int_or("attention.sliding_window", 0)?,
        _ => 0,
    };
    if sliding_window > context_length {
        return Err(bad(
            "attention.sliding_window",
            format!("{sliding_window} is larger than the context ({context_length})"),
        ));
    }
    // Gemma 3: five local layers, then a global one (llama.cpp's default pattern of 6, or
    // the file's `sliding_window_pattern`).
    let pattern = int_or("attention.sliding_window_pattern", 6)?;
    let tokens = g.strings("tokenizer.ggml.tokens")?.len();
    let gemma = arch == Arch::Gemma3;
    let mut config = LlamaConfig {
        arch,
        vocab_size: int_or("vocab_size", tokens)?,
        context_length,
        n_embd,
        n_layer,
        n_head,
        n_kv_head: int_or("attention.head_count_kv", n_head)?,
        head_size,
        n_ff: int("feed_forward_length")?,
        rms_norm_eps: g.f64(&key("attention.layer_norm_rms_epsilon"))? as f32,
        rope_theta: float_or("rope.freq_base", 10000.0)?,
        // llama.cpp's converter permutes Llama's q and k rows for adjacent pairs; Qwen's and
        // Gemma's keep Hugging Face's halves (llama.cpp's NEOX RoPE).
        rope_layout: match arch {
            Arch::Llama => RopeLayout::Adjacent,
            _ => RopeLayout::Halves,
        },
        rope_freq_factors: Vec::new(),
        // The file's, where it has one; else 1/√head_size (Gemma 3's too, as llama.cpp sets
        // it for every size but 27B, which Lantern's limits keep out anyway).
        attention_scale: float_or("attention.scale", 1.0 / (head_size as f64).sqrt())?,
        embedding_scale: if gemma { (n_embd as f32).sqrt() } else { 1.0 },
        activation: if gemma {
            Activation::GeluTanh
        } else {
            Activation::Silu
        },
        sliding_window,
        local_layers: Vec::new(), // below, once n_layer is known to be sane
        rope_theta_local: float_or("rope.freq_base_swa", 10000.0)?,
    };
    // Parts of other models Lantern does not compute: refused, not silently wrong.
    if let Some(kind) = g.get(&key("rope.scaling.type")).and_then(|v| v.as_str())
        && kind != "none"
    {
        return Err(bad(
            "rope.scaling.type",
            format!("RoPE scaling \"{kind}\" is not supported (Llama 3's rope_freqs.weight is)"),
        ));
    }
    if float_or("final_logit_softcapping", 0.0)? != 0.0 {
        return Err(bad(
            "final_logit_softcapping",
            "soft-capped logits (Gemma 2) are not supported".into(),
        ));
    }
    if head_size != int_or("rope.dimension_count", head_size)? {
        return Err(bad(
            "rope.dimension_count",
            format!("differs from the head size {head_size}; Lantern rotates whole heads"),
        ));
    }
    config.check(&file)?;
    config.local_layers = (0..n_layer)
        .map(|i| sliding_window > 0 && pattern > 0 && i % pattern < pattern - 1)
        .collect();
    if let Some(t) = g.tensor("token_embd.weight")
        && t.dims.len() == 2
        && t.dims[1] as usize != config.vocab_size
    {
        return Err(bad(
            "vocab_size",
            format!(
                "{} tokens, but token_embd.weight has {} rows",
                config.vocab_size, t.dims[1]
            ),
        ));
    }
    // Llama 3: the frequency factors the converter computed from its rope scaling.
    if g.tensor("rope_freqs.weight").is_some() {
        config.rope_freq_factors = g.vector("rope_freqs.weight", head_size / 2)?;
    }
    let c = &config;
    let matrix = |name: &str, rows: usize, cols: usize| g.matrix(name, rows, cols);
    let vector = |name: &str, len: usize| g.vector(name, len);
    // A vector the architecture has: required, named in the error when missing.
    let part = |has: bool, name: &str, len: usize| -> Result<Option<Vec<f32>>> {
        has.then(|| vector(name, len)).transpose()
    };
    let (q, kv, f) = (c.q_width(), c.kv_width(), c.n_ff);
    let qk_norm = matches!(arch, Arch::Qwen3 | Arch::Gemma3);
    let bias = arch == Arch::Qwen2;
    let blocks = (0..c.n_layer)
        .map(|i| {
            let n = |s: &str| format!("blk.{i}.{s}.weight");
            let b = |s: &str| format!("blk.{i}.{s}.bias");
            Ok(LlamaBlock {
                attn_norm: vector(&n("attn_norm"), c.n_embd)?,
                attn_q: matrix(&n("attn_q"), q, c.n_embd)?,
                attn_k: matrix(&n("attn_k"), kv, c.n_embd)?,
                attn_v: matrix(&n("attn_v"), kv, c.n_embd)?,
                attn_q_bias: part(bias, &b("attn_q"), q)?,
                attn_k_bias: part(bias, &b("attn_k"), kv)?,
                attn_v_bias: part(bias, &b("attn_v"), kv)?,
                attn_q_norm: part(qk_norm, &n("attn_q_norm"), c.head_size)?,
                attn_k_norm: part(qk_norm, &n("attn_k_norm"), c.head_size)?,
                attn_output: matrix(&n("attn_output"), c.n_embd, q)?,
                post_attention_norm: part(gemma, &n("post_attention_norm"), c.n_embd)?,
                ffn_norm: vector(&n("ffn_norm"), c.n_embd)?,
                ffn_gate: matrix(&n("ffn_gate"), f, c.n_embd)?,
                ffn_up: matrix(&n("ffn_up"), f, c.n_embd)?,
                ffn_down: matrix(&n("ffn_down"), c.n_embd, f)?,
                post_ffw_norm: part(gemma, &n("post_ffw_norm"), c.n_embd)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let output = match g.tensor("output.weight") {
        Some(_) => Some(matrix("output.weight", c.vocab_size, c.n_embd)?),
        None => None,
    };
    Ok(LlamaWeights {
        token_embd: matrix("token_embd.weight", config.vocab_size, config.n_embd)?,
        blocks,
        output_norm: vector("output_norm.weight", config.n_embd)?,
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
    let mut config = LlamaConfig::llama(
        int("vocab_size")?,
        int("max_position_embeddings")?,
        n_embd,
        int("num_hidden_layers")?,
        n_head,
        if obj.contains_key("num_key_value_heads") {
            int("num_key_value_heads")?
        } else {
            n_head
        },
        int("intermediate_size")?,
        RopeLayout::Halves,
    );
    if obj.get("head_dim").is_some_and(|v| !v.is_null()) {
        config.head_size = int("head_dim")?;
        config.attention_scale = 1.0 / (config.head_size as f32).sqrt();
    }
    config.rms_norm_eps = float("rms_norm_eps", 1e-6)?;
    config.rope_theta = float("rope_theta", 10000.0)?;
    if let Some(scaling) = obj.get("rope_scaling").filter(|v| !v.is_null()) {
        config.rope_freq_factors = llama3_freq_factors(scaling, &config)
            .map_err(|reason| err(format!("field `rope_scaling`: {reason}")))?;
    }
    config.check(file)?;
    Ok(config)
}

/// Llama 3's RoPE scaling (`rope_type` "llama3") as a factor per frequency, the way
/// llama.cpp's converter writes `rope_freqs.weight`: long wavelengths slowed by `factor`,
/// short ones kept, a smooth blend between.
fn llama3_freq_factors(v: &Value, c: &LlamaConfig) -> std::result::Result<Vec<f32>, String> {
    let kind = v.get("rope_type").or(v.get("type")).and_then(Value::as_str);
    if kind != Some("llama3") {
        return Err(format!("{kind:?} is not supported (only \"llama3\")"));
    }
    let num = |k: &str| {
        v.get(k)
            .and_then(Value::as_f64)
            .filter(|x| *x > 0.0)
            .ok_or_else(|| format!("`{k}` must be a positive number"))
    };
    let (factor, low, high) = (
        num("factor")?,
        num("low_freq_factor")?,
        num("high_freq_factor")?,
    );
    let original = num("original_max_position_embeddings")?;
    let (low_wavelen, high_wavelen) = (original / low, original / high);
    let hs = c.head_size as f64;
    Ok((0..c.head_size / 2)
        .map(|i| {
            let freq = (c.rope_theta as f64).powf(-2.0 * i as f64 / hs);
            let wavelen = 2.0 * std::f64::consts::PI / freq;
            if wavelen < high_wavelen {
                1.0
            } else if wavelen > low_wavelen {
                factor as f32
            } else {
                let smooth = (original / wavelen - low) / (high - low);
                (1.0 / ((1.0 - smooth) / factor + smooth)) as f32
            }
        })
        .collect())
}

/// Reads Llama-family weights from Hugging Face safetensors (names `model.layers.{i}.…`;
/// Qwen 2's q/k/v biases, Qwen 3's q/k norms, by `config.arch`).
pub fn load_safetensors(config: LlamaConfig, r: &Reader) -> Result<LlamaWeights> {
    let tensor = |name: &str, shape: &[usize]| r.tensor(name, shape);
    let c = &config;
    let part = |has: bool, name: &str, len: usize| -> Result<Option<Vec<f32>>> {
        has.then(|| tensor(name, &[len])).transpose()
    };
    let (bias, qk_norm) = (c.arch == Arch::Qwen2, c.arch == Arch::Qwen3);
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
            let b = |s: &str| format!("model.layers.{i}.{s}.bias");
            Ok(LlamaBlock {
                attn_norm: tensor(&n("input_layernorm"), &[c.n_embd])?,
                attn_q: matrix(&n("self_attn.q_proj"), q, c.n_embd)?,
                attn_k: matrix(&n("self_attn.k_proj"), kv, c.n_embd)?,
                attn_v: matrix(&n("self_attn.v_proj"), kv, c.n_embd)?,
                attn_q_bias: part(bias, &b("self_attn.q_proj"), q)?,
                attn_k_bias: part(bias, &b("self_attn.k_proj"), kv)?,
                attn_v_bias: part(bias, &b("self_attn.v_proj"), kv)?,
                attn_q_norm: part(qk_norm, &n("self_attn.q_norm"), c.head_size)?,
                attn_k_norm: part(qk_norm, &n("self_attn.k_norm"), c.head_size)?,
                attn_output: matrix(&n("self_attn.o_proj"), c.n_embd, q)?,
                post_attention_norm: None,
                ffn_norm: tensor(&n("post_attention_layernorm"), &[c.n_embd])?,
                ffn_gate: matrix(&n("mlp.gate_proj"), f, c.n_embd)?,
                ffn_up: matrix(&n("mlp.up_proj"), f, c.n_embd)?,
                ffn_down: matrix(&n("mlp.down_proj"), c.n_embd, f)?,
                post_ffw_norm: None,
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

#[cfg(test)]
mod tests {
    use super::*;

    /// Llama 3.2 1B's rope_scaling, as llama.cpp's converter turns it into rope_freqs.weight
    /// (the values its Python formula gives, in f64).
    #[test]
    fn llama3_rope_scaling_gives_the_converters_factors() {
        let mut c = LlamaConfig::llama(128_256, 131_072, 2048, 16, 32, 8, 8192, RopeLayout::Halves);
        c.rope_theta = 500_000.0;
        let scaling = serde_json::json!({
            "rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0,
            "high_freq_factor": 4.0, "original_max_position_embeddings": 8192
        });
        let f = llama3_freq_factors(&scaling, &c).unwrap();
        assert_eq!(f.len(), 32);
        assert!(f[..15].iter().all(|&x| x == 1.0) && f[18..].iter().all(|&x| x == 32.0));
        for (got, want) in f[15..18].iter().zip([1.651329, 3.292262, 9.666729]) {
            assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        }
        let yarn = serde_json::json!({ "rope_type": "yarn", "factor": 4.0 });
        assert!(llama3_freq_factors(&yarn, &c).unwrap_err().contains("yarn"));
    }
}
