//! A model on the GPU, whatever its architecture. Everything is made in [`GpuModel::new`]:
//! weight buffers, activations for one prompt chunk, the KV cache for the whole context,
//! every pipeline and bind group. A pass then only writes the small `Step` uniform (and a
//! prompt's ids), records its dispatches and submits once; the CPU reads back 4 bytes.

use super::attention::Capture;
use super::gpt2::Gpt2Body;
use super::llama::LlamaBody;
use super::{Gpu, Kernel, Step, sample};
use crate::cpu::SampleParams;
use crate::error::{LanternError, Result};
use crate::model::Weights;

/// Longest prompt chunk one pass processes; longer prompts take several passes.
pub const MAX_CHUNK: usize = 128;

#[derive(Debug, Clone, Copy)]
pub struct ModelOptions {
    /// Tokens the KV cache holds; `None` for the model's whole trained context.
    pub context: Option<usize>,
    /// Prompt tokens per pass.
    pub chunk: usize,
    /// Positions whose attention probabilities can be captured (0: none; the page's
    /// visualization uses 256). Costs layers × heads × capture² floats of GPU memory.
    pub capture: usize,
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            context: None,
            chunk: MAX_CHUNK,
            capture: 0,
        }
    }
}

/// What every architecture shares: the pass's inputs, the last row of the residual stream,
/// the logits, the sampler and its read-back.
pub struct Io {
    pub step: wgpu::Buffer,
    /// [chunk] u32: the ids of this pass (the sampler writes the next one into [0]).
    pub tokens: wgpu::Buffer,
    /// [C]: the one row that needs logits.
    pub x_last: wgpu::Buffer,
    /// [V]
    pub logits: wgpu::Buffer,
    /// A 4-byte buffer for slots a kernel does not read (a missing bias).
    pub unused: wgpu::Buffer,
    sampled: wgpu::Buffer,
    readback: wgpu::Buffer,
    sample_params: wgpu::Buffer,
    sample: Kernel,
    sample_bind: wgpu::BindGroup,
}

impl Io {
    async fn new(gpu: &Gpu, n_embd: usize, vocab: usize, chunk: usize) -> Result<Self> {
        let step = gpu.uniform("step", &Step::default());
        let logits = gpu.storage("logits", (vocab * 4) as u64)?;
        let sampled = gpu.storage("sampled", 4)?;
        let sample_params = gpu.uniform(
            "sample params",
            &sample::Params::new(vocab as u32, SampleParams::GREEDY),
        );
        let sample = sample::kernel(gpu).await?;
        let sample_bind = sample.bind(gpu, &[&sample_params, &step, &logits, &sampled]);
        Ok(Self {
            tokens: gpu.storage("tokens", (chunk * 4) as u64)?,
            x_last: gpu.storage("x_last", (n_embd * 4) as u64)?,
            unused: gpu.storage("unused", 4)?,
            readback: gpu.readback("sampled readback", 4),
            step,
            logits,
            sampled,
            sample_params,
            sample,
            sample_bind,
        })
    }
}

enum Body {
    Gpt2(Gpt2Body),
    Llama(LlamaBody),
}

impl Body {
    /// Embedding and every block, over `t` tokens; the residual stream ends in `x()`.
    fn encode_layers(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, t: u32) {
        match self {
            Body::Gpt2(b) => b.encode_layers(gpu, pass, t),
            Body::Llama(b) => b.encode_layers(gpu, pass, t),
        }
    }

    /// Final norm of `Io::x_last` and the logits.
    fn encode_head(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass) {
        match self {
            Body::Gpt2(b) => b.encode_head(gpu, pass),
            Body::Llama(b) => b.encode_head(gpu, pass),
        }
    }

    fn x(&self) -> &wgpu::Buffer {
        match self {
            Body::Gpt2(b) => &b.x,
            Body::Llama(b) => &b.x,
        }
    }
}

pub struct GpuModel {
    body: Body,
    io: Io,
    /// Tokens the KV cache holds.
    pub context: usize,
    pub vocab: usize,
    n_embd: usize,
    chunk: usize,
    /// Tokens already in the KV cache.
    pos: usize,
    last_sample: Option<SampleParams>,
    /// The attention probabilities' buffers, and whether passes write them now.
    probs: Capture,
    capturing: bool,
    /// Bytes of GPU buffers this model made (weights, KV cache, activations).
    pub gpu_bytes: u64,
    /// Of which the KV cache.
    pub kv_cache_bytes: u64,
}

impl GpuModel {
    /// Uploads the weights and makes every buffer, pipeline and bind group the passes need.
    pub async fn new(gpu: &Gpu, weights: &Weights, opts: ModelOptions) -> Result<Self> {
        let before = gpu.snapshot();
        let context = opts
            .context
            .map_or(weights.context_length(), |c| {
                c.min(weights.context_length())
            })
            .max(1);
        let chunk = opts.chunk.clamp(1, context);
        let vocab = weights.vocab_size();
        let n_embd = weights.n_embd();
        let io = Io::new(gpu, n_embd, vocab, chunk).await?;
        let probs = Capture::new(
            gpu,
            weights.n_layer(),
            weights.n_head(),
            opts.capture.min(context),
        )?;
        let (body, kv_cache_bytes) = match weights {
            Weights::Gpt2(w) => {
                let b = Gpt2Body::new(gpu, w, &io, context, chunk, &probs).await?;
                let kv = b.kv_cache_bytes;
                (Body::Gpt2(b), kv)
            }
            Weights::Llama(w) => {
                let b = LlamaBody::new(gpu, w, &io, context, chunk, &probs).await?;
                let kv = b.kv_cache_bytes;
                (Body::Llama(b), kv)
            }
        };
        gpu.check()?;
        let gpu_bytes = gpu.snapshot().since(&before).buffer_bytes;
        Ok(Self {
            body,
            io,
            context,
            vocab,
            n_embd,
            chunk,
            pos: 0,
            last_sample: None,
            probs,
            capturing: false,
            gpu_bytes,
            kv_cache_bytes,
        })
    }

    /// Starts or stops writing attention probabilities in the passes that follow (for the
    /// first [`ModelOptions::capture`] positions). Off, a pass writes none and nothing more
    /// is read back.
    pub fn set_capture(&mut self, on: bool) {
        self.capturing = on && self.probs.rows > 0;
    }

    /// The attention probabilities of `layer` for the first `n` positions (n ≤ the capture
    /// size and the tokens in the cache): [n_head, n, n], row i = query i, zero above the
    /// diagonal. Rows were written by the passes that ran with capture on.
    pub async fn read_attention(&self, gpu: &Gpu, layer: usize, n: usize) -> Result<Vec<f32>> {
        let (rows, nh) = (self.probs.rows, self.probs.n_head);
        let n = n.min(rows).min(self.pos);
        let Some(readback) = self
            .probs
            .readback
            .as_ref()
            .filter(|_| layer < self.probs.layers.len())
        else {
            return Err(LanternError::Gpu(format!(
                "attention of layer {layer} is not captured (capture size {rows})"
            )));
        };
        // Each head's first n rows are one contiguous run of n × rows floats: n_head copies,
        // one submit, n_head × n × rows × 4 bytes read back.
        let run = (n * rows * 4) as u64;
        let mut enc = gpu.encoder();
        for h in 0..nh {
            let from = (h * rows * rows * 4) as u64;
            enc.copy_buffer_to_buffer(self.probs.layer(layer), from, readback, h as u64 * run, run);
        }
        gpu.submit(enc);
        let bytes = gpu.read(readback, (nh as u64 * run).max(4)).await?;
        let all: Vec<f32> = bytemuck::pod_collect_to_vec(&bytes[..nh * n * rows * 4]);
        let mut out = Vec::with_capacity(nh * n * n);
        for row in all.chunks(rows.max(1)) {
            out.extend_from_slice(&row[..n]);
        }
        Ok(out)
    }

    /// Tokens in the KV cache.
    pub fn position(&self) -> usize {
        self.pos
    }

    /// Forgets the context from position `pos` on (0: all of it); the next pass starts there.
    pub fn truncate(&mut self, pos: usize) {
        self.pos = self.pos.min(pos);
    }

    /// Forgets the whole context.
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
        if let Some(&bad) = tokens.iter().find(|&&t| t as usize >= self.vocab) {
            return Err(LanternError::TokenOutOfRange {
                id: bad,
                vocab: self.vocab,
            });
        }
        let chunks: Vec<&[u32]> = tokens.chunks(self.chunk).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            gpu.queue
                .write_buffer(&self.io.tokens, 0, bytemuck::cast_slice(chunk));
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
        gpu.read_f32(&self.io.logits, self.vocab).await
    }

    fn check_room(&self, n: usize) -> Result<()> {
        if self.pos + n > self.context {
            return Err(LanternError::PromptTooLong {
                prompt_tokens: self.pos + n,
                context: self.context,
            });
        }
        Ok(())
    }

    /// Records and submits one pass over `n` tokens starting at `self.pos`; with `sample`
    /// set, also the final norm, the logits of the last token and the sampler.
    fn pass(&mut self, gpu: &Gpu, n: usize, sample: Option<(SampleParams, f32)>) {
        let u = sample.map_or(0.0, |(_, u)| u);
        let step = Step {
            n_tokens: n as u32,
            pos0: self.pos as u32,
            u,
            capture: self.capturing as u32,
        };
        gpu.queue
            .write_buffer(&self.io.step, 0, bytemuck::bytes_of(&step));
        if let Some((s, _)) = sample
            && self.last_sample != Some(s)
        {
            gpu.queue.write_buffer(
                &self.io.sample_params,
                0,
                bytemuck::bytes_of(&sample::Params::new(self.vocab as u32, s)),
            );
            self.last_sample = Some(s);
        }
        let mut enc = gpu.encoder();
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.body.encode_layers(gpu, &mut pass, n as u32);
        }
        if sample.is_some() {
            let row_bytes = (self.n_embd * 4) as u64;
            enc.copy_buffer_to_buffer(
                self.body.x(),
                (n as u64 - 1) * row_bytes,
                &self.io.x_last,
                0,
                row_bytes,
            );
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                self.body.encode_head(gpu, &mut pass);
                sample::dispatch(gpu, &self.io.sample, &mut pass, &self.io.sample_bind);
            }
            // The pick is the next decode pass's input, and the one value the CPU reads.
            enc.copy_buffer_to_buffer(&self.io.sampled, 0, &self.io.tokens, 0, 4);
            enc.copy_buffer_to_buffer(&self.io.sampled, 0, &self.io.readback, 0, 4);
        }
        gpu.submit(enc);
        self.pos += n;
    }

    async fn read_sampled(&self, gpu: &Gpu) -> Result<u32> {
        let bytes = gpu.read(&self.io.readback, 4).await?;
        Ok(u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}
