//! The GPU side: the device context, one small Rust file per WGSL kernel (its parameters and
//! how it is dispatched), and the forward passes built from them: model.rs runs a pass,
//! gpt2.rs and llama.rs say what a pass of each architecture dispatches.

mod context;
mod kernel;

pub mod attention;
pub mod embedding;
pub mod gpt2;
pub mod llama;
pub mod matmul;
pub mod model;
pub mod profile;
pub mod reduce;
pub mod roofline;
pub mod sample;
pub mod top_k;
pub mod weights;

pub use context::{CounterSnapshot, Gpu, Shapes};
pub use kernel::{Kernel, Slot};

/// Values that change from one pass to the next, in one uniform buffer every kernel may bind.
/// Mirrors `struct Step` in the shaders (each declares the fields it reads, in this order).
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
    /// Splits of the keys per (head, query) in attention (1 in prompt passes).
    pub splits: u32,
    pub _pad: [u32; 3],
}

/// Every kernel source, by file name: for the page to show. quant.wgsl and linear.wgsl are
/// preludes, put before the kernels that read weights, and reduce.wgsl or
/// reduce_subgroup.wgsl before the kernels that reduce (see [`MODULES`]).
pub const SHADERS: &[(&str, &str)] = &[
    ("attention.wgsl", attention::SOURCE),
    ("embedding.wgsl", embedding::SOURCE),
    ("linear.wgsl", matmul::LINEAR_SOURCE),
    ("matmul.wgsl", matmul::MATMUL_SOURCE),
    ("matvec.wgsl", matmul::MATVEC_SOURCE),
    ("quant.wgsl", matmul::QUANT_SOURCE),
    ("reduce.wgsl", reduce::SOURCE),
    ("reduce_subgroup.wgsl", reduce::SUBGROUP_SOURCE),
    ("roofline_fma.wgsl", roofline::FMA_SOURCE),
    ("roofline_read.wgsl", roofline::READ_SOURCE),
    ("sample.wgsl", sample::SOURCE),
    ("subgroup_probe.wgsl", reduce::PROBE_SOURCE),
    ("top_k.wgsl", top_k::SOURCE),
];

/// Every module as the GPU compiles it, by kernel: (name, source without the reductions,
/// whether reductions go before it (both kinds: [`reduce::with_reductions`]), whether it
/// needs subgroups itself). For the shader test.
pub const MODULES: &[(&str, &str, bool, bool)] = &[
    ("attention", attention::SOURCE, true, false),
    ("embedding", embedding::MODULE, false, false),
    ("matmul", matmul::MATMUL_MODULE, false, false),
    ("matvec", matmul::MATVEC_MODULE, true, false),
    ("roofline_fma", roofline::FMA_SOURCE, false, false),
    ("roofline_read", roofline::READ_SOURCE, false, false),
    ("sample", sample::SOURCE, true, false),
    ("subgroup_probe", reduce::PROBE_SOURCE, false, true),
    ("top_k", top_k::SOURCE, true, false),
];

/// Workgroups to cover `n` invocations of a 1-D kernel of `wg` invocations per workgroup.
pub fn groups_for(n: u32, wg: u32) -> u32 {
    n.div_ceil(wg)
}
