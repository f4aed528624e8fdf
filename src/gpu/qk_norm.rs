//! `shaders/qk_norm.wgsl`: each head of q and k RMS-normed, then rotated (RoPE); k into the
//! KV cache. For Qwen 3 and Gemma 3, after the q/k/v layer left q and k raw.

use super::attention::KvCache;
use super::{Gpu, Kernel, Slot, reduce};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/qk_norm.wgsl");

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n_head: u32,
    pub n_kv_head: u32,
    pub head_size: u32,
    pub eps: f32,
}

/// Slots: params, step, qk, norm (q's gain then k's), rope table, k cache.
pub async fn kernel(gpu: &Gpu, head_size: u32, kv: KvCache) -> Result<Kernel> {
    let wg = (head_size / 2).next_power_of_two().max(64);
    use Slot::*;
    let (source, constants) =
        reduce::with_reductions(gpu, SOURCE, &[("WG", wg as f64), kv.constant()]);
    Kernel::new(
        gpu,
        "qk_norm",
        &source,
        &[Uniform, Uniform, ReadWrite, Read, Read, ReadWrite],
        &constants,
    )
    .await
}

/// One workgroup per (head, token): the query heads, then the key heads.
pub fn dispatch(
    gpu: &Gpu,
    k: &Kernel,
    pass: &mut wgpu::ComputePass,
    bind: &wgpu::BindGroup,
    heads: u32,
    n_tokens: u32,
) {
    k.dispatch(gpu, pass, bind, [heads, n_tokens, 1]);
}
