//! Reading GPT-2 weights from a Hugging Face `model.safetensors`.
//!
//! Every tensor is checked against `config.json` (name, dtype, shape) and converted to f32.
//! GPT-2's attention and MLP matrices are Conv1D layers stored `[in, out]`; [`conv1d`] turns
//! them into the `[out, in]` layout of a linear layer, in this one place.

use super::config::Gpt2Config;
use super::quant::Format;
use super::weights::{Gpt2Block, Gpt2Weights, LayerNorm, Linear};
use crate::error::{LanternError, Result};
use safetensors::{Dtype, SafeTensors};

/// Reads the tensors of a GPT-2 checkpoint, checked against its config.
pub fn load_gpt2(reader: &Reader, config: &Gpt2Config) -> Result<Gpt2Weights> {
    let (c, f, v) = (config.n_embd, config.n_inner, config.vocab_size);

    let blocks = (0..config.n_layer)
        .map(|i| {
            let p = format!("h.{i}.");
            Ok(Gpt2Block {
                ln_1: reader.layer_norm(&format!("{p}ln_1"), c)?,
                attn_c_attn: reader.conv1d(&format!("{p}attn.c_attn"), c, 3 * c)?,
                attn_c_proj: reader.conv1d(&format!("{p}attn.c_proj"), c, c)?,
                ln_2: reader.layer_norm(&format!("{p}ln_2"), c)?,
                mlp_c_fc: reader.conv1d(&format!("{p}mlp.c_fc"), c, f)?,
                mlp_c_proj: reader.conv1d(&format!("{p}mlp.c_proj"), f, c)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;

    // The matrices stay 16-bit on the GPU when all are stored so (their f32 values here are
    // exact copies); any mix, or f32, stays f32.
    let mut matrices = vec!["wte.weight".to_string(), "lm_head.weight".to_string()];
    for i in 0..config.n_layer {
        for m in ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"] {
            matrices.push(format!("h.{i}.{m}.weight"));
        }
    }
    let stored: Vec<Option<Format>> = matrices
        .iter()
        .filter(|m| reader.has(m))
        .map(|m| reader.format_of(m))
        .collect();
    let format = match stored[..] {
        [Some(f), ..] if stored.iter().all(|&s| s == Some(f)) => f,
        _ => Format::F32,
    };

    // `lm_head.weight` is an nn.Linear ([vocab, n_embd]); when absent it is tied to `wte`.
    let lm_head = if reader.find("lm_head.weight").is_some() {
        Some(reader.tensor("lm_head.weight", &[v, c])?)
    } else {
        None
    };
    Ok(Gpt2Weights {
        config: config.clone(),
        format,
        wte: reader.tensor("wte.weight", &[v, c])?,
        wpe: reader.tensor("wpe.weight", &[config.n_positions, c])?,
        blocks,
        ln_f: reader.layer_norm("ln_f", c)?,
        lm_head,
        wte_quantized: None,
        lm_head_quantized: None,
    })
}

/// Checks the 8-byte header length before handing the bytes to the `safetensors` crate, so
/// that a truncated file gets an error that says so.
fn parse<'a>(bytes: &'a [u8], file: &str) -> Result<SafeTensors<'a>> {
    let bad = |reason: String| LanternError::Checkpoint {
        file: file.to_string(),
        reason,
    };
    if bytes.len() < 8 {
        return Err(bad(format!(
            "the file is {} bytes, too short for a safetensors header (truncated?)",
            bytes.len()
        )));
    }
    let header_len = u64::from_le_bytes(bytes[..8].try_into().expect("8 bytes"));
    let available = bytes.len() as u64 - 8;
    if header_len > available {
        return Err(bad(format!(
            "the header claims {header_len} bytes, but only {available} bytes follow the length \
             field (truncated or not a safetensors file)"
        )));
    }
    SafeTensors::deserialize(bytes).map_err(|e| bad(format!("{e} (truncated or corrupt file?)")))
}

/// Checked access to the tensors of a safetensors file.
pub struct Reader<'a> {
    st: SafeTensors<'a>,
    file: &'a str,
}

/// Opens safetensors bytes for [`Reader::tensor`].
pub fn open<'a>(bytes: &'a [u8], file: &'a str) -> Result<Reader<'a>> {
    Ok(Reader {
        st: parse(bytes, file)?,
        file,
    })
}

impl Reader<'_> {
    /// Whether the file holds `name` (with or without the `transformer.` prefix).
    pub fn has(&self, name: &str) -> bool {
        self.find(name).is_some()
    }

    /// The stored name of `name`, which may carry the `transformer.` prefix.
    fn find(&self, name: &str) -> Option<String> {
        [name.to_string(), format!("transformer.{name}")]
            .into_iter()
            .find(|n| self.st.tensor(n).is_ok())
    }

    /// How tensor `name` is stored, when it is a float format Lantern keeps on the GPU.
    pub fn format_of(&self, name: &str) -> Option<Format> {
        let view = self.st.tensor(&self.find(name)?).ok()?;
        match view.dtype() {
            Dtype::F32 => Some(Format::F32),
            Dtype::F16 => Some(Format::F16),
            Dtype::BF16 => Some(Format::BF16),
            _ => None,
        }
    }

    /// Tensor `name` as f32, after checking its shape is `shape`.
    pub fn tensor(&self, name: &str, shape: &[usize]) -> Result<Vec<f32>> {
        let stored = self.find(name).ok_or_else(|| LanternError::MissingTensor {
            file: self.file.to_string(),
            tensor: name.to_string(),
        })?;
        let view = self.st.tensor(&stored).expect("found above");
        if view.shape() != shape {
            return Err(LanternError::ShapeMismatch {
                file: self.file.to_string(),
                tensor: stored,
                got: view.shape().to_vec(),
                expected: shape.to_vec(),
            });
        }
        let data = view.data();
        let values: Vec<f32> = match view.dtype() {
            Dtype::F32 => data
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .collect(),
            Dtype::F16 => data
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            Dtype::BF16 => data
                .chunks_exact(2)
                .map(|b| half::bf16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect(),
            other => {
                return Err(LanternError::UnsupportedDtype {
                    file: self.file.to_string(),
                    tensor: stored,
                    dtype: format!("{other:?}"),
                });
            }
        };
        if let Some(i) = values.iter().position(|x| !x.is_finite()) {
            return Err(LanternError::Checkpoint {
                file: self.file.to_string(),
                reason: format!("tensor `{stored}` holds a non-finite value at index {i}"),
            });
        }
        Ok(values)
    }

    fn layer_norm(&self, prefix: &str, c: usize) -> Result<LayerNorm> {
        Ok(LayerNorm {
            weight: self.tensor(&format!("{prefix}.weight"), &[c])?,
            bias: self.tensor(&format!("{prefix}.bias"), &[c])?,
        })
    }

    /// A Conv1D layer (`weight` stored `[in, out]`), returned as a linear layer (`[out, in]`).
    fn conv1d(&self, prefix: &str, n_in: usize, n_out: usize) -> Result<Linear> {
        let stored = self.tensor(&format!("{prefix}.weight"), &[n_in, n_out])?;
        let mut weight = vec![0.0; n_in * n_out];
        for i in 0..n_in {
            for o in 0..n_out {
                weight[o * n_in + i] = stored[i * n_out + o];
            }
        }
        Ok(Linear {
            weight,
            bias: self.tensor(&format!("{prefix}.bias"), &[n_out])?,
            n_in,
            n_out,
            quantized: None,
        })
    }
}

/// Name, dtype and shape of one stored tensor.
#[derive(Debug, Clone)]
pub struct TensorInfo {
    pub name: String,
    pub dtype: String,
    pub shape: Vec<usize>,
}

/// The tensors a safetensors file holds, sorted by name (for `lantern info`).
pub fn list_tensors(bytes: &[u8], file: &str) -> Result<Vec<TensorInfo>> {
    let st = parse(bytes, file)?;
    let mut list: Vec<TensorInfo> = st
        .tensors()
        .into_iter()
        .map(|(name, view)| TensorInfo {
            name,
            dtype: format!("{:?}", view.dtype()),
            shape: view.shape().to_vec(),
        })
        .collect();
    list.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(list)
}
