//! Putting a model together from its files: a folder natively, bytes in the browser.

use super::{Gpt2Config, Gpt2Weights, Tokenizer, load_gpt2};
use crate::error::{LanternError, Result};

/// The files of a Hugging Face GPT-2 checkpoint, already read.
pub struct ModelFiles<'a> {
    pub config_json: &'a str,
    pub safetensors: &'a [u8],
    /// `tokenizer.json`, or else `vocab.json` + `merges.txt`.
    pub tokenizer_json: Option<&'a str>,
    pub vocab_json: Option<&'a str>,
    pub merges_txt: Option<&'a str>,
}

/// A model ready to upload: weights, tokenizer and the id that ends a text.
pub struct LoadedModel {
    pub weights: Gpt2Weights,
    pub tokenizer: Tokenizer,
    /// `<|endoftext|>`, where the tokenizer has it.
    pub eos: Option<u32>,
}

impl LoadedModel {
    pub fn from_files(f: &ModelFiles) -> Result<Self> {
        let config = Gpt2Config::from_json(f.config_json, "config.json")?;
        let tokenizer = match (f.tokenizer_json, f.vocab_json, f.merges_txt) {
            (Some(t), _, _) => Tokenizer::from_tokenizer_json(t, "tokenizer.json")?,
            (None, Some(v), Some(m)) => {
                Tokenizer::from_vocab_and_merges(v, m, "vocab.json + merges.txt")?
            }
            _ => {
                return Err(LanternError::Tokenizer {
                    file: "tokenizer.json".into(),
                    reason: "missing: the model needs tokenizer.json, or vocab.json and merges.txt"
                        .into(),
                });
            }
        };
        if tokenizer.vocab_size() > config.vocab_size {
            return Err(LanternError::Tokenizer {
                file: "tokenizer".into(),
                reason: format!(
                    "it has {} tokens but config.json's vocab_size is {}",
                    tokenizer.vocab_size(),
                    config.vocab_size
                ),
            });
        }
        let weights = load_gpt2(f.safetensors, &config, "model.safetensors")?;
        let eos = tokenizer.special_id("<|endoftext|>");
        Ok(Self {
            weights,
            tokenizer,
            eos,
        })
    }

    /// Loads a Hugging Face model folder (or a file inside one).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_path(path: &std::path::Path) -> Result<Self> {
        let dir = if path.is_file() {
            path.parent().unwrap_or(path)
        } else {
            path
        };
        let read = |name: &str| -> Result<Option<String>> {
            let p = dir.join(name);
            match std::fs::read_to_string(&p) {
                Ok(s) => Ok(Some(s)),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                Err(source) => Err(LanternError::Io { path: p, source }),
            }
        };
        let config_json = read("config.json")?.ok_or_else(|| LanternError::Config {
            file: dir.join("config.json").display().to_string(),
            reason: "missing: a model folder needs config.json".into(),
        })?;
        let st_path = dir.join("model.safetensors");
        let file = std::fs::File::open(&st_path).map_err(|source| LanternError::Io {
            path: st_path.clone(),
            source,
        })?;
        // SAFETY: the map is read-only and lives only while the weights are converted; a
        // concurrent writer could change what we read, not break memory safety of our copy.
        let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|source| LanternError::Io {
            path: st_path.clone(),
            source,
        })?;
        let (tokenizer_json, vocab_json, merges_txt) = (
            read("tokenizer.json")?,
            read("vocab.json")?,
            read("merges.txt")?,
        );
        Self::from_files(&ModelFiles {
            config_json: &config_json,
            safetensors: &map,
            tokenizer_json: tokenizer_json.as_deref(),
            vocab_json: vocab_json.as_deref(),
            merges_txt: merges_txt.as_deref(),
        })
    }
}
