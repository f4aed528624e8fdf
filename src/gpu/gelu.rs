//! `shaders/gelu.wgsl`: GELU (tanh form), in place.

use super::{Gpu, Kernel, Slot, groups_for};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/gelu.wgsl");
const WG: u32 = 256;

/// Mirrors `Params` of gelu.wgsl and add.wgsl: the row width.
#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub width: u32,
    pub _pad: [u32; 3],
}

/// Slots: params, step, x.
pub async fn kernel(gpu: &Gpu) -> Result<Kernel> {
    use Slot::*;
    Kernel::new(
        gpu,
        "gelu",
        SOURCE,
        &[Uniform, Uniform, ReadWrite],
        &[("WG", WG as f64)],
    )
    .await
}

pub fn dispatch(
    gpu: &Gpu,
    k: &Kernel,
    pass: &mut wgpu::ComputePass,
    bind: &wgpu::BindGroup,
    n: u32,
) {
    k.dispatch_linear(gpu, pass, bind, groups_for(n, WG));
}
