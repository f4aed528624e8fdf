//! `shaders/layer_norm.wgsl`: layer norm, one workgroup per row.

use super::{Gpu, Kernel, Slot};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/layer_norm.wgsl");

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n: u32,
    pub eps: f32,
    pub _pad: [u32; 2],
}

/// Slots: params, x, weight, bias, out.
pub async fn kernel(gpu: &Gpu) -> Result<Kernel> {
    use Slot::*;
    Kernel::new(
        gpu,
        "layer_norm",
        SOURCE,
        &[Uniform, Read, Read, Read, ReadWrite],
        &[("WG", 256.0)],
    )
    .await
}

pub fn dispatch(
    gpu: &Gpu,
    k: &Kernel,
    pass: &mut wgpu::ComputePass,
    bind: &wgpu::BindGroup,
    rows: u32,
) {
    k.dispatch(gpu, pass, bind, [rows, 1, 1]);
}
