//! `shaders/sample.wgsl`: repetition penalty, temperature, top-k, top-p sampling on the GPU.

use super::{Gpu, Kernel, Slot, reduce};
use crate::cpu::{PENALTY_WINDOW, SampleParams};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/sample.wgsl");

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub vocab: u32,
    pub top_k: u32,
    pub temperature: f32,
    pub top_p: f32,
    pub penalty: f32,
    pub _pad: [u32; 3],
}

impl Params {
    pub fn new(vocab: u32, s: SampleParams) -> Self {
        Self {
            vocab,
            top_k: s.top_k,
            temperature: s.temperature,
            top_p: s.top_p,
            penalty: s.repeat_penalty,
            _pad: [0; 3],
        }
    }
}

/// The `recent` buffer's contents for `window` (from [`crate::cpu::penalty_window`]): its
/// length, then its ids. The buffer holds `1 + PENALTY_WINDOW` u32s.
pub fn recent_words(window: &[u32]) -> Vec<u32> {
    let n = window.len().min(PENALTY_WINDOW);
    std::iter::once(n as u32)
        .chain(window[..n].iter().copied())
        .collect()
}

/// Bytes of the `recent` buffer.
pub const RECENT_BYTES: u64 = 4 * (1 + PENALTY_WINDOW as u64);

/// Slots: params, step, logits (penalized in place and restored), out, recent.
pub async fn kernel(gpu: &Gpu) -> Result<Kernel> {
    use Slot::*;
    let (source, constants) = reduce::with_reductions(gpu, SOURCE, &[("WG", 256.0)]);
    Kernel::new(
        gpu,
        "sample",
        &source,
        &[Uniform, Uniform, ReadWrite, ReadWrite, Read],
        &constants,
    )
    .await
}

/// One workgroup.
pub fn dispatch(gpu: &Gpu, k: &Kernel, pass: &mut wgpu::ComputePass, bind: &wgpu::BindGroup) {
    k.dispatch(gpu, pass, bind, [1, 1, 1]);
}
