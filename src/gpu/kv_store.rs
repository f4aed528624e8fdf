//! `shaders/kv_store.wgsl`: appends keys and values to the KV cache.

use super::{Gpu, Kernel, Slot, groups_for};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/kv_store.wgsl");
const WG: u32 = 256;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub width: u32,
    pub src_stride: u32,
    pub k_offset: u32,
    pub v_offset: u32,
}

/// Slots: params, step, src, k_cache, v_cache.
pub async fn kernel(gpu: &Gpu) -> Result<Kernel> {
    use Slot::*;
    Kernel::new(
        gpu,
        "kv_store",
        SOURCE,
        &[Uniform, Uniform, Read, ReadWrite, ReadWrite],
        &[("WG", WG as f64)],
    )
    .await
}

pub fn dispatch(
    gpu: &Gpu,
    k: &Kernel,
    pass: &mut wgpu::ComputePass,
    bind: &wgpu::BindGroup,
    n_tokens: u32,
    width: u32,
) {
    k.dispatch_linear(gpu, pass, bind, groups_for(n_tokens * width, WG));
}
