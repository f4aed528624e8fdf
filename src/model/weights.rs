//! GPT-2 weights in memory, f32, named after the checkpoint's keys. Linear layers are
//! `[out, in]` (PyTorch's nn.Linear layout) whatever the checkpoint stored.

use super::config::Gpt2Config;
use super::llama::QTensor;
use super::quant::Format;

pub struct LayerNorm {
    pub weight: Vec<f32>, // [C]
    pub bias: Vec<f32>,   // [C]
}

/// y = x · weightᵀ + bias.
pub struct Linear {
    pub weight: Vec<f32>, // [n_out, n_in]
    pub bias: Vec<f32>,   // [n_out]
    pub n_in: usize,
    pub n_out: usize,
    /// The matrix in the quantized blocks a GGUF file stores it in, which the GPU reads as
    /// they are (`weight` holds their values); `None` for float checkpoints.
    pub quantized: Option<QTensor>,
}

/// One transformer block: `h.{i}.*` in the checkpoint.
pub struct Gpt2Block {
    pub ln_1: LayerNorm,
    pub attn_c_attn: Linear, // [3C, C]: q, k, v
    pub attn_c_proj: Linear, // [C, C]
    pub ln_2: LayerNorm,
    pub mlp_c_fc: Linear,   // [F, C]
    pub mlp_c_proj: Linear, // [C, F]
}

pub struct Gpt2Weights {
    pub config: Gpt2Config,
    /// How the matrices are stored (F32, F16 or BF16: the checkpoint's, when all share it);
    /// the GPU keeps them so. Their values here are f32 copies, exact.
    pub format: Format,
    pub wte: Vec<f32>, // [V, C] token embeddings
    pub wpe: Vec<f32>, // [P, C] position embeddings
    pub blocks: Vec<Gpt2Block>,
    pub ln_f: LayerNorm,
    /// [V, C]; `None` when tied to `wte` (GPT-2's usual case).
    pub lm_head: Option<Vec<f32>>,
    /// wte and lm_head in a GGUF file's quantized blocks (see [`Linear::quantized`]).
    pub wte_quantized: Option<QTensor>,
    pub lm_head_quantized: Option<QTensor>,
}

impl Gpt2Weights {
    /// Bytes of all weights as the GPU holds them (the matrices in `format`, the rest f32).
    pub fn bytes(&self) -> usize {
        let ln = |l: &LayerNorm| l.weight.len() + l.bias.len();
        let lin = |l: &Linear| l.weight.len() + l.bias.len();
        let blocks: usize = self
            .blocks
            .iter()
            .map(|b| {
                ln(&b.ln_1)
                    + lin(&b.attn_c_attn)
                    + lin(&b.attn_c_proj)
                    + ln(&b.ln_2)
                    + lin(&b.mlp_c_fc)
                    + lin(&b.mlp_c_proj)
            })
            .sum();
        let head = self.lm_head.as_ref().map_or(0, Vec::len);
        let matrix = |n: usize| n * if self.format == Format::F32 { 4 } else { 2 };
        let matrices: usize = self
            .blocks
            .iter()
            .map(|b| {
                [&b.attn_c_attn, &b.attn_c_proj, &b.mlp_c_fc, &b.mlp_c_proj]
                    .iter()
                    .map(|l| l.weight.len())
                    .sum::<usize>()
            })
            .sum();
        4 * (self.wpe.len() + blocks - matrices + ln(&self.ln_f))
            + matrix(self.wte.len() + head + matrices)
    }

    /// The unembedding matrix, [V, C].
    pub fn lm_head(&self) -> &[f32] {
        self.lm_head.as_deref().unwrap_or(&self.wte)
    }
}
