//! GPT-2 on the GPU: its buffers and bind groups, and the dispatches of one pass.
//! Per block: layer_norm → c_attn → kv_store → attention → c_proj → add → layer_norm →
//! c_fc → gelu → c_proj → add. The shared plumbing (inputs, sampler) is in model.rs.

use super::matmul::{Linear, LinearBind};
use super::model::{Head, Io};
use super::{Gpu, Kernel, add, attention, embedding, gelu, kv_store, layer_norm, matmul};
use crate::error::Result;
use crate::model::Gpt2Weights;
use crate::model::quant::Format;

struct Kernels {
    embedding: Kernel,
    layer_norm: Kernel,
    linear: Linear,
    attention: Kernel,
    gelu: Kernel,
    add: Kernel,
    kv_store: Kernel,
}

/// The bind groups of one block, named after the step they serve.
struct BlockBinds {
    ln_1: wgpu::BindGroup,
    c_attn: LinearBind,
    kv_store: wgpu::BindGroup,
    attn: wgpu::BindGroup,
    attn_c_proj: LinearBind,
    attn_residual: wgpu::BindGroup,
    ln_2: wgpu::BindGroup,
    c_fc: LinearBind,
    gelu: wgpu::BindGroup,
    mlp_c_proj: LinearBind,
    mlp_residual: wgpu::BindGroup,
}

pub struct Gpt2Body {
    k: Kernels,
    blocks: Vec<BlockBinds>,
    embed: wgpu::BindGroup,
    /// What [`Gpt2Body::head`] binds: the final norm's and the unembedding's parameters.
    ln_params: wgpu::Buffer,
    ln_f: [wgpu::Buffer; 2],
    p_head: wgpu::Buffer,
    lm_head: wgpu::Buffer,
    step: wgpu::Buffer,
    unused: wgpu::Buffer,
    vocab: u32,
    /// [chunk, C] the residual stream
    pub x: wgpu::Buffer,
    n_embd: u32,
    n_inner: u32,
    n_head: u32,
    pub kv_cache_bytes: u64,
}

impl Gpt2Body {
    pub async fn new(
        gpu: &Gpu,
        w: &Gpt2Weights,
        io: &Io,
        ctx: usize,
        chunk: usize,
        capture: &attention::Capture,
    ) -> Result<Self> {
        let cfg = &w.config;
        let (c, f, v) = (cfg.n_embd, cfg.n_inner, cfg.vocab_size);
        let k = Kernels {
            embedding: embedding::kernel(gpu, Format::F32).await?,
            layer_norm: layer_norm::kernel(gpu).await?,
            linear: Linear::new(gpu, &[Format::F32]).await?,
            attention: attention::kernel(gpu, cfg.head_size() as u32).await?,
            gelu: gelu::kernel(gpu).await?,
            add: add::kernel(gpu).await?,
            kv_store: kv_store::kernel(gpu).await?,
        };
        let f32s = |n: usize| (n * 4) as u64;
        let step = &io.step;
        let x = gpu.storage("x", f32s(chunk * c))?;
        let ln = gpu.storage("ln", f32s(chunk * c))?;
        let qkv = gpu.storage("qkv", f32s(chunk * 3 * c))?;
        let att = gpu.storage("att", f32s(chunk * c))?;
        let proj = gpu.storage("proj", f32s(chunk * c))?;
        let fc = gpu.storage("fc", f32s(chunk * f))?;

        let (wte, wpe, lm_head) = gpu
            .uploading("wte, wpe and lm_head", || {
                let wte = gpu.storage_init("wte", &w.wte)?;
                let wpe = gpu.storage_init("wpe", &w.wpe)?;
                let lm_head = match &w.lm_head {
                    Some(head) => gpu.storage_init("lm_head", head)?,
                    None => wte.clone(), // tied: the same buffer
                };
                Ok((wte, wpe, lm_head))
            })
            .await?;

        // Uniform parameter buffers, one per distinct shape.
        let ln_params = gpu.uniform(
            "ln params",
            &layer_norm::Params {
                n: c as u32,
                eps: cfg.layer_norm_epsilon,
                _pad: [0; 2],
            },
        );
        let lin_params = |k: usize, n: usize, bias: bool| {
            gpu.uniform(
                "linear params",
                &matmul::Params {
                    k: k as u32,
                    n: n as u32,
                    has_bias: bias as u32,
                    _pad: 0,
                },
            )
        };
        let (p_c_attn, p_attn_proj, p_fc, p_mlp_proj, p_head) = (
            lin_params(c, 3 * c, true),
            lin_params(c, c, true),
            lin_params(c, f, true),
            lin_params(f, c, true),
            lin_params(c, v, false),
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
        let kv_params = gpu.uniform(
            "kv_store params",
            &kv_store::Params {
                width: c as u32,
                src_stride: 3 * c as u32,
                k_offset: c as u32,
                v_offset: 2 * c as u32,
            },
        );
        let hs = cfg.head_size();
        let (probs_stride, probs_rows) = capture.stride_and_rows();
        let attn_params = gpu.uniform(
            "attention params",
            &attention::Params {
                n_head: cfg.n_head as u32,
                n_kv_head: cfg.n_head as u32,
                head_size: hs as u32,
                q_stride: 3 * c as u32,
                kv_stride: c as u32,
                out_stride: c as u32,
                probs_stride,
                probs_rows,
                scale: 1.0 / (hs as f32).sqrt(),
                _pad: [0; 3],
            },
        );
        let lin = |params: &wgpu::Buffer,
                   x: &wgpu::Buffer,
                   w: &wgpu::Buffer,
                   b: &wgpu::Buffer,
                   out: &wgpu::Buffer,
                   n: usize| {
            k.linear
                .bind(gpu, Format::F32, n as u32, &[params, step, x, w, b, out])
        };

        let mut blocks = Vec::with_capacity(cfg.n_layer);
        for (i, b) in w.blocks.iter().enumerate() {
            let up = |name: &str, data: &[f32]| gpu.storage_init(&format!("h.{i}.{name}"), data);
            let [
                ln_1_w,
                ln_1_b,
                c_attn_w,
                c_attn_b,
                a_proj_w,
                a_proj_b,
                ln_2_w,
                ln_2_b,
                c_fc_w,
                c_fc_b,
                m_proj_w,
                m_proj_b,
            ] = gpu
                .uploading(&format!("h.{i}"), || {
                    Ok([
                        up("ln_1.weight", &b.ln_1.weight)?,
                        up("ln_1.bias", &b.ln_1.bias)?,
                        up("attn.c_attn.weight", &b.attn_c_attn.weight)?,
                        up("attn.c_attn.bias", &b.attn_c_attn.bias)?,
                        up("attn.c_proj.weight", &b.attn_c_proj.weight)?,
                        up("attn.c_proj.bias", &b.attn_c_proj.bias)?,
                        up("ln_2.weight", &b.ln_2.weight)?,
                        up("ln_2.bias", &b.ln_2.bias)?,
                        up("mlp.c_fc.weight", &b.mlp_c_fc.weight)?,
                        up("mlp.c_fc.bias", &b.mlp_c_fc.bias)?,
                        up("mlp.c_proj.weight", &b.mlp_c_proj.weight)?,
                        up("mlp.c_proj.bias", &b.mlp_c_proj.bias)?,
                    ])
                })
                .await?;
            let k_cache = gpu.storage(&format!("h.{i}.k_cache"), f32s(ctx * c))?;
            let v_cache = gpu.storage(&format!("h.{i}.v_cache"), f32s(ctx * c))?;
            blocks.push(BlockBinds {
                ln_1: k
                    .layer_norm
                    .bind(gpu, &[&ln_params, &x, &ln_1_w, &ln_1_b, &ln]),
                c_attn: lin(&p_c_attn, &ln, &c_attn_w, &c_attn_b, &qkv, 3 * c),
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
                attn_c_proj: lin(&p_attn_proj, &att, &a_proj_w, &a_proj_b, &proj, c),
                attn_residual: k.add.bind(gpu, &[&width_c, step, &x, &proj]),
                ln_2: k
                    .layer_norm
                    .bind(gpu, &[&ln_params, &x, &ln_2_w, &ln_2_b, &ln]),
                c_fc: lin(&p_fc, &ln, &c_fc_w, &c_fc_b, &fc, f),
                gelu: k.gelu.bind(gpu, &[&width_f, step, &fc]),
                mlp_c_proj: lin(&p_mlp_proj, &fc, &m_proj_w, &m_proj_b, &proj, c),
                mlp_residual: k.add.bind(gpu, &[&width_c, step, &x, &proj]),
            });
        }

        let embed_params = gpu.uniform(
            "embedding params",
            &embedding::Params {
                n_embd: c as u32,
                vocab_size: v as u32,
                use_wpe: 1,
                _pad: 0,
            },
        );
        let embed = k
            .embedding
            .bind(gpu, &[&embed_params, step, &io.tokens, &wte, &wpe, &x]);
        let (ln_f_w, ln_f_b) = (
            gpu.storage_init("ln_f.weight", &w.ln_f.weight)?,
            gpu.storage_init("ln_f.bias", &w.ln_f.bias)?,
        );
        Ok(Self {
            k,
            blocks,
            embed,
            ln_params,
            ln_f: [ln_f_w, ln_f_b],
            p_head,
            lm_head,
            step: step.clone(),
            unused: io.unused.clone(),
            vocab: v as u32,
            x,
            n_embd: c as u32,
            n_inner: f as u32,
            n_head: cfg.n_head as u32,
            kv_cache_bytes: 2 * cfg.n_layer as u64 * f32s(ctx * c),
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
        let (k, c, f, b) = (&self.k, self.n_embd, self.n_inner, &self.blocks[i]);
        layer_norm::dispatch(gpu, &k.layer_norm, pass, &b.ln_1, t);
        k.linear.dispatch(gpu, pass, &b.c_attn, t);
        kv_store::dispatch(gpu, &k.kv_store, pass, &b.kv_store, t, c);
        attention::dispatch(gpu, &k.attention, pass, &b.attn, self.n_head, t);
        k.linear.dispatch(gpu, pass, &b.attn_c_proj, t);
        add::dispatch(gpu, &k.add, pass, &b.attn_residual, t * c);
        layer_norm::dispatch(gpu, &k.layer_norm, pass, &b.ln_2, t);
        k.linear.dispatch(gpu, pass, &b.c_fc, t);
        gelu::dispatch(gpu, &k.gelu, pass, &b.gelu, t * f);
        k.linear.dispatch(gpu, pass, &b.mlp_c_proj, t);
        add::dispatch(gpu, &k.add, pass, &b.mlp_residual, t * c);
    }

    /// ln_f and lm_head from rows of `x` [rows, C] through `ln` to `logits` [rows, V].
    pub fn head(
        &self,
        gpu: &Gpu,
        x: &wgpu::Buffer,
        ln: &wgpu::Buffer,
        logits: &wgpu::Buffer,
    ) -> Head {
        let [w, b] = &self.ln_f;
        Head {
            norm: self.k.layer_norm.bind(gpu, &[&self.ln_params, x, w, b, ln]),
            unembed: self.k.linear.bind(
                gpu,
                Format::F32,
                self.vocab,
                &[
                    &self.p_head,
                    &self.step,
                    ln,
                    &self.lm_head,
                    &self.unused,
                    logits,
                ],
            ),
        }
    }

    pub fn encode_head(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, h: &Head, rows: u32) {
        layer_norm::dispatch(gpu, &self.k.layer_norm, pass, &h.norm, rows);
        self.k.linear.dispatch(gpu, pass, &h.unembed, rows);
    }
}
