//! `shaders/rms_norm.wgsl`: RMS norm, one workgroup per row.

use super::{Gpu, Kernel, Slot};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/rms_norm.wgsl");

pub use super::layer_norm::Params;

/// Slots: params, x, weight, out.
pub async fn kernel(gpu: &Gpu) -> Result<Kernel> {
    use Slot::*;
    Kernel::new(
        gpu,
        "rms_norm",
        SOURCE,
        &[Uniform, Read, Read, ReadWrite],
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
