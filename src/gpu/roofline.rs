//! What the adapter can do at best (`lantern bench --roofline`): its streaming read
//! bandwidth (`shaders/roofline_read.wgsl`) and its f32 multiply-add rate
//! (`shaders/roofline_fma.wgsl`), each the best of a few timed runs. A decoded token cannot
//! take less than the larger of (bytes it reads / bandwidth) and (multiply-adds / rate).

use super::{Gpu, Kernel, Slot};
use crate::error::Result;
use std::time::Instant;

pub const READ_SOURCE: &str = include_str!("../../shaders/roofline_read.wgsl");
pub const FMA_SOURCE: &str = include_str!("../../shaders/roofline_fma.wgsl");

const WG: u32 = 256;
const FMA_ITERS: u32 = 1024;

#[derive(Debug, Clone, Copy)]
pub struct Roofline {
    /// Streaming read bandwidth, bytes per second.
    pub read_bytes_per_s: f64,
    /// f32 multiply-adds per second.
    pub fma_per_s: f64,
}

/// The bytes and multiply-adds of one decoded token at a position: the weights (read once
/// per token) and the attention over the KV cache (growing with the position).
#[derive(Debug, Clone, Copy, Default)]
pub struct DecodeCost {
    pub weight_bytes: u64,
    pub weight_fma: u64,
    /// Per cached position: the keys and values read, and their multiply-adds.
    pub kv_bytes_per_pos: u64,
    pub kv_fma_per_pos: u64,
}

impl DecodeCost {
    pub fn at(&self, pos: usize) -> (u64, u64) {
        let p = pos as u64;
        (
            self.weight_bytes + p * self.kv_bytes_per_pos,
            self.weight_fma + p * self.kv_fma_per_pos,
        )
    }
}

impl Roofline {
    /// The fastest time `bytes` and `fma` allow, in seconds.
    pub fn bound_s(&self, bytes: u64, fma: u64) -> f64 {
        (bytes as f64 / self.read_bytes_per_s).max(fma as f64 / self.fma_per_s)
    }
}

/// Best seconds of `reps` runs of `groups` workgroups of `k` (after a warm-up).
fn best_time(
    gpu: &Gpu,
    k: &Kernel,
    bind: &wgpu::BindGroup,
    groups: u32,
    reps: usize,
) -> Result<f64> {
    let run = || -> Result<f64> {
        let t = Instant::now();
        let mut enc = gpu.encoder();
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            k.dispatch(gpu, &mut pass, bind, [groups, 1, 1]);
        }
        gpu.submit(enc);
        #[cfg(not(target_arch = "wasm32"))]
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| {
                crate::error::LanternError::Gpu(format!("waiting for the GPU failed: {e}"))
            })?;
        Ok(t.elapsed().as_secs_f64())
    };
    run()?;
    let mut best = f64::INFINITY;
    for _ in 0..reps {
        best = best.min(run()?);
    }
    gpu.check()?;
    Ok(best)
}

/// Measures the adapter (a few seconds on a CPU adapter; makes its own buffers).
pub async fn measure(gpu: &Gpu) -> Result<Roofline> {
    use Slot::*;
    let consts = [("WG", WG as f64)];
    // Read: the largest buffer one binding takes, up to 256 MiB.
    let limit = gpu
        .limits
        .max_storage_buffer_binding_size
        .min(gpu.limits.max_buffer_size)
        .min(256 << 20);
    let bytes = limit / 16 * 16;
    let groups = 1024;
    let src = gpu.storage("roofline src", bytes)?;
    let sink = gpu.storage("roofline sink", (groups * WG * 4) as u64)?;
    let read = Kernel::new(
        gpu,
        "roofline_read",
        READ_SOURCE,
        &[Read, ReadWrite],
        &consts,
    )
    .await?;
    let bind = read.bind(gpu, &[&src, &sink]);
    let t_read = best_time(gpu, &read, &bind, groups, 5)?;

    let fma_consts = [("WG", WG as f64), ("ITERS", FMA_ITERS as f64)];
    let fma = Kernel::new(gpu, "roofline_fma", FMA_SOURCE, &[ReadWrite], &fma_consts).await?;
    let bind = fma.bind(gpu, &[&sink]);
    let t_fma = best_time(gpu, &fma, &bind, groups, 3)?;
    let n_fma = groups as f64 * WG as f64 * FMA_ITERS as f64 * 16.0;
    Ok(Roofline {
        read_bytes_per_s: bytes as f64 / t_read,
        fma_per_s: n_fma / t_fma,
    })
}
