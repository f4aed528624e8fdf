//! Lantern: a small GPT on hand-written WGSL compute shaders.
//!
//! - [`model`]: config, checkpoint loading, tokenizer.
//! - [`cpu`]: the reference forward pass the GPU is tested against.
//! - [`gpu`]: the device, one Rust file per WGSL kernel, the GPU forward pass.
//! - [`generate`]: prefill + decode, sampling, the token stream.
//! - [`catalog`]: the real models the page suggests, and what each needs.
//! - `app` (wasm32 only): the Leptos page on top of the engine.

#[cfg(target_arch = "wasm32")]
pub mod app;
pub mod catalog;
pub mod chat;
pub mod cpu;
pub mod error;
pub mod generate;
pub mod gpu;
pub mod model;

pub use error::{LanternError, Result};
