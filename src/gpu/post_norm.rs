//! `shaders/post_norm.wgsl`: x += rms_norm(y) · g, the norm Gemma 3 puts on the output of
//! attention and of the MLP before the residual add.

use super::{Gpu, Kernel, Slot, reduce};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/post_norm.wgsl");

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n_embd: u32,
    pub eps: f32,
    pub _pad: [u32; 2],
}

/// Slots: params, y, norm, x.
pub async fn kernel(gpu: &Gpu) -> Result<Kernel> {
    use Slot::*;
    let (source, constants) = reduce::with_reductions(gpu, SOURCE, &[("WG", 256.0)]);
    Kernel::new(
        gpu,
        "post_norm",
        &source,
        &[Uniform, Read, Read, ReadWrite],
        &constants,
    )
    .await
}

/// One workgroup per token.
pub fn dispatch(
    gpu: &Gpu,
    k: &Kernel,
    pass: &mut wgpu::ComputePass,
    bind: &wgpu::BindGroup,
    n_tokens: u32,
) {
    k.dispatch(gpu, pass, bind, [n_tokens, 1, 1]);
}
