//! Llama-family models on the GPU: their buffers and bind groups, and the dispatches of one
//! pass. Per block, 5 dispatches: [attn_norm → q/k/v (stacked in one matrix, + biases) →
//! RoPE → KV cache], [attention (grouped-query, a sliding window on local layers)],
//! [attn_output + residual], [ffn_norm → gate/up (stacked) → SiLU·mul or GELU·mul],
//! [ffn_down + residual]. Every model takes 5, whatever its parts:
//! - Models that norm each q and k head (Qwen 3, Gemma 3): the q/k/v layer leaves q and k
//!   raw, and attention norms and rotates them and writes the keys (attention.wgsl,
//!   QK_NORM).
//! - Gemma's norms after attention and the MLP: those layers store their output y, and the
//!   next layer that reads the residual stream resolves it (`Input::PostNorm`: the stream
//!   is x + rms_norm(y) · g) and writes it back. x then holds three regions of
//!   [chunk, C]: y, then the stream as the q/k/v layer writes it (A), then as gate/up writes
//!   it (B). Block 0's q/k/v reads the embedding from y's region; each block's q/k/v reads
//!   B and y and writes A, its gate/up reads A and y and writes B; the head reads B and y.
//!
//! Quantized weights stay in their blocks (in the GPU layout of weights.rs); the kernels
//! dequantize.

use super::matmul::{Epilogue, Input, Linear, LinearBind, LinearIo, NONE, Params};
use super::model::Io;
use super::model::ModelOptions;
use super::roofline::DecodeCost;
use super::{Gpu, Kernel, attention, embedding, weights};
use crate::cpu::rope_table;
use crate::error::Result;
use crate::model::llama::{Activation, LlamaBlock, LlamaWeights, QTensor, RopeLayout};

struct Kernels {
    embedding: Kernel,
    linear: Linear,
    attention: attention::Attention,
}

/// The bind groups of one block, named after the step they serve.
struct BlockBinds {
    qkv: LinearBind,
    attn: wgpu::BindGroup,
    attn_output: LinearBind,
    gate_up: LinearBind,
    ffn_down: LinearBind,
}

struct PostNorms {
    regions: Regions,
    head_norms: wgpu::Buffer,
    lens_norms: wgpu::Buffer,
}

/// Where the residual stream is in `x` after a block (see the module's notes), in floats.
#[derive(Clone, Copy)]
struct Regions {
    /// The sublayer's output y (where the embedding writes, too).
    y: u32,
    /// The stream as each block's q/k/v layer writes it.
    a: u32,
    /// The stream as gate/up writes it: the block's output is b + post_ffw_norm(y).
    b: u32,
}

pub struct LlamaBody {
    k: Kernels,
    blocks: Vec<BlockBinds>,
    /// One per part of token_embd.
    embed: Vec<wgpu::BindGroup>,
    /// What [`LlamaBody::head`] binds: output_norm and the unembedding (in parts).
    p_out: Params,
    output_norm: wgpu::Buffer,
    output: Vec<weights::Part>,
    /// Gemma's post-norms: x's regions, and the head's norm buffers: output_norm's gain, then
    /// the post_ffw_norm gain the head resolves as it reads the last block's output; and
    /// then every block's (the logit lens: row i is block i's output).
    post_norms: Option<PostNorms>,
    step: wgpu::Buffer,
    /// [chunk, C] the residual stream (with post-norms [3, chunk, C]: see `Regions`)
    pub x: wgpu::Buffer,
    n_embd: u32,
    n_head: u32,
    pub kv_cache_bytes: u64,
    pub cost: DecodeCost,
}

/// Bytes of `t` on the GPU, and its multiply-adds per token.
fn linear_cost(t: &QTensor) -> (u64, u64) {
    let bytes = weights::row_words(t.format, t.cols) * t.rows * 4;
    (bytes as u64, (t.rows * t.cols) as u64)
}

/// The row of Hugging Face's RoPE layout (pairs (i, i + hs/2) of each head) that goes to
/// row `r` in the adjacent pairs (2i, 2i + 1) the kernel rotates.
fn adjacent_source(r: usize, head_size: usize) -> usize {
    let (head, j) = (r / head_size, r % head_size);
    head * head_size
        + if j % 2 == 0 {
            j / 2
        } else {
            head_size / 2 + j / 2
        }
}

/// q or k rows reordered by [`adjacent_source`]. q and k get the same order, so q · k, and
/// the attention, are unchanged.
fn to_adjacent(t: &QTensor, head_size: usize) -> QTensor {
    let row_bytes = t.bytes.len() / t.rows;
    let bytes = (0..t.rows)
        .flat_map(|r| &t.bytes[adjacent_source(r, head_size) * row_bytes..][..row_bytes])
        .copied()
        .collect();
    QTensor {
        format: t.format,
        rows: t.rows,
        cols: t.cols,
        bytes,
    }
}

/// A vector over q or k rows (a bias, or a head's norm gain when `v` has `head_size`
/// values) in the order of [`to_adjacent`].
fn to_adjacent_vec(v: &[f32], head_size: usize) -> Vec<f32> {
    (0..v.len())
        .map(|r| v[adjacent_source(r, head_size)])
        .collect()
}

/// What the GPU reads of a block's q/k/v layer: q and k in the kernel's RoPE order, the
/// biases stacked (or none), the q and k norm gains side by side (or none).
struct QkvParts {
    q: QTensor,
    k: QTensor,
    bias: Option<Vec<f32>>,
    qk_norm: Option<Vec<f32>>,
}

impl QkvParts {
    fn new(b: &LlamaBlock, layout: RopeLayout, hs: usize) -> Self {
        let halves = layout == RopeLayout::Halves;
        let reorder = |v: &[f32]| {
            if halves {
                to_adjacent_vec(v, hs)
            } else {
                v.to_vec()
            }
        };
        let (q, k) = if halves {
            (to_adjacent(&b.attn_q, hs), to_adjacent(&b.attn_k, hs))
        } else {
            (b.attn_q.clone(), b.attn_k.clone())
        };
        let bias = b.attn_q_bias.as_ref().map(|qb| {
            let zeros = |n: usize| vec![0.0; n];
            let kb = b
                .attn_k_bias
                .clone()
                .unwrap_or_else(|| zeros(b.attn_k.rows));
            let vb = b
                .attn_v_bias
                .clone()
                .unwrap_or_else(|| zeros(b.attn_v.rows));
            [reorder(qb), reorder(&kb), vb].concat()
        });
        let qk_norm = match (&b.attn_q_norm, &b.attn_k_norm) {
            (Some(qn), Some(kn)) => Some([reorder(qn), reorder(kn)].concat()),
            _ => None,
        };
        Self {
            q,
            k,
            bias,
            qk_norm,
        }
    }
}

impl LlamaBody {
    pub async fn new(
        gpu: &Gpu,
        w: &LlamaWeights,
        io: &Io,
        ctx: usize,
        chunk: usize,
        capture: &attention::Capture,
        opts: &ModelOptions,
    ) -> Result<Self> {
        let kv = opts.kv_cache;
        let max_part = opts
            .max_part_bytes
            .unwrap_or(u64::MAX)
            .min(gpu.max_binding());
        let cfg = &w.config;
        let (c, f, v, hs) = (cfg.n_embd, cfg.n_ff, cfg.vocab_size, cfg.head_size);
        let (qw, kvw) = (cfg.q_width(), cfg.kv_width());
        let qkv_w = qw + 2 * kvw;
        // q and k in the kernel's RoPE order; gate and up stacked (an output reads a row of
        // each: one part, in f32 if their formats differ). q, k and v stay apart: each run
        // of one format becomes a part of the fused q/k/v layer.
        let stacked: Vec<(QkvParts, QTensor)> = w
            .blocks
            .iter()
            .map(|b| {
                (
                    QkvParts::new(b, cfg.rope_layout, hs),
                    QTensor::stack(&[&b.ffn_gate, &b.ffn_up]),
                )
            })
            .collect();
        let qk_normed = stacked.iter().any(|(p, _)| p.qk_norm.is_some());
        // Gemma's norms after attention and the MLP (the loader reads both or neither).
        let post_ffw: Option<Vec<f32>> = w
            .blocks
            .iter()
            .map(|b| b.post_ffw_norm.clone())
            .collect::<Option<Vec<_>>>()
            .map(|v| v.concat());
        let post_normed = post_ffw.is_some();
        let regions = post_normed.then(|| {
            let r = (chunk * c) as u32;
            Regions {
                y: 0,
                a: r,
                b: 2 * r,
            }
        });
        let gate_up_ep = match cfg.activation {
            Activation::Silu => Epilogue::SwiGlu,
            Activation::GeluTanh => Epilogue::GeGlu,
        };
        // With post-norms, a sublayer stores its output and the next reader of the stream
        // resolves it.
        let (stream_in, sublayer_ep) = match post_normed {
            true => (Input::PostNorm, Epilogue::Store),
            false => (Input::RmsNorm, Epilogue::Residual),
        };
        let mut linear = Linear::new(gpu, opts.shapes_on(gpu))?.with_kv_cache(kv);
        linear
            .prepare(gpu, w.output().format, stream_in, Epilogue::Store)
            .await?;
        for (b, (qkv, gu)) in w.blocks.iter().zip(&stacked) {
            for f in [qkv.q.format, qkv.k.format, b.attn_v.format] {
                linear.prepare(gpu, f, stream_in, Epilogue::Qkv).await?;
            }
            linear
                .prepare(gpu, gu.format, stream_in, gate_up_ep)
                .await?;
            linear
                .prepare(gpu, b.attn_output.format, Input::Attention, sublayer_ep)
                .await?;
            linear
                .prepare(gpu, b.ffn_down.format, Input::Raw, sublayer_ep)
                .await?;
        }
        let group = (cfg.n_head / cfg.n_kv_head) as u32;
        let k = Kernels {
            embedding: embedding::kernel(gpu, w.token_embd.format).await?,
            linear,
            attention: attention::kernel(gpu, hs as u32, group, kv, qk_normed).await?,
        };
        let f32s = |n: usize| (n * 4) as u64;
        let step = &io.step;
        let x_regions = if post_normed { 3 } else { 1 };
        let x = gpu.storage("x", f32s(x_regions * chunk * c))?;
        // q, or where the heads are normed, q and k side by side as the matrix gives them
        // (attention norms and rotates them).
        let q_stride = if qk_normed { qw + kvw } else { qw };
        let q = gpu.storage("q", f32s(chunk * q_stride))?;
        // The attention's partials: chunk queries × heads in prompt passes, one query × heads ×
        // up to MAX_SPLITS splits in decode.
        let att_rows = chunk.max(attention::MAX_SPLITS as usize) * cfg.n_head;
        let att = gpu.storage("att", f32s(attention::partial_floats(att_rows, hs)))?;
        let h = gpu.storage("h", f32s(chunk * f))?;
        let rope_table = |theta: f32| {
            let table: Vec<f32> = rope_table(ctx, hs, theta, &cfg.rope_freq_factors)
                .into_iter()
                .flatten()
                .collect();
            gpu.storage_init("rope table", &table)
        };

        let eps = cfg.rms_norm_eps;
        let p_qkv = Params {
            eps,
            q_width: qw as u32,
            kv_width: kvw as u32,
            head_size: hs as u32,
            rope: if qk_normed { 2 } else { 1 },
            ..Params::new(c, qkv_w)
        };
        let p_o = Params {
            head_size: hs as u32,
            ..Params::new(qw, c)
        };
        // gate/up reads the stream as the q/k/v layer left it, and y, and writes it back.
        let p_gu = Params {
            eps,
            ..Params::new(c, 2 * f)
        };
        let p_gu = gpu.uniform(
            "linear params",
            &regions.map_or(p_gu, |r| resolving(p_gu, r.a, r.y, r.b)),
        );
        let p_down = Params::new(f, c);
        let p_out = Params {
            eps,
            ..Params::new(c, v)
        };
        let (probs_stride, probs_rows) = capture.stride_and_rows();
        let attn_params_for = |window: usize| {
            gpu.uniform(
                "attention params",
                &attention::Params {
                    n_head: cfg.n_head as u32,
                    n_kv_head: cfg.n_kv_head as u32,
                    head_size: hs as u32,
                    q_stride: q_stride as u32,
                    kv_stride: kvw as u32,
                    probs_stride,
                    probs_rows,
                    scale: cfg.attention_scale,
                    window: window as u32,
                    eps,
                    _pad: [0; 2],
                },
            )
        };
        // Each kind of layer's RoPE table and attention parameters: global, and (Gemma's)
        // local, with their sliding window.
        let global = (rope_table(cfg.rope_theta)?, attn_params_for(0));
        let local = match cfg.local_layers.iter().any(|&l| l) {
            true => Some((
                rope_table(cfg.rope_theta_local)?,
                attn_params_for(cfg.sliding_window),
            )),
            false => None,
        };
        let mut blocks = Vec::with_capacity(cfg.n_layer);
        let parts = |name: &str, t: &[&QTensor]| weights::upload_parts(gpu, name, t, max_part);
        for (i, (b, (qkv, gu_t))) in w.blocks.iter().zip(&stacked).enumerate() {
            let name = |s: &str| format!("blk.{i}.{s}");
            let vector = |s: &str, v: &Option<Vec<f32>>| {
                v.as_ref()
                    .map(|v| gpu.storage_init(&name(s), v))
                    .transpose()
            };
            // With post-norms, a norm's buffer holds the layer's gain, then the gain of the
            // post-norm it resolves: the previous block's post_ffw_norm for q/k/v (none in
            // block 0, which reads the embedding as it is), this block's
            // post_attention_norm for gate/up.
            let after_ffw = i
                .checked_sub(1)
                .and_then(|j| w.blocks[j].post_ffw_norm.as_deref());
            let gains = |g: &[f32], post: Option<&[f32]>| [g, post.unwrap_or_default()].concat();
            let attn_gains = gains(&b.attn_norm, after_ffw);
            let ffn_gains = gains(&b.ffn_norm, b.post_attention_norm.as_deref());
            let (attn_norm, ffn_norm, w_qkv, w_o, w_gu, w_down) = gpu
                .uploading(&name("*"), || {
                    Ok((
                        gpu.storage_init(&name("attn_norm"), &attn_gains)?,
                        gpu.storage_init(&name("ffn_norm"), &ffn_gains)?,
                        parts(&name("attn_qkv"), &[&qkv.q, &qkv.k, &b.attn_v])?,
                        parts(&name("attn_output"), &[&b.attn_output])?,
                        weights::upload(gpu, &name("ffn_gate_up"), gu_t)?,
                        parts(&name("ffn_down"), &[&b.ffn_down])?,
                    ))
                })
                .await?;
            let qkv_bias = vector("attn_qkv.bias", &qkv.bias)?;
            let qk_norm_w = vector("attn_qk_norm", &qkv.qk_norm)?;
            let k_cache =
                gpu.storage(&name("k_cache"), (ctx * kvw * kv.bytes_per_value()) as u64)?;
            let v_cache =
                gpu.storage(&name("v_cache"), (ctx * kvw * kv.bytes_per_value()) as u64)?;
            let (table, attn_params) = match &local {
                Some((table, params)) if cfg.local_layers[i] => (table, params),
                _ => (&global.0, &global.1),
            };
            // params and w are each part's own (Linear::bind_parts): placeholders here.
            let unused = &io.unused;
            let io = |x, out| LinearIo {
                params: unused,
                step,
                x,
                w: unused,
                bias: None,
                out,
                norm: None,
                rope_table: None,
                kv: None,
            };
            let lin = &k.linear;
            let mut p_qkv = Params {
                has_bias: qkv_bias.is_some() as u32,
                ..p_qkv
            };
            // q/k/v reads the stream as gate/up left it and y (block 0: the embedding, in
            // y's region, as it is), and writes it to A.
            if let Some(r) = regions {
                p_qkv = match after_ffw {
                    Some(_) => resolving(p_qkv, r.b, r.y, r.a),
                    None => resolving(p_qkv, r.y, NONE, r.a),
                };
            }
            blocks.push(BlockBinds {
                qkv: lin.bind_parts(
                    gpu,
                    &w_qkv,
                    stream_in,
                    Epilogue::Qkv,
                    p_qkv,
                    &LinearIo {
                        bias: qkv_bias.as_ref(),
                        norm: Some(&attn_norm),
                        rope_table: Some(table),
                        kv: Some((&k_cache, &v_cache)),
                        ..io(&x, &q)
                    },
                ),
                attn: k.attention.kernel.bind(
                    gpu,
                    &[
                        attn_params,
                        step,
                        &q,
                        &k_cache,
                        &v_cache,
                        &att,
                        capture.layer(i),
                        table,
                        qk_norm_w.as_ref().unwrap_or(unused),
                    ],
                ),
                // A sublayer's output: added to the stream, or stored in y's region (at 0).
                attn_output: lin.bind_parts(
                    gpu,
                    &w_o,
                    Input::Attention,
                    sublayer_ep,
                    p_o,
                    &io(&att, &x),
                ),
                gate_up: lin.bind(
                    gpu,
                    gu_t.format,
                    stream_in,
                    gate_up_ep,
                    2 * f as u32,
                    &LinearIo {
                        params: &p_gu,
                        w: &w_gu,
                        norm: Some(&ffn_norm),
                        ..io(&x, &h)
                    },
                ),
                ffn_down: lin.bind_parts(
                    gpu,
                    &w_down,
                    Input::Raw,
                    sublayer_ep,
                    p_down,
                    &io(&h, &x),
                ),
            });
        }

        let (token_embd, output) = gpu
            .uploading("token_embd and output", || {
                let token_embd = parts("token_embd", &[&w.token_embd])?;
                let output = match &w.output {
                    Some(t) => parts("output", &[t])?,
                    None => token_embd.clone(), // tied: the same buffers
                };
                Ok((token_embd, output))
            })
            .await?;
        let embed = token_embd
            .iter()
            .map(|part| {
                let p = embedding::Params {
                    scale: cfg.embedding_scale,
                    ..embedding::Params::new(c, v, false)
                };
                let params = gpu.uniform("embedding params", &p.part(part.row0, part.rows));
                k.embedding.bind(
                    gpu,
                    &[&params, step, &io.tokens, &part.buffer, &io.unused, &x],
                )
            })
            .collect();
        let output_norm = gpu.storage_init("output_norm", &w.output_norm)?;
        let post_norms = match (regions, &post_ffw) {
            (Some(regions), Some(post_ffw)) => {
                let norms = |gains: &[f32]| {
                    let v = [w.output_norm.as_slice(), gains].concat();
                    gpu.storage_init("output_norm and post_ffw_norm", &v)
                };
                Some(PostNorms {
                    regions,
                    head_norms: norms(&post_ffw[post_ffw.len() - c..])?,
                    lens_norms: norms(post_ffw)?,
                })
            }
            _ => None,
        };
        let mut cost = DecodeCost {
            kv_bytes_per_pos: (cfg.n_layer * 2 * kvw * kv.bytes_per_value()) as u64,
            kv_fma_per_pos: (cfg.n_layer * 2 * qw) as u64,
            ..DecodeCost::default()
        };
        let embedding_row = linear_cost(&w.token_embd).0 / v as u64;
        let norms: usize = w
            .blocks
            .iter()
            .map(|b| 2 * c + b.optional_vectors().map(Vec::len).sum::<usize>())
            .sum();
        cost.weight_bytes = embedding_row + 4 * norms as u64;
        let matrices = w.blocks.iter().zip(&stacked).flat_map(|(b, (qkv, gu))| {
            [&qkv.q, &qkv.k, &b.attn_v, gu, &b.attn_output, &b.ffn_down]
        });
        for t in matrices.chain([w.output()]) {
            let (bytes, fma) = linear_cost(t);
            cost.weight_bytes += bytes;
            cost.weight_fma += fma;
        }
        Ok(Self {
            k,
            blocks,
            embed,
            p_out,
            output_norm,
            output,
            post_norms,
            step: step.clone(),

            x,
            n_embd: c as u32,
            n_head: cfg.n_head as u32,
            kv_cache_bytes: 2 * cfg.n_layer as u64 * (ctx * kvw * kv.bytes_per_value()) as u64,
            cost,
        })
    }

    pub fn n_layer(&self) -> usize {
        self.blocks.len()
    }

    pub fn attention(&self) -> &attention::Attention {
        &self.k.attention
    }

    pub fn encode_embedding(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, t: u32) {
        for bind in &self.embed {
            embedding::dispatch(gpu, &self.k.embedding, pass, bind, t, self.n_embd);
        }
    }

    /// Block `i` over `t` tokens: the residual stream `x` in and out.
    /// `splits`: of the keys in attention (see attention::splits).
    pub fn encode_block(
        &self,
        gpu: &Gpu,
        pass: &mut wgpu::ComputePass,
        i: usize,
        t: u32,
        splits: u32,
    ) {
        let (k, b) = (&self.k, &self.blocks[i]);
        k.linear.dispatch(gpu, pass, &b.qkv, t);
        k.attention
            .dispatch(gpu, pass, &b.attn, self.n_head, t, splits);
        k.linear.dispatch(gpu, pass, &b.attn_output, t);
        k.linear.dispatch(gpu, pass, &b.gate_up, t);
        k.linear.dispatch(gpu, pass, &b.ffn_down, t);
    }

    /// Where a block's output is in `x`, in bytes: the stream's rows, and with post-norms
    /// the rows of the last sublayer's output (the block's output is their sum after the
    /// post-norm, resolved by whoever reads it).
    pub fn stream(&self) -> (u64, Option<u64>) {
        match &self.post_norms {
            Some(p) => (p.regions.b as u64 * 4, Some(p.regions.y as u64 * 4)),
            None => (0, None),
        }
    }

    /// output_norm and output from rows of `x` [rows, C] to `logits` [rows, V]: one row, the
    /// last block's output, or with `per_layer` one per block (the logit lens). With
    /// post-norms, x holds the rows of the stream, then as many of the last sublayer's
    /// output (see [`LlamaBody::stream`]), each row resolved with its own block's
    /// post_ffw_norm.
    pub fn head(
        &self,
        gpu: &Gpu,
        x: &wgpu::Buffer,
        logits: &wgpu::Buffer,
        per_layer: bool,
    ) -> LinearBind {
        let (input, params, norm) = match &self.post_norms {
            Some(p) => {
                let c = self.n_embd;
                let rows = if per_layer { self.n_layer() } else { 1 };
                let params = Params {
                    post_stride: if per_layer { c } else { 0 },
                    ..resolving(self.p_out, 0, rows as u32 * c, NONE)
                };
                let norms = if per_layer {
                    &p.lens_norms
                } else {
                    &p.head_norms
                };
                (Input::PostNorm, params, norms)
            }
            None => (Input::RmsNorm, self.p_out, &self.output_norm),
        };
        self.k.linear.bind_parts(
            gpu,
            &self.output,
            input,
            Epilogue::Store,
            params,
            &LinearIo {
                params: &self.output_norm,
                step: &self.step,
                x,
                w: &self.output_norm,
                bias: None,
                out: logits,
                norm: Some(norm),
                rope_table: None,
                kv: None,
            },
        )
    }

    pub fn encode_head(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, h: &LinearBind, rows: u32) {
        self.k.linear.dispatch(gpu, pass, h, rows);
    }
}

/// `p` for a layer that reads the stream at `x_at` after the sublayer output at `y_at`
/// (`Input::PostNorm`), and writes it to `out_at`: floats into x, or NONE.
fn resolving(p: Params, x_at: u32, y_at: u32, out_at: u32) -> Params {
    Params {
        x_at,
        y_at,
        out_at,
        ..p
    }
}
