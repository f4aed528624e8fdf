//! The `lantern` binary, run as a user would.

mod common;
use common::*;
use std::process::Command;

fn lantern(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(args)
        .output()
        .expect("lantern runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn json(text: &str) -> serde_json::Value {
    serde_json::from_str(text.trim())
        .unwrap_or_else(|e| panic!("not one JSON object ({e}): {text}"))
}

#[test]
fn generate_greedy_json_returns_the_golden_ids() {
    if gpu().is_none() {
        return;
    }
    for name in FIXTURES {
        let dir = fixture(name);
        for case in &golden(name).cases {
            let (ok, out, err) = lantern(&[
                "generate",
                "--model",
                dir.to_str().unwrap(),
                "--prompt",
                &case.prompt,
                "--temperature",
                "0",
                // The golden ids are without one (Qwen's default is 1.05).
                "--repeat-penalty",
                "1",
                "--max-tokens",
                "12",
                "--json",
            ]);
            assert!(ok, "{name}: {err}");
            assert!(
                err.contains("adapter: "),
                "the adapter goes to stderr: {err}"
            );
            let v = json(&out);
            let ids = |k: &str| -> Vec<u32> { serde_json::from_value(v[k].clone()).unwrap() };
            assert_eq!(ids("prompt_ids"), case.prompt_ids, "{name}");
            assert_eq!(
                ids("generated_ids"),
                case.greedy_ids,
                "{name}: {:?}",
                case.prompt
            );
            assert!(v["text"].is_string());
        }
    }
}

#[test]
fn generate_on_the_cpu_reference_agrees() {
    let name = "gpt2-odd-f16";
    let case = &golden(name).cases[0];
    let (ok, out, err) = lantern(&[
        "generate",
        "--model",
        fixture(name).to_str().unwrap(),
        "--prompt",
        &case.prompt,
        "--temperature",
        "0",
        "--max-tokens",
        "12",
        "--json",
        "--cpu",
    ]);
    assert!(ok, "{err}");
    let got: Vec<u32> = serde_json::from_value(json(&out)["generated_ids"].clone()).unwrap();
    assert_eq!(got, case.greedy_ids);
}

#[test]
fn sampling_is_seeded() {
    if gpu().is_none() {
        return;
    }
    let dir = fixture("gpt2-wide-bf16");
    let run = |seed: &str| {
        let (ok, out, err) = lantern(&[
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            "Once upon a time",
            "--temperature",
            "1.0",
            "--top-k",
            "50",
            "--top-p",
            "0.9",
            "--seed",
            seed,
            "--max-tokens",
            "20",
            "--json",
        ]);
        assert!(ok, "{err}");
        json(&out)["generated_ids"].clone()
    };
    assert_eq!(run("7"), run("7"), "the same seed gives the same tokens");
    assert_ne!(run("7"), run("8"), "another seed gives other tokens");
}

#[test]
fn tokenize_prints_ids() {
    let name = "gpt2-tiny-f32";
    let case = &golden(name).cases[1];
    let (ok, out, err) = lantern(&[
        "tokenize",
        "--model",
        fixture(name).to_str().unwrap(),
        "--text",
        &case.prompt,
    ]);
    assert!(ok, "{err}");
    let ids: Vec<u32> = serde_json::from_value(json(&out)["ids"].clone()).unwrap();
    assert_eq!(ids, case.prompt_ids);
}

#[test]
fn info_describes_the_checkpoint() {
    let (ok, out, err) = lantern(&[
        "info",
        "--model",
        fixture("gpt2-wide-bf16").to_str().unwrap(),
    ]);
    assert!(ok, "{err}");
    for want in [
        "architecture: GPT-2",
        "n_embd 80",
        "n_head 5",
        "n_inner 200",
        "parameters:",
        "\"BF16\"",
        "transformer.h.1.mlp.c_fc.weight",
        "sampling:     temperature 1, top-k 50, top-p 1, repetition penalty 1 (from Hugging Face generate's defaults for GPT-2",
    ] {
        assert!(out.contains(want), "info lacks {want:?}:\n{out}");
    }
}

#[test]
fn bench_reports_one_submit_per_token_and_no_objects_after_load() {
    if gpu().is_none() {
        return;
    }
    let (ok, out, err) = lantern(&[
        "bench",
        "--model",
        fixture("gpt2-tiny-f32").to_str().unwrap(),
        "--prompt-tokens",
        "20",
        "--gen-tokens",
        "10",
        "--json",
    ]);
    assert!(ok, "{err}");
    let v = json(&out);
    for key in [
        "prefill_tokens_per_s",
        "decode_tokens_per_s",
        "dispatches_per_token",
        "submits_per_token",
        "readback_bytes_per_token",
        "gpu_objects_created_after_load",
        "adapter",
    ] {
        assert!(!v[key].is_null(), "bench lacks {key}: {out}");
    }
    assert_eq!(v["submits_per_token"], 1.0);
    assert_eq!(v["readback_bytes_per_token"], 4.0);
    assert_eq!(v["gpu_objects_created_after_load"], 0);
    // 1 embedding + 5 per block (2 blocks) + the head (final norm fused into lm_head) and
    // the sampler.
    assert_eq!(v["dispatches_per_token"], 13.0);
    // The prompt (20 tokens, one chunk): the same 13 dispatches, one submit.
    assert_eq!(v["prefill_dispatches"], 13);
    assert_eq!(v["prefill_submits"], 1);

    // As the page runs: capturing for its visualization costs one more dispatch (top_k) and
    // the top-k row read back with the id; still one submit and no objects.
    let (ok, out, err) = lantern(&[
        "bench",
        "--model",
        fixture("gpt2-tiny-f32").to_str().unwrap(),
        "--prompt-tokens",
        "20",
        "--gen-tokens",
        "10",
        "--json",
        "--capture",
    ]);
    assert!(ok, "{err}");
    let v = json(&out);
    assert_eq!(v["capture"], 64, "the fixture's whole context");
    assert_eq!(v["submits_per_token"], 1.0);
    assert_eq!(v["readback_bytes_per_token"], 4.0 + 84.0);
    assert_eq!(v["gpu_objects_created_after_load"], 0);
    assert_eq!(v["dispatches_per_token"], 14.0);
}

/// `--profile` times every kernel of a decoded token (as many dispatches as the count says)
/// and `--roofline` measures the adapter and relates decode to it; both in the JSON.
#[test]
fn bench_profile_and_roofline_report_their_figures() {
    if gpu().is_none() {
        return;
    }
    let (ok, out, err) = lantern(&[
        "bench",
        "--model",
        fixture("gpt2-tiny-f32").to_str().unwrap(),
        "--prompt-tokens",
        "8",
        "--gen-tokens",
        "4",
        "--temperature",
        "0",
        "--json",
        "--profile",
        "--roofline",
    ]);
    assert!(ok, "{err}");
    let v = json(&out);
    assert_eq!(v["sampling"]["temperature"], 0.0);
    let rows = v["profile"]["decode_per_token"]
        .as_array()
        .expect("a profile");
    let dispatches: f64 = rows.iter().map(|r| r["dispatches"].as_f64().unwrap()).sum();
    assert_eq!(
        dispatches,
        v["dispatches_per_token"].as_f64().unwrap(),
        "{out}"
    );
    let share: f64 = rows.iter().map(|r| r["share"].as_f64().unwrap()).sum();
    assert!((share - 1.0).abs() < 1e-6, "{out}");
    assert!(v["profile"]["decode_gpu_ms_per_token"].as_f64().unwrap() > 0.0);
    let r = &v["roofline"];
    for key in [
        "read_bytes_per_s",
        "fma_per_s",
        "decode_fraction_of_roofline",
    ] {
        assert!(r[key].as_f64().unwrap() > 0.0, "roofline {key}: {out}");
    }
    // The tiny model's token: 2 blocks of f32 weights and a 657 × 64 unembedding.
    assert!(r["decode_fma_per_token"].as_u64().unwrap() > 657 * 64);
}

/// `--profile` of a prompt longer than one chunk (128 tokens: two submits before the
/// timestamps are read) on the real SmolLM2: each submit's timestamps must resolve to an
/// aligned offset (WebGPU's 256 bytes), and every prompt dispatch is timed.
#[test]
fn bench_profiles_a_prompt_of_several_chunks() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("models/SmolLM2-135M-Instruct.Q4_1.gguf");
    let (Some(_), Some(path)) = (gpu(), model_file(path, "scripts/fetch-model.sh")) else {
        return;
    };
    let (ok, out, err) = lantern(&[
        "bench",
        "--model",
        path.to_str().unwrap(),
        "--prompt-tokens",
        "130",
        "--gen-tokens",
        "1",
        "--temperature",
        "0",
        "--json",
        "--profile",
    ]);
    assert!(ok, "{err}");
    let v = json(&out);
    let rows = v["profile"]["prefill"]
        .as_array()
        .expect("a prompt profile");
    let timed: f64 = rows.iter().map(|r| r["dispatches"].as_f64().unwrap()).sum();
    assert_eq!(timed, v["prefill_dispatches"].as_f64().unwrap(), "{out}");
    assert!(
        v["profile"]["prefill_gpu_ms"].as_f64().unwrap() > 0.0,
        "{out}"
    );
}

#[test]
fn errors_exit_nonzero_with_a_message() {
    let (ok, _, err) = lantern(&["generate", "--model", "/no/such/model", "--prompt", "hi"]);
    assert!(!ok);
    assert!(
        err.contains("config.json") && err.contains("missing"),
        "{err}"
    );
    let (ok, _, err) = lantern(&[
        "generate",
        "--model",
        fixture("gpt2-tiny-f32").to_str().unwrap(),
        "--prompt",
        &"word ".repeat(80),
    ]);
    assert!(!ok);
    assert!(err.contains("context holds 64"), "{err}");
}

/// Runs `lantern` with `stdin` as its standard input: (exit code, stdout, stderr).
fn lantern_with_stdin(args: &[&str], stdin: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("lantern runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().expect("an exit code"),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Usage errors exit with 2 and say what is wrong (and what was meant); runtime errors
/// exit with 1; `--help` and `--version` with 0.
#[test]
fn exit_codes_and_usage_errors() {
    let code = |args: &[&str]| lantern_with_stdin(args, b"");
    let (c, _, err) = code(&["frobnicate"]);
    assert!(
        c == 2 && err.contains("unrecognized subcommand 'frobnicate'"),
        "{c} {err}"
    );
    let (c, _, err) = code(&[
        "generate",
        "--model",
        "x",
        "--prompt",
        "hi",
        "--max-tokens",
        "many",
    ]);
    assert!(c == 2 && err.contains("--max-tokens"), "{c} {err}");
    let (c, _, err) = code(&[
        "generate",
        "--model",
        "x",
        "--prompt",
        "hi",
        "--temprature",
        "1",
    ]);
    assert!(
        c == 2 && err.contains("a similar argument exists: '--temperature'"),
        "{c} {err}"
    );
    let (c, _, err) = code(&[
        "generate", "--model", "x", "--prompt", "hi", "--top-p", "1.5",
    ]);
    assert!(c == 2 && err.contains("at most 1"), "{c} {err}");
    let (c, _, err) = code(&[
        "tokenize",
        "--model",
        "x",
        "--text",
        "a",
        "--text-file",
        "f",
    ]);
    assert!(c == 2 && err.contains("cannot be used with"), "{c} {err}");
    let (c, _, err) = code(&["tokenize", "--model", "x"]);
    assert!(c == 2 && err.contains("--text"), "{c} {err}");
    let (c, _, err) = code(&["generate", "--model", "/no/such/model", "--prompt", "hi"]);
    assert!(c == 1 && err.contains("missing"), "{c} {err}");
    let (c, out, _) = code(&["--version"]);
    assert_eq!(
        (c, out.trim()),
        (0, concat!("lantern ", env!("CARGO_PKG_VERSION")))
    );
    let (c, out, _) = code(&["--help"]);
    assert!(
        c == 0 && out.contains("Exit codes: 0 success, 1 a runtime error"),
        "{out}"
    );
}

/// Every command explains itself with `--help` (and `help CMD`), listing its flags.
#[test]
fn every_command_has_help() {
    for (cmd, flag) in [
        ("generate", "--prompt-file"),
        ("chat", "--system"),
        ("tokenize", "--text-file"),
        ("attention", "--layer"),
        ("lens", "--pos"),
        ("info", "--context"),
        ("bench", "--roofline"),
    ] {
        for args in [vec![cmd, "--help"], vec!["help", cmd]] {
            let (c, out, err) = lantern_with_stdin(&args, b"");
            assert_eq!(c, 0, "{args:?}: {err}");
            assert!(
                out.contains("Usage: lantern ") && out.contains(flag),
                "{args:?}:\n{out}"
            );
            assert!(out.contains("--model"), "{args:?}:\n{out}");
        }
    }
}

/// Texts of any size and any content: 50 KB of prompt from a file, and a text with NUL
/// bytes from standard input, tokenize as the library tokenizes them.
#[test]
fn tokenize_reads_files_and_standard_input() {
    let dir = fixture("gpt2-tiny-f32");
    let m = lantern::model::LoadedModel::from_path(&dir).unwrap();
    let ids = |out: &str| -> Vec<u32> { serde_json::from_value(json(out)["ids"].clone()).unwrap() };
    let big: String = "The quick brown fox jumps over the lazy dog. 123 \n"
        .repeat(1000)
        .chars()
        .take(50_000)
        .collect();
    let file = std::env::temp_dir().join(format!("lantern-cli-{}.txt", std::process::id()));
    std::fs::write(&file, &big).unwrap();
    let (c, out, err) = lantern_with_stdin(
        &[
            "tokenize",
            "--model",
            dir.to_str().unwrap(),
            "--text-file",
            file.to_str().unwrap(),
        ],
        b"",
    );
    std::fs::remove_file(&file).ok();
    assert_eq!(c, 0, "{err}");
    assert_eq!(ids(&out), m.encode_prompt(&big));
    assert!(ids(&out).len() > 5000);

    let from_stdin = |input: &[u8]| {
        let args = [
            "tokenize",
            "--model",
            dir.to_str().unwrap(),
            "--text-file",
            "-",
        ];
        lantern_with_stdin(&args, input)
    };
    let nul = "before\0after \0\0 end";
    let (c, out, err) = from_stdin(nul.as_bytes());
    assert_eq!(c, 0, "{err}");
    let got = ids(&out);
    assert_eq!(got, m.encode_prompt(nul));
    assert_eq!(m.tokenizer.decode(&got), nul, "the NULs survive");

    // Not UTF-8: a runtime error that says where.
    let (c, _, err) = from_stdin(b"ok \xff");
    assert!(
        c == 1 && err.contains("standard input is not UTF-8 text (invalid byte at offset 3)"),
        "{err}"
    );
    let (c, _, err) = lantern_with_stdin(
        &[
            "generate",
            "--model",
            dir.to_str().unwrap(),
            "--prompt-file",
            "/no/such/file",
        ],
        b"",
    );
    assert!(c == 1 && err.contains("cannot read /no/such/file"), "{err}");
}

#[test]
fn attention_json_gives_the_cpu_reference_probabilities() {
    if gpu().is_none() {
        return;
    }
    for name in FIXTURES {
        let dir = fixture(name);
        let prompt = &golden(name).cases[0].prompt;
        let (ok, out, err) = lantern(&[
            "attention",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            prompt,
            // Like the f32 reference (the f16 cache rounds keys and values: gpu_golden.rs).
            "--kv-cache",
            "f32",
        ]);
        assert!(ok, "{name}: {err}");
        let v = json(&out);
        let ids: Vec<u32> = serde_json::from_value(v["ids"].clone()).unwrap();
        let m = lantern::model::LoadedModel::from_path(&dir).unwrap();
        let want = lantern::cpu::attention(&m.weights, &ids);
        let layers = v["layers"].as_array().unwrap();
        assert_eq!(layers.len(), want.len(), "{name}: one entry per layer");
        assert_eq!(v["tokens"].as_array().unwrap().len(), ids.len());
        for (l, want) in layers.iter().zip(&want) {
            let got: Vec<Vec<Vec<f32>>> = serde_json::from_value(l["heads"].clone()).unwrap();
            let got: Vec<f32> = got.into_iter().flatten().flatten().collect();
            assert_close(
                &format!("{name} layer {}", l["layer"]),
                &got,
                want,
                1e-5,
                1e-3,
            );
        }
    }
    let (ok, _, err) = lantern(&[
        "attention",
        "--model",
        fixture(FIXTURES[0]).to_str().unwrap(),
        "--prompt",
        "hi",
        "--layer",
        "99",
    ]);
    assert!(!ok && err.contains("--layer 99"), "{err}");
}

#[test]
fn lens_json_gives_the_cpu_reference_predictions() {
    if gpu().is_none() {
        return;
    }
    for name in FIXTURES {
        let dir = fixture(name);
        let prompt = &golden(name).cases[0].prompt;
        // With the f32 KV cache, like the f32 reference (gpu_golden.rs says why).
        let args = [
            "lens",
            "--model",
            dir.to_str().unwrap(),
            "--prompt",
            prompt,
            "--kv-cache",
            "f32",
        ];
        let (ok, out, err) = lantern(&[&args[..], &["--pos", "1"]].concat());
        assert!(ok, "{name}: {err}");
        let v = json(&out);
        let ids: Vec<u32> = serde_json::from_value(v["ids"].clone()).unwrap();
        let m = lantern::model::LoadedModel::from_path(&dir).unwrap();
        let want = lantern::cpu::logit_lens(&m.weights, &ids, 1);
        let layers = v["layers"].as_array().unwrap();
        assert_eq!(layers.len(), want.len(), "{name}: one entry per layer");
        for (l, want) in layers.iter().zip(&want) {
            let what = format!("{name} layer {}", l["layer"]);
            let got: Vec<f32> = serde_json::from_value(l["probs"].clone()).unwrap();
            let (_, probs, next) = lantern::cpu::top_k(want, got.len(), Some(ids[2]));
            assert_close(&what, &got, &probs, 1e-5, 1e-3);
            let next_prob = l["next_prob"].as_f64().unwrap() as f32;
            assert_close(&what, &[next_prob], &[next.unwrap()], 1e-5, 1e-3);
            assert_eq!(l["tokens"].as_array().unwrap().len(), got.len());
        }
        let (ok, _, err) = lantern(&[&args[..], &["--pos", "999"]].concat());
        assert!(!ok && err.contains("--pos 999"), "{err}");
    }
}

/// `--weights f16` keeps an f32 GPT-2's matrices in f16 on the GPU: less memory, and it
/// still runs (its logits are not exact, so only the memory is compared here).
#[test]
fn f16_weights_halve_an_f32_gpt2s_matrices() {
    if gpu().is_none() {
        return;
    }
    let memory = |weights: &str| {
        let (ok, out, err) = lantern(&[
            "bench",
            "--model",
            fixture("gpt2-tiny-f32").to_str().unwrap(),
            "--prompt-tokens",
            "4",
            "--gen-tokens",
            "2",
            "--weights",
            weights,
            "--json",
        ]);
        assert!(ok, "{err}");
        json(&out)["gpu_memory_bytes"].as_f64().unwrap()
    };
    let (f32_bytes, f16_bytes) = (memory("f32"), memory("f16"));
    assert!(f16_bytes < f32_bytes, "{f16_bytes} vs {f32_bytes}");
    let (ok, _, err) = lantern(&[
        "bench",
        "--model",
        fixture("gpt2-tiny-f32").to_str().unwrap(),
        "--weights",
        "f8",
    ]);
    assert!(
        !ok && err.contains("invalid value 'f8' for '--weights"),
        "{err}"
    );
}
