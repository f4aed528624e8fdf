//! GPU time per kernel from timestamp queries (`lantern bench --profile`). While a
//! [`Profiler`] is on, every [`super::Kernel::dispatch`] writes a timestamp before and after
//! itself inside its compute pass (the adapter needs `TIMESTAMP_QUERY_INSIDE_PASSES`), and
//! [`super::Gpu::submit`] resolves them into a buffer the CPU reads after the pass. Made
//! once, when profiling is asked for; off, a dispatch only checks one flag.

use crate::error::{LanternError, Result};
use std::collections::BTreeMap;

/// Most dispatches one submit may profile.
const MAX_DISPATCHES: u32 = 2048;

pub struct Profiler {
    set: wgpu::QuerySet,
    resolve: wgpu::Buffer,
    readback: wgpu::Buffer,
    /// The kernel of each dispatch recorded since the last read, in order (`None`: a slot
    /// skipped so that the next submit's timestamps resolve to an aligned offset).
    names: Vec<Option<String>>,
    /// Slots of `names` resolved by the submits so far (skipped ones included).
    resolved: u32,
    /// Nanoseconds per timestamp tick.
    period: f64,
}

/// GPU time per kernel, summed over the submits read so far.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    /// kernel name → (dispatches, nanoseconds)
    pub kernels: BTreeMap<String, (u64, f64)>,
}

impl Profile {
    pub fn total_ns(&self) -> f64 {
        self.kernels.values().map(|&(_, ns)| ns).sum()
    }
}

impl Profiler {
    pub fn new(device: &wgpu::Device, queue: &wgpu::Queue) -> Result<Self> {
        if !device
            .features()
            .contains(wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES)
        {
            return Err(LanternError::Gpu(
                "this adapter has no timestamp queries inside compute passes \
                 (TIMESTAMP_QUERY_INSIDE_PASSES): --profile cannot time kernels here"
                    .into(),
            ));
        }
        let bytes = 2 * MAX_DISPATCHES as u64 * 8;
        Ok(Self {
            set: device.create_query_set(&wgpu::QuerySetDescriptor {
                label: Some("profile"),
                ty: wgpu::QueryType::Timestamp,
                count: 2 * MAX_DISPATCHES,
            }),
            resolve: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("profile resolve"),
                size: bytes,
                usage: wgpu::BufferUsages::QUERY_RESOLVE | wgpu::BufferUsages::COPY_SRC,
                mapped_at_creation: false,
            }),
            readback: device.create_buffer(&wgpu::BufferDescriptor {
                label: Some("profile readback"),
                size: bytes,
                usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
                mapped_at_creation: false,
            }),
            names: Vec::new(),
            resolved: 0,
            period: queue.get_timestamp_period() as f64,
        })
    }

    /// The query index of the next dispatch's first timestamp, if there is room.
    pub fn begin(&mut self, name: &str, pass: &mut wgpu::ComputePass) -> Option<u32> {
        let i = self.names.len() as u32;
        if i >= MAX_DISPATCHES {
            return None;
        }
        self.names.push(Some(name.to_string()));
        pass.write_timestamp(&self.set, 2 * i);
        Some(2 * i + 1)
    }

    pub fn end(&self, query: u32, pass: &mut wgpu::ComputePass) {
        pass.write_timestamp(&self.set, query);
    }

    /// Before a submit: resolves this command buffer's timestamps for [`Profiler::read`].
    pub fn resolve(&mut self, enc: &mut wgpu::CommandEncoder) {
        let n = self.names.len() as u32 - self.resolved;
        if n == 0 {
            return;
        }
        let from = 2 * self.resolved;
        enc.resolve_query_set(
            &self.set,
            from..from + 2 * n,
            &self.resolve,
            from as u64 * 8,
        );
        // The next submit's first timestamp must resolve to a multiple of
        // QUERY_RESOLVE_BUFFER_ALIGNMENT bytes (a prompt takes one submit per chunk).
        // (Each dispatch takes two 8-byte timestamps.)
        let dispatches_per_alignment = (wgpu::QUERY_RESOLVE_BUFFER_ALIGNMENT / 16) as usize;
        let aligned = self.names.len().next_multiple_of(dispatches_per_alignment);
        self.names.resize(aligned, None);
        self.resolved = aligned as u32;
    }

    /// The readback of everything resolved (once the submits are done), added to `into`.
    pub async fn read(&mut self, gpu: &super::Gpu, into: &mut Profile) -> Result<()> {
        let n = self.resolved as u64;
        if n == 0 {
            return Ok(());
        }
        let mut enc = gpu.encoder();
        enc.copy_buffer_to_buffer(&self.resolve, 0, &self.readback, 0, 2 * n * 8);
        gpu.queue.submit([enc.finish()]);
        let data = gpu
            .map_bytes(&self.readback, 2 * n * 8, "profiling")
            .await?;
        let ticks: Vec<u64> = bytemuck::pod_collect_to_vec(&data);
        for (i, name) in self.names.iter().enumerate() {
            let Some(name) = name else { continue };
            let ns = ticks[2 * i + 1].saturating_sub(ticks[2 * i]) as f64 * self.period;
            let e = into.kernels.entry(name.clone()).or_default();
            e.0 += 1;
            e.1 += ns;
        }
        self.names.clear();
        self.resolved = 0;
        Ok(())
    }
}
