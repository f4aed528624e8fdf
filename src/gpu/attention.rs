//! `shaders/attention.wgsl`: causal softmax attention over the KV cache.

use super::{Gpu, Kernel, Slot};
use crate::error::{LanternError, Result};

pub const SOURCE: &str = include_str!("../../shaders/attention.wgsl");

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub n_head: u32,
    pub n_kv_head: u32,
    pub head_size: u32,
    pub q_stride: u32,
    pub kv_stride: u32,
    pub out_stride: u32,
    pub probs_stride: u32,
    pub write_probs: u32,
    pub scale: f32,
    pub _pad: [u32; 3],
}

/// Slots: params, step, q, k_cache, v_cache, out, probs. The workgroup is as wide as the
/// head (at least 64), so that each invocation owns one dimension of the output.
pub async fn kernel(gpu: &Gpu, head_size: u32) -> Result<Kernel> {
    if head_size > 256 {
        return Err(LanternError::Gpu(format!(
            "head size {head_size} is larger than the attention kernel's 256"
        )));
    }
    let wg = head_size.next_power_of_two().max(64);
    use Slot::*;
    Kernel::new(
        gpu,
        "attention",
        SOURCE,
        &[Uniform, Uniform, Read, Read, Read, ReadWrite, ReadWrite],
        &[("WG", wg as f64)],
    )
    .await
}

/// One workgroup per (head, query).
pub fn dispatch(
    gpu: &Gpu,
    k: &Kernel,
    pass: &mut wgpu::ComputePass,
    bind: &wgpu::BindGroup,
    n_head: u32,
    n_tokens: u32,
) {
    k.dispatch(gpu, pass, bind, [n_head, n_tokens, 1]);
}
