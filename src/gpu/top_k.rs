//! `shaders/top_k.wgsl`: the k most likely tokens of each row of logits, with their
//! probabilities, for the prediction view and the logit lens.

use super::{Gpu, Kernel, Slot, reduce};
use crate::error::Result;

pub const SOURCE: &str = include_str!("../../shaders/top_k.wgsl");

/// Candidates the page shows per token.
pub const K: usize = 10;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub vocab: u32,
    pub k: u32,
    pub _pad: [u32; 2],
}

/// u32s the kernel writes per row.
pub fn row_len(k: usize) -> usize {
    2 * k + 1
}

/// One row's candidates, most likely first.
#[derive(Debug, Clone, PartialEq)]
pub struct TopK {
    pub ids: Vec<u32>,
    /// Softmax probabilities (temperature 1) of `ids`.
    pub probs: Vec<f32>,
    /// The probability of the chosen token (the one sampled), when one was given.
    pub chosen: Option<f32>,
}

impl TopK {
    /// Parses one row of the kernel's output.
    pub fn from_row(row: &[u32], k: usize) -> Self {
        let chosen = f32::from_bits(row[2 * k]);
        Self {
            ids: row[..k].to_vec(),
            probs: row[k..2 * k].iter().map(|&b| f32::from_bits(b)).collect(),
            chosen: (chosen >= 0.0).then_some(chosen),
        }
    }
}

/// Slots: params, logits, chosen, out.
pub async fn kernel(gpu: &Gpu) -> Result<Kernel> {
    use Slot::*;
    let (source, constants) = reduce::with_reductions(gpu, SOURCE, &[("WG", 256.0)]);
    Kernel::new(
        gpu,
        "top_k",
        &source,
        &[Uniform, Read, Read, ReadWrite],
        &constants,
    )
    .await
}

/// One workgroup per row.
pub fn dispatch(
    gpu: &Gpu,
    k: &Kernel,
    pass: &mut wgpu::ComputePass,
    bind: &wgpu::BindGroup,
    rows: u32,
) {
    k.dispatch(gpu, pass, bind, [rows, 1, 1]);
}
