//! Putting a model together from its files: a GGUF file, or a Hugging Face folder
//! (config.json + model.safetensors + tokenizer), read natively or handed over as bytes.

use super::chat::ChatTemplate;
use super::gguf::Gguf;
use super::llama::{self, LlamaWeights};
use super::{Gpt2Config, Gpt2Weights, Tokenizer, load_gpt2, safetensors};
use crate::error::{LanternError, Result};
use serde_json::Value;

/// The files of a Hugging Face checkpoint, already read.
pub struct ModelFiles<'a> {
    pub config_json: &'a str,
    pub safetensors: &'a [u8],
    /// `tokenizer.json`, or else `vocab.json` + `merges.txt`.
    pub tokenizer_json: Option<&'a str>,
    pub vocab_json: Option<&'a str>,
    pub merges_txt: Option<&'a str>,
    /// `tokenizer_config.json`: the chat template, if the model has one.
    pub tokenizer_config_json: Option<&'a str>,
    /// `generation_config.json`: the sampling its makers recommend, if it says.
    pub generation_config_json: Option<&'a str>,
}

/// The weights of one of the architectures Lantern runs.
pub enum Weights {
    Gpt2(Gpt2Weights),
    Llama(LlamaWeights),
}

impl Weights {
    pub fn context_length(&self) -> usize {
        match self {
            Weights::Gpt2(w) => w.config.n_positions,
            Weights::Llama(w) => w.config.context_length,
        }
    }

    pub fn vocab_size(&self) -> usize {
        match self {
            Weights::Gpt2(w) => w.config.vocab_size,
            Weights::Llama(w) => w.config.vocab_size,
        }
    }

    pub fn n_embd(&self) -> usize {
        match self {
            Weights::Gpt2(w) => w.config.n_embd,
            Weights::Llama(w) => w.config.n_embd,
        }
    }

    pub fn n_layer(&self) -> usize {
        match self {
            Weights::Gpt2(w) => w.config.n_layer,
            Weights::Llama(w) => w.config.n_layer,
        }
    }

    /// Query heads per layer.
    pub fn n_head(&self) -> usize {
        match self {
            Weights::Gpt2(w) => w.config.n_head,
            Weights::Llama(w) => w.config.n_head,
        }
    }

    /// Bytes of weights the GPU receives (the upload a progress bar counts).
    pub fn bytes(&self) -> usize {
        match self {
            Weights::Gpt2(w) => w.bytes(),
            Weights::Llama(w) => w.bytes(),
        }
    }

    pub fn architecture(&self) -> &'static str {
        match self {
            Weights::Gpt2(_) => "GPT-2",
            Weights::Llama(w) => w.config.arch.title(),
        }
    }

    /// As GGUF's `general.architecture` names it: "gpt2", "llama", "qwen2", "gemma3".
    pub fn arch_key(&self) -> &'static str {
        match self {
            Weights::Gpt2(_) => "gpt2",
            Weights::Llama(w) => w.config.arch.name(),
        }
    }
}

/// A model ready to upload: weights, tokenizer, the ids that end a text, the chat template.
pub struct LoadedModel {
    pub weights: Weights,
    pub tokenizer: Tokenizer,
    /// Generation stops at any of these (end of text, end of turn).
    pub stop_ids: Vec<u32>,
    /// Put before a plain prompt (GGUF's `tokenizer.ggml.add_bos_token`).
    pub bos: Option<u32>,
    /// The file's own chat template; `None` for a base model, which chats through
    /// [`ChatTemplate::fallback`].
    pub chat_template: Option<ChatTemplate>,
    fallback_template: ChatTemplate,
    /// What the file calls the model (GGUF's `general.name`, config.json's `_name_or_path`);
    /// may be empty. [`crate::defaults`] picks the model family's sampling by it.
    pub name: String,
    /// `generation_config.json`, when the checkpoint has one.
    pub generation_config: Option<Value>,
}

/// Texts of tokens that end a text or a turn in common models.
const END_TOKENS: [&str; 6] = [
    "<|endoftext|>",
    "<|im_end|>",
    "<|eot_id|>",
    "<|eom_id|>",
    "</s>",
    "<end_of_turn>",
];

fn stop_ids(tokenizer: &Tokenizer, eos: Option<u32>) -> Vec<u32> {
    let mut ids: Vec<u32> = END_TOKENS
        .iter()
        .filter_map(|t| tokenizer.special_id(t))
        .collect();
    ids.extend(eos);
    ids.sort();
    ids.dedup();
    ids
}

/// "gpt2" or "llama", from config.json's `model_type` (or `architectures`).
fn architecture(obj: &serde_json::Map<String, Value>, file: &str) -> Result<&'static str> {
    let model_type = obj.get("model_type").and_then(Value::as_str).unwrap_or("");
    let archs: Vec<&str> = obj
        .get("architectures")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if model_type == "gpt2" || archs.iter().any(|a| a.starts_with("GPT2")) {
        return Ok("gpt2");
    }
    if model_type == "llama" || archs.iter().any(|a| a.starts_with("Llama")) {
        return Ok("llama");
    }
    // Qwen 2 and Qwen 3: the Llama body with q/k/v biases, or per-head q/k norms.
    if model_type == "qwen2" || archs.iter().any(|a| a.starts_with("Qwen2ForCausalLM")) {
        return Ok("qwen2");
    }
    if model_type == "qwen3" || archs.iter().any(|a| a.starts_with("Qwen3ForCausalLM")) {
        return Ok("qwen3");
    }
    let arch = if model_type.is_empty() {
        archs.first().copied().unwrap_or("(none given)")
    } else {
        model_type
    };
    Err(LanternError::UnsupportedArchitecture {
        file: file.to_string(),
        arch: arch.to_string(),
        supported:
            "Hugging Face checkpoints of model_type gpt2, llama, qwen2 and qwen3 (Gemma 3: as GGUF)"
                .into(),
    })
}

impl LoadedModel {
    pub fn from_files(f: &ModelFiles) -> Result<Self> {
        let config: Value =
            serde_json::from_str(f.config_json).map_err(|e| LanternError::Config {
                file: "config.json".into(),
                reason: format!("malformed JSON: {e}"),
            })?;
        let obj = config.as_object().ok_or_else(|| LanternError::Config {
            file: "config.json".into(),
            reason: "expected a JSON object".into(),
        })?;
        let arch = architecture(obj, "config.json")?;
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
        let reader = safetensors::open(f.safetensors, "model.safetensors")?;
        let weights = if arch == "gpt2" {
            let c = Gpt2Config::from_json(obj, "config.json")?;
            check_vocab(&tokenizer, c.vocab_size)?;
            Weights::Gpt2(load_gpt2(&reader, &c)?)
        } else {
            let mut c = llama::config_from_json(obj, "config.json")?;
            c.arch = match arch {
                "qwen2" => llama::Arch::Qwen2,
                "qwen3" => llama::Arch::Qwen3,
                _ => llama::Arch::Llama,
            };
            check_vocab(&tokenizer, c.vocab_size)?;
            Weights::Llama(llama::load_safetensors(c, &reader)?)
        };
        // Against the model's vocabulary (the ids it can produce), which may be padded past
        // the tokenizer's.
        let vocab = weights.vocab_size();
        let eos =
            id_below(config.get("eos_token_id").and_then(Value::as_u64), vocab).map_err(|id| {
                LanternError::Config {
                    file: "config.json".into(),
                    reason: format!(
                        "eos_token_id is {id}, outside the model's vocabulary of {vocab} tokens"
                    ),
                }
            })?;
        let tok_config: Option<Value> = f
            .tokenizer_config_json
            .and_then(|t| serde_json::from_str(t).ok());
        let chat_template = match tok_config
            .as_ref()
            .and_then(|t| t.get("chat_template"))
            .and_then(Value::as_str)
        {
            Some(src) => {
                let name = |key: &str| {
                    tok_config
                        .as_ref()
                        .and_then(|t| t.get(key))
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                };
                Some(ChatTemplate::new(
                    src,
                    &name("bos_token"),
                    &name("eos_token"),
                )?)
            }
            None => None,
        };
        let name = obj
            .get("_name_or_path")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        // A malformed generation config only loses its advice, not the model.
        let generation_config = f
            .generation_config_json
            .and_then(|t| serde_json::from_str(t).ok());
        Ok(Self {
            stop_ids: stop_ids(&tokenizer, eos),
            bos: None,
            weights,
            tokenizer,
            chat_template,
            fallback_template: ChatTemplate::fallback(""),
            name,
            generation_config,
        })
    }

    /// Reads a GGUF file (weights, tokenizer and chat template all inside); `file` names it
    /// in errors.
    pub fn from_gguf(bytes: &[u8], file: &str) -> Result<Self> {
        let g = Gguf::parse(bytes, file)?;
        let weights = match g.str("general.architecture")? {
            "gpt2" => Weights::Gpt2(super::gpt2_gguf::load(&g)?),
            _ => Weights::Llama(llama::load_gguf(&g)?),
        };
        let tokenizer = Tokenizer::from_gguf(&g)?;
        check_vocab(&tokenizer, weights.vocab_size())?;
        // An id past the vocabulary would index past the embedding on the GPU: refused.
        let id = |key: &str| {
            let vocab = tokenizer.vocab_size();
            id_below(g.get(key).and_then(|v| v.as_u64()), vocab).map_err(|id| {
                LanternError::Tokenizer {
                    file: file.to_string(),
                    reason: format!(
                        "{key} is {id}, outside the vocabulary of {vocab} tokens; the file is \
                         corrupt or was written for another vocabulary"
                    ),
                }
            })
        };
        let (bos, eos) = (
            id("tokenizer.ggml.bos_token_id")?,
            id("tokenizer.ggml.eos_token_id")?,
        );
        // Absent, llama.cpp's default: BOS for SentencePiece vocabularies, none for BPE.
        let spm = g.get("tokenizer.ggml.model").and_then(|v| v.as_str()) == Some("llama");
        let add_bos = g.flag_or("tokenizer.ggml.add_bos_token", spm);
        let text = |id: Option<u32>| {
            id.map(|i| String::from_utf8_lossy(tokenizer.token_bytes(i)).into_owned())
                .unwrap_or_default()
        };
        let chat_template = match g.get("tokenizer.chat_template").and_then(|v| v.as_str()) {
            Some(src) => Some(ChatTemplate::new(src, &text(bos), &text(eos))?),
            None => None,
        };
        let bos = if add_bos { bos } else { None };
        Ok(Self {
            stop_ids: stop_ids(&tokenizer, eos),
            fallback_template: ChatTemplate::fallback(&text(bos)),
            bos,
            weights,
            tokenizer,
            chat_template,
            name: g
                .get("general.name")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string(),
            generation_config: None,
        })
    }

    /// The chat format: the file's template, or for a base model the plain fallback.
    pub fn chat_format(&self) -> &ChatTemplate {
        self.chat_template
            .as_ref()
            .unwrap_or(&self.fallback_template)
    }

    /// A model without a chat template of its own (made to continue text, not to chat).
    pub fn is_base_model(&self) -> bool {
        self.chat_template.is_none()
    }

    /// The ids of a plain (non-chat) prompt, with BOS first when the model wants it.
    pub fn encode_prompt(&self, text: &str) -> Vec<u32> {
        let mut ids: Vec<u32> = self.bos.into_iter().collect();
        ids.extend(self.tokenizer.encode(text));
        ids
    }

    /// Loads a `.gguf` file, or a Hugging Face model folder (or a file inside one).
    #[cfg(not(target_arch = "wasm32"))]
    pub fn from_path(path: &std::path::Path) -> Result<Self> {
        let map_file = |p: &std::path::Path| -> Result<memmap2::Mmap> {
            let file = std::fs::File::open(p).map_err(|source| LanternError::Io {
                path: p.to_path_buf(),
                source,
            })?;
            // SAFETY: the map is read-only and lives only while the weights are copied out; a
            // concurrent writer could change what we read, not break memory safety of our copy.
            unsafe { memmap2::Mmap::map(&file) }.map_err(|source| LanternError::Io {
                path: p.to_path_buf(),
                source,
            })
        };
        let (weights, is_gguf) = weights_file(path);
        if is_gguf {
            return Self::from_gguf(&map_file(&weights)?, &weights.display().to_string());
        }
        let dir = weights.parent().unwrap_or(path);
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
            reason: "missing: a model folder needs config.json (or give a .gguf file)".into(),
        })?;
        let map = map_file(&weights)?;
        let (tokenizer_json, vocab_json, merges_txt, tokenizer_config_json) = (
            read("tokenizer.json")?,
            read("vocab.json")?,
            read("merges.txt")?,
            read("tokenizer_config.json")?,
        );
        let generation_config_json = read("generation_config.json")?;
        Self::from_files(&ModelFiles {
            config_json: &config_json,
            safetensors: &map,
            tokenizer_json: tokenizer_json.as_deref(),
            vocab_json: vocab_json.as_deref(),
            merges_txt: merges_txt.as_deref(),
            tokenizer_config_json: tokenizer_config_json.as_deref(),
            generation_config_json: generation_config_json.as_deref(),
        })
    }
}

/// The file that holds a model's weights, and whether it is GGUF: `path` itself when it is
/// a `.gguf`; in a folder (or beside a file in one), its model.gguf when there is no
/// Hugging Face config.json, else its model.safetensors.
#[cfg(not(target_arch = "wasm32"))]
pub fn weights_file(path: &std::path::Path) -> (std::path::PathBuf, bool) {
    if path.extension().is_some_and(|e| e == "gguf") {
        return (path.to_path_buf(), true);
    }
    let dir = if path.is_file() {
        path.parent().unwrap_or(path)
    } else {
        path
    };
    if !dir.join("config.json").exists() && dir.join("model.gguf").exists() {
        return (dir.join("model.gguf"), true);
    }
    (dir.join("model.safetensors"), false)
}

/// A special token's id as a file gives it, if below `vocab`; else `Err` with the id.
/// Compared as 64 bits, so that 2^32 + 2 does not pass as token 2.
fn id_below(id: Option<u64>, vocab: usize) -> std::result::Result<Option<u32>, u64> {
    match id {
        Some(id) if id >= vocab as u64 => Err(id),
        id => Ok(id.map(|id| id as u32)),
    }
}

fn check_vocab(tokenizer: &Tokenizer, vocab_size: usize) -> Result<()> {
    if tokenizer.vocab_size() > vocab_size {
        return Err(LanternError::Tokenizer {
            file: "tokenizer".into(),
            reason: format!(
                "it has {} tokens but the model's vocabulary is {vocab_size}",
                tokenizer.vocab_size()
            ),
        });
    }
    Ok(())
}
