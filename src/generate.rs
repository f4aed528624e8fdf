//! Generation: prefill the prompt, then decode one token per pass until the end-of-text
//! token, the token limit or the end of the context, as a stream of text pieces that never
//! split a character.

use crate::cpu::{self, SampleParams};
use crate::error::{LanternError, Result};
use crate::gpu::Gpu;
use crate::gpu::model::GpuModel;
use crate::gpu::top_k::TopK;
use crate::model::{TextStream, Tokenizer, Weights};

/// What to generate and how to pick tokens.
#[derive(Debug, Clone, Copy)]
pub struct GenerateOptions {
    /// New tokens at most, e.g. 64.
    pub max_tokens: usize,
    pub sample: SampleParams,
    /// Seed of the random numbers the sampler draws with.
    pub seed: u64,
}

impl Default for GenerateOptions {
    fn default() -> Self {
        Self {
            max_tokens: 64,
            sample: SampleParams {
                temperature: 0.8,
                top_k: 40,
                top_p: 0.95,
                repeat_penalty: 1.0,
            },
            seed: 0,
        }
    }
}

impl GenerateOptions {
    pub fn validate(&self) -> Result<()> {
        let s = &self.sample;
        if !(s.temperature >= 0.0 && s.temperature.is_finite()) {
            return Err(LanternError::Sampling(format!(
                "temperature must be 0 or more, got {}",
                s.temperature
            )));
        }
        if !(s.top_p > 0.0 && s.top_p <= 1.0) {
            return Err(LanternError::Sampling(format!(
                "top-p must be in (0, 1], got {}",
                s.top_p
            )));
        }
        if !(s.repeat_penalty > 0.0 && s.repeat_penalty.is_finite()) {
            return Err(LanternError::Sampling(format!(
                "the repetition penalty must be more than 0 (1 = off), got {}",
                s.repeat_penalty
            )));
        }
        Ok(())
    }
}

/// Why generation ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopReason {
    EndOfText,
    MaxTokens,
    ContextFull,
    /// An error (a lost device, say) ended it; the iterator yielded the error.
    Failed,
}

/// The random numbers of the sampler (splitmix64): the same seed gives the same text.
pub struct SampleRng(u64);

impl SampleRng {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// Uniform in [0, 1), 24 bits.
    pub fn next_uniform(&mut self) -> f32 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        (z >> 40) as f32 / (1u64 << 24) as f32
    }
}

/// Checks a prompt against the context before any GPU work.
pub fn check_prompt(prompt_ids: &[u32], context: usize) -> Result<()> {
    if prompt_ids.is_empty() {
        return Err(LanternError::EmptyPrompt);
    }
    if prompt_ids.len() > context {
        return Err(LanternError::PromptTooLong {
            prompt_tokens: prompt_ids.len(),
            context,
        });
    }
    Ok(())
}

/// A generation in progress on the GPU. Natively it is an [`Iterator`] of text pieces; on
/// the web, call [`Generation::next_piece`].
pub struct Generation<'a> {
    gpu: &'a Gpu,
    model: &'a mut GpuModel,
    tokenizer: &'a Tokenizer,
    stop_ids: &'a [u32],
    opts: GenerateOptions,
    rng: SampleRng,
    pub prompt_ids: Vec<u32>,
    /// Prompt tokens already in the KV cache from an earlier generation (chat turns).
    cached: usize,
    pub generated_ids: Vec<u32>,
    /// The top-k candidates each generated token was drawn from (when the model captures;
    /// see [`GpuModel::prediction`]), one per `generated_ids` entry.
    pub predictions: Vec<Option<TopK>>,
    text: TextStream,
    /// Texts that end the generation (a chat format's turn markers), not shown.
    stop_texts: Vec<String>,
    /// Text decoded but not shown yet: it may be the start of a stop text.
    pending: String,
    /// The text shown so far.
    shown: String,
    /// Whether a stop text ended the generation.
    cut: bool,
    pub stop: Option<StopReason>,
}

impl<'a> Generation<'a> {
    /// Starts from an empty context. Fails if the prompt is empty, longer than the context,
    /// or the options are invalid.
    pub fn new(
        gpu: &'a Gpu,
        model: &'a mut GpuModel,
        tokenizer: &'a Tokenizer,
        stop_ids: &'a [u32],
        prompt_ids: Vec<u32>,
        opts: GenerateOptions,
    ) -> Result<Self> {
        Self::resume(gpu, model, tokenizer, stop_ids, prompt_ids, 0, opts)
    }

    /// As [`Generation::new`], when the KV cache already holds the first `cached` tokens of
    /// the prompt (at least one prompt token is always run again).
    pub fn resume(
        gpu: &'a Gpu,
        model: &'a mut GpuModel,
        tokenizer: &'a Tokenizer,
        stop_ids: &'a [u32],
        prompt_ids: Vec<u32>,
        cached: usize,
        opts: GenerateOptions,
    ) -> Result<Self> {
        opts.validate()?;
        check_prompt(&prompt_ids, model.context)?;
        let cached = cached.min(prompt_ids.len() - 1);
        model.truncate(cached);
        Ok(Self {
            gpu,
            model,
            tokenizer,
            stop_ids,
            opts,
            rng: SampleRng::new(opts.seed),
            prompt_ids,
            cached,
            generated_ids: Vec::new(),
            predictions: Vec::new(),
            text: TextStream::default(),
            stop_texts: Vec::new(),
            pending: String::new(),
            shown: String::new(),
            cut: false,
            stop: None,
        })
    }

    /// Ends the generation where its text reaches one of `texts` (which is not shown).
    pub fn stop_at_texts(mut self, texts: &[String]) -> Self {
        self.stop_texts = texts.iter().filter(|t| !t.is_empty()).cloned().collect();
        self
    }

    /// The next token id, or `None` once generation has stopped.
    pub async fn next_token(&mut self) -> Result<Option<u32>> {
        if self.stop.is_some() {
            return Ok(None);
        }
        if self.generated_ids.len() >= self.opts.max_tokens {
            self.stop = Some(StopReason::MaxTokens);
            return Ok(None);
        }
        let u = self.rng.next_uniform();
        let step = self.generated_ids.len() + 1;
        let numbered = |e| match e {
            LanternError::NonFiniteLogits { position, .. } => {
                LanternError::NonFiniteLogits { step, position }
            }
            e => e,
        };
        if self.opts.sample.repeat_penalty != 1.0 {
            let window = cpu::penalty_window(&self.sequence());
            self.model.set_penalty_window(self.gpu, &window);
        }
        let id = if self.generated_ids.is_empty() {
            self.model
                .prefill(
                    self.gpu,
                    &self.prompt_ids[self.cached..],
                    self.opts.sample,
                    u,
                )
                .await
                .map_err(numbered)?
        } else if self.model.position() >= self.model.context {
            self.stop = Some(StopReason::ContextFull);
            return Ok(None);
        } else {
            self.model
                .decode(self.gpu, self.opts.sample, u)
                .await
                .map_err(numbered)?
        };
        if self.stop_ids.contains(&id) {
            self.stop = Some(StopReason::EndOfText);
            return Ok(None);
        }
        self.generated_ids.push(id);
        self.predictions.push(self.model.prediction().cloned());
        Ok(Some(id))
    }

    /// The next piece of text (possibly several tokens' worth, never half a character), or
    /// `None` at the end.
    pub async fn next_piece(&mut self) -> Result<Option<String>> {
        loop {
            match self.next_token().await? {
                Some(id) => {
                    let piece = self.text.push(self.tokenizer.token_bytes(id));
                    self.pending.push_str(&piece);
                    if let Some(out) = self.release(false) {
                        return Ok(Some(out));
                    }
                }
                None => {
                    let rest = self.text.finish();
                    self.pending.push_str(&rest);
                    return Ok(self.release(true));
                }
            }
        }
    }

    /// The pending text that can be shown: up to a stop text, if one appeared (which ends
    /// the generation); else all of it at the end, or all but a tail that may begin a stop
    /// text.
    fn release(&mut self, end: bool) -> Option<String> {
        let found = self
            .stop_texts
            .iter()
            .filter_map(|s| self.pending.find(s.as_str()))
            .min();
        let keep = match found {
            Some(at) => {
                self.pending.truncate(at);
                self.stop = Some(StopReason::EndOfText);
                self.cut = true;
                0
            }
            None if end => 0,
            None => self.pending.len() - self.longest_stop_prefix_at(),
        };
        let out: String = self.pending.drain(..self.pending.len() - keep).collect();
        self.shown.push_str(&out);
        (!out.is_empty()).then_some(out)
    }

    /// Where in `pending` the longest tail that begins some stop text starts (its length
    /// if none does).
    fn longest_stop_prefix_at(&self) -> usize {
        let p = &self.pending;
        p.char_indices()
            .map(|(i, _)| i)
            .find(|&i| self.stop_texts.iter().any(|s| s.starts_with(&p[i..])))
            .unwrap_or(p.len())
    }

    /// All generated text so far (up to a stop text, when one ended it).
    pub fn text(&self) -> String {
        match self.cut {
            true => self.shown.clone(),
            false => self.tokenizer.decode(&self.generated_ids),
        }
    }

    /// The prompt's ids, then the generated ones.
    pub fn sequence(&self) -> Vec<u32> {
        [&self.prompt_ids[..], &self.generated_ids].concat()
    }

    /// The model it runs on (to read what the last pass captured).
    pub fn model(&self) -> &GpuModel {
        self.model
    }

    /// Tokens in the KV cache: the prompt and every generated token but the last.
    pub fn cached_ids(&self) -> Vec<u32> {
        let mut ids = self.sequence();
        ids.truncate(self.model.position());
        ids
    }
}

#[cfg(not(target_arch = "wasm32"))]
impl Iterator for Generation<'_> {
    type Item = Result<String>;

    fn next(&mut self) -> Option<Self::Item> {
        let r = pollster::block_on(self.next_piece());
        if r.is_err() {
            self.stop.get_or_insert(StopReason::Failed);
        }
        r.transpose()
    }
}

/// The same generation on the CPU reference (a full forward pass per token): slow, for
/// tests and for checking the GPU.
pub fn generate_cpu(
    w: &Weights,
    stop_ids: &[u32],
    prompt_ids: &[u32],
    opts: GenerateOptions,
) -> Result<(Vec<u32>, StopReason)> {
    opts.validate()?;
    let ctx = w.context_length();
    check_prompt(prompt_ids, ctx)?;
    let v = w.vocab_size();
    let mut rng = SampleRng::new(opts.seed);
    let mut ids = prompt_ids.to_vec();
    let mut generated = Vec::new();
    loop {
        if generated.len() >= opts.max_tokens {
            return Ok((generated, StopReason::MaxTokens));
        }
        // The model sees at most `ctx` tokens, as the GPU's KV cache holds.
        if ids.len() > ctx {
            return Ok((generated, StopReason::ContextFull));
        }
        let mut logits = cpu::forward(w, &ids).split_off((ids.len() - 1) * v);
        let window = cpu::penalty_window(&ids);
        cpu::penalize(&mut logits, &window, opts.sample.repeat_penalty);
        let next = cpu::sample(&logits, opts.sample, rng.next_uniform());
        if stop_ids.contains(&next) {
            return Ok((generated, StopReason::EndOfText));
        }
        generated.push(next);
        ids.push(next);
    }
}
