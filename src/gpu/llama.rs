//! Llama on the GPU: its buffers and bind groups, and the dispatches of one pass.
//! Per block: rms_norm → qkv (q, k, v stacked in one matrix) → rope → kv_store → attention
//! (grouped-query) → attn_output → add → rms_norm → gate_up (stacked) → silu_mul →
//! ffn_down → add. Quantized weights stay in their blocks; the kernels dequantize.

use super::matmul::{Linear, LinearBind};
use super::model::{Head, Io};
use super::{
    Gpu, Kernel, add, attention, embedding, gelu, kv_store, matmul, rms_norm, rope, silu_mul,
};
use crate::cpu::rope_table;
use crate::error::Result;
use crate::model::llama::{LlamaWeights, QTensor, RopeLayout};

struct Kernels {
    embedding: Kernel,
    rms_norm: Kernel,
    linear: Linear,
    rope: Kernel,
    kv_store: Kernel,
    attention: Kernel,
    add: Kernel,
    silu_mul: Kernel,
}

/// The bind groups of one block, named after the step they serve.
struct BlockBinds {
    attn_norm: wgpu::BindGroup,
    qkv: LinearBind,
    rope: wgpu::BindGroup,
    kv_store: wgpu::BindGroup,
    attn: wgpu::BindGroup,
    attn_output: LinearBind,
    attn_residual: wgpu::BindGroup,
    ffn_norm: wgpu::BindGroup,
    gate_up: LinearBind,
    silu_mul: wgpu::BindGroup,
    ffn_down: LinearBind,
    ffn_residual: wgpu::BindGroup,
}

pub struct LlamaBody {
    k: Kernels,
    blocks: Vec<BlockBinds>,
    embed: wgpu::BindGroup,
    /// What [`LlamaBody::head`] binds: the final norm's and the unembedding's parameters.
    norm_params: wgpu::Buffer,
    output_norm: wgpu::Buffer,
    p_out: wgpu::Buffer,
    output: wgpu::Buffer,
    output_format: crate::model::quant::Format,
    step: wgpu::Buffer,
    unused: wgpu::Buffer,
    vocab: u32,
    /// [chunk, C] the residual stream
    pub x: wgpu::Buffer,
    n_embd: u32,
    n_ff: u32,
    n_head: u32,
    n_kv_head: u32,
    head_size: u32,
    pub kv_cache_bytes: u64,
}

fn upload(gpu: &Gpu, name: &str, t: &QTensor) -> Result<wgpu::Buffer> {
    gpu.storage_init(name, &t.bytes)
}

impl LlamaBody {
    pub async fn new(
        gpu: &Gpu,
        w: &LlamaWeights,
        io: &Io,
        ctx: usize,
        chunk: usize,
        capture: &attention::Capture,
    ) -> Result<Self> {
        let cfg = &w.config;
        let (c, f, v, hs) = (cfg.n_embd, cfg.n_ff, cfg.vocab_size, cfg.head_size);
        let (qw, kvw) = (cfg.q_width(), cfg.kv_width());
        let qkv_w = qw + 2 * kvw;
        let stacked: Vec<(QTensor, QTensor)> = w
            .blocks
            .iter()
            .map(|b| {
                (
                    QTensor::stack(&[&b.attn_q, &b.attn_k, &b.attn_v]),
                    QTensor::stack(&[&b.ffn_gate, &b.ffn_up]),
                )
            })
            .collect();
        let mut formats = vec![w.output().format];
        for (b, (qkv, gu)) in w.blocks.iter().zip(&stacked) {
            formats.extend([
                qkv.format,
                gu.format,
                b.attn_output.format,
                b.ffn_down.format,
            ]);
        }
        let k = Kernels {
            embedding: embedding::kernel(gpu, w.token_embd.format).await?,
            rms_norm: rms_norm::kernel(gpu).await?,
            linear: Linear::new(gpu, &formats).await?,
            rope: rope::kernel(gpu).await?,
            kv_store: kv_store::kernel(gpu).await?,
            attention: attention::kernel(gpu, hs as u32).await?,
            add: add::kernel(gpu).await?,
            silu_mul: silu_mul::kernel(gpu).await?,
        };
        let f32s = |n: usize| (n * 4) as u64;
        let step = &io.step;
        let x = gpu.storage("x", f32s(chunk * c))?;
        let ln = gpu.storage("ln", f32s(chunk * c))?;
        let qkv = gpu.storage("qkv", f32s(chunk * qkv_w))?;
        let att = gpu.storage("att", f32s(chunk * qw))?;
        let proj = gpu.storage("proj", f32s(chunk * c))?;
        let gu = gpu.storage("gate_up", f32s(chunk * 2 * f))?;
        let h = gpu.storage("h", f32s(chunk * f))?;
        let table: Vec<f32> = rope_table(ctx, hs, cfg.rope_theta)
            .into_iter()
            .flatten()
            .collect();
        let table = gpu.storage_init("rope table", &table)?;

        let norm_params = gpu.uniform(
            "rms_norm params",
            &rms_norm::Params {
                n: c as u32,
                eps: cfg.rms_norm_eps,
                _pad: [0; 2],
            },
        );
        let lin_params = |k: usize, n: usize| {
            gpu.uniform(
                "linear params",
                &matmul::Params {
                    k: k as u32,
                    n: n as u32,
                    has_bias: 0,
                    _pad: 0,
                },
            )
        };
        let (p_qkv, p_o, p_gu, p_down, p_out) = (
            lin_params(c, qkv_w),
            lin_params(qw, c),
            lin_params(c, 2 * f),
            lin_params(f, c),
            lin_params(c, v),
        );
        let width = |n: usize| {
            gpu.uniform(
                "width",
                &gelu::Params {
                    width: n as u32,
                    _pad: [0; 3],
                },
            )
        };
        let (width_c, width_f) = (width(c), width(f));
        let rope_params = gpu.uniform(
            "rope params",
            &rope::Params {
                n_heads: (cfg.n_head + cfg.n_kv_head) as u32,
                head_size: hs as u32,
                stride: qkv_w as u32,
                adjacent: (cfg.rope_layout == RopeLayout::Adjacent) as u32,
            },
        );
        let kv_params = gpu.uniform(
            "kv_store params",
            &kv_store::Params {
                width: kvw as u32,
                src_stride: qkv_w as u32,
                k_offset: qw as u32,
                v_offset: (qw + kvw) as u32,
            },
        );
        let (probs_stride, probs_rows) = capture.stride_and_rows();
        let attn_params = gpu.uniform(
            "attention params",
            &attention::Params {
                n_head: cfg.n_head as u32,
                n_kv_head: cfg.n_kv_head as u32,
                head_size: hs as u32,
                q_stride: qkv_w as u32,
                kv_stride: kvw as u32,
                out_stride: qw as u32,
                probs_stride,
                probs_rows,
                scale: 1.0 / (hs as f32).sqrt(),
                _pad: [0; 3],
            },
        );
        let lin = |params: &wgpu::Buffer,
                   x: &wgpu::Buffer,
                   t: &QTensor,
                   w: &wgpu::Buffer,
                   out: &wgpu::Buffer| {
            k.linear.bind(
                gpu,
                t.format,
                t.rows as u32,
                &[params, step, x, w, &io.unused, out],
            )
        };

        let mut blocks = Vec::with_capacity(cfg.n_layer);
        for (i, (b, (qkv_t, gu_t))) in w.blocks.iter().zip(&stacked).enumerate() {
            let name = |s: &str| format!("blk.{i}.{s}");
            let (attn_norm, ffn_norm, w_qkv, w_o, w_gu, w_down) = gpu
                .uploading(&name("*"), || {
                    Ok((
                        gpu.storage_init(&name("attn_norm"), &b.attn_norm)?,
                        gpu.storage_init(&name("ffn_norm"), &b.ffn_norm)?,
                        upload(gpu, &name("attn_qkv"), qkv_t)?,
                        upload(gpu, &name("attn_output"), &b.attn_output)?,
                        upload(gpu, &name("ffn_gate_up"), gu_t)?,
                        upload(gpu, &name("ffn_down"), &b.ffn_down)?,
                    ))
                })
                .await?;
            let k_cache = gpu.storage(&name("k_cache"), f32s(ctx * kvw))?;
            let v_cache = gpu.storage(&name("v_cache"), f32s(ctx * kvw))?;
            blocks.push(BlockBinds {
                attn_norm: k.rms_norm.bind(gpu, &[&norm_params, &x, &attn_norm, &ln]),
                qkv: lin(&p_qkv, &ln, qkv_t, &w_qkv, &qkv),
                rope: k.rope.bind(gpu, &[&rope_params, step, &table, &qkv]),
                kv_store: k
                    .kv_store
                    .bind(gpu, &[&kv_params, step, &qkv, &k_cache, &v_cache]),
                attn: k.attention.bind(
                    gpu,
                    &[
                        &attn_params,
                        step,
                        &qkv,
                        &k_cache,
                        &v_cache,
                        &att,
                        capture.layer(i),
                    ],
                ),
                attn_output: lin(&p_o, &att, &b.attn_output, &w_o, &proj),
                attn_residual: k.add.bind(gpu, &[&width_c, step, &x, &proj]),
                ffn_norm: k.rms_norm.bind(gpu, &[&norm_params, &x, &ffn_norm, &ln]),
                gate_up: lin(&p_gu, &ln, gu_t, &w_gu, &gu),
                silu_mul: k.silu_mul.bind(gpu, &[&width_f, step, &gu, &h]),
                ffn_down: lin(&p_down, &h, &b.ffn_down, &w_down, &proj),
                ffn_residual: k.add.bind(gpu, &[&width_c, step, &x, &proj]),
            });
        }

        let (token_embd, output) = gpu
            .uploading("token_embd and output", || {
                let token_embd = upload(gpu, "token_embd", &w.token_embd)?;
                let output = match &w.output {
                    Some(t) => upload(gpu, "output", t)?,
                    None => token_embd.clone(), // tied: the same buffer
                };
                Ok((token_embd, output))
            })
            .await?;
        let embed_params = gpu.uniform(
            "embedding params",
            &embedding::Params {
                n_embd: c as u32,
                vocab_size: v as u32,
                use_wpe: 0,
                _pad: 0,
            },
        );
        let embed = k.embedding.bind(
            gpu,
            &[&embed_params, step, &io.tokens, &token_embd, &io.unused, &x],
        );
        let output_norm = gpu.storage_init("output_norm", &w.output_norm)?;
        Ok(Self {
            k,
            blocks,
            embed,
            norm_params,
            output_norm,
            p_out,
            output,
            output_format: w.output().format,
            step: step.clone(),
            unused: io.unused.clone(),
            vocab: v as u32,
            x,
            n_embd: c as u32,
            n_ff: f as u32,
            n_head: cfg.n_head as u32,
            n_kv_head: cfg.n_kv_head as u32,
            head_size: hs as u32,
            kv_cache_bytes: 2 * cfg.n_layer as u64 * f32s(ctx * kvw),
        })
    }

    pub fn n_layer(&self) -> usize {
        self.blocks.len()
    }

    pub fn encode_embedding(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, t: u32) {
        embedding::dispatch(gpu, &self.k.embedding, pass, &self.embed, t, self.n_embd);
    }

    /// Block `i` over `t` tokens: the residual stream `x` in and out.
    pub fn encode_block(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, i: usize, t: u32) {
        let (k, c, f, b) = (&self.k, self.n_embd, self.n_ff, &self.blocks[i]);
        rms_norm::dispatch(gpu, &k.rms_norm, pass, &b.attn_norm, t);
        k.linear.dispatch(gpu, pass, &b.qkv, t);
        let heads = self.n_head + self.n_kv_head;
        rope::dispatch(gpu, &k.rope, pass, &b.rope, t, heads, self.head_size);
        let kv_width = self.n_kv_head * self.head_size;
        kv_store::dispatch(gpu, &k.kv_store, pass, &b.kv_store, t, kv_width);
        attention::dispatch(gpu, &k.attention, pass, &b.attn, self.n_head, t);
        k.linear.dispatch(gpu, pass, &b.attn_output, t);
        add::dispatch(gpu, &k.add, pass, &b.attn_residual, t * c);
        rms_norm::dispatch(gpu, &k.rms_norm, pass, &b.ffn_norm, t);
        k.linear.dispatch(gpu, pass, &b.gate_up, t);
        silu_mul::dispatch(gpu, &k.silu_mul, pass, &b.silu_mul, t * f);
        k.linear.dispatch(gpu, pass, &b.ffn_down, t);
        add::dispatch(gpu, &k.add, pass, &b.ffn_residual, t * c);
    }

    /// output_norm and output from rows of `x` [rows, C] through `ln` to `logits` [rows, V].
    pub fn head(
        &self,
        gpu: &Gpu,
        x: &wgpu::Buffer,
        ln: &wgpu::Buffer,
        logits: &wgpu::Buffer,
    ) -> Head {
        let bufs = [
            &self.p_out,
            &self.step,
            ln,
            &self.output,
            &self.unused,
            logits,
        ];
        Head {
            norm: self
                .k
                .rms_norm
                .bind(gpu, &[&self.norm_params, x, &self.output_norm, ln]),
            unembed: self
                .k
                .linear
                .bind(gpu, self.output_format, self.vocab, &bufs),
        }
    }

    pub fn encode_head(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, h: &Head, rows: u32) {
        rms_norm::dispatch(gpu, &self.k.rms_norm, pass, &h.norm, rows);
        self.k.linear.dispatch(gpu, pass, &h.unembed, rows);
    }
}
