//! `lantern`: the engine on the command line (wgpu on Vulkan). Run `lantern --help`.

use clap::{Parser, Subcommand, ValueEnum};
use lantern::chat::Chat;
use lantern::cpu::SampleParams;
use lantern::defaults;
use lantern::generate::{GenerateOptions, Generation, check_prompt, generate_cpu};
use lantern::gpu::attention::KvCache;
use lantern::gpu::model::{GpuModel, ModelOptions};
use lantern::gpu::profile::Profile;
use lantern::gpu::{Gpu, Shapes};
use lantern::model::gguf::Gguf;
use lantern::model::{LoadedModel, Weights, list_tensors};
use std::collections::BTreeMap;
use std::io::{BufRead, IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

const ABOUT: &str = "A small GPT on hand-written WGSL compute shaders (wgpu on Vulkan)";

const LONG_ABOUT: &str = "\
A small GPT on hand-written WGSL compute shaders (wgpu on Vulkan).

A model (--model PATH) is a .gguf file (Llama, Qwen 2/3, Gemma 3 or GPT-2; F32, F16, BF16,
Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and Q2_K..Q6_K tensors) or a Hugging Face folder (config.json,
model.safetensors, and tokenizer.json or vocab.json + merges.txt) of a GPT-2, Llama or Qwen
model.

Sampling defaults come from the model: its generation_config.json when it has one, else the
settings its family is recommended with (`lantern info` prints them and where they come
from). --temperature 0 is greedy.";

const EXIT_CODES: &str = "\
Exit codes: 0 success, 1 a runtime error (a bad model file, a prompt too long for the
context, no GPU), 2 a usage error (an unknown flag, a value that does not parse).";

#[derive(Parser)]
#[command(name = "lantern", version, about = ABOUT, long_about = LONG_ABOUT,
    after_help = EXIT_CODES, arg_required_else_help = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Continue a text: prints the new text as it comes (--json: the ids too)
    Generate(GenerateArgs),
    /// Chat on the terminal; from a pipe, each line is one user turn
    #[command(
        long_about = "Chat with the model on the terminal. /reset starts a new \
        conversation and /quit (or the end of input) leaves. When stdin is not a terminal, \
        each line is one user turn and the answers are printed in order."
    )]
    Chat(ChatArgs),
    /// Print a text's token ids as JSON
    Tokenize(TokenizeArgs),
    /// Print the attention probabilities the GPU computed over a prompt, as JSON
    #[command(long_about = "Print, as JSON, the prompt's tokens and the attention \
        probabilities the GPU kernels computed over them: per layer (or only --layer L), \
        [head][query][key] (at most 256 tokens).")]
    Attention(AttentionArgs),
    /// Print the logit lens at one prompt position, as JSON
    #[command(
        long_about = "Print the logit lens at prompt position I (default: the last): \
        for each layer, the 10 tokens the model would predict from that layer's output (final \
        norm + unembedding), with their probabilities and that of the token that follows \
        position I."
    )]
    Lens(LensArgs),
    /// Describe a checkpoint: configuration, tensors, sampling defaults, GPU memory
    Info(InfoArgs),
    /// Measure prompt and decode speed, dispatches, submits and bytes read back per token
    #[command(
        long_about = "Measure prompt and decode speed, and per decoded token the \
        dispatches, submits and bytes read back. Samples as `generate` does (--temperature 0: \
        greedy). --capture runs as the page does, capturing what its visualization reads \
        (attention probabilities, each block's output rows, the top-k of each token) for the \
        first 256 positions. --profile adds the GPU time of each kernel per decoded token and \
        per prompt (timestamp queries; the adapter needs TIMESTAMP_QUERY_INSIDE_PASSES). \
        --roofline measures the adapter's read bandwidth and f32 multiply-add rate with two \
        microkernels, and prints decode's speed as a fraction of what they allow for the \
        bytes and multiply-adds of a token."
    )]
    Bench(BenchArgs),
}

#[derive(clap::Args)]
struct ModelArg {
    /// A .gguf file or a Hugging Face model folder
    #[arg(long, short, value_name = "PATH")]
    model: PathBuf,
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct PromptArg {
    /// The prompt
    #[arg(long, short, value_name = "TEXT")]
    prompt: Option<String>,
    /// Read the prompt from a file (`-`: standard input)
    #[arg(long, value_name = "PATH")]
    prompt_file: Option<PathBuf>,
}

impl PromptArg {
    fn text(&self) -> Result<String, String> {
        read_text(self.prompt.as_deref(), self.prompt_file.as_deref())
    }
}

#[derive(clap::Args)]
#[group(required = true, multiple = false)]
struct TextArg {
    /// The text
    #[arg(long, short, value_name = "TEXT")]
    text: Option<String>,
    /// Read the text from a file (`-`: standard input)
    #[arg(long, value_name = "PATH")]
    text_file: Option<PathBuf>,
}

/// The text given inline, or read from a file (`-`: standard input), all of it: any
/// length, NUL bytes included; it must be UTF-8.
fn read_text(inline: Option<&str>, file: Option<&Path>) -> Result<String, String> {
    let (bytes, what) = match (inline, file) {
        (Some(t), _) => return Ok(t.to_string()),
        (None, Some(p)) if p == Path::new("-") => {
            let mut b = Vec::new();
            std::io::stdin()
                .read_to_end(&mut b)
                .map_err(|e| format!("cannot read standard input: {e}"))?;
            (b, "standard input".to_string())
        }
        (None, Some(p)) => (
            std::fs::read(p).map_err(|e| format!("cannot read {}: {e}", p.display()))?,
            p.display().to_string(),
        ),
        (None, None) => unreachable!("clap requires one of them"),
    };
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "{what} is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

/// Sampling; each left out takes the model's default (`lantern info` shows them).
#[derive(clap::Args)]
struct SamplingArgs {
    /// Temperature (0: greedy) [default: the model's]
    #[arg(long, value_name = "T", value_parser = non_negative)]
    temperature: Option<f32>,
    /// Keep the K most likely tokens (0: all) [default: the model's]
    #[arg(long, value_name = "K")]
    top_k: Option<u32>,
    /// Keep the most likely tokens whose mass reaches P, in (0, 1] [default: the model's]
    #[arg(long, value_name = "P", value_parser = probability)]
    top_p: Option<f32>,
    /// Penalize the last 64 tokens' repeats (1: off; 1.1 is common) [default: the model's]
    #[arg(long, value_name = "R", value_parser = positive)]
    repeat_penalty: Option<f32>,
}

impl SamplingArgs {
    /// The settings for `m`: what was given, the model's defaults for the rest.
    fn resolve(&self, m: &LoadedModel) -> SampleParams {
        let (d, _) = defaults::sampling(m);
        SampleParams {
            temperature: self.temperature.unwrap_or(d.temperature),
            top_k: self.top_k.unwrap_or(d.top_k),
            top_p: self.top_p.unwrap_or(d.top_p),
            repeat_penalty: self.repeat_penalty.unwrap_or(d.repeat_penalty),
        }
    }
}

fn number(s: &str) -> Result<f32, String> {
    s.parse::<f32>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("`{s}` is not a number"))
}

fn non_negative(s: &str) -> Result<f32, String> {
    number(s).and_then(|v| (v >= 0.0).then_some(v).ok_or("must be 0 or more".into()))
}

fn positive(s: &str) -> Result<f32, String> {
    number(s).and_then(|v| (v > 0.0).then_some(v).ok_or("must be more than 0".into()))
}

fn probability(s: &str) -> Result<f32, String> {
    number(s).and_then(|v| {
        (v > 0.0 && v <= 1.0)
            .then_some(v)
            .ok_or("must be more than 0 and at most 1".into())
    })
}

#[derive(Clone, Copy, Default, ValueEnum)]
enum KvArg {
    /// Half the memory and reads
    #[default]
    F16,
    F32,
}

#[derive(Clone, Copy, Default, ValueEnum)]
enum WeightsArg {
    /// As stored
    #[default]
    F32,
    /// A GPT-2's f32 matrices rounded to f16 on the GPU (half the memory and reads, not exact)
    F16,
}

#[derive(Clone, Copy, Default, ValueEnum)]
enum ShapesArg {
    /// The adapter's: CPU adapters' on lavapipe and SwiftShader, GPUs' elsewhere
    #[default]
    Auto,
    /// One lane an output, several outputs an invocation
    Cpu,
    /// 64 lanes an output with a reduction, prompts through the tiled matmul
    Gpu,
}

/// How the model sits on the GPU.
#[derive(clap::Args)]
struct GpuArgs {
    /// Tokens of context (the KV cache; at most the model's)
    #[arg(long, value_name = "N", default_value_t = defaults::CONTEXT)]
    context: usize,
    /// The KV cache's precision
    #[arg(long, value_enum, default_value_t)]
    kv_cache: KvArg,
    /// The GPU copy of an f32 GPT-2's matrices (16-bit and quantized weights stay as stored)
    #[arg(long, value_enum, default_value_t)]
    weights: WeightsArg,
    /// The kernels' shapes (the other adapter kind's, to compare them)
    #[arg(long, value_enum, default_value_t)]
    shapes: ShapesArg,
}

#[derive(clap::Args)]
struct GenerateArgs {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    prompt: PromptArg,
    /// New tokens at most
    #[arg(long, value_name = "N", default_value_t = defaults::MAX_TOKENS_GENERATE)]
    max_tokens: usize,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Seed of the sampler's random numbers
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    gpu: GpuArgs,
    /// Print {prompt_ids, generated_ids, text} as JSON at the end
    #[arg(long)]
    json: bool,
    /// Run the CPU reference instead of the GPU (slow)
    #[arg(long)]
    cpu: bool,
}

#[derive(clap::Args)]
struct ChatArgs {
    #[command(flatten)]
    model: ModelArg,
    /// The system prompt ("" for none)
    #[arg(long, value_name = "TEXT", default_value = defaults::SYSTEM_PROMPT)]
    system: String,
    /// New tokens at most per answer
    #[arg(long, value_name = "N", default_value_t = defaults::MAX_TOKENS_CHAT)]
    max_tokens: usize,
    #[command(flatten)]
    sampling: SamplingArgs,
    /// Seed of the sampler's random numbers (the next turn takes the next seed)
    #[arg(long, default_value_t = 0)]
    seed: u64,
    #[command(flatten)]
    gpu: GpuArgs,
}

#[derive(clap::Args)]
struct TokenizeArgs {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    text: TextArg,
}

#[derive(clap::Args)]
struct AttentionArgs {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    prompt: PromptArg,
    /// Only this layer
    #[arg(long, value_name = "L")]
    layer: Option<usize>,
    /// The KV cache's precision
    #[arg(long, value_enum, default_value_t)]
    kv_cache: KvArg,
}

#[derive(clap::Args)]
struct LensArgs {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    prompt: PromptArg,
    /// The prompt position [default: the last]
    #[arg(long, value_name = "I")]
    pos: Option<usize>,
    /// The KV cache's precision
    #[arg(long, value_enum, default_value_t)]
    kv_cache: KvArg,
}

#[derive(clap::Args)]
struct InfoArgs {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    gpu: GpuArgs,
}

#[derive(clap::Args)]
struct BenchArgs {
    #[command(flatten)]
    model: ModelArg,
    /// Tokens in the prompt pass
    #[arg(long, value_name = "N", default_value_t = 32)]
    prompt_tokens: usize,
    /// Tokens decoded
    #[arg(long, value_name = "M", default_value_t = 32)]
    gen_tokens: usize,
    #[command(flatten)]
    sampling: SamplingArgs,
    #[command(flatten)]
    gpu: GpuArgs,
    /// Print the figures as one JSON object
    #[arg(long)]
    json: bool,
    /// Capture what the page's visualization reads, as the page does
    #[arg(long)]
    capture: bool,
    /// GPU time per kernel (timestamp queries)
    #[arg(long)]
    profile: bool,
    /// The adapter's bandwidth and multiply-add rate, and decode against them
    #[arg(long)]
    roofline: bool,
}

fn main() -> ExitCode {
    // Usage errors exit with 2 (clap), `--help` and `--version` with 0.
    let cli = Cli::parse();
    let done = match &cli.command {
        Command::Generate(a) => generate(a),
        Command::Chat(a) => chat(a),
        Command::Tokenize(a) => tokenize(a),
        Command::Attention(a) => attention(a),
        Command::Lens(a) => lens(a),
        Command::Info(a) => info(a),
        Command::Bench(a) => bench(a),
    };
    match done {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// Prints a line to stdout; a closed pipe (`lantern info | head`) ends output quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        if writeln!(out, $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

fn load(m: &ModelArg) -> Result<(PathBuf, LoadedModel), String> {
    let model = LoadedModel::from_path(&m.model).map_err(|e| e.to_string())?;
    Ok((m.model.clone(), model))
}

fn open_gpu() -> Result<Gpu, String> {
    let gpu = pollster::block_on(Gpu::new()).map_err(|e| e.to_string())?;
    eprintln!("adapter: {}", gpu.describe());
    Ok(gpu)
}

fn kv_cache(k: KvArg) -> KvCache {
    match k {
        KvArg::F16 => KvCache::F16,
        KvArg::F32 => KvCache::F32,
    }
}

/// The model on the GPU with `--context`; `capture` positions of what the page's
/// visualization reads (0: none, as generation needs).
fn upload(gpu: &Gpu, m: &LoadedModel, g: &GpuArgs, capture: usize) -> Result<GpuModel, String> {
    let opts = ModelOptions {
        context: Some(g.context),
        capture,
        kv_cache: kv_cache(g.kv_cache),
        f16_weights: matches!(g.weights, WeightsArg::F16),
        shapes: match g.shapes {
            ShapesArg::Auto => None,
            ShapesArg::Cpu => Some(Shapes::Cpu),
            ShapesArg::Gpu => Some(Shapes::Gpu),
        },
        ..Default::default()
    };
    let mut model =
        pollster::block_on(GpuModel::new(gpu, &m.weights, opts)).map_err(|e| e.to_string())?;
    model.set_capture(capture > 0);
    Ok(model)
}

/// The generation options: `max_tokens`, `seed`, and sampling over the model's defaults.
fn options(
    m: &LoadedModel,
    s: &SamplingArgs,
    max_tokens: usize,
    seed: u64,
) -> Result<GenerateOptions, String> {
    let opts = GenerateOptions {
        max_tokens,
        sample: s.resolve(m),
        seed,
    };
    opts.validate().map_err(|e| e.to_string())?;
    Ok(opts)
}

fn generate(args: &GenerateArgs) -> Result<(), String> {
    let prompt = args.prompt.text()?;
    let (_, m) = load(&args.model)?;
    let opts = options(&m, &args.sampling, args.max_tokens, args.seed)?;
    let json = args.json;
    let prompt_ids = m.encode_prompt(&prompt);
    let context = args.gpu.context.min(m.weights.context_length());
    check_prompt(&prompt_ids, context).map_err(|e| e.to_string())?;

    let generated_ids = if args.cpu {
        let (ids, _) =
            generate_cpu(&m.weights, &m.stop_ids, &prompt_ids, opts).map_err(|e| e.to_string())?;
        if !json {
            say!("{}", m.tokenizer.decode(&ids));
        }
        ids
    } else {
        let gpu = open_gpu()?;
        let mut model = upload(&gpu, &m, &args.gpu, 0)?;
        let mut generation = Generation::new(
            &gpu,
            &mut model,
            &m.tokenizer,
            &m.stop_ids,
            prompt_ids.clone(),
            opts,
        )
        .map_err(|e| e.to_string())?;
        let mut out = std::io::stdout().lock();
        for piece in generation.by_ref() {
            let piece = piece.map_err(|e| e.to_string())?;
            if !json
                && out
                    .write_all(piece.as_bytes())
                    .and_then(|_| out.flush())
                    .is_err()
            {
                return Ok(()); // stdout closed: nobody is reading
            }
        }
        if !json {
            let _ = writeln!(out);
        }
        generation.generated_ids
    };
    if json {
        let obj = serde_json::json!({
            "prompt_ids": prompt_ids,
            "generated_ids": generated_ids,
            "text": m.tokenizer.decode(&generated_ids),
        });
        say!("{obj}");
    }
    Ok(())
}

fn chat(args: &ChatArgs) -> Result<(), String> {
    let (_, m) = load(&args.model)?;
    let opts = options(&m, &args.sampling, args.max_tokens, args.seed)?;
    if m.is_base_model() {
        eprintln!(
            "note: this is a base model (no chat template in the file): it chats in a plain \
             \"User: … / Assistant: …\" format and may answer poorly; `lantern generate` \
             continues text"
        );
    }
    let gpu = open_gpu()?;
    let mut model = upload(&gpu, &m, &args.gpu, 0)?;
    let mut chat = Chat::new(&args.system);
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!(
            "chatting with {} ({} tokens of context; temperature {}, top-k {}, top-p {}, \
             repetition penalty {}); /reset starts over, /quit leaves",
            m.weights.architecture(),
            model.context,
            opts.sample.temperature,
            opts.sample.top_k,
            opts.sample.top_p,
            opts.sample.repeat_penalty
        );
    }
    let stdin = std::io::stdin();
    let mut lines = stdin.lock().lines();
    let mut turn_seed = opts.seed;
    loop {
        if interactive {
            eprint!("\n> ");
            let _ = std::io::stderr().flush();
        }
        let Some(line) = lines.next() else { break };
        let line = line.map_err(|e| format!("cannot read stdin: {e}"))?;
        let text = line.trim();
        match text {
            "" => continue,
            "/quit" | "/exit" => break,
            "/reset" => {
                chat.reset();
                if interactive {
                    eprintln!("(new conversation)");
                }
                continue;
            }
            _ => {}
        }
        let (ids, cached) = match chat.prompt_for(
            &m,
            text,
            model.context,
            opts.max_tokens.min(model.context / 2),
        ) {
            Ok(p) => p,
            Err(e) => {
                eprintln!("error: {e}");
                continue;
            }
        };
        let turn = GenerateOptions {
            seed: turn_seed,
            ..opts
        };
        turn_seed = turn_seed.wrapping_add(1);
        let mut generation = Generation::resume(
            &gpu,
            &mut model,
            &m.tokenizer,
            &m.stop_ids,
            ids,
            cached,
            turn,
        )
        .map_err(|e| e.to_string())?
        .stop_at_texts(&m.chat_format().stop_texts);
        let mut out = std::io::stdout().lock();
        for piece in generation.by_ref() {
            let piece = piece.map_err(|e| e.to_string())?;
            if out
                .write_all(piece.as_bytes())
                .and_then(|_| out.flush())
                .is_err()
            {
                return Ok(());
            }
        }
        let _ = writeln!(out);
        if !interactive {
            let _ = writeln!(out);
        }
        let answer = generation.text();
        let cached = generation.cached_ids();
        chat.answered(&answer, cached);
    }
    Ok(())
}

fn tokenize(args: &TokenizeArgs) -> Result<(), String> {
    let t = &args.text;
    let text = read_text(t.text.as_deref(), t.text_file.as_deref())?;
    let (_, m) = load(&args.model)?;
    let ids = m.encode_prompt(&text);
    say!("{}", serde_json::json!({ "ids": ids }));
    Ok(())
}

/// Most prompt tokens `attention` captures (as the page's visualization).
const MAX_CAPTURE: usize = 256;

/// The prompt of `args` run through a model that captures it (as the page's visualization).
fn captured(
    model: &ModelArg,
    prompt: &PromptArg,
    kv: KvArg,
) -> Result<(LoadedModel, Gpu, GpuModel, Vec<u32>), String> {
    let prompt = prompt.text()?;
    let (_, m) = load(model)?;
    let ids = m.encode_prompt(&prompt);
    let n = ids.len();
    check_prompt(&ids, MAX_CAPTURE.min(m.weights.context_length())).map_err(|e| e.to_string())?;
    let gpu = open_gpu()?;
    let opts = ModelOptions {
        context: Some(n),
        chunk: lantern::gpu::model::MAX_CHUNK,
        capture: n,
        kv_cache: kv_cache(kv),
        ..Default::default()
    };
    let mut model =
        pollster::block_on(GpuModel::new(&gpu, &m.weights, opts)).map_err(|e| e.to_string())?;
    model.set_capture(true);
    pollster::block_on(model.prefill(&gpu, &ids, SampleParams::GREEDY, 0.0))
        .map_err(|e| e.to_string())?;
    Ok((m, gpu, model, ids))
}

fn token_texts(m: &LoadedModel, ids: &[u32]) -> Vec<String> {
    ids.iter()
        .map(|&i| String::from_utf8_lossy(m.tokenizer.token_bytes(i)).into_owned())
        .collect()
}

fn attention(args: &AttentionArgs) -> Result<(), String> {
    let (m, gpu, model, ids) = captured(&args.model, &args.prompt, args.kv_cache)?;
    let n = ids.len();
    let n_layer = m.weights.n_layer();
    let layers: Vec<usize> = match args.layer {
        None => (0..n_layer).collect(),
        Some(l) => {
            if l >= n_layer {
                return Err(format!(
                    "--layer {l}: the model has layers 0 to {}",
                    n_layer - 1
                ));
            }
            vec![l]
        }
    };
    let mut out = Vec::new();
    for &l in &layers {
        let p = pollster::block_on(model.read_attention(&gpu, l, n)).map_err(|e| e.to_string())?;
        let heads: Vec<Vec<&[f32]>> = p.chunks(n * n).map(|h| h.chunks(n).collect()).collect();
        out.push(serde_json::json!({ "layer": l, "heads": heads }));
    }
    let tokens = token_texts(&m, &ids);
    say!(
        "{}",
        serde_json::json!({ "ids": ids, "tokens": tokens, "layers": out })
    );
    Ok(())
}

fn lens(args: &LensArgs) -> Result<(), String> {
    let (m, gpu, model, ids) = captured(&args.model, &args.prompt, args.kv_cache)?;
    let n = ids.len();
    let pos = args.pos.unwrap_or(n - 1);
    if pos >= n {
        return Err(format!(
            "--pos {pos}: the prompt has positions 0 to {}",
            n - 1
        ));
    }
    let next = ids.get(pos + 1).copied();
    let rows = pollster::block_on(model.logit_lens(&gpu, pos, next)).map_err(|e| e.to_string())?;
    let layers: Vec<_> = rows
        .iter()
        .enumerate()
        .map(|(l, r)| {
            serde_json::json!({
                "layer": l,
                "ids": r.ids,
                "tokens": token_texts(&m, &r.ids),
                "probs": r.probs,
                "next_prob": r.chosen,
            })
        })
        .collect();
    say!(
        "{}",
        serde_json::json!({ "ids": ids, "tokens": token_texts(&m, &ids), "pos": pos, "layers": layers })
    );
    Ok(())
}

fn info(args: &InfoArgs) -> Result<(), String> {
    let (path, m) = load(&args.model)?;
    say!("model:        {}", path.display());
    say!("architecture: {}", m.weights.architecture());
    let mut dtypes: BTreeMap<String, usize> = BTreeMap::new();
    let mut tensors = Vec::new();
    match &m.weights {
        Weights::Gpt2(w) => {
            let c = &w.config;
            say!(
                "config:       vocab_size {}, n_positions {}, n_embd {}, n_layer {}, n_head {} (head size {}), n_inner {}, layer_norm_epsilon {}",
                c.vocab_size,
                c.n_positions,
                c.n_embd,
                c.n_layer,
                c.n_head,
                c.head_size(),
                c.n_inner,
                c.layer_norm_epsilon
            );
            say!(
                "parameters:   {} ({})",
                c.parameter_count(),
                if w.lm_head.is_some() {
                    "plus a separate lm_head"
                } else {
                    "lm_head tied to wte"
                }
            );
        }
        Weights::Llama(w) => {
            let c = &w.config;
            say!(
                "config:       architecture {}, vocab_size {}, context_length {}, n_embd {}, n_layer {}, n_head {}, n_kv_head {} (head size {}), n_ff {}, rms_norm_eps {}, rope_theta {}, rope layout {:?}",
                c.arch.name(),
                c.vocab_size,
                c.context_length,
                c.n_embd,
                c.n_layer,
                c.n_head,
                c.n_kv_head,
                c.head_size,
                c.n_ff,
                c.rms_norm_eps,
                c.rope_theta,
                c.rope_layout
            );
            if c.sliding_window > 0 {
                say!(
                    "attention:    sliding window {} on {} of {} layers (RoPE base {}), scale {}",
                    c.sliding_window,
                    c.local_layers.iter().filter(|&&l| l).count(),
                    c.n_layer,
                    c.rope_theta_local,
                    c.attention_scale
                );
            }
            say!(
                "parameters:   {} ({})",
                c.parameter_count(w.output.is_none()),
                if w.output.is_none() {
                    "output tied to token_embd"
                } else {
                    "separate output matrix"
                }
            );
        }
    }
    // The tensors as the file stores them.
    let (file, is_gguf) = lantern::model::weights_file(&path);
    let handle = std::fs::File::open(&file).map_err(|e| e.to_string())?;
    // SAFETY: a read-only map, read while the file is open.
    let bytes = unsafe { memmap2::Mmap::map(&handle) }.map_err(|e| e.to_string())?;
    if is_gguf {
        let g = Gguf::parse(&bytes, &file.display().to_string()).map_err(|e| e.to_string())?;
        say!(
            "gguf:         version {}, {} metadata keys, {} bytes",
            g.version,
            g.metadata.len(),
            bytes.len()
        );
        for t in &g.tensors {
            tensors.push((
                t.name.clone(),
                format!("{:?}", t.format),
                format!("{:?}", t.dims),
            ));
        }
    } else {
        for t in list_tensors(&bytes, "model.safetensors").map_err(|e| e.to_string())? {
            tensors.push((t.name, t.dtype, format!("{:?}", t.shape)));
        }
    }
    for (_, dtype, _) in &tensors {
        *dtypes.entry(dtype.clone()).or_default() += 1;
    }
    say!(
        "tokenizer:    {}, {} tokens; stops at ids {:?}; chat template: {}",
        m.tokenizer.describe(),
        m.tokenizer.vocab_size(),
        m.stop_ids,
        if m.is_base_model() {
            "none (a base model: chat uses Lantern's plain User/Assistant format)"
        } else {
            "the file's"
        }
    );
    let (s, source) = defaults::sampling(&m);
    say!(
        "sampling:     temperature {}, top-k {}, top-p {}, repetition penalty {} (from {source})",
        s.temperature,
        s.top_k,
        s.top_p,
        s.repeat_penalty
    );
    say!(
        "tensors:      {} stored; formats {:?}",
        tensors.len(),
        dtypes
    );
    for (name, dtype, shape) in &tensors {
        say!("  {name:<40} {dtype:<5} {shape}");
    }
    // Measured, not estimated: the bytes of every buffer the model makes on the GPU.
    let gpu = open_gpu()?;
    let model = upload(&gpu, &m, &args.gpu, 0)?;
    say!(
        "gpu memory:   {:.1} MB in all: KV cache {:.1} MB for {} tokens, weights and activations {:.1} MB",
        model.gpu_bytes as f64 / 1e6,
        model.kv_cache_bytes as f64 / 1e6,
        model.context,
        (model.gpu_bytes - model.kv_cache_bytes) as f64 / 1e6
    );
    Ok(())
}

fn bench(args: &BenchArgs) -> Result<(), String> {
    let (n_prompt, n_gen) = (args.prompt_tokens, args.gen_tokens);
    let (path, m) = load(&args.model)?;
    let ctx = args.gpu.context.min(m.weights.context_length());
    if n_prompt == 0 || n_gen == 0 || n_prompt + n_gen > ctx {
        return Err(format!(
            "--prompt-tokens ({n_prompt}) and --gen-tokens ({n_gen}) must be at least 1 and add up to at most the context ({ctx})"
        ));
    }
    // A prompt of exactly n_prompt tokens: a text's ids, repeated.
    let seed_ids = m.encode_prompt("The quick brown fox jumps over the lazy dog. ");
    let prompt: Vec<u32> = seed_ids.iter().cycle().take(n_prompt).copied().collect();
    // Sampling as generate does by default, so the sampler's cost counts.
    let s = options(&m, &args.sampling, n_gen, 0)?.sample;

    let gpu = open_gpu()?;
    let capture = if args.capture { MAX_CAPTURE } else { 0 };
    let mut model = upload(&gpu, &m, &args.gpu, capture)?;
    let err = |e: lantern::LanternError| e.to_string();
    let u = |i: usize| (i as f32 * 0.618).fract();
    // Warm-up: drivers may finish compiling pipelines on first use.
    pollster::block_on(model.prefill(&gpu, &prompt, s, 0.5)).map_err(err)?;
    pollster::block_on(model.decode(&gpu, s, 0.5)).map_err(err)?;
    model.reset();
    let after_load = gpu.snapshot();

    let t0 = Instant::now();
    pollster::block_on(model.prefill(&gpu, &prompt, s, 0.5)).map_err(err)?;
    let prefill_s = t0.elapsed().as_secs_f64();
    let p = gpu.snapshot().since(&after_load);

    let before = gpu.snapshot();
    let t1 = Instant::now();
    for i in 0..n_gen {
        pollster::block_on(model.decode(&gpu, s, u(i))).map_err(err)?;
    }
    let decode_s = t1.elapsed().as_secs_f64();
    let d = gpu.snapshot().since(&before);
    let created = gpu.snapshot().since(&after_load).objects();

    let per = |x: u64| x as f64 / n_gen as f64;
    let mut report = serde_json::json!({
        "model": path.display().to_string(),
        "adapter": gpu.describe(),
        "kernel_shapes": format!("{:?}", model.shapes()).to_lowercase(),
        "prompt_tokens": n_prompt,
        "gen_tokens": n_gen,
        "sampling": {"temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p, "repeat_penalty": s.repeat_penalty},
        "prefill_tokens_per_s": n_prompt as f64 / prefill_s,
        "decode_tokens_per_s": n_gen as f64 / decode_s,
        "dispatches_per_token": per(d.dispatches),
        "submits_per_token": per(d.submits),
        "readback_bytes_per_token": per(d.readback_bytes),
        "prefill_dispatches": p.dispatches,
        "prefill_submits": p.submits,
        "prefill_chunks": n_prompt.div_ceil(lantern::gpu::model::MAX_CHUNK),
        "gpu_objects_created_after_load": created,
        "gpu_memory_bytes": model.gpu_bytes,
        "capture": model.captured_positions(),
    });
    // Decode's tokens sat at positions n_prompt .. n_prompt + n_gen: their mean.
    let mean_pos = n_prompt + n_gen / 2;
    let roofline = if args.roofline {
        let r = pollster::block_on(lantern::gpu::roofline::measure(&gpu)).map_err(err)?;
        let (bytes, fma) = model.decode_cost().at(mean_pos);
        let bound = r.bound_s(bytes, fma);
        let fraction = bound / (decode_s / n_gen as f64);
        report["roofline"] = serde_json::json!({
            "read_bytes_per_s": r.read_bytes_per_s,
            "fma_per_s": r.fma_per_s,
            "decode_bytes_per_token": bytes,
            "decode_fma_per_token": fma,
            "decode_bound_tokens_per_s": 1.0 / bound,
            "decode_fraction_of_roofline": fraction,
        });
        Some((r, bytes, fma, bound, fraction))
    } else {
        None
    };
    let profile = if args.profile {
        gpu.start_profiling().map_err(err)?;
        model.reset();
        let mut prefill = Profile::default();
        pollster::block_on(model.prefill(&gpu, &prompt, s, 0.5)).map_err(err)?;
        pollster::block_on(gpu.read_profile(&mut prefill)).map_err(err)?;
        let mut decode = Profile::default();
        for i in 0..n_gen {
            pollster::block_on(model.decode(&gpu, s, u(i))).map_err(err)?;
            pollster::block_on(gpu.read_profile(&mut decode)).map_err(err)?;
        }
        let table = |p: &Profile, per: f64| -> serde_json::Value {
            let mut rows: Vec<_> = p.kernels.iter().collect();
            rows.sort_by(|a, b| b.1.1.total_cmp(&a.1.1));
            rows.iter()
                .map(|(name, (n, ns))| {
                    serde_json::json!({
                        "kernel": name,
                        "dispatches": *n as f64 / per,
                        "ms": ns / 1e6 / per,
                        "share": ns / p.total_ns(),
                    })
                })
                .collect()
        };
        report["profile"] = serde_json::json!({
            "decode_gpu_ms_per_token": decode.total_ns() / 1e6 / n_gen as f64,
            "decode_per_token": table(&decode, n_gen as f64),
            "prefill_gpu_ms": prefill.total_ns() / 1e6,
            "prefill": table(&prefill, 1.0),
        });
        true
    } else {
        false
    };
    if args.json {
        say!("{report}");
        return Ok(());
    }
    say!("model:     {}", path.display());
    say!("adapter:   {}", gpu.describe());
    say!("shapes:    {:?} kernels", model.shapes());
    say!(
        "sampling:  temperature {}, top-k {}, top-p {}",
        s.temperature,
        s.top_k,
        s.top_p
    );
    if capture > 0 {
        let n = model.captured_positions();
        say!("capture:   the page's visualization, first {n} positions");
    }
    say!(
        "prefill:   {n_prompt} tokens in {:.3} s = {:.1} tokens/s ({} dispatches, {} submits)",
        prefill_s,
        n_prompt as f64 / prefill_s,
        p.dispatches,
        p.submits
    );
    say!(
        "decode:    {n_gen} tokens in {:.3} s = {:.1} tokens/s",
        decode_s,
        n_gen as f64 / decode_s
    );
    say!(
        "per decoded token: {} dispatches, {} submits, {} bytes read back",
        per(d.dispatches),
        per(d.submits),
        per(d.readback_bytes)
    );
    say!("GPU objects created after load: {created}");
    say!("GPU memory: {:.1} MB", model.gpu_bytes as f64 / 1e6);
    if let Some((r, bytes, fma, bound, fraction)) = roofline {
        say!(
            "roofline:  read {:.2} GB/s, {:.2} G multiply-adds/s; a token at position {mean_pos} reads {:.1} MB and does {:.3} G multiply-adds: at best {:.1} tokens/s; decode runs at {:.1}% of that",
            r.read_bytes_per_s / 1e9,
            r.fma_per_s / 1e9,
            bytes as f64 / 1e6,
            fma as f64 / 1e9,
            1.0 / bound,
            100.0 * fraction
        );
    }
    if profile {
        let show = |title: &str, v: &serde_json::Value, total: f64| {
            say!("{title}: {total:.2} ms of GPU time");
            for row in v.as_array().into_iter().flatten() {
                say!(
                    "  {:>8.3} ms {:>5.1}% {:>6.1}×  {}",
                    row["ms"].as_f64().unwrap_or(0.0),
                    100.0 * row["share"].as_f64().unwrap_or(0.0),
                    row["dispatches"].as_f64().unwrap_or(0.0),
                    row["kernel"].as_str().unwrap_or("")
                );
            }
        };
        let pr = &report["profile"];
        show(
            "profile, per decoded token",
            &pr["decode_per_token"],
            pr["decode_gpu_ms_per_token"].as_f64().unwrap_or(0.0),
        );
        show(
            "profile, the prompt",
            &pr["prefill"],
            pr["prefill_gpu_ms"].as_f64().unwrap_or(0.0),
        );
    }
    Ok(())
}
