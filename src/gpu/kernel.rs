//! A compute kernel: one WGSL file, its pipeline and its bind-group layout, made once at load.

use super::Gpu;
use crate::error::{LanternError, Result};

/// What a kernel binds at each slot, in binding order.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Slot {
    Uniform,
    Read,
    ReadWrite,
}

#[derive(Clone)]
pub struct Kernel {
    /// Its label, and its name in profiles.
    pub name: String,
    pub pipeline: wgpu::ComputePipeline,
    pub layout: wgpu::BindGroupLayout,
}

/// Most workgroups one dispatch dimension may have (WebGPU's default limit).
pub const MAX_GROUPS_PER_DIM: u32 = 65535;

impl Kernel {
    /// Compiles `source` (a file of `shaders/`), entry point `main`, with the given override
    /// constants (e.g. `("WG", 256.0)`).
    pub async fn new(
        gpu: &Gpu,
        name: &'static str,
        source: &str,
        slots: &[Slot],
        constants: &[(&str, f64)],
    ) -> Result<Self> {
        let layout = Self::layout(gpu, name, slots);
        Self::with_layout(gpu, name, source, layout, constants).await
    }

    /// A bind-group layout for `slots`, to share between kernels that bind alike.
    pub fn layout(gpu: &Gpu, name: &str, slots: &[Slot]) -> wgpu::BindGroupLayout {
        let entries: Vec<wgpu::BindGroupLayoutEntry> = slots
            .iter()
            .enumerate()
            .map(|(i, slot)| wgpu::BindGroupLayoutEntry {
                binding: i as u32,
                visibility: wgpu::ShaderStages::COMPUTE,
                ty: wgpu::BindingType::Buffer {
                    ty: match slot {
                        Slot::Uniform => wgpu::BufferBindingType::Uniform,
                        Slot::Read => wgpu::BufferBindingType::Storage { read_only: true },
                        Slot::ReadWrite => wgpu::BufferBindingType::Storage { read_only: false },
                    },
                    has_dynamic_offset: false,
                    min_binding_size: None,
                },
                count: None,
            })
            .collect();
        gpu.device
            .create_bind_group_layout(&wgpu::BindGroupLayoutDescriptor {
                label: Some(name),
                entries: &entries,
            })
    }

    /// As [`Kernel::new`], with a layout made by [`Kernel::layout`].
    pub async fn with_layout(
        gpu: &Gpu,
        name: &str,
        source: &str,
        layout: wgpu::BindGroupLayout,
        constants: &[(&str, f64)],
    ) -> Result<Self> {
        let device = &gpu.device;
        let scope = device.push_error_scope(wgpu::ErrorFilter::Validation);
        let module = device.create_shader_module(wgpu::ShaderModuleDescriptor {
            label: Some(name),
            source: wgpu::ShaderSource::Wgsl(source.into()),
        });
        let pipeline_layout = device.create_pipeline_layout(&wgpu::PipelineLayoutDescriptor {
            label: Some(name),
            bind_group_layouts: &[Some(&layout)],
            immediate_size: 0,
        });
        let pipeline = device.create_compute_pipeline(&wgpu::ComputePipelineDescriptor {
            label: Some(name),
            layout: Some(&pipeline_layout),
            module: &module,
            entry_point: Some("main"),
            compilation_options: wgpu::PipelineCompilationOptions {
                constants,
                zero_initialize_workgroup_memory: false,
            },
            cache: None,
        });
        if let Some(e) = scope.pop().await {
            return Err(LanternError::Gpu(format!(
                "kernel {name} failed to build: {e}"
            )));
        }
        super::context::count(|c| &c.pipelines, 1);
        Ok(Self {
            name: name.to_string(),
            pipeline,
            layout,
        })
    }

    /// A bind group of `buffers` for this kernel (at load time).
    pub fn bind(&self, gpu: &Gpu, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        gpu.bind_group(&self.name, &self.layout, buffers)
    }

    /// Records one dispatch of `groups` workgroups (x, y, z), counted.
    pub fn dispatch(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass,
        bind: &wgpu::BindGroup,
        groups: [u32; 3],
    ) {
        gpu.timed(&self.name, pass, |pass| {
            pass.set_pipeline(&self.pipeline);
            pass.set_bind_group(0, bind, &[]);
            pass.dispatch_workgroups(groups[0], groups[1], groups[2]);
        });
        super::context::count(|c| &c.dispatches, 1);
    }

    /// Records a dispatch of `n` workgroups in all, folded into x and y when `n` exceeds one
    /// dimension's limit; the shader recovers its index as `wg.x + wg.y * num_wg.x`.
    pub fn dispatch_linear(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass,
        bind: &wgpu::BindGroup,
        n: u32,
    ) {
        let x = n.clamp(1, MAX_GROUPS_PER_DIM);
        self.dispatch(gpu, pass, bind, [x, n.div_ceil(x).max(1), 1]);
    }
}
