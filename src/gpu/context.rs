//! The one GPU context: device, queue, limits, and the counters the benchmark reports.
//! Every buffer, bind group and pipeline is made through these helpers, so that the
//! benchmark can prove none is made per token.

use super::profile::{Profile, Profiler};
use crate::error::{LanternError, Result};
use std::cell::Cell;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::{Arc, Mutex};
use wgpu::util::DeviceExt;

/// Counts of GPU work and GPU objects, made through [`Gpu`]'s helpers on this thread: each
/// thread counts its own, so that tests sharing one device in parallel see only their own
/// work between two snapshots (the page and the tool run on one thread).
#[derive(Default, Debug)]
pub struct Counters {
    pub buffers: Cell<u64>,
    pub bind_groups: Cell<u64>,
    pub pipelines: Cell<u64>,
    pub dispatches: Cell<u64>,
    pub submits: Cell<u64>,
    pub readback_bytes: Cell<u64>,
    /// Bytes of all storage and uniform buffers made.
    pub buffer_bytes: Cell<u64>,
}

thread_local! {
    static COUNTERS: Counters = Counters::default();
}

/// Adds n to one of this thread's counters.
pub(crate) fn count(counter: fn(&Counters) -> &Cell<u64>, n: u64) {
    COUNTERS.with(|c| {
        let cell = counter(c);
        cell.set(cell.get() + n);
    });
}

/// A snapshot of [`Counters`].
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct CounterSnapshot {
    pub buffers: u64,
    pub bind_groups: u64,
    pub pipelines: u64,
    pub dispatches: u64,
    pub submits: u64,
    pub readback_bytes: u64,
    pub buffer_bytes: u64,
}

impl CounterSnapshot {
    /// GPU objects (buffers, bind groups, pipelines) made.
    pub fn objects(&self) -> u64 {
        self.buffers + self.bind_groups + self.pipelines
    }

    pub fn since(&self, earlier: &CounterSnapshot) -> CounterSnapshot {
        CounterSnapshot {
            buffers: self.buffers - earlier.buffers,
            bind_groups: self.bind_groups - earlier.bind_groups,
            pipelines: self.pipelines - earlier.pipelines,
            dispatches: self.dispatches - earlier.dispatches,
            submits: self.submits - earlier.submits,
            readback_bytes: self.readback_bytes - earlier.readback_bytes,
            buffer_bytes: self.buffer_bytes - earlier.buffer_bytes,
        }
    }
}

pub struct Gpu {
    pub device: wgpu::Device,
    pub queue: wgpu::Queue,
    pub info: wgpu::AdapterInfo,
    pub limits: wgpu::Limits,
    /// What the adapter offers (the device asks only for timestamp queries, for profiling).
    pub adapter_features: wgpu::Features,
    /// The subgroup size the reductions use (reduce_subgroup.wgsl), where the adapter has
    /// subgroups of one size in index order; `None`: the workgroup-tree reductions.
    pub subgroup_size: Option<u32>,
    /// The first validation or out-of-memory error the device reported, if any.
    error: Arc<Mutex<Option<String>>>,
    /// Told the bytes of data uploaded so far (the page's progress bar).
    on_upload: Mutex<Option<UploadObserver>>,
    uploaded: AtomicU64,
    /// Kernel timings, while `lantern bench --profile` asks for them.
    profiler: Mutex<Option<Profiler>>,
    profiling: AtomicBool,
}

type UploadObserver = Box<dyn Fn(u64) + Send + Sync>;

/// The kernel shapes a model's layers take: those for CPU implementations of WebGPU
/// (lavapipe, SwiftShader: invocations run as SIMD lanes, barriers cost) or those for GPUs
/// (matvec's 64 lanes an output with a reduction, prompts through the tiled matmul, decode
/// attention split every 256 keys). The adapter's type picks them (`Gpu::shapes`); a test
/// asks for the GPUs' on a CPU adapter to prove the path a real GPU takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shapes {
    Cpu,
    Gpu,
}

impl Gpu {
    /// The kernel shapes for this adapter.
    pub fn shapes(&self) -> Shapes {
        match self.info.device_type {
            wgpu::DeviceType::Cpu => Shapes::Cpu,
            _ => Shapes::Gpu,
        }
    }

    /// Opens the default adapter with its own limits (a 128 MiB storage binding on Mesa's
    /// lavapipe, 1 GiB on SwiftShader), with subgroup reductions where it has them unless
    /// `LANTERN_SUBGROUPS=0` asks for the workgroup-tree ones.
    pub async fn new() -> Result<Self> {
        let off = cfg!(not(target_arch = "wasm32"))
            && std::env::var("LANTERN_SUBGROUPS").is_ok_and(|v| v == "0");
        Self::with_subgroups(!off).await
    }

    /// As [`Gpu::new`]; `subgroups: false` uses the workgroup-tree reductions even where the
    /// adapter has subgroups (the tests run both).
    pub async fn with_subgroups(subgroups: bool) -> Result<Self> {
        let instance =
            wgpu::Instance::new(wgpu::InstanceDescriptor::new_without_display_handle_from_env());
        let adapter = instance
            .request_adapter(&wgpu::RequestAdapterOptions {
                power_preference: wgpu::PowerPreference::HighPerformance,
                ..Default::default()
            })
            .await
            .map_err(|e| LanternError::NoAdapter(e.to_string()))?;
        let limits = adapter.limits();
        let info = adapter.get_info();
        // Timestamps cost nothing until a profile is asked for.
        let timestamps =
            wgpu::Features::TIMESTAMP_QUERY | wgpu::Features::TIMESTAMP_QUERY_INSIDE_PASSES;
        // Subgroup reductions assume one subgroup size for every kernel: adapters that pick
        // a size per pipeline (Intel's 8 to 32, AMD's 32 or 64) keep the tree.
        let subgroups = subgroups
            && adapter.features().contains(wgpu::Features::SUBGROUP)
            && info.subgroup_min_size == info.subgroup_max_size;
        let mut features = adapter.features() & timestamps;
        if subgroups {
            features |= wgpu::Features::SUBGROUP;
        }
        let (device, queue) = adapter
            .request_device(&wgpu::DeviceDescriptor {
                label: Some("lantern"),
                required_limits: limits.clone(),
                required_features: features,
                ..Default::default()
            })
            .await
            .map_err(|e| LanternError::Gpu(format!("cannot open the GPU device: {e}")))?;
        let error = Arc::new(Mutex::new(None));
        let sink = error.clone();
        device.on_uncaptured_error(Arc::new(move |e: wgpu::Error| {
            let mut slot = sink.lock().expect("error slot");
            slot.get_or_insert_with(|| e.to_string());
        }));
        let mut gpu = Self {
            device,
            queue,
            info,
            adapter_features: adapter.features(),
            subgroup_size: None,
            limits,
            error,
            on_upload: Mutex::new(None),
            uploaded: AtomicU64::new(0),
            profiler: Mutex::new(None),
            profiling: AtomicBool::new(false),
        };
        if subgroups {
            gpu.subgroup_size = super::reduce::probe(&gpu).await?;
        }
        Ok(gpu)
    }

    /// From now on every dispatch is timed (see profile.rs).
    pub fn start_profiling(&self) -> Result<()> {
        let p = Profiler::new(&self.device, &self.queue)?;
        *self.profiler.lock().expect("profiler") = Some(p);
        self.profiling.store(true, Relaxed);
        Ok(())
    }

    /// Adds the GPU time of every dispatch submitted since the last call to `into`.
    pub async fn read_profile(&self, into: &mut Profile) -> Result<()> {
        let taken = self.profiler.lock().expect("profiler").take();
        let Some(mut p) = taken else {
            return Ok(());
        };
        let read = p.read(self, into).await;
        *self.profiler.lock().expect("profiler") = Some(p);
        read
    }

    /// Records `dispatch` into `pass`, between two timestamps while profiling.
    pub(super) fn timed(
        &self,
        name: &str,
        pass: &mut wgpu::ComputePass,
        dispatch: impl FnOnce(&mut wgpu::ComputePass),
    ) {
        if !self.profiling.load(Relaxed) {
            return dispatch(pass);
        }
        let mut guard = self.profiler.lock().expect("profiler");
        let end = guard.as_mut().and_then(|p| p.begin(name, pass));
        dispatch(pass);
        if let (Some(p), Some(end)) = (guard.as_ref(), end) {
            p.end(end, pass);
        }
    }

    /// Calls `f` with the bytes uploaded so far after each buffer made from data.
    pub fn on_upload(&self, f: impl Fn(u64) + Send + Sync + 'static) {
        *self.on_upload.lock().expect("upload observer") = Some(Box::new(f));
    }

    /// Runs `upload` (buffers made from data) inside an out-of-memory error scope and waits
    /// for the device's verdict: a failed allocation is an error here, not a later surprise.
    /// On the web the wait also returns control to the page, so a progress bar repaints.
    pub async fn uploading<T>(&self, what: &str, upload: impl FnOnce() -> Result<T>) -> Result<T> {
        let scope = self.device.push_error_scope(wgpu::ErrorFilter::OutOfMemory);
        let out = upload();
        if let Some(e) = scope.pop().await {
            return Err(LanternError::Gpu(format!(
                "out of GPU memory while uploading {what}: {e}; try a smaller model or close \
                 other GPU-heavy tabs"
            )));
        }
        out
    }

    /// "name (backend, device type, reductions)", for logs and the page.
    pub fn describe(&self) -> String {
        let reductions = match self.subgroup_size {
            Some(sg) => format!("subgroups of {sg}"),
            None => "no subgroups".to_string(),
        };
        format!(
            "{} ({:?}, {:?}, {reductions})",
            self.info.name, self.info.backend, self.info.device_type
        )
    }

    pub fn snapshot(&self) -> CounterSnapshot {
        COUNTERS.with(|c| CounterSnapshot {
            buffers: c.buffers.get(),
            bind_groups: c.bind_groups.get(),
            pipelines: c.pipelines.get(),
            dispatches: c.dispatches.get(),
            submits: c.submits.get(),
            readback_bytes: c.readback_bytes.get(),
            buffer_bytes: c.buffer_bytes.get(),
        })
    }

    /// Fails with the first error the device reported since it was made.
    pub fn check(&self) -> Result<()> {
        match self.error.lock().expect("error slot").clone() {
            Some(e) => Err(LanternError::Gpu(e)),
            None => Ok(()),
        }
    }

    /// Refuses a buffer larger than one storage binding may be.
    /// The largest buffer one storage binding may hold here.
    pub fn max_binding(&self) -> u64 {
        self.limits
            .max_storage_buffer_binding_size
            .min(self.limits.max_buffer_size)
    }

    fn check_size(&self, what: &str, bytes: u64) -> Result<()> {
        let limit = self.max_binding();
        if bytes > limit {
            return Err(LanternError::TooLargeForDevice {
                what: what.to_string(),
                needed: bytes,
                limit,
            });
        }
        Ok(())
    }

    /// A storage buffer of `bytes` (at least 4), zeroed.
    pub fn storage(&self, label: &str, bytes: u64) -> Result<wgpu::Buffer> {
        self.check_size(label, bytes)?;
        count(|c| &c.buffers, 1);
        count(|c| &c.buffer_bytes, bytes);
        Ok(self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.max(4).next_multiple_of(4),
            usage: wgpu::BufferUsages::STORAGE
                | wgpu::BufferUsages::COPY_DST
                | wgpu::BufferUsages::COPY_SRC,
            mapped_at_creation: false,
        }))
    }

    /// A storage buffer holding `data`.
    pub fn storage_init<T: bytemuck::Pod>(&self, label: &str, data: &[T]) -> Result<wgpu::Buffer> {
        let bytes: &[u8] = bytemuck::cast_slice(data);
        self.check_size(label, bytes.len() as u64)?;
        if bytes.is_empty() {
            return self.storage(label, 4);
        }
        if !bytes.len().is_multiple_of(4) {
            // Quantized blocks need not end on a word; shaders read whole u32s.
            let mut padded = bytes.to_vec();
            padded.resize(bytes.len().next_multiple_of(4), 0);
            return self.storage_init(label, &padded);
        }
        count(|c| &c.buffers, 1);
        count(|c| &c.buffer_bytes, bytes.len() as u64);
        let buffer = self
            .device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytes,
                usage: wgpu::BufferUsages::STORAGE
                    | wgpu::BufferUsages::COPY_DST
                    | wgpu::BufferUsages::COPY_SRC,
            });
        let uploaded = self.uploaded.fetch_add(bytes.len() as u64, Relaxed) + bytes.len() as u64;
        if let Some(f) = self.on_upload.lock().expect("upload observer").as_ref() {
            f(uploaded);
        }
        Ok(buffer)
    }

    /// A uniform buffer holding `value`, writable later with `queue.write_buffer`.
    pub fn uniform<T: bytemuck::Pod>(&self, label: &str, value: &T) -> wgpu::Buffer {
        count(|c| &c.buffers, 1);
        count(|c| &c.buffer_bytes, std::mem::size_of::<T>() as u64);
        self.device
            .create_buffer_init(&wgpu::util::BufferInitDescriptor {
                label: Some(label),
                contents: bytemuck::bytes_of(value),
                usage: wgpu::BufferUsages::UNIFORM | wgpu::BufferUsages::COPY_DST,
            })
    }

    /// A buffer the CPU can map and read, the target of copies from storage buffers.
    pub fn readback(&self, label: &str, bytes: u64) -> wgpu::Buffer {
        count(|c| &c.buffers, 1);
        self.device.create_buffer(&wgpu::BufferDescriptor {
            label: Some(label),
            size: bytes.next_multiple_of(4),
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    }

    /// A bind group of whole buffers, bound at 0, 1, 2, … in order.
    pub fn bind_group(
        &self,
        label: &str,
        layout: &wgpu::BindGroupLayout,
        buffers: &[&wgpu::Buffer],
    ) -> wgpu::BindGroup {
        count(|c| &c.bind_groups, 1);
        let entries: Vec<wgpu::BindGroupEntry> = buffers
            .iter()
            .enumerate()
            .map(|(i, b)| wgpu::BindGroupEntry {
                binding: i as u32,
                resource: b.as_entire_binding(),
            })
            .collect();
        self.device.create_bind_group(&wgpu::BindGroupDescriptor {
            label: Some(label),
            layout,
            entries: &entries,
        })
    }

    /// Submits one command buffer, counted.
    pub fn submit(&self, mut encoder: wgpu::CommandEncoder) {
        if self.profiling.load(Relaxed)
            && let Some(p) = self.profiler.lock().expect("profiler").as_mut()
        {
            p.resolve(&mut encoder);
        }
        count(|c| &c.submits, 1);
        self.queue.submit([encoder.finish()]);
    }

    pub fn encoder(&self) -> wgpu::CommandEncoder {
        self.device
            .create_command_encoder(&wgpu::CommandEncoderDescriptor { label: None })
    }

    /// Maps `buffer` (a [`Gpu::readback`] buffer whose copy was already submitted), reads its
    /// first `bytes` bytes and unmaps it.
    pub async fn read(&self, buffer: &wgpu::Buffer, bytes: u64) -> Result<Vec<u8>> {
        let data = self.map_bytes(buffer, bytes, "reading back").await?;
        count(|c| &c.readback_bytes, bytes);
        self.check()?;
        Ok(data)
    }

    /// As [`Gpu::read`], not counted as read-back (the profiler's timestamps).
    pub(super) async fn map_bytes(
        &self,
        buffer: &wgpu::Buffer,
        bytes: u64,
        what: &str,
    ) -> Result<Vec<u8>> {
        let (tx, rx) = futures_channel::oneshot::channel();
        let slice = buffer.slice(..bytes);
        slice.map_async(wgpu::MapMode::Read, move |r| {
            let _ = tx.send(r);
        });
        #[cfg(not(target_arch = "wasm32"))]
        self.device
            .poll(wgpu::PollType::wait_indefinitely())
            .map_err(|e| LanternError::Gpu(format!("waiting for the GPU failed: {e}")))?;
        rx.await
            .map_err(|_| LanternError::Gpu(format!("the GPU device was lost while {what}")))?
            .map_err(|e| LanternError::Gpu(format!("cannot read from the GPU ({what}): {e}")))?;
        let data = slice
            .get_mapped_range()
            .map_err(|e| LanternError::Gpu(format!("cannot read from the GPU ({what}): {e}")))?
            .to_vec();
        buffer.unmap();
        Ok(data)
    }

    /// Copies a storage buffer out and reads it as f32. Makes a staging buffer: for tests
    /// and tools, never on the per-token path.
    pub async fn read_f32(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<f32>> {
        let bytes = (len * 4) as u64;
        let staging = self.readback("staging", bytes);
        let mut enc = self.encoder();
        enc.copy_buffer_to_buffer(buffer, 0, &staging, 0, bytes);
        self.submit(enc);
        let data = self.read(&staging, bytes).await?;
        Ok(bytemuck::pod_collect_to_vec(&data))
    }

    /// As [`Gpu::read_f32`], for u32.
    pub async fn read_u32(&self, buffer: &wgpu::Buffer, len: usize) -> Result<Vec<u32>> {
        let f = self.read_f32(buffer, len).await?;
        Ok(bytemuck::cast_slice(&f).to_vec())
    }
}
