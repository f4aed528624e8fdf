//! `shaders/embedding.wgsl`: token + position embeddings.

use super::{Gpu, Kernel, Slot, groups_for};
use crate::error::Result;
use crate::model::quant::Format;

pub const SOURCE: &str = include_str!("../../shaders/embedding.wgsl");
/// As compiled: the weight layout's reader (quant.wgsl), then the kernel.
pub const MODULE: &str = concat!(
    include_str!("../../shaders/quant.wgsl"),
    include_str!("../../shaders/embedding.wgsl")
);
const WG: u32 = 256;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n_embd: u32,
    pub vocab_size: u32,
    pub use_wpe: u32,
    /// A table in parts: this part's rows `row0 .. row0 + rows`.
    pub row0: u32,
    pub rows: u32,
    /// The token embeddings are multiplied by this (Gemma: √C).
    pub scale: f32,
    pub _pad: [u32; 2],
}

impl Params {
    /// The whole table of `vocab_size` rows, in one part.
    pub fn new(n_embd: usize, vocab_size: usize, use_wpe: bool) -> Self {
        Self {
            n_embd: n_embd as u32,
            vocab_size: vocab_size as u32,
            use_wpe: use_wpe as u32,
            row0: 0,
            rows: vocab_size as u32,
            scale: 1.0,
            _pad: [0; 2],
        }
    }

    /// These parameters for the part of rows `row0 .. row0 + rows`.
    pub fn part(self, row0: usize, rows: usize) -> Self {
        Self {
            row0: row0 as u32,
            rows: rows as u32,
            ..self
        }
    }
}

/// Slots: params, step, tokens, wte (in `format`), wpe, out.
pub async fn kernel(gpu: &Gpu, format: Format) -> Result<Kernel> {
    use Slot::*;
    let constants = [("WG", WG as f64), ("FORMAT", format.shader_id() as f64)];
    Kernel::new(
        gpu,
        "embedding",
        MODULE,
        &[Uniform, Uniform, Read, Read, Read, ReadWrite],
        &constants,
    )
    .await
}

pub fn dispatch(
    gpu: &Gpu,
    k: &Kernel,
    pass: &mut wgpu::ComputePass,
    bind: &wgpu::BindGroup,
    n_tokens: u32,
    n_embd: u32,
) {
    k.dispatch_linear(gpu, pass, bind, groups_for(n_tokens * n_embd, WG));
}
