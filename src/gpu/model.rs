//! A model on the GPU, whatever its architecture. Everything is made in [`GpuModel::new`]:
//! weight buffers, activations for one prompt chunk, the KV cache for the whole context,
//! every pipeline and bind group. A pass then only writes the small `Step` uniform (and a
//! prompt's ids), records its dispatches and submits once; the CPU reads back 4 bytes.

use super::attention::{self, Capture, KvCache};
use super::gpt2::Gpt2Body;
use super::llama::LlamaBody;
use super::matmul::LinearBind;
use super::roofline::DecodeCost;
use super::top_k::{self, K, TopK};
use super::{Gpu, Kernel, Shapes, Step, sample};
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
    /// How the KV cache stores its values (f16 by default).
    pub kv_cache: KvCache,
    /// The most bytes one part of a matrix may hold (`None`: the adapter's largest storage
    /// binding). Matrices larger are split by rows into parts, one dispatch each.
    pub max_part_bytes: Option<u64>,
    /// A GPT-2's f32 matrices rounded to f16 on the GPU: half the memory and the reads, not
    /// exact (GPT-2 124M's own checkpoint is f32). 16-bit checkpoints stay 16-bit anyway.
    pub f16_weights: bool,
    /// The kernels' shapes; `None`: the adapter's (`Gpu::shapes`).
    pub shapes: Option<Shapes>,
}

impl ModelOptions {
    /// The kernels' shapes on `gpu`: the ones asked for, else the adapter's.
    pub fn shapes_on(&self, gpu: &Gpu) -> Shapes {
        self.shapes.unwrap_or(gpu.shapes())
    }
}

impl Default for ModelOptions {
    fn default() -> Self {
        Self {
            context: None,
            chunk: MAX_CHUNK,
            capture: 0,
            kv_cache: KvCache::default(),
            max_part_bytes: None,
            f16_weights: false,
            shapes: None,
        }
    }
}

/// The final norm and the unembedding (one fused kernel), bound to some rows: the model's
/// head (the last token's row, whose logits are sampled) or the logit lens's (one row per
/// layer).
type Head = LinearBind;

/// What every architecture shares: the pass's inputs, the last row of the residual stream,
/// the logits, the sampler and its read-back.
pub struct Io {
    pub step: wgpu::Buffer,
    /// [chunk] u32: the ids of this pass (the sampler writes the next one into [0]).
    pub tokens: wgpu::Buffer,
    /// [2, C]: the one row that needs logits (and the sublayer output it resolves).
    pub x_last: wgpu::Buffer,
    /// [V]
    pub logits: wgpu::Buffer,
    /// A 16-byte buffer for slots a kernel does not read (a missing bias, the rope table
    /// of a model without q/k norms in attention: a `vec2f` array needs 8 bytes at least).
    pub unused: wgpu::Buffer,
    sampled: wgpu::Buffer,
    /// The sampled id, then (while capturing) the top-k row of the same logits.
    readback: wgpu::Buffer,
    sample_params: wgpu::Buffer,
    /// The distinct recent ids the repetition penalty applies to (`sample::recent_words`).
    recent: wgpu::Buffer,
    sample: Kernel,
    sample_bind: wgpu::BindGroup,
    top_k: Kernel,
    top_k_params: wgpu::Buffer,
    /// [2K+1] the top-k of `logits`, with the sampled token's probability.
    predicted: wgpu::Buffer,
    top_k_bind: wgpu::BindGroup,
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
        let recent = gpu.storage("recent", sample::RECENT_BYTES)?;
        let sample = sample::kernel(gpu).await?;
        let sample_bind = sample.bind(gpu, &[&sample_params, &step, &logits, &sampled, &recent]);
        let top_k = top_k::kernel(gpu).await?;
        let top_k_params = gpu.uniform(
            "top_k params",
            &top_k::Params {
                vocab: vocab as u32,
                k: K.min(vocab) as u32,
                _pad: [0; 2],
            },
        );
        let row = (top_k::row_len(K.min(vocab)) * 4) as u64;
        let predicted = gpu.storage("predicted", row)?;
        let top_k_bind = top_k.bind(gpu, &[&top_k_params, &logits, &sampled, &predicted]);
        Ok(Self {
            tokens: gpu.storage("tokens", (chunk * 4) as u64)?,
            // With post-norms also the row of the last sublayer's output.
            x_last: gpu.storage("x_last", (2 * n_embd * 4) as u64)?,
            unused: gpu.storage("unused", 16)?,
            readback: gpu.readback("sampled readback", 4 + row),
            step,
            logits,
            sampled,
            sample_params,
            recent,
            sample,
            sample_bind,
            top_k,
            top_k_params,
            predicted,
            top_k_bind,
        })
    }
}

enum Body {
    Gpt2(Gpt2Body),
    Llama(LlamaBody),
}

impl Body {
    fn n_layer(&self) -> usize {
        match self {
            Body::Gpt2(b) => b.n_layer(),
            Body::Llama(b) => b.n_layer(),
        }
    }

    fn attention(&self) -> &attention::Attention {
        match self {
            Body::Gpt2(b) => b.attention(),
            Body::Llama(b) => b.attention(),
        }
    }

    fn encode_embedding(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, t: u32) {
        match self {
            Body::Gpt2(b) => b.encode_embedding(gpu, pass, t),
            Body::Llama(b) => b.encode_embedding(gpu, pass, t),
        }
    }

    /// Block `i` over `t` tokens; the residual stream ends in `x()`.
    fn encode_block(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, i: usize, t: u32, s: u32) {
        match self {
            Body::Gpt2(b) => b.encode_block(gpu, pass, i, t, s),
            Body::Llama(b) => b.encode_block(gpu, pass, i, t, s),
        }
    }

    /// The head over one row of `x`, or with `per_layer` one per block (the logit lens's;
    /// see [`LlamaBody::head`]).
    fn head(&self, gpu: &Gpu, x: &wgpu::Buffer, logits: &wgpu::Buffer, per_layer: bool) -> Head {
        match self {
            Body::Gpt2(b) => b.head(gpu, x, logits),
            Body::Llama(b) => b.head(gpu, x, logits, per_layer),
        }
    }

    /// The final norm and the logits of `rows` rows bound in `h`.
    fn encode_head(&self, gpu: &Gpu, pass: &mut wgpu::ComputePass, h: &Head, rows: u32) {
        match self {
            Body::Gpt2(b) => b.encode_head(gpu, pass, h, rows),
            Body::Llama(b) => b.encode_head(gpu, pass, h, rows),
        }
    }

    fn cost(&self) -> DecodeCost {
        match self {
            Body::Gpt2(b) => b.cost,
            Body::Llama(b) => b.cost,
        }
    }

    fn x(&self) -> &wgpu::Buffer {
        match self {
            Body::Gpt2(b) => &b.x,
            Body::Llama(b) => &b.x,
        }
    }

    /// Where a block's output rows are in `x()`, in bytes: the stream, and with post-norms
    /// the last sublayer's output the head resolves with it (LlamaBody::stream).
    fn stream(&self) -> (u64, Option<u64>) {
        match self {
            Body::Gpt2(_) => (0, None),
            Body::Llama(b) => b.stream(),
        }
    }

    /// Copies the rows `rows` of a block's output (`row_bytes` each) to `to` from row `at`;
    /// with post-norms, the sublayer's output rows too, `to_rows` rows after them.
    fn copy_output(
        &self,
        enc: &mut wgpu::CommandEncoder,
        rows: std::ops::Range<u64>,
        row_bytes: u64,
        to: &wgpu::Buffer,
        at: u64,
        to_rows: u64,
    ) {
        let (x_at, y_at) = self.stream();
        let n = (rows.end - rows.start) * row_bytes;
        let from = rows.start * row_bytes;
        enc.copy_buffer_to_buffer(self.x(), x_at + from, to, at * row_bytes, n);
        if let Some(y_at) = y_at {
            let to_at = (at + to_rows) * row_bytes;
            enc.copy_buffer_to_buffer(self.x(), y_at + from, to, to_at, n);
        }
    }
}

/// The logit lens: each block's output row for the first `rows` positions, kept while
/// capturing, and what turns one position's rows into each layer's top-k (the model's own
/// final norm and unembedding, then top_k.wgsl), all made at load.
struct Lens {
    rows: usize,
    /// [n_layer, rows, C], then with post-norms as many rows of the last sublayer's output
    /// (Body::stream).
    resid: wgpu::Buffer,
    /// [n_layer, C]: one position's rows, the head's input (then theirs of the sublayer's
    /// output).
    x: wgpu::Buffer,
    head: Head,
    /// [1] the id that followed the position (its probability per layer), or u32::MAX.
    next: wgpu::Buffer,
    /// [n_layer, 2K+1]
    out: wgpu::Buffer,
    top_k_bind: wgpu::BindGroup,
    readback: wgpu::Buffer,
}

impl Lens {
    fn new(
        gpu: &Gpu,
        body: &Body,
        io: &Io,
        n_embd: usize,
        vocab: usize,
        rows: usize,
    ) -> Result<Self> {
        let l = body.n_layer();
        let row = (n_embd * 4) as u64;
        // With post-norms, the sublayer output's rows follow the stream's.
        let halves = 1 + body.stream().1.is_some() as u64;
        let x = gpu.storage("lens x", halves * l as u64 * row)?;
        let logits = gpu.storage("lens logits", (l * vocab * 4) as u64)?;
        let next = gpu.storage("lens next", 4)?;
        let out_bytes = (l * top_k::row_len(K.min(vocab)) * 4) as u64;
        let out = gpu.storage("lens top-k", out_bytes)?;
        Ok(Self {
            rows,
            resid: gpu.storage("lens residuals", halves * l as u64 * rows as u64 * row)?,
            head: body.head(gpu, &x, &logits, true),
            top_k_bind: io
                .top_k
                .bind(gpu, &[&io.top_k_params, &logits, &next, &out]),
            readback: gpu.readback("lens readback", out_bytes),
            x,
            next,
            out,
        })
    }
}

pub struct GpuModel {
    body: Body,
    io: Io,
    head: Head,
    /// Made when attention is captured (the visualization); `None` in the CLI and benchmarks.
    lens: Option<Lens>,
    /// The top-k of the last pass's logits, read with its sampled id while capturing.
    prediction: Option<TopK>,
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
    shapes: Shapes,
    /// Bytes of GPU buffers this model made (weights, KV cache, activations).
    pub gpu_bytes: u64,
    /// Of which the KV cache.
    pub kv_cache_bytes: u64,
}

impl GpuModel {
    /// The kernels' shapes this model was built with.
    pub fn shapes(&self) -> Shapes {
        self.shapes
    }

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
                let b = Gpt2Body::new(gpu, w, &io, context, chunk, &probs, &opts).await?;
                let kv = b.kv_cache_bytes;
                (Body::Gpt2(b), kv)
            }
            Weights::Llama(w) => {
                let b = LlamaBody::new(gpu, w, &io, context, chunk, &probs, &opts).await?;
                let kv = b.kv_cache_bytes;
                (Body::Llama(b), kv)
            }
        };
        let head = body.head(gpu, &io.x_last, &io.logits, false);
        let lens = (probs.rows > 0)
            .then(|| Lens::new(gpu, &body, &io, n_embd, vocab, probs.rows))
            .transpose()?;
        gpu.check()?;
        let gpu_bytes = gpu.snapshot().since(&before).buffer_bytes;
        Ok(Self {
            body,
            io,
            head,
            lens,
            prediction: None,
            context,
            vocab,
            n_embd,
            chunk,
            pos: 0,
            last_sample: None,
            probs,
            capturing: false,
            shapes: opts.shapes_on(gpu),
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

    /// Positions whose attention (and lens rows) are captured: the capture size asked for,
    /// at most the context.
    pub fn captured_positions(&self) -> usize {
        self.probs.rows
    }

    /// Layers whose attention is captured (all of them, or 0 without capture).
    pub fn attention_layers(&self) -> usize {
        if self.probs.rows > 0 {
            self.probs.layers.len()
        } else {
            0
        }
    }

    /// The bytes and multiply-adds a decoded token needs at least (for the roofline).
    pub fn decode_cost(&self) -> DecodeCost {
        self.body.cost()
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

    /// The ids the repetition penalty applies to in the next passes
    /// ([`crate::cpu::penalty_window`] of the sequence so far).
    pub fn set_penalty_window(&self, gpu: &Gpu, window: &[u32]) {
        let words = sample::recent_words(window);
        gpu.queue
            .write_buffer(&self.io.recent, 0, bytemuck::cast_slice(&words));
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
    /// set, also the final norm, the logits of the last token and the sampler. While
    /// capturing, also each block's output rows (for the logit lens; a compute pass per
    /// block, as a copy cannot sit inside one) and the top-k of the logits.
    fn pass(&mut self, gpu: &Gpu, n: usize, sample: Option<(SampleParams, f32)>) {
        let u = sample.map_or(0.0, |(_, u)| u);
        // Decode splits the keys of a long context; a prompt pass has work enough, and
        // the capture's exact probabilities need every key in one workgroup.
        let capturing = self.capturing && self.pos < self.probs.rows;
        let splits = if n == 1 && !capturing {
            self.body.attention().splits(self.shapes, self.pos + 1)
        } else {
            1
        };
        let step = Step {
            n_tokens: n as u32,
            pos0: self.pos as u32,
            u,
            capture: self.capturing as u32,
            splits,
            _pad: [0; 3],
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
        let row_bytes = (self.n_embd * 4) as u64;
        let lens = self.lens.as_ref().filter(|_| self.capturing);
        let kept = lens.map_or(0, |l| l.rows.saturating_sub(self.pos).min(n));
        let mut enc = gpu.encoder();
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.body.encode_embedding(gpu, &mut pass, n as u32);
            if kept == 0 {
                for i in 0..self.body.n_layer() {
                    self.body.encode_block(gpu, &mut pass, i, n as u32, splits);
                }
            }
        }
        if let Some(lens) = lens.filter(|_| kept > 0) {
            for i in 0..self.body.n_layer() {
                {
                    let mut pass = enc.begin_compute_pass(&Default::default());
                    self.body.encode_block(gpu, &mut pass, i, n as u32, splits);
                }
                let at = (i * lens.rows + self.pos) as u64;
                let all = (self.body.n_layer() * lens.rows) as u64;
                let rows = 0..kept as u64;
                self.body
                    .copy_output(&mut enc, rows, row_bytes, &lens.resid, at, all);
            }
        }
        if sample.is_some() {
            let last = n as u64 - 1..n as u64;
            self.body
                .copy_output(&mut enc, last, row_bytes, &self.io.x_last, 0, 1);
            {
                let mut pass = enc.begin_compute_pass(&Default::default());
                self.body.encode_head(gpu, &mut pass, &self.head, 1);
                sample::dispatch(gpu, &self.io.sample, &mut pass, &self.io.sample_bind);
                if self.capturing {
                    top_k::dispatch(gpu, &self.io.top_k, &mut pass, &self.io.top_k_bind, 1);
                }
            }
            // The pick is the next decode pass's input, and the one value the CPU reads.
            enc.copy_buffer_to_buffer(&self.io.sampled, 0, &self.io.tokens, 0, 4);
            enc.copy_buffer_to_buffer(&self.io.sampled, 0, &self.io.readback, 0, 4);
            if self.capturing {
                let bytes = self.io.predicted.size();
                enc.copy_buffer_to_buffer(&self.io.predicted, 0, &self.io.readback, 4, bytes);
            }
        }
        gpu.submit(enc);
        self.pos += n;
    }

    /// The sampled id, and while capturing the top-k of the same logits (one read).
    async fn read_sampled(&mut self, gpu: &Gpu) -> Result<u32> {
        let extra = if self.capturing {
            self.io.predicted.size()
        } else {
            0
        };
        let bytes = gpu.read(&self.io.readback, 4 + extra).await?;
        let words: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
        if words[0] as usize >= self.vocab {
            // shaders/sample.wgsl's NON_FINITE: there is no token to give.
            self.prediction = None;
            return Err(LanternError::NonFiniteLogits {
                step: 0,
                position: self.pos,
            });
        }
        self.prediction = self
            .capturing
            .then(|| TopK::from_row(&words[1..], K.min(self.vocab)));
        Ok(words[0])
    }

    /// The top-k candidates of the last sampled token's logits (the model's softmax at
    /// temperature 1, and the sampled token's probability), when the pass ran capturing.
    pub fn prediction(&self) -> Option<&TopK> {
        self.prediction.as_ref()
    }

    /// The logit lens at `pos`: for each block, the top-k tokens the model would predict if
    /// its output went straight to the final norm and the unembedding, and the probability
    /// of `next` (the token that followed) in each. Needs the pass that ran `pos` to have
    /// captured (pos < the capture size). One submit; layers × (2K+1) × 4 bytes read back.
    pub async fn logit_lens(&self, gpu: &Gpu, pos: usize, next: Option<u32>) -> Result<Vec<TopK>> {
        let Some(lens) = self.lens.as_ref().filter(|l| pos < l.rows.min(self.pos)) else {
            return Err(LanternError::Gpu(format!(
                "the logit lens has no captured rows for position {pos} ({} in the cache)",
                self.pos
            )));
        };
        let layers = self.body.n_layer();
        let step = Step {
            n_tokens: layers as u32,
            ..Step::default()
        };
        gpu.queue
            .write_buffer(&self.io.step, 0, bytemuck::bytes_of(&step));
        let next = next.unwrap_or(u32::MAX);
        gpu.queue
            .write_buffer(&lens.next, 0, bytemuck::bytes_of(&next));
        let row_bytes = (self.n_embd * 4) as u64;
        let mut enc = gpu.encoder();
        let halves = if self.body.stream().1.is_some() { 2 } else { 1 };
        for half in 0..halves {
            for i in 0..layers {
                let from = ((half * layers + i) * lens.rows + pos) as u64 * row_bytes;
                let to = (half * layers + i) as u64 * row_bytes;
                enc.copy_buffer_to_buffer(&lens.resid, from, &lens.x, to, row_bytes);
            }
        }
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            self.body
                .encode_head(gpu, &mut pass, &lens.head, layers as u32);
            top_k::dispatch(
                gpu,
                &self.io.top_k,
                &mut pass,
                &lens.top_k_bind,
                layers as u32,
            );
        }
        enc.copy_buffer_to_buffer(&lens.out, 0, &lens.readback, 0, lens.out.size());
        gpu.submit(enc);
        let bytes = gpu.read(&lens.readback, lens.out.size()).await?;
        let words: Vec<u32> = bytemuck::pod_collect_to_vec(&bytes);
        let k = K.min(self.vocab);
        Ok(words
            .chunks(top_k::row_len(k))
            .map(|row| TopK::from_row(row, k))
            .collect())
    }
}
