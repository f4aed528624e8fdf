//! Everything about a checkpoint: its config, its weights, its tokenizer, its chat template.

pub mod chat;
mod config;
pub mod gguf;
mod gpt2_gguf;
pub mod llama;
mod loader;
pub mod quant;
mod safetensors;
mod spm;
mod tokenizer;
mod weights;

pub use config::Gpt2Config;
#[cfg(not(target_arch = "wasm32"))]
pub use loader::weights_file;
pub use loader::{LoadedModel, ModelFiles, Weights};
pub use safetensors::{TensorInfo, list_tensors, load_gpt2};
pub use tokenizer::{
    MAX_MERGES, MAX_TOKEN_BYTES, MAX_TOKENS, PreTokenizer, TextStream, Tokenizer, split_gpt2,
};
pub use weights::{Gpt2Block, Gpt2Weights, LayerNorm, Linear};
