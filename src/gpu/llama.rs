//! Llama on the GPU: its buffers and bind groups, and the dispatches of one pass.
//! Per block, 5 dispatches: [attn_norm → q/k/v (stacked in one matrix) → RoPE → KV cache],
//! [attention (grouped-query)], [attn_output + residual], [ffn_norm → gate/up (stacked) →
//! SiLU·mul], [ffn_down + residual]. Quantized weights stay in their blocks (in the GPU
//! layout of weights.rs); the kernels dequantize.

use super::matmul::{Epilogue, Input, Linear, LinearBind, LinearIo, Params};
use super::model::Io;
use super::model::ModelOptions;
use super::roofline::DecodeCost;
use super::{Gpu, Kernel, attention, embedding, weights};
use crate::cpu::rope_table;
use crate::error::Result;
use crate::model::llama::{LlamaWeights, QTensor, RopeLayout};

struct Kernels {
    embedding: Kernel,
    linear: Linear,
    attention: Kernel,
}

/// The bind groups of one block, named after the step they serve.
struct BlockBinds {
    qkv: LinearBind,
    attn: wgpu::BindGroup,
    attn_output: LinearBind,
    gate_up: LinearBind,
    ffn_down: LinearBind,
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
    pub kv_cache_bytes: u64,
    pub cost: DecodeCost,
}

/// Bytes of `t` on the GPU, and its multiply-adds per token.
fn linear_cost(t: &QTensor) -> (u64, u64) {
    let bytes = weights::row_words(t.format, t.cols) * t.rows * 4;
    (bytes as u64, (t.rows * t.cols) as u64)
}

/// q or k rows of Hugging Face's RoPE layout (pairs (i, i + hs/2) of each head) reordered to
/// the adjacent pairs (2i, 2i + 1) the kernel rotates. q and k get the same order, so q · k,
/// and the attention, are unchanged.
fn to_adjacent(t: &QTensor, head_size: usize) -> QTensor {
    let row_bytes = t.bytes.len() / t.rows;
    let half = head_size / 2;
    let mut bytes = Vec::with_capacity(t.bytes.len());
    for r in 0..t.rows {
        let (head, j) = (r / head_size, r % head_size);
        let src = head * head_size + if j % 2 == 0 { j / 2 } else { half + j / 2 };
        bytes.extend_from_slice(&t.bytes[src * row_bytes..][..row_bytes]);
    }
    QTensor { bytes, ..t.clone() }
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
        let stacked: Vec<((QTensor, QTensor), QTensor)> = w
            .blocks
            .iter()
            .map(|b| {
                let qk = match cfg.rope_layout {
                    RopeLayout::Adjacent => (b.attn_q.clone(), b.attn_k.clone()),
                    RopeLayout::Halves => (to_adjacent(&b.attn_q, hs), to_adjacent(&b.attn_k, hs)),
                };
                (qk, QTensor::stack(&[&b.ffn_gate, &b.ffn_up]))
            })
            .collect();
        let mut linear = Linear::new(gpu)?.with_kv_cache(kv);
        linear
            .prepare(gpu, w.output().format, Input::RmsNorm, Epilogue::Store)
            .await?;
        for (b, ((q, k), gu)) in w.blocks.iter().zip(&stacked) {
            for f in [q.format, k.format, b.attn_v.format] {
                linear
                    .prepare(gpu, f, Input::RmsNorm, Epilogue::Qkv)
                    .await?;
            }
            linear
                .prepare(gpu, gu.format, Input::RmsNorm, Epilogue::SwiGlu)
                .await?;
            linear
                .prepare(
                    gpu,
                    b.attn_output.format,
                    Input::Attention,
                    Epilogue::Residual,
                )
                .await?;
            linear
                .prepare(gpu, b.ffn_down.format, Input::Raw, Epilogue::Residual)
                .await?;
        }
        let k = Kernels {
            embedding: embedding::kernel(gpu, w.token_embd.format).await?,
            linear,
            attention: attention::kernel(gpu, hs as u32, kv).await?,
        };
        let f32s = |n: usize| (n * 4) as u64;
        let step = &io.step;
        let x = gpu.storage("x", f32s(chunk * c))?;
        let q = gpu.storage("q", f32s(chunk * qw))?;
        // The attention's partials: chunk queries × heads in prompt passes, one query × heads ×
        // up to MAX_SPLITS splits in decode.
        let att_rows = chunk.max(attention::MAX_SPLITS as usize) * cfg.n_head;
        let att = gpu.storage("att", f32s(attention::partial_floats(att_rows, hs)))?;
        let h = gpu.storage("h", f32s(chunk * f))?;
        let table: Vec<f32> = rope_table(ctx, hs, cfg.rope_theta)
            .into_iter()
            .flatten()
            .collect();
        let table = gpu.storage_init("rope table", &table)?;

        let eps = cfg.rms_norm_eps;
        let p_qkv = Params {
            eps,
            q_width: qw as u32,
            kv_width: kvw as u32,
            head_size: hs as u32,
            rope: 1,
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
        let attn_params = gpu.uniform(
            "attention params",
            &attention::Params {
                n_head: cfg.n_head as u32,
                n_kv_head: cfg.n_kv_head as u32,
                head_size: hs as u32,
                q_stride: qw as u32,
                kv_stride: kvw as u32,
                probs_stride,
                probs_rows,
                scale: 1.0 / (hs as f32).sqrt(),
                _pad: [0; 4],
            },
        );
        let mut blocks = Vec::with_capacity(cfg.n_layer);
        let parts = |name: &str, t: &[&QTensor]| weights::upload_parts(gpu, name, t, max_part);
        for (i, (b, ((q_t, k_t), gu_t))) in w.blocks.iter().zip(&stacked).enumerate() {
            let name = |s: &str| format!("blk.{i}.{s}");
            let (attn_norm, ffn_norm, w_qkv, w_o, w_gu, w_down) = gpu
                .uploading(&name("*"), || {
                    Ok((
                        gpu.storage_init(&name("attn_norm"), &b.attn_norm)?,
                        gpu.storage_init(&name("ffn_norm"), &b.ffn_norm)?,
                        parts(&name("attn_qkv"), &[q_t, k_t, &b.attn_v])?,
                        parts(&name("attn_output"), &[&b.attn_output])?,
                        weights::upload(gpu, &name("ffn_gate_up"), gu_t)?,
                        parts(&name("ffn_down"), &[&b.ffn_down])?,
                    ))
                })
                .await?;
            let k_cache =
                gpu.storage(&name("k_cache"), (ctx * kvw * kv.bytes_per_value()) as u64)?;
            let v_cache =
                gpu.storage(&name("v_cache"), (ctx * kvw * kv.bytes_per_value()) as u64)?;
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
            blocks.push(BlockBinds {
                qkv: lin.bind_parts(
                    gpu,
                    &w_qkv,
                    Input::RmsNorm,
                    Epilogue::Qkv,
                    p_qkv,
                    &LinearIo {
                        norm: Some(&attn_norm),
                        rope_table: Some(&table),
                        kv: Some((&k_cache, &v_cache)),
                        ..io(&x, &q)
                    },
                ),
                attn: k.attention.bind(
                    gpu,
                    &[
                        &attn_params,
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
                    Epilogue::Residual,
                    p_o,
                    &io(&att, &x),
                ),
                gate_up: lin.bind(
                    gpu,
                    gu_t.format,
                    Input::RmsNorm,
                    Epilogue::SwiGlu,
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
                    Epilogue::Residual,
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
                let p = embedding::Params::new(c, v, false).part(part.row0, part.rows);
                let params = gpu.uniform("embedding params", &p);
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
        let norms = (cfg.n_layer * 2 * c * 4) as u64;
        cost.weight_bytes = embedding_row + norms;
        let matrices = w
            .blocks
            .iter()
            .zip(&stacked)
            .flat_map(|(b, ((q, k), gu))| [q, k, &b.attn_v, gu, &b.attn_output, &b.ffn_down]);
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
        k.linear.dispatch(gpu, pass, &b.qkv, t);
        attention::dispatch(gpu, &k.attention, pass, &b.attn, self.n_head, t, splits);
        k.linear.dispatch(gpu, pass, &b.attn_output, t);
        k.linear.dispatch(gpu, pass, &b.gate_up, t);
        k.linear.dispatch(gpu, pass, &b.ffn_down, t);
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
