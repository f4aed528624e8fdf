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
    /// Positions the probabilities buffer holds per head; 0 when there is none.
    pub probs_rows: u32,
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

/// Where the attention kernels write their probabilities: per layer a buffer of
/// [n_head, rows, rows] (row r = position r) when `rows` > 0, for the visualization; else a
/// 4-byte placeholder that nothing writes.
pub struct Capture {
    /// Positions captured per head (0: none).
    pub rows: usize,
    pub n_head: usize,
    pub layers: Vec<wgpu::Buffer>,
    /// Where one layer's rows are copied to be read (made once, at load).
    pub readback: Option<wgpu::Buffer>,
}

impl Capture {
    pub fn new(gpu: &Gpu, n_layer: usize, n_head: usize, rows: usize) -> Result<Self> {
        let layers = if rows == 0 {
            vec![gpu.storage("attention probs (none)", 4)?]
        } else {
            (0..n_layer)
                .map(|i| {
                    gpu.storage(
                        &format!("h.{i}.attn_probs"),
                        (n_head * rows * rows * 4) as u64,
                    )
                })
                .collect::<Result<_>>()?
        };
        let bytes = (n_head * rows * rows * 4) as u64;
        Ok(Self {
            rows,
            n_head,
            layers,
            readback: (rows > 0).then(|| gpu.readback("attention probs readback", bytes)),
        })
    }

    /// The buffer layer `i` writes.
    pub fn layer(&self, i: usize) -> &wgpu::Buffer {
        &self.layers[i.min(self.layers.len() - 1)]
    }

    /// `probs_stride` and `probs_rows` of the kernel's parameters.
    pub fn stride_and_rows(&self) -> (u32, u32) {
        (self.rows.max(1) as u32, self.rows as u32)
    }
}
