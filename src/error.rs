//! One error type for the whole engine. Every variant says what went wrong, where
//! (file, tensor, field) and, where there is one, what the user can do about it.

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum LanternError {
    #[error("cannot read {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("{file}: not a valid checkpoint: {reason}")]
    Checkpoint { file: String, reason: String },

    #[error(
        "{file}: tensor `{tensor}` is missing: the file is incomplete, or not laid out as its architecture's checkpoints are"
    )]
    MissingTensor { file: String, tensor: String },

    #[error("{file}: tensor `{tensor}` has dtype {dtype}; Lantern reads F32, F16 and BF16")]
    UnsupportedDtype {
        file: String,
        tensor: String,
        dtype: String,
    },

    #[error(
        "{file}: tensor `{tensor}` has shape {got:?}, but the model's config implies {expected:?}"
    )]
    ShapeMismatch {
        file: String,
        tensor: String,
        got: Vec<usize>,
        expected: Vec<usize>,
    },

    #[error("{file}: {reason}")]
    Config { file: String, reason: String },

    #[error("{file}: unsupported architecture `{arch}`; Lantern runs {supported}")]
    UnsupportedArchitecture {
        file: String,
        arch: String,
        supported: String,
    },

    #[error("tokenizer {file}: {reason}")]
    Tokenizer { file: String, reason: String },

    #[error(
        "the prompt is {prompt_tokens} tokens, but this model's context holds {context}; \
         shorten the prompt"
    )]
    PromptTooLong {
        prompt_tokens: usize,
        context: usize,
    },

    #[error("the prompt is empty: give the model at least one token")]
    EmptyPrompt,

    #[error("token id {id} is outside this model's vocabulary of {vocab} tokens")]
    TokenOutOfRange { id: u32, vocab: usize },

    #[error("invalid sampling setting: {0}")]
    Sampling(String),

    #[error(
        "no GPU adapter found ({0}); on Linux install Mesa's Vulkan drivers (mesa-vulkan-drivers)"
    )]
    NoAdapter(String),

    #[error(
        "this model needs a GPU buffer of {needed} bytes for {what}, but this device allows \
         {limit} bytes per buffer; try a smaller model"
    )]
    TooLargeForDevice {
        what: String,
        needed: u64,
        limit: u64,
    },

    #[error(
        "the model produced non-finite logits (NaN or infinity) at step {step} (position \
         {position}): its activations overflow; the file may be corrupt, or the model needs \
         more precision than it gets here"
    )]
    NonFiniteLogits {
        /// The token being generated, 1 for the first (0: a pass outside a generation).
        step: usize,
        position: usize,
    },

    #[error("GPU error: {0}")]
    Gpu(String),
}

pub type Result<T> = std::result::Result<T, LanternError>;
