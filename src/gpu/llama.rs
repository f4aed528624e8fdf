//! Llama-family models on the GPU: their buffers and bind groups, and the dispatches of one
//! pass. Per block, 5 dispatches: [attn_norm → q/k/v (stacked in one matrix, + biases) →
//! RoPE → KV cache], [attention (grouped-query, a sliding window on local layers)],
//! [attn_output + residual], [ffn_norm → gate/up (stacked) → SiLU·mul or GELU·mul],
//! [ffn_down + residual]. Models that norm each q and k head (Qwen 3, Gemma 3) add
//! [qk_norm → RoPE → KV cache] after the q/k/v layer, and Gemma's norms after attention and
//! the MLP turn each residual add into a store and [post_norm + residual]: 6 and 8 per
//! block. Quantized weights stay in their blocks (in the GPU layout of weights.rs); the
//! kernels dequantize.

use super::matmul::{Epilogue, Input, Linear, LinearBind, LinearIo, Params};
use super::model::Io;
use super::model::ModelOptions;
use super::roofline::DecodeCost;
use super::{Gpu, Kernel, attention, embedding, post_norm, qk_norm, weights};
use crate::cpu::rope_table;
use crate::error::Result;
use crate::model::llama::{Activation, LlamaBlock, LlamaWeights, QTensor, RopeLayout};

struct Kernels {
    embedding: Kernel,
    linear: Linear,
    attention: Kernel,
    /// Models that norm each q and k head.
    qk_norm: Option<Kernel>,
    /// Models with norms after attention and the MLP.
    post_norm: Option<Kernel>,
}

/// The bind groups of one block, named after the step they serve.
struct BlockBinds {
    qkv: LinearBind,
    qk_norm: Option<wgpu::BindGroup>,
    attn: wgpu::BindGroup,
    attn_output: LinearBind,
    post_attention_norm: Option<wgpu::BindGroup>,
    gate_up: LinearBind,
    ffn_down: LinearBind,
    post_ffw_norm: Option<wgpu::BindGroup>,
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
    step: wgpu::Buffer,
    /// [chunk, C] the residual stream
    pub x: wgpu::Buffer,
    n_embd: u32,
    n_head: u32,
    n_kv_head: u32,
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
        let post_normed = w
            .blocks
            .iter()
            .any(|b| b.post_attention_norm.is_some() || b.post_ffw_norm.is_some());
        let gate_up_ep = match cfg.activation {
            Activation::Silu => Epilogue::SwiGlu,
            Activation::GeluTanh => Epilogue::GeGlu,
        };
        // Gemma's norms after a sublayer: the layer stores its output, post_norm adds it.
        let sublayer_ep = |norm: &Option<Vec<f32>>| match norm {
            Some(_) => Epilogue::Store,
            None => Epilogue::Residual,
        };
        let mut linear = Linear::new(gpu)?.with_kv_cache(kv);
        linear
            .prepare(gpu, w.output().format, Input::RmsNorm, Epilogue::Store)
            .await?;
        for (b, (qkv, gu)) in w.blocks.iter().zip(&stacked) {
            for f in [qkv.q.format, qkv.k.format, b.attn_v.format] {
                linear
                    .prepare(gpu, f, Input::RmsNorm, Epilogue::Qkv)
                    .await?;
            }
            linear
                .prepare(gpu, gu.format, Input::RmsNorm, gate_up_ep)
                .await?;
            let o_ep = sublayer_ep(&b.post_attention_norm);
            linear
                .prepare(gpu, b.attn_output.format, Input::Attention, o_ep)
                .await?;
            let down_ep = sublayer_ep(&b.post_ffw_norm);
            linear
                .prepare(gpu, b.ffn_down.format, Input::Raw, down_ep)
                .await?;
        }
        let k = Kernels {
            embedding: embedding::kernel(gpu, w.token_embd.format).await?,
            linear,
            attention: attention::kernel(gpu, hs as u32, kv).await?,
            qk_norm: match qk_normed {
                true => Some(qk_norm::kernel(gpu, hs as u32, kv).await?),
                false => None,
            },
            post_norm: match post_normed {
                true => Some(post_norm::kernel(gpu).await?),
                false => None,
            },
        };
        let f32s = |n: usize| (n * 4) as u64;
        let step = &io.step;
        let x = gpu.storage("x", f32s(chunk * c))?;
        // q, or where qk_norm is used, q and k side by side (normed in place there).
        let q_stride = if qk_normed { qw + kvw } else { qw };
        let q = gpu.storage("q", f32s(chunk * q_stride))?;
        // The attention's partials: chunk queries × heads in prompt passes, one query × heads ×
        // up to MAX_SPLITS splits in decode.
        let att_rows = chunk.max(attention::MAX_SPLITS as usize) * cfg.n_head;
        let att = gpu.storage("att", f32s(attention::partial_floats(att_rows, hs)))?;
        let h = gpu.storage("h", f32s(chunk * f))?;
        // A sublayer's output before its post-norm.
        let y = match post_normed {
            true => Some(gpu.storage("y", f32s(chunk * c))?),
            false => None,
        };
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
        let p_gu = gpu.uniform(
            "linear params",
            &Params {
                eps,
                ..Params::new(c, 2 * f)
            },
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
                    _pad: [0; 3],
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
        let p_qk_norm = gpu.uniform(
            "qk_norm params",
            &qk_norm::Params {
                n_head: cfg.n_head as u32,
                n_kv_head: cfg.n_kv_head as u32,
                head_size: hs as u32,
                eps,
            },
        );
        let p_post_norm = gpu.uniform(
            "post_norm params",
            &post_norm::Params {
                n_embd: c as u32,
                eps,
                _pad: [0; 2],
            },
        );
        let mut blocks = Vec::with_capacity(cfg.n_layer);
        let parts = |name: &str, t: &[&QTensor]| weights::upload_parts(gpu, name, t, max_part);
        for (i, (b, (qkv, gu_t))) in w.blocks.iter().zip(&stacked).enumerate() {
            let name = |s: &str| format!("blk.{i}.{s}");
            let vector = |s: &str, v: &Option<Vec<f32>>| {
                v.as_ref()
                    .map(|v| gpu.storage_init(&name(s), v))
                    .transpose()
            };
            let (attn_norm, ffn_norm, w_qkv, w_o, w_gu, w_down) = gpu
                .uploading(&name("*"), || {
                    Ok((
                        gpu.storage_init(&name("attn_norm"), &b.attn_norm)?,
                        gpu.storage_init(&name("ffn_norm"), &b.ffn_norm)?,
                        parts(&name("attn_qkv"), &[&qkv.q, &qkv.k, &b.attn_v])?,
                        parts(&name("attn_output"), &[&b.attn_output])?,
                        weights::upload(gpu, &name("ffn_gate_up"), gu_t)?,
                        parts(&name("ffn_down"), &[&b.ffn_down])?,
                    ))
                })
                .await?;
            let qkv_bias = vector("attn_qkv.bias", &qkv.bias)?;
            let qk_norm_w = vector("attn_qk_norm", &qkv.qk_norm)?;
            let post_attention_norm = vector("post_attention_norm", &b.post_attention_norm)?;
            let post_ffw_norm = vector("post_ffw_norm", &b.post_ffw_norm)?;
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
            let p_qkv = Params {
                has_bias: qkv_bias.is_some() as u32,
                ..p_qkv
            };
            // A sublayer's output: added to x, or stored in y for its post-norm.
            let sublayer_out = |norm: &Option<wgpu::Buffer>| match (norm, &y) {
                (Some(_), Some(y)) => y,
                _ => &x,
            };
            let post_norm_bind = |norm: &Option<wgpu::Buffer>| {
                let (kernel, y, g) = (k.post_norm.as_ref()?, y.as_ref()?, norm.as_ref()?);
                Some(kernel.bind(gpu, &[&p_post_norm, y, g, &x]))
            };
            blocks.push(BlockBinds {
                qkv: lin.bind_parts(
                    gpu,
                    &w_qkv,
                    Input::RmsNorm,
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
                qk_norm: match (&k.qk_norm, &qk_norm_w) {
                    (Some(kernel), Some(g)) => {
                        Some(kernel.bind(gpu, &[&p_qk_norm, step, &q, g, table, &k_cache]))
                    }
                    _ => None,
                },
                attn: k.attention.bind(
                    gpu,
                    &[
                        attn_params,
                        step,
                        &q,
                        &k_cache,
                        &v_cache,
                        &att,
                        capture.layer(i),
                    ],
                ),
                attn_output: lin.bind_parts(
                    gpu,
                    &w_o,
                    Input::Attention,
                    sublayer_ep(&b.post_attention_norm),
                    p_o,
                    &io(&att, sublayer_out(&post_attention_norm)),
                ),
                post_attention_norm: post_norm_bind(&post_attention_norm),
                gate_up: lin.bind(
                    gpu,
                    gu_t.format,
                    Input::RmsNorm,
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
                    sublayer_ep(&b.post_ffw_norm),
                    p_down,
                    &io(&h, sublayer_out(&post_ffw_norm)),
                ),
                post_ffw_norm: post_norm_bind(&post_ffw_norm),
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
            step: step.clone(),

            x,
            n_embd: c as u32,
            n_head: cfg.n_head as u32,
            n_kv_head: cfg.n_kv_head as u32,
            kv_cache_bytes: 2 * cfg.n_layer as u64 * (ctx * kvw * kv.bytes_per_value()) as u64,
            cost,
        })
    }

    pub fn n_layer(&self) -> usize {
        self.blocks.len()
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
        let post_norm = |pass: &mut wgpu::ComputePass, bind: &Option<wgpu::BindGroup>| {
            if let (Some(kernel), Some(bind)) = (&k.post_norm, bind) {
                post_norm::dispatch(gpu, kernel, pass, bind, t);
            }
        };
        k.linear.dispatch(gpu, pass, &b.qkv, t);
        if let (Some(kernel), Some(bind)) = (&k.qk_norm, &b.qk_norm) {
            let heads = self.n_head + self.n_kv_head;
            qk_norm::dispatch(gpu, kernel, pass, bind, heads, t);
        }
        attention::dispatch(gpu, &k.attention, pass, &b.attn, self.n_head, t, splits);
        k.linear.dispatch(gpu, pass, &b.attn_output, t);
        post_norm(pass, &b.post_attention_norm);
        k.linear.dispatch(gpu, pass, &b.gate_up, t);
        k.linear.dispatch(gpu, pass, &b.ffn_down, t);
        post_norm(pass, &b.post_ffw_norm);
    }

    /// output_norm and output from rows of `x` [rows, C] to `logits` [rows, V].
    pub fn head(&self, gpu: &Gpu, x: &wgpu::Buffer, logits: &wgpu::Buffer) -> LinearBind {
        self.k.linear.bind_parts(
            gpu,
            &self.output,
            Input::RmsNorm,
            Epilogue::Store,
            self.p_out,
            &LinearIo {
                params: &self.output_norm,
                step: &self.step,
                x,
                w: &self.output_norm,
                bias: None,
                out: logits,
                norm: Some(&self.output_norm),
                rope_table: None,
                kv: None,
            },
        )
    }

    pub fn encode_head(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, h: &LinearBind, rows: u32) {
        self.k.linear.dispatch(gpu, pass, h, rows);
    }
}
