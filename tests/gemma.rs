//! Gemma 3 270M (the real Q4_K_M GGUF: scripts/fetch-gemma.sh) against golden data of
//! independent implementations (scripts/make_gemma_golden.py: llama.cpp's tokenizer and
//! greedy decoding, numpy over the `gguf` package's dequantization). Without the file these
//! tests print SKIPPED, unless REQUIRE_MODEL=1 (CI) makes that a failure.

mod common;
use common::real::*;
use common::{gpu, model_file};
use lantern::gpu::model::{GpuModel, ModelOptions};
use lantern::model::LoadedModel;
use lantern::model::llama::{Activation, Arch};
use std::path::PathBuf;
use std::sync::OnceLock;

fn model_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/gemma-3-270m-q4_k_m.gguf")
}

/// The model, loaded once per test binary; `None` when the file is missing (see
/// [`model_file`]).
fn model() -> Option<&'static LoadedModel> {
    static MODEL: OnceLock<Option<LoadedModel>> = OnceLock::new();
    MODEL
        .get_or_init(|| {
            let path = model_file(model_path(), "scripts/fetch-gemma.sh")?;
            Some(LoadedModel::from_path(&path).expect("Gemma 3 loads"))
        })
        .as_ref()
}

fn golden() -> Golden {
    load(&PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/gemma3_golden.json"))
}

#[test]
fn config_comes_from_the_gemma3_metadata() {
    let Some(m) = model() else { return };
    let lantern::model::Weights::Llama(w) = &m.weights else {
        panic!("Gemma runs on the Llama-family body")
    };
    let c = &w.config;
    assert_eq!(c.arch, Arch::Gemma3);
    assert_eq!(
        (
            c.vocab_size,
            c.n_embd,
            c.n_layer,
            c.n_head,
            c.n_kv_head,
            c.head_size,
            c.n_ff
        ),
        (262_144, 640, 18, 4, 1, 256, 2048)
    );
    assert_eq!(c.sliding_window, 512);
    assert_eq!(c.activation, Activation::GeluTanh);
    assert_eq!(c.attention_scale, 1.0 / 16.0);
    assert_eq!(c.embedding_scale, 640f32.sqrt());
    assert_eq!((c.rope_theta, c.rope_theta_local), (1_000_000.0, 10_000.0));
    // Five local layers, then a global one.
    let global: Vec<usize> = (0..18).filter(|&i| !c.local_layers[i]).collect();
    assert_eq!(global, [5, 11, 17]);
    assert!(w.blocks.iter().all(|b| b.attn_q_norm.is_some()
        && b.post_attention_norm.is_some()
        && b.post_ffw_norm.is_some()));
    // A base model: no chat template in the file; BOS before a prompt.
    assert!(m.chat_template.is_none());
    assert_eq!(m.bos, Some(2));
    assert!(
        m.stop_ids.contains(&1) && m.stop_ids.contains(&106),
        "<eos> and <end_of_turn>"
    );
}

#[test]
fn tokenizer_matches_llama_cpp_on_the_corpus() {
    let Some(m) = model() else { return };
    let g = golden();
    assert!(g.tokenizer.len() >= 30);
    for t in &g.tokenizer {
        assert_eq!(m.tokenizer.encode(&t.text), t.ids, "{:?}", t.text);
        // Decoding gives the text back, but for a literal ▁, which stands for a space.
        if !t.text.contains('▁') {
            assert_eq!(m.tokenizer.decode(&t.ids), t.text, "{:?}", t.text);
        }
    }
    for c in &g.cases {
        assert_eq!(m.encode_prompt(&c.text), c.prompt_ids, "{:?}", c.text);
    }
}

#[test]
fn cpu_reference_matches_golden() {
    let Some(m) = model() else { return };
    // The shortest prompts keep the CPU pass quick (its unembedding is 262,144 × 640 per row).
    for text in ["The capital of France is", "1, 2, 3, 4, 5,"] {
        let case = golden().cases.into_iter().find(|c| c.text == text).unwrap();
        let mut seq = case.prompt_ids.clone();
        seq.extend_from_slice(&case.greedy_ids);
        let logits = lantern::cpu::forward(&m.weights, &seq);
        let v = m.weights.vocab_size();
        for want in case.logits.iter().filter(|l| l.position < seq.len()) {
            let row = &logits[want.position * v..][..v];
            check_logits(&format!("cpu {text:?} @{}", want.position), row, want);
        }
    }
}

/// Every prompt (one longer than the 512-token window of the local layers) through the
/// GPU in passes: logits within tolerance, greedy tokens equal before the first near-tie.
/// The Q8_0 embedding (178 MB) is larger than lavapipe's 128 MiB binding: it loads in parts.
#[test]
fn gpu_matches_golden_on_every_prompt() {
    let (Some(m), Some(gpu)) = (model(), gpu()) else {
        return;
    };
    let mut model = pollster::block_on(GpuModel::new(
        gpu,
        &m.weights,
        ModelOptions {
            context: Some(1024),
            ..Default::default()
        },
    ))
    .unwrap();
    let mut prompts_with_5 = 0;
    for case in &golden().cases {
        let what = format!("{:?}", case.text.chars().take(40).collect::<String>());
        let compared = check_case_on_gpu(gpu, &mut model, &what, case);
        eprintln!("{what}: {compared} greedy tokens equal before the first near-tie");
        prompts_with_5 += (compared >= 4) as usize;
    }
    assert!(prompts_with_5 >= 5);
}

/// `lantern generate` runs the real file and continues as the reference does.
#[test]
fn generate_continues_as_the_reference_does() {
    let (Some(m), Some(_)) = (model(), gpu()) else {
        return;
    };
    let case = golden()
        .cases
        .into_iter()
        .find(|c| c.text == "The capital of France is")
        .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args([
            "generate",
            "--model",
            model_path().to_str().unwrap(),
            "--prompt",
            &case.text,
            "--temperature",
            "0",
            "--max-tokens",
            "8",
            "--context",
            "64",
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    let want = m.tokenizer.decode(&case.greedy_ids);
    assert_eq!(text.trim_end_matches('\n'), want);
}

/// A base model chats through Lantern's plain fallback format; the answer ends where the
/// model starts the next "User:" turn, and Gemma 3 270M knows this one.
#[test]
fn chat_through_the_fallback_format_answers_and_stops_at_the_turn() {
    let (Some(_), Some(_)) = (model(), gpu()) else {
        return;
    };
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_lantern"))
        .args([
            "chat",
            "--model",
            model_path().to_str().unwrap(),
            "--temperature",
            "0",
            "--max-tokens",
            "30",
            "--context",
            "256",
        ])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"What is the capital of France?\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let (text, err) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{err}");
    assert!(err.contains("base model"), "the user is told: {err}");
    assert!(text.contains("Paris"), "chat said {text:?}");
    assert!(
        !text.contains("User:") && !text.contains("Assistant:"),
        "the answer runs into another turn: {text:?}"
    );
}

/// What the page's loader says Gemma 3 270M needs on the GPU (catalog.rs, before any
/// download) is within 5% of what GpuModel allocates for this file with the page's options.
#[test]
fn the_catalog_estimate_matches_the_real_allocation() {
    let (Some(m), Some(gpu)) = (model(), gpu()) else {
        return;
    };
    let opts = ModelOptions {
        context: Some(2048),
        chunk: 128,
        capture: 256,
        ..Default::default()
    };
    let model = pollster::block_on(GpuModel::new(gpu, &m.weights, opts)).unwrap();
    let s = lantern::catalog::SUGGESTED
        .iter()
        .find(|s| s.name.starts_with("Gemma 3 270M"))
        .unwrap();
    let (real, estimate) = (model.gpu_bytes as f64, s.gpu_bytes(2048, 256) as f64);
    eprintln!("Gemma 3 270M: {real} bytes allocated, {estimate} estimated");
    assert!((estimate / real - 1.0).abs() < 0.05, "{estimate} vs {real}");
}
