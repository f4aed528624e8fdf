//! GPT-2 on the GPU: its buffers and bind groups, and the dispatches of one pass.
//! Per block, 5 dispatches: [ln_1 → c_attn → KV cache], [attention], [attn.c_proj +
//! residual], [ln_2 → c_fc → GELU], [mlp.c_proj + residual]. The shared plumbing (inputs,
//! sampler) is in model.rs.

use super::matmul::{Epilogue, Input, Linear, LinearBind, LinearIo, Params};
use super::model::{Io, ModelOptions};
use super::roofline::DecodeCost;
use super::{Gpu, Kernel, attention, embedding, weights};
use crate::error::Result;
use crate::model::Gpt2Weights;
use crate::model::llama::QTensor;
use crate::model::quant::Format;

struct Kernels {
    embedding: Kernel,
    linear: Linear,
    attention: attention::Attention,
}

/// The bind groups of one block, named after the step they serve.
struct BlockBinds {
    c_attn: LinearBind,
    attn: wgpu::BindGroup,
    attn_c_proj: LinearBind,
    c_fc: LinearBind,
    mlp_c_proj: LinearBind,
}

pub struct Gpt2Body {
    k: Kernels,
    blocks: Vec<BlockBinds>,
    /// One per part of wte.
    embed: Vec<wgpu::BindGroup>,
    /// What [`Gpt2Body::head`] binds: ln_f (weight then bias) and the unembedding (in parts:
    /// GPT-2's 50,257 × 768 f32 wte is 154 MB, more than a 128 MiB binding).
    ln_f: wgpu::Buffer,
    p_head: Params,
    lm_head: Vec<weights::Part>,
    step: wgpu::Buffer,
    /// [chunk, C] the residual stream
    pub x: wgpu::Buffer,
    n_embd: u32,
    n_head: u32,
    pub kv_cache_bytes: u64,
    pub cost: DecodeCost,
}

/// A layer norm's parameters as the fused kernels read them: the weight, then the bias.
fn norm_params(ln: &crate::model::LayerNorm) -> Vec<f32> {
    [ln.weight.as_slice(), ln.bias.as_slice()].concat()
}

impl Gpt2Body {
    pub async fn new(
        gpu: &Gpu,
        w: &Gpt2Weights,
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
        let (c, f, v) = (cfg.n_embd, cfg.n_inner, cfg.vocab_size);
        let mut linear = Linear::new(gpu, opts.shapes_on(gpu))?.with_kv_cache(kv);
        // The matrices in the checkpoint's format (16-bit ones stay 16-bit, a GGUF's
        // quantized ones stay in their blocks), or f32 ones rounded to f16 when asked.
        let wf = match w.format {
            Format::F32 if opts.f16_weights => Format::F16,
            f => f,
        };
        let stored = |q: &Option<QTensor>, rows: usize, cols: usize, values: &[f32]| {
            q.clone()
                .unwrap_or_else(|| QTensor::encode(wf, rows, cols, values))
        };
        let matrix = |l: &crate::model::Linear| stored(&l.quantized, l.n_out, l.n_in, &l.weight);
        // Per block: c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, and what each reads and does.
        let steps = [
            (Input::LayerNorm, Epilogue::Qkv),
            (Input::Attention, Epilogue::Residual),
            (Input::LayerNorm, Epilogue::Gelu),
            (Input::Raw, Epilogue::Residual),
        ];
        let mats: Vec<[QTensor; 4]> = w
            .blocks
            .iter()
            .map(|b| [&b.attn_c_attn, &b.attn_c_proj, &b.mlp_c_fc, &b.mlp_c_proj].map(&matrix))
            .collect();
        let wte_t = stored(&w.wte_quantized, v, c, &w.wte);
        let lm_head_t = w
            .lm_head
            .as_ref()
            .map(|head| stored(&w.lm_head_quantized, v, c, head));
        for block in &mats {
            for (t, (input, ep)) in block.iter().zip(steps) {
                linear.prepare(gpu, t.format, input, ep).await?;
            }
        }
        let head_format = lm_head_t.as_ref().unwrap_or(&wte_t).format;
        linear
            .prepare(gpu, head_format, Input::LayerNorm, Epilogue::Store)
            .await?;
        let k = Kernels {
            embedding: embedding::kernel(gpu, wte_t.format).await?,
            linear,
            attention: attention::kernel(gpu, cfg.head_size() as u32, 1, kv, false).await?,
        };
        let f32s = |n: usize| (n * 4) as u64;
        let step = &io.step;
        let x = gpu.storage("x", f32s(chunk * c))?;
        let q = gpu.storage("q", f32s(chunk * c))?;
        // The attention's partials: chunk queries × heads in prompt passes, one query × heads ×
        // up to MAX_SPLITS splits in decode.
        let hs = cfg.head_size();
        let att_rows = chunk.max(attention::MAX_SPLITS as usize) * cfg.n_head;
        let att = gpu.storage("att", f32s(attention::partial_floats(att_rows, hs)))?;
        let fc = gpu.storage("fc", f32s(chunk * f))?;

        let (wte, wpe, lm_head) = gpu
            .uploading("wte, wpe and lm_head", || {
                let table =
                    |name: &str, t: &QTensor| weights::upload_parts(gpu, name, &[t], max_part);
                let wte = table("wte", &wte_t)?;
                let wpe = gpu.storage_init("wpe", &w.wpe)?;
                let lm_head = match &lm_head_t {
                    Some(head) => table("lm_head", head)?,
                    None => wte.clone(), // tied: the same buffers
                };
                Ok((wte, wpe, lm_head))
            })
            .await?;

        // Uniform parameter buffers, one per distinct shape.
        let eps = cfg.layer_norm_epsilon;
        let params = |p: Params| gpu.uniform("linear params", &p);
        let with_bias = |k: usize, n: usize| Params {
            has_bias: 1,
            ..Params::new(k, n)
        };
        let p_c_attn = params(Params {
            eps,
            q_width: c as u32,
            kv_width: c as u32,
            head_size: hs as u32,
            ..with_bias(c, 3 * c)
        });
        let p_proj = params(Params {
            head_size: hs as u32,
            ..with_bias(c, c)
        });
        let p_fc = params(Params {
            eps,
            ..with_bias(c, f)
        });
        let p_mlp_proj = params(with_bias(f, c));
        let p_head = Params {
            eps,
            ..Params::new(c, v)
        };
        let (probs_stride, probs_rows) = capture.stride_and_rows();
        let attn_params = gpu.uniform(
            "attention params",
            &attention::Params {
                n_head: cfg.n_head as u32,
                n_kv_head: cfg.n_head as u32,
                head_size: hs as u32,
                q_stride: c as u32,
                kv_stride: c as u32,
                probs_stride,
                probs_rows,
                scale: 1.0 / (hs as f32).sqrt(),
                window: 0,
                eps: 0.0,
                _pad: [0; 2],
            },
        );
        let mut blocks = Vec::with_capacity(cfg.n_layer);
        for (i, (b, m)) in w.blocks.iter().zip(&mats).enumerate() {
            let up = |name: &str, data: &[f32]| gpu.storage_init(&format!("h.{i}.{name}"), data);
            let matrix =
                |name: &str, t: &QTensor| weights::upload(gpu, &format!("h.{i}.{name}"), t);
            let [
                ln_1,
                c_attn_w,
                c_attn_b,
                a_proj_w,
                a_proj_b,
                ln_2,
                c_fc_w,
                c_fc_b,
                m_proj_w,
                m_proj_b,
            ] = gpu
                .uploading(&format!("h.{i}"), || {
                    Ok([
                        up("ln_1", &norm_params(&b.ln_1))?,
                        matrix("attn.c_attn.weight", &m[0])?,
                        up("attn.c_attn.bias", &b.attn_c_attn.bias)?,
                        matrix("attn.c_proj.weight", &m[1])?,
                        up("attn.c_proj.bias", &b.attn_c_proj.bias)?,
                        up("ln_2", &norm_params(&b.ln_2))?,
                        matrix("mlp.c_fc.weight", &m[2])?,
                        up("mlp.c_fc.bias", &b.mlp_c_fc.bias)?,
                        matrix("mlp.c_proj.weight", &m[3])?,
                        up("mlp.c_proj.bias", &b.mlp_c_proj.bias)?,
                    ])
                })
                .await?;
            let k_cache = gpu.storage(
                &format!("h.{i}.k_cache"),
                (ctx * c * kv.bytes_per_value()) as u64,
            )?;
            let v_cache = gpu.storage(
                &format!("h.{i}.v_cache"),
                (ctx * c * kv.bytes_per_value()) as u64,
            )?;
            let lin_io = |params, x, w, bias, out, norm| LinearIo {
                params,
                step,
                x,
                w,
                bias: Some(bias),
                out,
                norm,
                rope_table: None,
                kv: None,
            };
            let lin = |t: &QTensor, norm, ep, n: usize, io: &LinearIo| {
                k.linear.bind(gpu, t.format, norm, ep, n as u32, io)
            };
            blocks.push(BlockBinds {
                c_attn: lin(
                    &m[0],
                    Input::LayerNorm,
                    Epilogue::Qkv,
                    3 * c,
                    &LinearIo {
                        kv: Some((&k_cache, &v_cache)),
                        ..lin_io(&p_c_attn, &x, &c_attn_w, &c_attn_b, &q, Some(&ln_1))
                    },
                ),
                attn: k.attention.kernel.bind(
                    gpu,
                    &[
                        &attn_params,
                        step,
                        &q,
                        &k_cache,
                        &v_cache,
                        &att,
                        capture.layer(i),
                        &io.unused,
                        &io.unused,
                    ],
                ),
                attn_c_proj: lin(
                    &m[1],
                    Input::Attention,
                    Epilogue::Residual,
                    c,
                    &lin_io(&p_proj, &att, &a_proj_w, &a_proj_b, &x, None),
                ),
                c_fc: lin(
                    &m[2],
                    Input::LayerNorm,
                    Epilogue::Gelu,
                    f,
                    &lin_io(&p_fc, &x, &c_fc_w, &c_fc_b, &fc, Some(&ln_2)),
                ),
                mlp_c_proj: lin(
                    &m[3],
                    Input::Raw,
                    Epilogue::Residual,
                    c,
                    &lin_io(&p_mlp_proj, &fc, &m_proj_w, &m_proj_b, &x, None),
                ),
            });
        }

        let embed = wte
            .iter()
            .map(|part| {
                let p = embedding::Params::new(c, v, true).part(part.row0, part.rows);
                let params = gpu.uniform("embedding params", &p);
                k.embedding
                    .bind(gpu, &[&params, step, &io.tokens, &part.buffer, &wpe, &x])
            })
            .collect();
        let ln_f = gpu.storage_init("ln_f", &norm_params(&w.ln_f))?;
        // Per block the four matrices (as the GPU holds them) and their biases and two norms
        // (f32); then lm_head and an embedding row (wte's, wpe f32).
        let gpu_bytes = |t: &QTensor| (weights::row_words(t.format, t.cols) * t.rows * 4) as u64;
        let block_fma = (3 * c * c + c * c + 2 * c * f) as u64;
        let block_f32s = (3 * c + c + f + c + 4 * c) as u64;
        let matrices: u64 = mats.iter().flatten().map(gpu_bytes).sum();
        let head = lm_head_t.as_ref().unwrap_or(&wte_t);
        let head_bytes = gpu_bytes(head) + gpu_bytes(&wte_t) / v as u64 + 4 * (c + 2 * c) as u64;
        let cost = DecodeCost {
            weight_bytes: matrices + cfg.n_layer as u64 * 4 * block_f32s + head_bytes,
            weight_fma: cfg.n_layer as u64 * block_fma + (v * c) as u64,
            kv_bytes_per_pos: (cfg.n_layer * 2 * c * kv.bytes_per_value()) as u64,
            kv_fma_per_pos: (cfg.n_layer * 2 * c) as u64,
        };
        Ok(Self {
            k,
            blocks,
            embed,
            ln_f,
            p_head,
            lm_head,
            step: step.clone(),
            x,
            n_embd: c as u32,
            n_head: cfg.n_head as u32,
            kv_cache_bytes: 2 * cfg.n_layer as u64 * (ctx * c * kv.bytes_per_value()) as u64,
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
        k.linear.dispatch(gpu, pass, &b.c_attn, t);
        k.attention
            .dispatch(gpu, pass, &b.attn, self.n_head, t, splits);
        k.linear.dispatch(gpu, pass, &b.attn_c_proj, t);
        k.linear.dispatch(gpu, pass, &b.c_fc, t);
        k.linear.dispatch(gpu, pass, &b.mlp_c_proj, t);
    }

    /// ln_f and lm_head from rows of `x` [rows, C] to `logits` [rows, V].
    pub fn head(&self, gpu: &Gpu, x: &wgpu::Buffer, logits: &wgpu::Buffer) -> LinearBind {
        self.k.linear.bind_parts(
            gpu,
            &self.lm_head,
            Input::LayerNorm,
            Epilogue::Store,
            self.p_head,
            &LinearIo {
                params: &self.ln_f,
                step: &self.step,
                x,
                w: &self.ln_f,
                bias: None,
                out: logits,
                norm: Some(&self.ln_f),
                rope_table: None,
                kv: None,
            },
        )
    }

    pub fn encode_head(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, h: &LinearBind, rows: u32) {
        self.k.linear.dispatch(gpu, pass, h, rows);
    }
}
