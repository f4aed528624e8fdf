//! `shaders/matmul.wgsl` (many tokens) and `shaders/matvec.wgsl` (one token): a linear layer
//! y = x · wᵀ + b, with w in f32 or a quantized block format. All pipelines share one
//! bind-group layout, so one bind group per layer serves prefill and decode.

use super::{Gpu, Kernel, Slot};
use crate::error::Result;
use crate::model::quant::Format;

pub const MATMUL_SOURCE: &str = include_str!("../../shaders/matmul.wgsl");
pub const MATVEC_SOURCE: &str = include_str!("../../shaders/matvec.wgsl");
const TILE: u32 = 64;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub k: u32,
    pub n: u32,
    pub has_bias: u32,
    pub _pad: u32,
}

/// Slots: params, step, x, w, bias, out.
const SLOTS: [Slot; 6] = [
    Slot::Uniform,
    Slot::Uniform,
    Slot::Read,
    Slot::Read,
    Slot::Read,
    Slot::ReadWrite,
];

/// The matmul and matvec pipelines for each weight format a model uses.
pub struct Linear {
    layout: wgpu::BindGroupLayout,
    kernels: Vec<(Format, Kernel, Kernel)>,
    /// Rows of w per matvec workgroup.
    matvec_rows: u32,
}

/// matvec's (invocations per row, rows per workgroup) for this adapter; `LANTERN_MATVEC`
/// ("lanes,rows") overrides it for experiments.
fn matvec_shape(gpu: &Gpu) -> (u32, u32) {
    #[cfg(not(target_arch = "wasm32"))]
    if let Ok(v) = std::env::var("LANTERN_MATVEC")
        && let Some((Ok(l), Ok(r))) = v.split_once(',').map(|(a, b)| (a.parse(), b.parse()))
    {
        return (l, r);
    }
    match gpu.info.device_type {
        // Measured on lavapipe (benches/kernels.rs): one invocation per row runs SmolLM2's
        // matrices 2× faster than 64 lanes per row (lm_head Q8_0: 180 vs 359 ms).
        wgpu::DeviceType::Cpu => (1, 256),
        _ => (64, 4),
    }
}

/// One layer's bind group, with what its dispatch needs to know.
pub struct LinearBind {
    pub bind: wgpu::BindGroup,
    pub format: Format,
    /// Output width N.
    pub n: u32,
}

impl Linear {
    pub async fn new(gpu: &Gpu, formats: &[Format]) -> Result<Self> {
        let layout = Kernel::layout(gpu, "linear", &SLOTS);
        let (lanes, rows) = matvec_shape(gpu);
        let mut kernels: Vec<(Format, Kernel, Kernel)> = Vec::new();
        for &f in formats {
            if kernels
                .iter()
                .any(|(g, _, _)| g.shader_id() == f.shader_id())
            {
                continue;
            }
            let id = f.shader_id() as f64;
            let matmul = Kernel::with_layout(
                gpu,
                "matmul",
                MATMUL_SOURCE,
                layout.clone(),
                &[("FORMAT", id)],
            )
            .await?;
            let matvec = Kernel::with_layout(
                gpu,
                "matvec",
                MATVEC_SOURCE,
                layout.clone(),
                &[
                    ("FORMAT", id),
                    ("WG", (lanes * rows) as f64),
                    ("LANES", lanes as f64),
                ],
            )
            .await?;
            kernels.push((f, matmul, matvec));
        }
        Ok(Self {
            layout,
            kernels,
            matvec_rows: rows,
        })
    }

    /// A bind group of [params, step, x, w, bias, out] for a weight in `format`.
    pub fn bind(&self, gpu: &Gpu, format: Format, n: u32, buffers: &[&wgpu::Buffer]) -> LinearBind {
        LinearBind {
            bind: gpu.bind_group("linear", &self.layout, buffers),
            format,
            n,
        }
    }

    fn kernels(&self, f: Format) -> (&Kernel, &Kernel) {
        let (_, mm, mv) = self
            .kernels
            .iter()
            .find(|(g, _, _)| g.shader_id() == f.shader_id())
            .expect("a pipeline for every format bound");
        (mm, mv)
    }

    /// y[rows, n] for `rows` rows of x: matvec for one row, matmul for more.
    pub fn dispatch(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, l: &LinearBind, rows: u32) {
        if rows == 1 {
            let (_, matvec) = self.kernels(l.format);
            matvec.dispatch_linear(gpu, pass, &l.bind, l.n.div_ceil(self.matvec_rows));
        } else {
            self.dispatch_matmul(gpu, pass, l, rows);
        }
    }

    /// The matmul kernel even for one row (for its test).
    pub fn dispatch_matmul(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass,
        l: &LinearBind,
        rows: u32,
    ) {
        let (matmul, _) = self.kernels(l.format);
        matmul.dispatch(
            gpu,
            pass,
            &l.bind,
            [l.n.div_ceil(TILE), rows.div_ceil(TILE), 1],
        );
    }
}
