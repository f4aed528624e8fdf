//! `shaders/sample.wgsl`: temperature, top-k, top-p sampling on the GPU.

use super::{Gpu, Kernel, Slot, reduce};
use crate::cpu::SampleParams;
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/sample.wgsl");

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub vocab: u32,
    pub top_k: u32,
    pub temperature: f32,
    pub top_p: f32,
}

impl Params {
    pub fn new(vocab: u32, s: SampleParams) -> Self {
        Self {
            vocab,
            top_k: s.top_k,
            temperature: s.temperature,
            top_p: s.top_p,
        }
    }
}

/// Slots: params, step, logits, out.
pub async fn kernel(gpu: &Gpu) -> Result<Kernel> {
    use Slot::*;
    let (source, constants) = reduce::with_reductions(gpu, SOURCE, &[("WG", 256.0)]);
    Kernel::new(
        gpu,
        "sample",
        &source,
        &[Uniform, Uniform, Read, ReadWrite],
        &constants,
    )
    .await
}

/// One workgroup.
pub fn dispatch(gpu: &Gpu, k: &Kernel, pass: &mut wgpu::ComputePass, bind: &wgpu::BindGroup) {
    k.dispatch(gpu, pass, bind, [1, 1, 1]);
}
