//! `shaders/matmul.wgsl` (many tokens) and `shaders/matvec.wgsl` (one token): a linear layer
//! y = x · wᵀ + b. Both bind the same slots, so one bind group per layer serves both.

use super::{Gpu, Kernel, Slot};
use crate::error::Result;

pub const MATMUL_SOURCE: &str = include_str!("../../shaders/matmul.wgsl");
pub const MATVEC_SOURCE: &str = include_str!("../../shaders/matvec.wgsl");
const TILE: u32 = 64;
const MATVEC_ROWS: u32 = 4;

#[repr(C)]
#[derive(Clone, Copy, Debug, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    pub k: u32,
    pub n: u32,
    pub has_bias: u32,
    pub _pad: u32,
}

const SLOTS: [Slot; 6] = [
    Slot::Uniform,
    Slot::Uniform,
    Slot::Read,
    Slot::Read,
    Slot::Read,
    Slot::ReadWrite,
];

/// The two kernels of a linear layer. Slots: params, step, x, w, bias, out.
pub struct Linear {
    pub matmul: Kernel,
    pub matvec: Kernel,
}

impl Linear {
    pub async fn new(gpu: &Gpu) -> Result<Self> {
        let matmul = Kernel::new(gpu, "matmul", MATMUL_SOURCE, &SLOTS, &[]).await?;
        let matvec = Kernel::new(gpu, "matvec", MATVEC_SOURCE, &SLOTS, &[("WG", 64.0)]).await?;
        // Bind groups are made against one layout; the two must agree.
        Ok(Self { matmul, matvec })
    }

    /// A bind group for both kernels.
    pub fn bind(&self, gpu: &Gpu, buffers: &[&wgpu::Buffer]) -> wgpu::BindGroup {
        self.matmul.bind(gpu, buffers)
    }

    /// y[rows, n] for `rows` rows of x: matvec for one row, matmul for more.
    pub fn dispatch(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass,
        bind: &wgpu::BindGroup,
        rows: u32,
        n: u32,
    ) {
        if rows == 1 {
            self.matvec
                .dispatch_linear(gpu, pass, bind, n.div_ceil(MATVEC_ROWS));
        } else {
            self.matmul
                .dispatch(gpu, pass, bind, [n.div_ceil(TILE), rows.div_ceil(TILE), 1]);
        }
    }

    /// The matmul kernel even for one row (for its test).
    pub fn dispatch_matmul(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass,
        bind: &wgpu::BindGroup,
        rows: u32,
        n: u32,
    ) {
        self.matmul
            .dispatch(gpu, pass, bind, [n.div_ceil(TILE), rows.div_ceil(TILE), 1]);
    }
}
