//! GPT-2's forward pass on the GPU. Everything is made in [`Gpt2Gpu::new`]: weight buffers,
//! activations for one prompt chunk, the KV cache for the whole context, every bind group.
//! A pass then only writes the small `Step` uniform (and the prompt's ids), records its
//! dispatches and submits once.

use super::matmul::Linear;
use super::{
    Gpu, Kernel, Step, add, attention, embedding, gelu, kv_store, layer_norm, matmul, sample,
};
use crate::cpu::SampleParams;
use crate::error::{LanternError, Result};
use crate::model::{Gpt2Config, Gpt2Weights};

/// Longest prompt chunk one pass processes; longer prompts take several passes.
pub const MAX_CHUNK: usize = 128;

struct Kernels {
    embedding: Kernel,
    layer_norm: Kernel,
    linear: Linear,
    attention: Kernel,
    gelu: Kernel,
    add: Kernel,
    kv_store: Kernel,
    sample: Kernel,
}

/// The bind groups of one block, named after the step they serve.
struct BlockBinds {
    ln_1: wgpu::BindGroup,
    c_attn: wgpu::BindGroup,
    kv_store: wgpu::BindGroup,
    attn: wgpu::BindGroup,
    attn_c_proj: wgpu::BindGroup,
    attn_residual: wgpu::BindGroup,
    ln_2: wgpu::BindGroup,
    c_fc: wgpu::BindGroup,
    gelu: wgpu::BindGroup,
    mlp_c_proj: wgpu::BindGroup,
    mlp_residual: wgpu::BindGroup,
}

/// Activations, sized for one chunk of `chunk` tokens.
struct Activations {
    x: wgpu::Buffer,      // [chunk, C] the residual stream
    x_last: wgpu::Buffer, // [C] the last row of x, the only one that needs logits
    logits: wgpu::Buffer, // [V]
}

pub struct Gpt2Gpu {
    pub config: Gpt2Config,
    k: Kernels,
    blocks: Vec<BlockBinds>,
    embed: wgpu::BindGroup,
    ln_f: wgpu::BindGroup,
    lm_head: wgpu::BindGroup,
    sample: wgpu::BindGroup,
    act: Activations,
    step: wgpu::Buffer,
    sample_params: wgpu::Buffer,
    last_sample: Option<SampleParams>,
    tokens: wgpu::Buffer,   // [chunk] u32: the ids of this pass
    sampled: wgpu::Buffer,  // [1] u32: the sampler's pick
    readback: wgpu::Buffer, // 4 bytes the CPU maps
    chunk: usize,
    /// Tokens already in the KV cache.
    pos: usize,
}

impl Gpt2Gpu {
    /// Uploads the weights and makes every buffer, pipeline and bind group the passes need.
    pub async fn new(gpu: &Gpu, w: &Gpt2Weights) -> Result<Self> {
        Self::with_chunk(gpu, w, MAX_CHUNK).await
    }

    /// As [`Gpt2Gpu::new`], with prompts processed `chunk` tokens per pass.
    pub async fn with_chunk(gpu: &Gpu, w: &Gpt2Weights, chunk: usize) -> Result<Self> {
        let cfg = w.config.clone();
        let (c, f, v, ctx) = (cfg.n_embd, cfg.n_inner, cfg.vocab_size, cfg.n_positions);
        let chunk = ctx.min(chunk).max(1);
        let k = Kernels {
            embedding: embedding::kernel(gpu).await?,
            layer_norm: layer_norm::kernel(gpu).await?,
            linear: Linear::new(gpu).await?,
            attention: attention::kernel(gpu, cfg.head_size() as u32).await?,
            gelu: gelu::kernel(gpu).await?,
            add: add::kernel(gpu).await?,
            kv_store: kv_store::kernel(gpu).await?,
            sample: sample::kernel(gpu).await?,
        };
        let f32s = |n: usize| (n * 4) as u64;
        let step = gpu.uniform("step", &Step::default());
        let act = Activations {
            x: gpu.storage("x", f32s(chunk * c))?,
            x_last: gpu.storage("x_last", f32s(c))?,
            logits: gpu.storage("logits", f32s(v))?,
        };
        let ln = gpu.storage("ln", f32s(chunk * c))?;
        let ln_last = gpu.storage("ln_last", f32s(c))?;
        let qkv = gpu.storage("qkv", f32s(chunk * 3 * c))?;
        let att = gpu.storage("att", f32s(chunk * c))?;
        let proj = gpu.storage("proj", f32s(chunk * c))?;
        let fc = gpu.storage("fc", f32s(chunk * f))?;
        // Attention probabilities are not captured yet: a placeholder satisfies the binding.
        let probs = gpu.storage("probs", 4)?;
        let tokens = gpu.storage("tokens", (chunk * 4) as u64)?;
        let sampled = gpu.storage("sampled", 4)?;
        let readback = gpu.readback("sampled readback", 4);

        let wte = gpu.storage_init("wte", &w.wte)?;
        let wpe = gpu.storage_init("wpe", &w.wpe)?;
        let lm_head = match &w.lm_head {
            Some(head) => gpu.storage_init("lm_head", head)?,
            None => wte.clone(), // tied: the same buffer
        };

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
        let attn_params = gpu.uniform(
            "attention params",
            &attention::Params {
                n_head: cfg.n_head as u32,
                n_kv_head: cfg.n_head as u32,
                head_size: hs as u32,
                q_stride: 3 * c as u32,
                kv_stride: c as u32,
                out_stride: c as u32,
                probs_stride: ctx as u32,
                write_probs: 0,
                scale: 1.0 / (hs as f32).sqrt(),
                _pad: [0; 3],
            },
        );

        let mut blocks = Vec::with_capacity(cfg.n_layer);
        for (i, b) in w.blocks.iter().enumerate() {
            let up = |name: &str, data: &[f32]| gpu.storage_init(&format!("h.{i}.{name}"), data);
            let (ln_1_w, ln_1_b) = (
                up("ln_1.weight", &b.ln_1.weight)?,
                up("ln_1.bias", &b.ln_1.bias)?,
            );
            let (c_attn_w, c_attn_b) = (
                up("attn.c_attn.weight", &b.attn_c_attn.weight)?,
                up("attn.c_attn.bias", &b.attn_c_attn.bias)?,
            );
            let (a_proj_w, a_proj_b) = (
                up("attn.c_proj.weight", &b.attn_c_proj.weight)?,
                up("attn.c_proj.bias", &b.attn_c_proj.bias)?,
            );
            let (ln_2_w, ln_2_b) = (
                up("ln_2.weight", &b.ln_2.weight)?,
                up("ln_2.bias", &b.ln_2.bias)?,
            );
            let (c_fc_w, c_fc_b) = (
                up("mlp.c_fc.weight", &b.mlp_c_fc.weight)?,
                up("mlp.c_fc.bias", &b.mlp_c_fc.bias)?,
            );
            let (m_proj_w, m_proj_b) = (
                up("mlp.c_proj.weight", &b.mlp_c_proj.weight)?,
                up("mlp.c_proj.bias", &b.mlp_c_proj.bias)?,
            );
            let k_cache = gpu.storage(&format!("h.{i}.k_cache"), f32s(ctx * c))?;
            let v_cache = gpu.storage(&format!("h.{i}.v_cache"), f32s(ctx * c))?;
            blocks.push(BlockBinds {
                ln_1: k
                    .layer_norm
                    .bind(gpu, &[&ln_params, &act.x, &ln_1_w, &ln_1_b, &ln]),
                c_attn: k
                    .linear
                    .bind(gpu, &[&p_c_attn, &step, &ln, &c_attn_w, &c_attn_b, &qkv]),
                kv_store: k
                    .kv_store
                    .bind(gpu, &[&kv_params, &step, &qkv, &k_cache, &v_cache]),
                attn: k.attention.bind(
                    gpu,
                    &[&attn_params, &step, &qkv, &k_cache, &v_cache, &att, &probs],
                ),
                attn_c_proj: k.linear.bind(
                    gpu,
                    &[&p_attn_proj, &step, &att, &a_proj_w, &a_proj_b, &proj],
                ),
                attn_residual: k.add.bind(gpu, &[&width_c, &step, &act.x, &proj]),
                ln_2: k
                    .layer_norm
                    .bind(gpu, &[&ln_params, &act.x, &ln_2_w, &ln_2_b, &ln]),
                c_fc: k
                    .linear
                    .bind(gpu, &[&p_fc, &step, &ln, &c_fc_w, &c_fc_b, &fc]),
                gelu: k.gelu.bind(gpu, &[&width_f, &step, &fc]),
                mlp_c_proj: k
                    .linear
                    .bind(gpu, &[&p_mlp_proj, &step, &fc, &m_proj_w, &m_proj_b, &proj]),
                mlp_residual: k.add.bind(gpu, &[&width_c, &step, &act.x, &proj]),
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
            .bind(gpu, &[&embed_params, &step, &tokens, &wte, &wpe, &act.x]);
        let (ln_f_w, ln_f_b) = (
            gpu.storage_init("ln_f.weight", &w.ln_f.weight)?,
            gpu.storage_init("ln_f.bias", &w.ln_f.bias)?,
        );
        let ln_f = k
            .layer_norm
            .bind(gpu, &[&ln_params, &act.x_last, &ln_f_w, &ln_f_b, &ln_last]);
        // lm_head has no bias (has_bias = 0); any buffer fills the slot.
        let lm_head = k.linear.bind(
            gpu,
            &[&p_head, &step, &ln_last, &lm_head, &ln_f_b, &act.logits],
        );
        let sample_params = gpu.uniform(
            "sample params",
            &sample::Params::new(
                v as u32,
                SampleParams {
                    temperature: 0.0,
                    top_k: 0,
                    top_p: 1.0,
                },
            ),
        );
        let sample = k
            .sample
            .bind(gpu, &[&sample_params, &step, &act.logits, &sampled]);
        gpu.check()?;
        Ok(Self {
            config: cfg,
            k,
            blocks,
            embed,
            ln_f,
            lm_head,
            sample,
            act,
            step,
            sample_params,
            last_sample: None,
            tokens,
            sampled,
            readback,
            chunk,
            pos: 0,
        })
    }

    /// Tokens in the KV cache.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Forgets the context: the next pass starts at position 0.
    pub fn reset(&mut self) {
        self.pos = 0;
    }

    /// Runs `tokens` through the model after what the cache holds, and samples the next
    /// token. A prompt longer than one chunk takes several passes; only the last computes
    /// logits.
    pub async fn prefill(
        &mut self,
        gpu: &Gpu,
        tokens: &[u32],
        s: SampleParams,
        u: f32,
    ) -> Result<u32> {
        if tokens.is_empty() {
            return Err(LanternError::EmptyPrompt);
        }
        self.check_room(tokens.len())?;
        if let Some(&bad) = tokens
            .iter()
            .find(|&&t| t as usize >= self.config.vocab_size)
        {
            return Err(LanternError::Sampling(format!(
                "token id {bad} is outside the vocabulary"
            )));
        }
        let chunks: Vec<&[u32]> = tokens.chunks(self.chunk).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            gpu.queue
                .write_buffer(&self.tokens, 0, bytemuck::cast_slice(chunk));
            let last = i + 1 == chunks.len();
            self.pass(gpu, chunk.len(), last.then_some((s, u)));
        }
        self.read_sampled(gpu).await
    }

    /// Runs the token the sampler picked last (still on the GPU) and samples the next one:
    /// one submit, 4 bytes read back.
    pub async fn decode(&mut self, gpu: &Gpu, s: SampleParams, u: f32) -> Result<u32> {
        self.check_room(1)?;
        self.pass(gpu, 1, Some((s, u)));
        self.read_sampled(gpu).await
    }

    /// The logits of the last pass (V floats). Reads back V × 4 bytes through a fresh staging
    /// buffer: for tests and tools, not for generation.
    pub async fn read_logits(&self, gpu: &Gpu) -> Result<Vec<f32>> {
        gpu.read_f32(&self.act.logits, self.config.vocab_size).await
    }

    fn check_room(&self, n: usize) -> Result<()> {
        let ctx = self.config.n_positions;
        if self.pos + n > ctx {
            return Err(LanternError::PromptTooLong {
                prompt_tokens: self.pos + n,
                context: ctx,
            });
        }
        Ok(())
    }

    /// Records and submits one pass over `n` tokens starting at `self.pos`; with `sample`
    /// set, also the final norm, the logits of the last token and the sampler.
    fn pass(&mut self, gpu: &Gpu, n: usize, sample: Option<(SampleParams, f32)>) {
        let (c, f, v) = (
            self.config.n_embd as u32,
            self.config.n_inner as u32,
            self.config.vocab_size as u32,
        );
        let u = sample.map_or(0.0, |(_, u)| u);
        gpu.queue.write_buffer(
            &self.step,
            0,
            bytemuck::bytes_of(&Step {
                n_tokens: n as u32,
                pos0: self.pos as u32,
                u,
                _pad: 0,
            }),
        );
        if let Some((s, _)) = sample
            && self.last_sample != Some(s)
        {
            gpu.queue.write_buffer(
                &self.sample_params,
                0,
                bytemuck::bytes_of(&sample::Params::new(v, s)),
            );
            self.last_sample = Some(s);
        }
        let (k, t) = (&self.k, n as u32);
        let mut enc = gpu.encoder();
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            embedding::dispatch(gpu, &k.embedding, &mut pass, &self.embed, t, c);
            for b in &self.blocks {
                layer_norm::dispatch(gpu, &k.layer_norm, &mut pass, &b.ln_1, t);
                k.linear.dispatch(gpu, &mut pass, &b.c_attn, t, 3 * c);
                kv_store::dispatch(gpu, &k.kv_store, &mut pass, &b.kv_store, t, c);
                attention::dispatch(
                    gpu,
                    &k.attention,
                    &mut pass,
                    &b.attn,
                    self.config.n_head as u32,
                    t,
                );
                k.linear.dispatch(gpu, &mut pass, &b.attn_c_proj, t, c);
                add::dispatch(gpu, &k.add, &mut pass, &b.attn_residual, t * c);
                layer_norm::dispatch(gpu, &k.layer_norm, &mut pass, &b.ln_2, t);
                k.linear.dispatch(gpu, &mut pass, &b.c_fc, t, f);
                gelu::dispatch(gpu, &k.gelu, &mut pass, &b.gelu, t * f);
                k.linear.dispatch(gpu, &mut pass, &b.mlp_c_proj, t, c);
                add::dispatch(gpu, &k.add, &mut pass, &b.mlp_residual, t * c);
            }
        }
        if sample.is_some() {
            let row = ((n - 1) * c as usize * 4) as u64;
            enc.copy_buffer_to_buffer(&self.act.x, row, &self.act.x_last, 0, c as u64 * 4);
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                layer_norm::dispatch(gpu, &k.layer_norm, &mut pass, &self.ln_f, 1);
                k.linear.dispatch(gpu, &mut pass, &self.lm_head, 1, v);
                sample::dispatch(gpu, &k.sample, &mut pass, &self.sample);
            }
            // The pick is the next decode pass's input, and the one value the CPU reads.
            enc.copy_buffer_to_buffer(&self.sampled, 0, &self.tokens, 0, 4);
            enc.copy_buffer_to_buffer(&self.sampled, 0, &self.readback, 0, 4);
        }
        gpu.submit(enc);
        self.pos += n;
    }

    async fn read_sampled(&self, gpu: &Gpu) -> Result<u32> {
        let bytes = gpu.read(&self.readback, 4).await?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}
