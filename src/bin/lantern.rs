//! `lantern`: the engine on the command line (wgpu on Vulkan).
//!
//!     lantern generate --model DIR --prompt TEXT [--max-tokens N] [--temperature T]
//!                      [--top-k K] [--top-p P] [--seed S] [--json] [--cpu]
//!     lantern tokenize --model DIR --text TEXT
//!     lantern info     --model DIR
//!     lantern bench    --model DIR [--prompt-tokens N] [--gen-tokens M] [--json]

use lantern::cpu::SampleParams;
use lantern::generate::{GenerateOptions, Generation, check_prompt, generate_cpu};
use lantern::gpu::Gpu;
use lantern::gpu::gpt2::Gpt2Gpu;
use lantern::model::{LoadedModel, list_tensors};
use std::collections::{BTreeMap, HashMap};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

const USAGE: &str = "\
lantern: a small GPT on hand-written WGSL compute shaders

USAGE:
  lantern generate --model DIR --prompt TEXT [--max-tokens N] [--temperature T]
                   [--top-k K] [--top-p P] [--seed S] [--json] [--cpu]
  lantern tokenize --model DIR --text TEXT
  lantern info     --model DIR
  lantern bench    --model DIR [--prompt-tokens N] [--gen-tokens M] [--json]

DIR is a Hugging Face GPT-2 folder: config.json, model.safetensors, and tokenizer.json
(or vocab.json + merges.txt). --temperature 0 is greedy. Defaults: --max-tokens 64
--temperature 0.8 --top-k 40 --top-p 0.95 --seed 0; --prompt-tokens 32 --gen-tokens 32.
--cpu runs the CPU reference instead of the GPU (slow).";

/// Prints a line to stdout; a closed pipe (`lantern info | head`) ends output quietly.
macro_rules! say {
    ($($arg:tt)*) => {{
        let mut out = std::io::stdout().lock();
        if writeln!(out, $($arg)*).is_err() {
            std::process::exit(0);
        }
    }};
}

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

    fn flag(&self, name: &str) -> bool {
        self.flags.iter().any(|f| f == name)
    }
}

fn run(args: &[String]) -> Result<(), String> {
    let Some((command, rest)) = args.split_first() else {
        return Err(USAGE.to_string());
    };
    match command.as_str() {
        "generate" => generate(&Args::parse(
            rest,
            &[
                "model",
                "prompt",
                "max-tokens",
                "temperature",
                "top-k",
                "top-p",
                "seed",
            ],
            &["json", "cpu"],
        )?),
        "tokenize" => tokenize(&Args::parse(rest, &["model", "text"], &[])?),
        "info" => info(&Args::parse(rest, &["model"], &[])?),
        "bench" => bench(&Args::parse(
            rest,
            &["model", "prompt-tokens", "gen-tokens"],
            &["json"],
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

fn generate(args: &Args) -> Result<(), String> {
    let prompt = args.required("prompt")?;
    let opts = GenerateOptions {
        max_tokens: args.get("max-tokens", 64)?,
        sample: SampleParams {
            temperature: args.get("temperature", 0.8)?,
            top_k: args.get("top-k", 40)?,
            top_p: args.get("top-p", 0.95)?,
        },
        seed: args.get("seed", 0)?,
    };
    opts.validate().map_err(|e| e.to_string())?;
    let (_, m) = load(args)?;
    let json = args.flag("json");
    let prompt_ids = m.tokenizer.encode(prompt);
    check_prompt(&prompt_ids, m.weights.config.n_positions).map_err(|e| e.to_string())?;

    let generated_ids = if args.flag("cpu") {
        let (ids, _) =
            generate_cpu(&m.weights, m.eos, &prompt_ids, opts).map_err(|e| e.to_string())?;
        if !json {
            say!("{}", m.tokenizer.decode(&ids));
        }
        ids
    } else {
        let gpu = open_gpu()?;
        let mut model =
            pollster::block_on(Gpt2Gpu::new(&gpu, &m.weights)).map_err(|e| e.to_string())?;
        let mut generation = Generation::new(
            &gpu,
            &mut model,
            &m.tokenizer,
            m.eos,
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

fn tokenize(args: &Args) -> Result<(), String> {
    let (_, m) = load(args)?;
    let ids = m.tokenizer.encode(args.required("text")?);
    say!("{}", serde_json::json!({ "ids": ids }));
    Ok(())
}

fn info(args: &Args) -> Result<(), String> {
    let (path, m) = load(args)?;
    let c = &m.weights.config;
    let dir = if path.is_file() {
        path.parent().unwrap_or(&path).to_path_buf()
    } else {
        path.clone()
    };
    let bytes = std::fs::read(dir.join("model.safetensors")).map_err(|e| e.to_string())?;
    let tensors = list_tensors(&bytes, "model.safetensors").map_err(|e| e.to_string())?;
    let mut dtypes: BTreeMap<String, usize> = BTreeMap::new();
    for t in &tensors {
        *dtypes.entry(t.dtype.clone()).or_default() += 1;
    }
    let weights_bytes = 4 * c.parameter_count() as u64
        + if m.weights.lm_head.is_some() {
            4 * (c.vocab_size * c.n_embd) as u64
        } else {
            0
        };
    let kv_bytes = (2 * c.n_layer * c.n_positions * c.n_embd * 4) as u64;
    say!("model:        {}", dir.display());
    say!("architecture: GPT-2");
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
        if m.weights.lm_head.is_some() {
            "separate lm_head, counted apart"
        } else {
            "lm_head tied to wte"
        }
    );
    say!(
        "tokenizer:    {} tokens, end of text {:?}",
        m.tokenizer.vocab_size(),
        m.eos
    );
    say!(
        "tensors:      {} stored; dtypes {:?}",
        tensors.len(),
        dtypes
    );
    for t in &tensors {
        say!("  {:<40} {:<5} {:?}", t.name, t.dtype, t.shape);
    }
    say!(
        "gpu memory:   weights {:.1} MB (f32), KV cache {:.1} MB for {} tokens",
        weights_bytes as f64 / 1e6,
        kv_bytes as f64 / 1e6,
        c.n_positions
    );
    Ok(())
}

fn bench(args: &Args) -> Result<(), String> {
    let n_prompt: usize = args.get("prompt-tokens", 32)?;
    let n_gen: usize = args.get("gen-tokens", 32)?;
    let (path, m) = load(args)?;
    let ctx = m.weights.config.n_positions;
    if n_prompt == 0 || n_gen == 0 || n_prompt + n_gen > ctx {
        return Err(format!(
            "--prompt-tokens ({n_prompt}) and --gen-tokens ({n_gen}) must be at least 1 and add up to at most the context ({ctx})"
        ));
    }
    // A prompt of exactly n_prompt tokens: a text's ids, repeated.
    let seed_ids = m
        .tokenizer
        .encode("The quick brown fox jumps over the lazy dog. ");
    let prompt: Vec<u32> = seed_ids.iter().cycle().take(n_prompt).copied().collect();
    // Sampling as in use (not greedy), so the sampler's cost counts.
    let s = SampleParams {
        temperature: 0.8,
        top_k: 40,
        top_p: 0.95,
    };

    let gpu = open_gpu()?;
    let mut model =
        pollster::block_on(Gpt2Gpu::new(&gpu, &m.weights)).map_err(|e| e.to_string())?;
    let err = |e: lantern::LanternError| e.to_string();
    // Warm-up: drivers may finish compiling pipelines on first use.
    pollster::block_on(model.prefill(&gpu, &prompt, s, 0.5)).map_err(err)?;
    pollster::block_on(model.decode(&gpu, s, 0.5)).map_err(err)?;
    model.reset();
    let after_load = gpu.snapshot();

    let t0 = Instant::now();
    pollster::block_on(model.prefill(&gpu, &prompt, s, 0.5)).map_err(err)?;
    let prefill_s = t0.elapsed().as_secs_f64();

    let before = gpu.snapshot();
    let t1 = Instant::now();
    for i in 0..n_gen {
        pollster::block_on(model.decode(&gpu, s, (i as f32 * 0.618).fract())).map_err(err)?;
    }
    let decode_s = t1.elapsed().as_secs_f64();
    let d = gpu.snapshot().since(&before);
    let created = gpu.snapshot().since(&after_load).objects();

    let per = |x: u64| x as f64 / n_gen as f64;
    let report = serde_json::json!({
        "model": path.display().to_string(),
        "adapter": gpu.describe(),
        "prompt_tokens": n_prompt,
        "gen_tokens": n_gen,
        "prefill_tokens_per_s": n_prompt as f64 / prefill_s,
        "decode_tokens_per_s": n_gen as f64 / decode_s,
        "dispatches_per_token": per(d.dispatches),
        "submits_per_token": per(d.submits),
        "readback_bytes_per_token": per(d.readback_bytes),
        "gpu_objects_created_after_load": created,
    });
    if args.flag("json") {
        say!("{report}");
    } else {
        say!("model:     {}", path.display());
        say!("adapter:   {}", gpu.describe());
        say!(
            "prefill:   {n_prompt} tokens in {:.3} s = {:.1} tokens/s",
            prefill_s,
            n_prompt as f64 / prefill_s
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
    }
    Ok(())
}
