//! `shaders/attention.wgsl`: causal softmax attention over the (f16) KV cache, split over
//! the keys in decode; the next layer combines the splits (linear.wgsl, `Input::Attention`).

use super::{Gpu, Kernel, Shapes, Slot, reduce};
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
    pub probs_stride: u32,
    /// Positions the probabilities buffer holds per head; 0 when there is none.
    pub probs_rows: u32,
    pub scale: f32,
    /// Keys a query sees, itself included (a sliding window); 0: all.
    pub window: u32,
    /// The q and k heads' RMS norm epsilon (`qk_norm` kernels).
    pub eps: f32,
    pub _pad: [u32; 2],
}

/// How the KV cache stores its values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KvCache {
    /// f16 pairs packed in u32: half the memory and the reads of f32 (no shader-f16 needed).
    #[default]
    F16,
    /// f32: exact, for comparisons with f32 references.
    F32,
}

impl KvCache {
    pub fn bytes_per_value(self) -> usize {
        match self {
            KvCache::F16 => 2,
            KvCache::F32 => 4,
        }
    }

    /// The `KV_F16` override of attention.wgsl and linear.wgsl.
    pub fn constant(self) -> (&'static str, f64) {
        ("KV_F16", (self == KvCache::F16) as u32 as f64)
    }
}

/// The attention kernel of one model: each workgroup takes `heads` query heads of one
/// key/value head, and keeps the first `scores` scores of its split.
pub struct Attention {
    pub kernel: Kernel,
    pub heads: u32,
    pub scores: u32,
}

/// Slots: params, step, q, k_cache, v_cache, out, probs, rope table, norm. The workgroup is
/// as wide as the head (at least 64), so that its invocations cover the head's dimensions
/// (the output's in pairs); `group` query heads share each key/value head (n_head /
/// n_kv_head), and each workgroup scores up to 4 of them at once. `qk_norm` (Qwen 3,
/// Gemma 3): q holds q and k raw, each head RMS-normed (gains in norm) and rotated here, and
/// this pass's keys written to the cache here (attention.wgsl, QK_NORM); else the table and
/// norm slots take placeholders.
pub async fn kernel(
    gpu: &Gpu,
    head_size: u32,
    group: u32,
    kv: KvCache,
    qk_norm: bool,
) -> Result<Attention> {
    if head_size > 256 || !head_size.is_multiple_of(2) {
        return Err(LanternError::Gpu(format!(
            "head size {head_size}: the attention kernel takes even head sizes up to 256"
        )));
    }
    let wg = head_size.next_power_of_two().max(64);
    let heads = heads_per_workgroup(group);
    // WebGPU's default limit, which every adapter has: the same scores kept everywhere (the
    // page's and the native engine's kernels alike), and the kernel tests see them.
    let budget = gpu.limits.max_compute_workgroup_storage_size.min(16384);
    let scores = kept_scores(heads, wg, budget);
    use Slot::*;
    let constants = [
        ("WG", wg as f64),
        kv.constant(),
        ("QK_NORM", qk_norm as u32 as f64),
    ];
    let (source, constants) = reduce::with_reductions(gpu, &source(heads, scores), &constants);
    let kernel = Kernel::new(
        gpu,
        "attention",
        &source,
        &[
            Uniform, Uniform, Read, ReadWrite, Read, ReadWrite, ReadWrite, Read, Read,
        ],
        &constants,
    )
    .await?;
    Ok(Attention {
        kernel,
        heads,
        scores,
    })
}

/// Query heads per workgroup: the most, up to 4 (a vec4f of scores), that divides `group`.
pub fn heads_per_workgroup(group: u32) -> u32 {
    (1..=4)
        .rev()
        .find(|h| group.is_multiple_of(*h))
        .unwrap_or(1)
}

/// Bytes of one `Hv` in workgroup memory (a vec3f takes a vec4f's 16).
fn hv_bytes(heads: u32) -> u32 {
    match heads {
        1 => 4,
        2 => 8,
        _ => 16,
    }
}

/// Scores a workgroup keeps (a power of two, at most 1,024): what workgroup memory holds
/// within `budget` bytes beside the queries and exponentials (WG Hv each), the QK_NORM
/// gains (256 f32) and keys' norms (128 f32), and the reductions' scratch (at most 16 bytes
/// per invocation).
pub fn kept_scores(heads: u32, wg: u32, budget: u32) -> u32 {
    let hv = hv_bytes(heads);
    let other = 2 * wg * hv + (256 + 128) * 4 + 16 * wg;
    let fit = budget.saturating_sub(other) / hv;
    match fit {
        0 => 1,
        n => (1u32 << n.ilog2()).min(1024),
    }
}

/// attention.wgsl with its `heads` block written for `heads` query heads per workgroup and
/// `scores` kept scores.
pub fn source(heads: u32, scores: u32) -> String {
    let (begin, end) = ("// heads {\n", "// } heads\n");
    let at = SOURCE
        .find(begin)
        .expect("attention.wgsl has a heads block")
        + begin.len();
    let to = SOURCE
        .find(end)
        .expect("attention.wgsl ends its heads block");
    // One head: Hv is a scalar, which has no components to index.
    let (ty, get, set) = match heads {
        1 => ("f32".to_string(), "v", "*v"),
        _ => (format!("vec{heads}f"), "v[i]", "(*v)[i]"),
    };
    let (to4, from4) = match heads {
        1 => ("vec4f(v, 0.0, 0.0, 0.0)", "v.x"),
        2 => ("vec4f(v, 0.0, 0.0)", "v.xy"),
        3 => ("vec4f(v, 0.0)", "v.xyz"),
        _ => ("v", "v"),
    };
    let block = format!(
        "alias Hv = {ty};\nconst HEADS: u32 = {heads}u;\nconst SCORES: u32 = {scores}u;\n\
         fn hv(v: Hv, i: u32) -> f32 {{ return {get}; }}\n\
         fn hv_set(v: ptr<function, Hv>, i: u32, x: f32) {{ {set} = x; }}\n\
         fn hv4(v: Hv) -> vec4f {{ return {to4}; }}\n\
         fn from4(v: vec4f) -> Hv {{ return {from4}; }}\n"
    );
    format!("{}{block}{}", &SOURCE[..at], &SOURCE[to..])
}

/// Most splits of the keys per (heads, query).
pub const MAX_SPLITS: u32 = 16;

impl Attention {
    /// Splits of `n_keys` keys for one query: enough workgroups to keep a GPU busy (one
    /// split per 256 keys), fewer on a CPU adapter (one per 1,024), where a few workgroups
    /// already fill its threads and each split costs its own reductions; never more keys
    /// than a workgroup keeps the scores of.
    pub fn splits(&self, shapes: Shapes, n_keys: usize) -> u32 {
        let per = match shapes {
            Shapes::Cpu => 1024,
            Shapes::Gpu => 256,
        };
        let per = per.min(self.scores as usize);
        (n_keys.div_ceil(per) as u32).clamp(1, MAX_SPLITS)
    }

    /// One workgroup per (`heads` query heads, query, split).
    pub fn dispatch(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass,
        bind: &wgpu::BindGroup,
        n_head: u32,
        n_tokens: u32,
        splits: u32,
    ) {
        let groups = [n_head / self.heads, n_tokens, splits];
        self.kernel.dispatch(gpu, pass, bind, groups);
    }
}

/// Floats of the partials of `rows` (head, query, split) triples: (m, l, o[head_size]) each.
pub fn partial_floats(rows: usize, head_size: usize) -> usize {
    rows * (head_size + 2)
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
