//! `lantern`: the engine on the command line (wgpu on Vulkan). Run `lantern help`.

use lantern::chat::{Chat, DEFAULT_SYSTEM_PROMPT};
use lantern::cpu::SampleParams;
use lantern::generate::{GenerateOptions, Generation, check_prompt, generate_cpu};
use lantern::gpu::Gpu;
use lantern::gpu::attention::KvCache;
use lantern::gpu::model::{GpuModel, ModelOptions};
use lantern::gpu::profile::Profile;
use lantern::model::gguf::Gguf;
use lantern::model::{LoadedModel, Weights, list_tensors};
use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "\
lantern: a small GPT on hand-written WGSL compute shaders

USAGE:
  lantern generate --model PATH --prompt TEXT [--max-tokens N] [--temperature T]
                   [--top-k K] [--top-p P] [--seed S] [--context N] [--kv-cache f16|f32]
                   [--weights f32|f16] [--json] [--cpu]
  lantern chat     --model PATH [--system TEXT] [--max-tokens N] [--temperature T]
                   [--top-k K] [--top-p P] [--seed S] [--context N] [--kv-cache f16|f32]
                   [--weights f32|f16]
  lantern tokenize --model PATH --text TEXT
  lantern attention --model PATH --prompt TEXT [--layer L] [--kv-cache f16|f32]
  lantern lens     --model PATH --prompt TEXT [--pos I] [--kv-cache f16|f32]
  lantern info     --model PATH [--context N] [--kv-cache f16|f32] [--weights f32|f16]
  lantern bench    --model PATH [--prompt-tokens N] [--gen-tokens M] [--context N] [--json]
                   [--temperature T] [--top-k K] [--top-p P] [--kv-cache f16|f32]
                   [--weights f32|f16] [--capture] [--profile] [--roofline]

PATH is a .gguf file (Llama architecture; F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1 and
Q2_K..Q6_K tensors) or a Hugging Face folder (config.json, model.safetensors, and tokenizer.json or vocab.json + merges.txt)
of a GPT-2 or Llama model.

--kv-cache f32 keeps the KV cache in f32 (default f16: half the memory and reads).
--weights f16 rounds a GPT-2's f32 matrices to f16 on the GPU (half the memory and reads,
not exact; default f32). 16-bit and quantized weights always stay as stored.
--temperature 0 is greedy. Defaults: --max-tokens 64 (chat: 256), --temperature 0.8,
--top-k 40, --top-p 0.95, --seed 0, --context 2048 (the KV cache; at most the model's),
--prompt-tokens 32, --gen-tokens 32. --cpu runs the CPU reference instead of the GPU (slow).

`attention` prints, as JSON, the prompt's tokens and the attention probabilities the GPU
kernels computed over them: per layer (or only --layer L), [head][query][key] (at most 256
tokens).
`lens` prints the logit lens at prompt position I (default: the last): for each layer, the
10 tokens the model would predict from that layer's output (final norm + unembedding), with
their probabilities and that of the token that follows position I.

`bench` samples as `generate` does (--temperature 0: greedy). `bench --capture` runs as the
page does, capturing what its visualization reads (attention probabilities, each block's
output rows, the top-k of each token) for the first 256 positions. `--profile` adds the GPU
time of each kernel per decoded token and per prompt (timestamp queries; the adapter needs
TIMESTAMP_QUERY_INSIDE_PASSES). `--roofline` measures the adapter's read bandwidth and f32
multiply-add rate with two microkernels, and prints decode's speed as a fraction of what
they allow for the bytes and multiply-adds of a token.

In chat, /reset starts a new conversation and /quit (or end of input) leaves. When stdin is
not a terminal, each line is one user turn and the answers are printed in order.";

const DEFAULT_CONTEXT: usize = 2048;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match run(&args) {
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

/// `--name value` options and `--flag` switches after the command.
struct Args {
    values: HashMap<String, String>,
    flags: Vec<String>,
}

impl Args {
    fn parse(args: &[String], valued: &[&str], switches: &[&str]) -> Result<Self, String> {
        let mut values = HashMap::new();
        let mut flags = Vec::new();
        let mut it = args.iter();
        while let Some(a) = it.next() {
            let name = a
                .strip_prefix("--")
                .ok_or_else(|| format!("unexpected argument `{a}`\n\n{USAGE}"))?;
            if valued.contains(&name) {
                let v = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                values.insert(name.to_string(), v.clone());
            } else if switches.contains(&name) {
                flags.push(name.to_string());
            } else {
                return Err(format!("unknown option --{name}\n\n{USAGE}"));
            }
        }
        Ok(Self { values, flags })
    }

    fn required(&self, name: &str) -> Result<&str, String> {
        self.values
            .get(name)
            .map(String::as_str)
            .ok_or_else(|| format!("--{name} is required\n\n{USAGE}"))
    }

    fn get<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.values.get(name) {
            None => Ok(default),
            Some(v) => v
                .parse()
                .map_err(|_| format!("--{name}: cannot read `{v}` as a number")),
        }
    }

    fn value(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(String::as_str)
    }

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }

    fn options(&self, default_max_tokens: usize) -> Result<GenerateOptions, String> {
        let opts = GenerateOptions {
            max_tokens: self.get("max-tokens", default_max_tokens)?,
            sample: SampleParams {
                temperature: self.get("temperature", 0.8)?,
                top_k: self.get("top-k", 40)?,
                top_p: self.get("top-p", 0.95)?,
            },
            seed: self.get("seed", 0)?,
        };
        opts.validate().map_err(|e| e.to_string())?;
        Ok(opts)
    }
}

const SAMPLING: [&str; 8] = [
    "max-tokens",
    "temperature",
    "top-k",
    "top-p",
    "seed",
    "context",
    "kv-cache",
    "weights",
];

fn run(args: &[String]) -> Result<(), String> {
    let Some((command, rest)) = args.split_first() else {
        return Err(USAGE.to_string());
    };
    let with = |extra: &[&'static str]| -> Vec<&'static str> {
        SAMPLING.iter().chain(extra).copied().collect()
    };
    match command.as_str() {
        "generate" => generate(&Args::parse(
            rest,
            &with(&["model", "prompt"]),
            &["json", "cpu"],
        )?),
        "chat" => chat(&Args::parse(rest, &with(&["model", "system"]), &[])?),
        "tokenize" => tokenize(&Args::parse(rest, &["model", "text"], &[])?),
        "attention" => attention(&Args::parse(
            rest,
            &["model", "prompt", "layer", "kv-cache"],
            &[],
        )?),
        "lens" => lens(&Args::parse(
            rest,
            &["model", "prompt", "pos", "kv-cache"],
            &[],
        )?),
        "info" => info(&Args::parse(
            rest,
            &["model", "context", "kv-cache", "weights"],
            &[],
        )?),
        "bench" => bench(&Args::parse(
            rest,
            &[
                "model",
                "prompt-tokens",
                "gen-tokens",
                "context",
                "kv-cache",
                "weights",
                "temperature",
                "top-k",
                "top-p",
            ],
            &["json", "capture", "profile", "roofline"],
        )?),
        "help" | "--help" | "-h" => {
            say!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown command `{other}`\n\n{USAGE}")),
    }
}

fn load(args: &Args) -> Result<(PathBuf, LoadedModel), String> {
    let path = PathBuf::from(args.required("model")?);
    let model = LoadedModel::from_path(&path).map_err(|e| e.to_string())?;
    Ok((path, model))
}

fn open_gpu() -> Result<Gpu, String> {
    let gpu = pollster::block_on(Gpu::new()).map_err(|e| e.to_string())?;
    eprintln!("adapter: {}", gpu.describe());
    Ok(gpu)
}

/// `--kv-cache f16|f32` (f16 unless given).
/// `--weights f16`: a GPT-2's f32 matrices rounded to f16 on the GPU.
fn f16_weights(args: &Args) -> Result<bool, String> {
    match args.value("weights").unwrap_or("f32") {
        "f32" => Ok(false),
        "f16" => Ok(true),
        other => Err(format!("--weights takes f32 or f16, not `{other}`")),
    }
}

fn kv_cache(args: &Args) -> Result<KvCache, String> {
    match args.value("kv-cache").unwrap_or("f16") {
        "f16" => Ok(KvCache::F16),
        "f32" => Ok(KvCache::F32),
        other => Err(format!("--kv-cache takes f16 or f32, not `{other}`")),
    }
}

/// The model on the GPU with `--context`; `capture` positions of what the page's
/// visualization reads (0: none, as generation needs).
fn upload(gpu: &Gpu, m: &LoadedModel, args: &Args, capture: usize) -> Result<GpuModel, String> {
    let context = args.get("context", DEFAULT_CONTEXT)?;
    let opts = ModelOptions {
        context: Some(context),
        capture,
        kv_cache: kv_cache(args)?,
        f16_weights: f16_weights(args)?,
        ..Default::default()
    };
    let mut model =
        pollster::block_on(GpuModel::new(gpu, &m.weights, opts)).map_err(|e| e.to_string())?;
    model.set_capture(capture > 0);
    Ok(model)
}

fn generate(args: &Args) -> Result<(), String> {
    let prompt = args.required("prompt")?;
    let opts = args.options(64)?;
    let (_, m) = load(args)?;
    let json = args.flag("json");
    let prompt_ids = m.encode_prompt(prompt);
    let context = args
        .get("context", DEFAULT_CONTEXT)?
        .min(m.weights.context_length());
    check_prompt(&prompt_ids, context).map_err(|e| e.to_string())?;

    let generated_ids = if args.flag("cpu") {
        let (ids, _) =
            generate_cpu(&m.weights, &m.stop_ids, &prompt_ids, opts).map_err(|e| e.to_string())?;
        if !json {
            say!("{}", m.tokenizer.decode(&ids));
        }
        ids
    } else {
        let gpu = open_gpu()?;
        let mut model = upload(&gpu, &m, args, 0)?;
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

fn chat(args: &Args) -> Result<(), String> {
    let opts = args.options(256)?;
    let (_, m) = load(args)?;
    if m.is_base_model() {
        eprintln!(
            "note: this is a base model (no chat template in the file): it chats in a plain \
             \"User: … / Assistant: …\" format and may answer poorly; `lantern generate` \
             continues text"
        );
    }
    let gpu = open_gpu()?;
    let mut model = upload(&gpu, &m, args, 0)?;
    let system = args
        .values
        .get("system")
        .map_or(DEFAULT_SYSTEM_PROMPT, String::as_str);
    let mut chat = Chat::new(system);
    let interactive = std::io::stdin().is_terminal();
    if interactive {
        eprintln!(
            "chatting with {} ({} tokens of context); /reset starts over, /quit leaves",
            m.weights.architecture(),
            model.context
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

fn tokenize(args: &Args) -> Result<(), String> {
    let (_, m) = load(args)?;
    let ids = m.encode_prompt(args.required("text")?);
    say!("{}", serde_json::json!({ "ids": ids }));
    Ok(())
}

/// Most prompt tokens `attention` captures (as the page's visualization).
const MAX_CAPTURE: usize = 256;

/// The prompt of `args` run through a model that captures it (as the page's visualization).
fn captured(args: &Args) -> Result<(LoadedModel, Gpu, GpuModel, Vec<u32>), String> {
    let (_, m) = load(args)?;
    let ids = m.encode_prompt(args.required("prompt")?);
    let n = ids.len();
    check_prompt(&ids, MAX_CAPTURE.min(m.weights.context_length())).map_err(|e| e.to_string())?;
    let gpu = open_gpu()?;
    let opts = ModelOptions {
        context: Some(n),
        chunk: lantern::gpu::model::MAX_CHUNK,
        capture: n,
        kv_cache: kv_cache(args)?,
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

fn attention(args: &Args) -> Result<(), String> {
    let (m, gpu, model, ids) = captured(args)?;
    let n = ids.len();
    let n_layer = m.weights.n_layer();
    let layers: Vec<usize> = match args.values.get("layer") {
        None => (0..n_layer).collect(),
        Some(_) => {
            let l = args.get("layer", 0usize)?;
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

fn lens(args: &Args) -> Result<(), String> {
    let (m, gpu, model, ids) = captured(args)?;
    let n = ids.len();
    let pos = args.get("pos", n - 1)?;
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

fn info(args: &Args) -> Result<(), String> {
    let (path, m) = load(args)?;
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
    let model = upload(&gpu, &m, args, 0)?;
    say!(
        "gpu memory:   {:.1} MB in all: KV cache {:.1} MB for {} tokens, weights and activations {:.1} MB",
        model.gpu_bytes as f64 / 1e6,
        model.kv_cache_bytes as f64 / 1e6,
        model.context,
        (model.gpu_bytes - model.kv_cache_bytes) as f64 / 1e6
    );
    Ok(())
}

fn bench(args: &Args) -> Result<(), String> {
    let n_prompt: usize = args.get("prompt-tokens", 32)?;
    let n_gen: usize = args.get("gen-tokens", 32)?;
    let (path, m) = load(args)?;
    let ctx = args
        .get("context", DEFAULT_CONTEXT)?
        .min(m.weights.context_length());
    if n_prompt == 0 || n_gen == 0 || n_prompt + n_gen > ctx {
        return Err(format!(
            "--prompt-tokens ({n_prompt}) and --gen-tokens ({n_gen}) must be at least 1 and add up to at most the context ({ctx})"
        ));
    }
    // A prompt of exactly n_prompt tokens: a text's ids, repeated.
    let seed_ids = m.encode_prompt("The quick brown fox jumps over the lazy dog. ");
    let prompt: Vec<u32> = seed_ids.iter().cycle().take(n_prompt).copied().collect();
    // Sampling as generate does by default, so the sampler's cost counts.
    let s = args.options(n_gen)?.sample;

    let gpu = open_gpu()?;
    let capture = if args.flag("capture") { MAX_CAPTURE } else { 0 };
    let mut model = upload(&gpu, &m, args, capture)?;
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
        "prompt_tokens": n_prompt,
        "gen_tokens": n_gen,
        "sampling": {"temperature": s.temperature, "top_k": s.top_k, "top_p": s.top_p},
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
    let roofline = if args.flag("roofline") {
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
    let profile = if args.flag("profile") {
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
    if args.flag("json") {
        say!("{report}");
        return Ok(());
    }
    say!("model:     {}", path.display());
    say!("adapter:   {}", gpu.describe());
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
