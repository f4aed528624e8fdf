//! Lantern: a small GPT on hand-written WGSL compute shaders.
//!
//! - [`model`]: config, checkpoint loading, tokenizer.
//! - [`cpu`]: the reference forward pass the GPU is tested against.
//! - [`gpu`]: the device, one Rust file per WGSL kernel, the GPU forward pass.
//! - [`generate`]: prefill + decode, sampling, the token stream.
//! - [`catalog`]: the real models the page suggests, and what each needs.
//! - `app` (wasm32 only): the Leptos page on top of the engine.

#[cfg(all(target_arch = "wasm32", feature = "gpu"))]
pub mod app;
pub mod catalog;
pub mod chat;
pub mod cpu;
pub mod defaults;
pub mod error;
#[cfg(feature = "gpu")]
pub mod generate;
#[cfg(feature = "gpu")]
pub mod gpu;
pub mod markdown;
pub mod model;

pub use error::{LanternError, Result};
