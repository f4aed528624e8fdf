//! The GPU side: the device context, one small Rust file per WGSL kernel (its parameters and
//! how it is dispatched), and the forward passes built from them: model.rs runs a pass,
//! gpt2.rs and llama.rs say what a pass of each architecture dispatches.

mod context;
mod kernel;

pub mod add;
pub mod attention;
pub mod embedding;
pub mod gelu;
pub mod gpt2;
pub mod kv_store;
pub mod layer_norm;
pub mod llama;
pub mod matmul;
pub mod model;
pub mod rms_norm;
pub mod rope;
pub mod sample;
pub mod silu_mul;
pub mod top_k;

pub use context::{CounterSnapshot, Gpu};
pub use kernel::{Kernel, Slot};

/// Values that change from one pass to the next, in one uniform buffer every kernel may bind.
/// Mirrors `struct Step` in the shaders.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Step {
    /// T: tokens in this pass (the prompt chunk in prefill, 1 in decode).
    pub n_tokens: u32,
    /// Position of the first of them.
    pub pos0: u32,
    /// Uniform random number in [0, 1) for the sampler.
    pub u: f32,
    /// 1 while the attention kernel writes its probabilities (the visualization is open).
    pub capture: u32,
}

/// Every kernel source, by file name: for the shader test and for the page to show.
pub const SHADERS: &[(&str, &str)] = &[
    ("add.wgsl", add::SOURCE),
    ("attention.wgsl", attention::SOURCE),
    ("embedding.wgsl", embedding::SOURCE),
    ("gelu.wgsl", gelu::SOURCE),
    ("kv_store.wgsl", kv_store::SOURCE),
    ("layer_norm.wgsl", layer_norm::SOURCE),
    ("matmul.wgsl", matmul::MATMUL_SOURCE),
    ("matvec.wgsl", matmul::MATVEC_SOURCE),
    ("rms_norm.wgsl", rms_norm::SOURCE),
    ("rope.wgsl", rope::SOURCE),
    ("sample.wgsl", sample::SOURCE),
    ("silu_mul.wgsl", silu_mul::SOURCE),
    ("top_k.wgsl", top_k::SOURCE),
];

/// Workgroups to cover `n` invocations of a 1-D kernel of `wg` invocations per workgroup.
pub fn groups_for(n: u32, wg: u32) -> u32 {
    n.div_ceil(wg)
}
