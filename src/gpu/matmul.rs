//! The fused linear layer: `shaders/matvec.wgsl` (one token) and `shaders/matmul.wgsl` (a
//! prompt chunk), each built on `shaders/linear.wgsl` (what the layer reads: x, its RMS or
//! layer norm, or the attention's split partials combined; and the epilogue) and
//! `shaders/quant.wgsl` (the GPU weight layout of `gpu/weights.rs`).
//! y = input(x) · wᵀ + b, then the epilogue: stored, added to the residual stream, SwiGLU,
//! GELU, or q/k/v with RoPE into the (f16) KV cache. All pipelines share one bind-group layout, so
//! one bind group per layer serves prefill and decode.

use super::attention::KvCache;
use super::{Gpu, Kernel, Shapes, Slot, reduce, weights};
use crate::error::Result;
use crate::model::quant::Format;

pub const QUANT_SOURCE: &str = include_str!("../../shaders/quant.wgsl");
pub const LINEAR_SOURCE: &str = include_str!("../../shaders/linear.wgsl");
pub const MATMUL_SOURCE: &str = include_str!("../../shaders/matmul.wgsl");
pub const MATVEC_SOURCE: &str = include_str!("../../shaders/matvec.wgsl");
/// The modules as compiled: the preludes, then the kernel.
pub const MATMUL_MODULE: &str = concat!(
    include_str!("../../shaders/quant.wgsl"),
    include_str!("../../shaders/linear.wgsl"),
    include_str!("../../shaders/matmul.wgsl")
);
pub const MATVEC_MODULE: &str = concat!(
    include_str!("../../shaders/quant.wgsl"),
    include_str!("../../shaders/linear.wgsl"),
    include_str!("../../shaders/matvec.wgsl")
);
/// matmul.wgsl's TILE_M × TILE_N: tokens × columns per workgroup. Chunks of up to
/// `SHORT_TILE_M` tokens take the short tiles (a pipeline of their own): a 32-token prompt
/// in 64-row tiles left half of each workgroup idle.
const TILE_M: u32 = 64;
const SHORT_TILE_M: u32 = 32;
const TILE_N: u32 = 128;
/// matvec.wgsl's 16-token blocks (BLOCKS): tokens and columns of an invocation's block, and
/// invocations per workgroup.
const BLOCK: u32 = 16;
const BLOCK_WG: u32 = 8;

/// Mirrors `struct Params` in linear.wgsl.
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, bytemuck::Pod, bytemuck::Zeroable)]
pub struct Params {
    /// K: input width.
    pub k: u32,
    /// N: rows of w.
    pub n: u32,
    pub has_bias: u32,
    /// The norm's epsilon.
    pub eps: f32,
    /// QKV: values of q per token (n_head · head_size); k and v follow, `kv_width` each.
    pub q_width: u32,
    pub kv_width: u32,
    pub head_size: u32,
    /// QKV: 1 to rotate q and k (RoPE).
    pub rope: u32,
    /// A layer in parts: w holds rows `row0 .. row0 + n` of the layer's `out_n`.
    pub row0: u32,
    /// The layer's rows (out's row stride).
    pub out_n: u32,
    /// `Input::PostNorm`: where in x the stream's rows are, and the sublayer's output (or
    /// [`NONE`]), and where the resolved stream goes (or [`NONE`]), in floats.
    pub x_at: u32,
    pub y_at: u32,
    pub out_at: u32,
    /// `Input::PostNorm`: 0 (one post-norm gain for every row), or K (one per row).
    pub post_stride: u32,
    pub _pad: [u32; 2],
}

/// No sublayer output, or no place for the stream (`Input::PostNorm`).
pub const NONE: u32 = u32::MAX;

impl Params {
    pub fn new(k: usize, n: usize) -> Self {
        Self {
            k: k as u32,
            n: n as u32,
            out_n: n as u32,
            ..Self::default()
        }
    }

    /// These parameters for the part of the layer of `rows` rows from `row0`.
    pub fn part(self, row0: usize, rows: usize) -> Self {
        Self {
            row0: row0 as u32,
            n: rows as u32,
            ..self
        }
    }
}

/// What the layer reads as x (the `INPUT` override).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    Raw = 0,
    RmsNorm = 1,
    /// The norm buffer holds the gain, then the bias.
    LayerNorm = 2,
    /// x holds the attention's split partials (attention.wgsl), combined as they are read.
    Attention = 3,
    /// The RMS norm of x + rms_norm(y) · g: x holds the residual stream and the sublayer's
    /// output y (Gemma's norms after attention and the MLP, resolved by the next layer that
    /// reads the stream, which also writes it back); the norm buffer holds the layer's gain,
    /// then the post-norm's.
    PostNorm = 4,
}

/// What becomes of y (the `EPILOGUE` override).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Epilogue {
    Store = 0,
    /// out += y: `out` is the residual stream.
    Residual = 1,
    /// out = silu(gate) · up, w stacking gate and up (N = 2F).
    SwiGlu = 2,
    Gelu = 3,
    /// w stacks q, k and v: q (rotated) to `out`, k (rotated) and v to the KV cache.
    Qkv = 4,
    /// out = gelu(gate) · up (tanh GELU), w stacking gate and up (N = 2F): Gemma's GeGLU.
    GeGlu = 5,
}

impl Epilogue {
    /// Whether an output reads two rows of w (gate and up, a RoPE pair).
    pub fn paired(self) -> bool {
        matches!(self, Epilogue::SwiGlu | Epilogue::GeGlu | Epilogue::Qkv)
    }
}

/// What a linear layer binds; the slots it does not use get placeholders.
#[derive(Clone, Copy)]
pub struct LinearIo<'a> {
    pub params: &'a wgpu::Buffer,
    pub step: &'a wgpu::Buffer,
    pub x: &'a wgpu::Buffer,
    pub w: &'a wgpu::Buffer,
    pub bias: Option<&'a wgpu::Buffer>,
    pub out: &'a wgpu::Buffer,
    /// The norm's gain (and for a layer norm, then its bias).
    pub norm: Option<&'a wgpu::Buffer>,
    /// QKV: the RoPE table and the layer's k and v caches.
    pub rope_table: Option<&'a wgpu::Buffer>,
    pub kv: Option<(&'a wgpu::Buffer, &'a wgpu::Buffer)>,
}

/// Slots: params, step, x (written by `Input::PostNorm`), w, bias, out, norm, rope table, k
/// cache, v cache.
const SLOTS: [Slot; 10] = [
    Slot::Uniform,
    Slot::Uniform,
    Slot::ReadWrite,
    Slot::Read,
    Slot::Read,
    Slot::ReadWrite,
    Slot::Read,
    Slot::Read,
    Slot::ReadWrite,
    Slot::ReadWrite,
];

/// The pipelines of one (format, input, epilogue).
#[derive(Clone)]
struct Variant {
    key: (u32, Input, Epilogue),
    /// Where prompts run matmul (or a test asks for it).
    matmul: Option<Matmul>,
    matvec: Kernel,
    /// matvec in 16-token blocks, where prompts run it (or a test asks for it).
    blocks: Option<Kernel>,
}

/// matmul in `TILE_M`- and in `SHORT_TILE_M`-row tiles.
#[derive(Clone)]
struct Matmul {
    tall: Kernel,
    short: Kernel,
}

/// Every linear-layer pipeline a model uses, made at load.
pub struct Linear {
    layout: wgpu::BindGroupLayout,
    variants: Vec<Variant>,
    /// Placeholders for unused slots: one read-only, and one for each writable slot
    /// (WebGPU refuses a buffer bound writable twice, or both ways, in one dispatch).
    unused: wgpu::Buffer,
    unused_k: wgpu::Buffer,
    unused_v: wgpu::Buffer,
    matvec_shape: MatvecShape,
    /// Whether to build the matmul pipelines (where prompts run matmul, or a test asks).
    matmul: bool,
    /// Whether to build the pipelines of matvec's 16-token blocks (likewise).
    blocks: bool,
    /// The format the QKV epilogue stores the KV cache in.
    kv: KvCache,
}

/// How matvec spreads a layer over invocations: `lanes` invocations share one output, a
/// workgroup has `lanes · groups` invocations, each computing `outs` outputs (1 to 8).
#[derive(Debug, Clone, Copy)]
struct MatvecShape {
    lanes: u32,
    groups: u32,
    outs: u32,
    /// How prompt passes (chunks of more than one token) run.
    prompt: Prompt,
}

/// How prompt chunks run: the kernel each layer dispatches for more than one token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Prompt {
    /// matmul.wgsl's tiles (GPUs).
    Matmul,
    /// matvec once per token, a dispatch's z (lavapipe).
    PerToken,
    /// matvec's 16-token blocks (BLOCKS: SwiftShader).
    Blocks,
}

impl MatvecShape {
    fn outputs_per_workgroup(&self) -> u32 {
        self.groups * self.outs
    }
}

/// matvec's shape for these shapes on this adapter; `LANTERN_MATVEC`
/// ("lanes,groups,outs,prompt", prompt 0: matmul, 1: matvec per token, 2: matvec's 16-token
/// blocks) overrides it for experiments.
fn matvec_shape(gpu: &Gpu, shapes: Shapes) -> MatvecShape {
    #[cfg(not(target_arch = "wasm32"))]
    if let Ok(v) = std::env::var("LANTERN_MATVEC") {
        let n: Vec<u32> = v.split(',').filter_map(|x| x.parse().ok()).collect();
        if let [lanes, groups, outs, prompt] = n[..] {
            return MatvecShape {
                lanes,
                groups,
                outs,
                prompt: [Prompt::Matmul, Prompt::PerToken, Prompt::Blocks][prompt.min(2) as usize],
            };
        }
    }
    match shapes {
        // CPU adapters run invocations as SIMD lanes: one lane per output (no reduction,
        // no barrier), several outputs each (fewer gathers of x per weight).
        // Measured on lavapipe (benches/kernels.rs, SmolLM2's Q4_1 lm_head): 8 outputs per
        // invocation 4.3× faster than 1 (19 vs 82 ms), 1.5× faster than 4.
        // Prompt chunks: on lavapipe through matvec once per token (a 32-token prompt of
        // SmolLM2 ran at 20 tokens/s against matmul's 12); elsewhere (SwiftShader) in
        // matvec's 16-token blocks (32-token prompt, alternating rounds: 8.4-10.8 tokens/s
        // against matmul's 6.3-9.2). lavapipe's blocks ran its prompts 1.0-1.5x faster, but
        // its compiler took 3.4 s more to build them at load (1.95 → 5.39 s for SmolLM2).
        // 8 invocations a workgroup (64 outputs): layers of 576 outputs fill 9 workgroups,
        // where 256 a workgroup left a third of the last of 3 computing nothing (every
        // invocation runs the dot products). SmolLM2's down projection 1.3x faster on
        // lavapipe, 1.6x on SwiftShader (--profile).
        Shapes::Cpu => MatvecShape {
            lanes: 1,
            groups: 8,
            outs: 8,
            prompt: if gpu.info.name.contains("llvmpipe") {
                Prompt::PerToken
            } else if cfg!(target_arch = "wasm32") {
                // The page keeps matmul until the browser tests have run the blocks there.
                Prompt::Matmul
            } else {
                Prompt::Blocks
            },
        },
        Shapes::Gpu => MatvecShape {
            lanes: 64,
            groups: 4,
            outs: 1,
            prompt: Prompt::Matmul,
        },
    }
}

/// One layer's bind groups, one per part (a run of its rows in one format and one binding,
/// dispatched one after the other), with the pipelines and shapes their dispatches need.
pub struct LinearBind {
    parts: Vec<PartBind>,
}

struct PartBind {
    bind: wgpu::BindGroup,
    variant: Variant,
    /// Columns of the product (rows of this part of w), and outputs (columns, or pairs).
    cols: u32,
    outputs: u32,
}

impl LinearBind {
    /// Dispatches per pass of the layer.
    pub fn dispatches(&self) -> usize {
        self.parts.len()
    }
}

impl Linear {
    /// With matvec in `shapes`' shape (the adapter's: `gpu.shapes()`).
    pub fn new(gpu: &Gpu, shapes: Shapes) -> Result<Self> {
        let s = matvec_shape(gpu, shapes);
        let mut lin = Self::with_matvec_shape(gpu, s.lanes, s.groups, s.outs, false)?;
        lin.matvec_shape.prompt = s.prompt;
        lin.matmul = s.prompt == Prompt::Matmul;
        lin.blocks = s.prompt == Prompt::Blocks;
        Ok(lin)
    }

    /// With matvec's shape given: `lanes` invocations per output (a power of two), `groups`
    /// of them per workgroup, `outs` outputs each (1 to 8); `prompt`: prompt chunks through
    /// matvec, a token a workgroup, rather than matmul. For tests of every shape.
    pub fn with_matvec_shape(
        gpu: &Gpu,
        lanes: u32,
        groups: u32,
        outs: u32,
        prompt: bool,
    ) -> Result<Self> {
        Ok(Self {
            layout: Kernel::layout(gpu, "linear", &SLOTS),
            variants: Vec::new(),
            unused: gpu.storage("linear unused", 16)?,
            unused_k: gpu.storage("linear unused (k cache)", 16)?,
            unused_v: gpu.storage("linear unused (v cache)", 16)?,
            matvec_shape: MatvecShape {
                lanes,
                groups,
                outs: outs.clamp(1, 8),
                prompt: if prompt {
                    Prompt::PerToken
                } else {
                    Prompt::Matmul
                },
            },
            matmul: !prompt,
            blocks: false,
            kv: KvCache::default(),
        })
    }

    /// Builds the matmul pipelines even where prompts run matvec (for `dispatch_matmul`).
    pub fn with_matmul(mut self) -> Self {
        self.matmul = true;
        self
    }

    /// Builds the pipelines of matvec's 16-token blocks wherever prompts run (for
    /// `dispatch_blocks`).
    pub fn with_blocks(mut self) -> Self {
        self.blocks = true;
        self
    }

    /// Stores the KV cache (the QKV epilogue) in `kv` (f16 unless told).
    pub fn with_kv_cache(mut self, kv: KvCache) -> Self {
        self.kv = kv;
        self
    }

    /// Builds the pipelines of (format, input, epilogue) unless already built.
    pub async fn prepare(
        &mut self,
        gpu: &Gpu,
        format: Format,
        input: Input,
        ep: Epilogue,
    ) -> Result<()> {
        let key = (format.shader_id(), input, ep);
        if self.variants.iter().any(|v| v.key == key) {
            return Ok(());
        }
        let shape = self.matvec_shape;
        let common = [
            ("FORMAT", key.0 as f64),
            ("INPUT", input as u32 as f64),
            ("EPILOGUE", ep as u32 as f64),
            self.kv.constant(),
        ];
        let name = |kind: &str| format!("{kind} {format:?} {input:?}+{ep:?}");
        let matmul = if self.matmul {
            let name = name("matmul");
            let tiles = |tile_m: u32| [&common[..], &[("TILE_M", tile_m as f64)]].concat();
            let build = |constants| {
                Kernel::with_layout(gpu, &name, MATMUL_MODULE, self.layout.clone(), constants)
            };
            Some(Matmul {
                tall: build(&tiles(TILE_M)).await?,
                short: build(&tiles(SHORT_TILE_M)).await?,
            })
        } else {
            None
        };
        let blocks = if self.blocks {
            let mut constants = common.to_vec();
            constants.extend([
                ("WG", BLOCK_WG as f64),
                ("LANES", 1.0),
                ("OUTS", 1.0),
                ("BLOCKS", 1.0),
            ]);
            let (source, constants) = reduce::with_reductions(gpu, MATVEC_MODULE, &constants);
            let name = name("matvec16");
            Some(Kernel::with_layout(gpu, &name, &source, self.layout.clone(), &constants).await?)
        } else {
            None
        };
        let mut constants = common.to_vec();
        constants.extend([
            ("WG", (shape.lanes * shape.groups) as f64),
            ("LANES", shape.lanes as f64),
            ("OUTS", shape.outs as f64),
        ]);
        if matches!(input, Input::Attention | Input::PostNorm) {
            // The combined attention, or the resolved and normed stream, of the token in
            // workgroup memory (8 KiB), when K fits.
            constants.push(("STAGE", 2048.0));
        }
        let (source, constants) = reduce::with_reductions(gpu, MATVEC_MODULE, &constants);
        let matvec = Kernel::with_layout(
            gpu,
            &name("matvec"),
            &source,
            self.layout.clone(),
            &constants,
        )
        .await?;
        self.variants.push(Variant {
            key,
            matmul,
            matvec,
            blocks,
        });
        Ok(())
    }

    /// The bind group of a layer whose w (`n` rows) is in `format`, with `input` and `ep`
    /// (prepared before).
    pub fn bind(
        &self,
        gpu: &Gpu,
        format: Format,
        input: Input,
        ep: Epilogue,
        n: u32,
        io: &LinearIo,
    ) -> LinearBind {
        let key = (format.shader_id(), input, ep);
        let variant = self
            .variants
            .iter()
            .find(|v| v.key == key)
            .expect("Linear::prepare before Linear::bind")
            .clone();
        let (k_cache, v_cache) = io.kv.unwrap_or((&self.unused_k, &self.unused_v));
        let buffers = [
            io.params,
            io.step,
            io.x,
            io.w,
            io.bias.unwrap_or(&self.unused),
            io.out,
            io.norm.unwrap_or(&self.unused),
            io.rope_table.unwrap_or(&self.unused),
            k_cache,
            v_cache,
        ];
        let paired = ep.paired();
        LinearBind {
            parts: vec![PartBind {
                bind: gpu.bind_group("linear", &self.layout, &buffers),
                variant,
                cols: n,
                outputs: if paired { n / 2 } else { n },
            }],
        }
    }

    /// The bind groups of a layer whose w is in `parts` (each prepared before), with the
    /// layer's `params` (each part gets its own copy, with its rows); `io.params` and `io.w`
    /// are not used.
    pub fn bind_parts(
        &self,
        gpu: &Gpu,
        parts: &[weights::Part],
        input: Input,
        ep: Epilogue,
        params: Params,
        io: &LinearIo,
    ) -> LinearBind {
        let parts = parts
            .iter()
            .flat_map(|part| {
                let p = gpu.uniform("linear params", &params.part(part.row0, part.rows));
                let io = LinearIo {
                    params: &p,
                    w: &part.buffer,
                    ..*io
                };
                self.bind(gpu, part.format, input, ep, part.rows as u32, &io)
                    .parts
            })
            .collect();
        LinearBind { parts }
    }

    /// y[rows, ·] for `rows` rows of x: matvec for one row; for more, as `Prompt` says
    /// (matmul on GPUs, matvec per row on lavapipe, matvec's 16-token blocks elsewhere).
    pub fn dispatch(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, l: &LinearBind, rows: u32) {
        for part in &l.parts {
            self.dispatch_part(gpu, pass, part, rows);
        }
    }

    fn dispatch_part(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, l: &PartBind, rows: u32) {
        let groups = l
            .outputs
            .div_ceil(self.matvec_shape.outputs_per_workgroup());
        if rows == 1 {
            l.variant.matvec.dispatch_linear(gpu, pass, &l.bind, groups);
            return;
        }
        match self.matvec_shape.prompt {
            Prompt::PerToken => l
                .variant
                .matvec
                .dispatch(gpu, pass, &l.bind, [groups, 1, rows]),
            Prompt::Blocks => Self::blocks_part(gpu, pass, l, rows),
            Prompt::Matmul => Self::matmul_part(gpu, pass, l, rows),
        }
    }

    /// Whether the 16-token blocks' pipelines are built.
    pub fn has_blocks(&self) -> bool {
        self.blocks
    }

    /// matvec's 16-token blocks even where prompts run otherwise (for their test; the
    /// Linear built `with_blocks`).
    pub fn dispatch_blocks(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass,
        l: &LinearBind,
        rows: u32,
    ) {
        for part in &l.parts {
            Self::blocks_part(gpu, pass, part, rows);
        }
    }

    fn blocks_part(gpu: &Gpu, pass: &mut wgpu::ComputePass, l: &PartBind, rows: u32) {
        let k = l
            .variant
            .blocks
            .as_ref()
            .expect("blocks built (Linear::with_blocks)");
        let groups = [l.cols.div_ceil(BLOCK * BLOCK_WG), 1, rows.div_ceil(BLOCK)];
        k.dispatch(gpu, pass, &l.bind, groups);
    }

    /// The matmul kernel even for one row (for its test; the Linear built `with_matmul`).
    pub fn dispatch_matmul(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass,
        l: &LinearBind,
        rows: u32,
    ) {
        for part in &l.parts {
            Self::matmul_part(gpu, pass, part, rows);
        }
    }

    fn matmul_part(gpu: &Gpu, pass: &mut wgpu::ComputePass, l: &PartBind, rows: u32) {
        let m = l
            .variant
            .matmul
            .as_ref()
            .expect("matmul built (Linear::with_matmul)");
        let (kernel, tile_m) = if rows <= SHORT_TILE_M {
            (&m.short, SHORT_TILE_M)
        } else {
            (&m.tall, TILE_M)
        };
        let groups = [l.cols.div_ceil(TILE_N), rows.div_ceil(tile_m), 1];
        kernel.dispatch(gpu, pass, &l.bind, groups);
    }
}
