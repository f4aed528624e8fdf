//! `shaders/silu_mul.wgsl`: SwiGLU, silu(gate) · up.

use super::{Gpu, Kernel, Slot, groups_for};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/silu_mul.wgsl");
const WG: u32 = 256;

pub use super::gelu::Params;

/// Slots: params, step, gu, out.
pub async fn kernel(gpu: &Gpu) -> Result<Kernel> {
    use Slot::*;
    Kernel::new(
        gpu,
        "silu_mul",
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
    n: u32,
) {
    k.dispatch_linear(gpu, pass, bind, groups_for(n, WG));
}
