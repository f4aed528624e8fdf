//! Everything about a checkpoint: its config, its weights, its tokenizer.

mod config;
mod loader;
mod safetensors;
mod tokenizer;
mod weights;

pub use config::Gpt2Config;
pub use loader::{LoadedModel, ModelFiles};
pub use safetensors::{TensorInfo, list_tensors, load_gpt2};
pub use tokenizer::{TextStream, Tokenizer, split_gpt2};
pub use weights::{Gpt2Block, Gpt2Weights, LayerNorm, Linear};
