//! `shaders/rope.wgsl`: rotary position embedding of query and key heads, in place.

use super::{Gpu, Kernel, Slot, groups_for};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/rope.wgsl");
const WG: u32 = 256;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n_heads: u32,
    pub head_size: u32,
    pub stride: u32,
    pub adjacent: u32,
}

/// Slots: params, step, table (cos, sin), x.
pub async fn kernel(gpu: &Gpu) -> Result<Kernel> {
    use Slot::*;
    Kernel::new(
        gpu,
        "rope",
        SOURCE,
        &[Uniform, Uniform, Read, ReadWrite],
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
    n_heads: u32,
    head_size: u32,
) {
    k.dispatch_linear(
        gpu,
        pass,
        bind,
        groups_for(n_tokens * n_heads * head_size / 2, WG),
    );
}
