//! Helpers shared by the test files: tolerance checks that print the worst pairs, golden
//! files, the GPU (or a printed reason to skip).
#![allow(dead_code)]

pub mod real;

use lantern::gpu::Gpu;
use serde::Deserialize;
use std::path::PathBuf;
use std::sync::OnceLock;

pub fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Small random models, each with golden outputs of an independent implementation: Hugging
/// Face checkpoints (numpy: scripts/make_gpt2_fixtures.py, make_llama_fixture.py) and GGUF
/// files of the architectures users bring (llama.cpp: scripts/make_gguf_fixtures.py), two of
/// them also as Hugging Face checkpoints of the same weights.
pub const FIXTURES: [&str; 11] = [
    "gpt2-tiny-f32",
    "gpt2-odd-f16",
    "gpt2-wide-bf16",
    "llama-tiny-f16",
    "qwen2-tiny",
    "qwen3-tiny",
    "llama3-tiny",
    "gemma3-tiny",
    "gpt2-gguf",
    "qwen2-tiny-hf",
    "qwen3-tiny-hf",
];

#[derive(Deserialize)]
pub struct Golden {
    pub vocab_size: usize,
    pub cases: Vec<GoldenCase>,
}

#[derive(Deserialize)]
pub struct GoldenCase {
    pub prompt: String,
    pub prompt_ids: Vec<u32>,
    pub greedy_ids: Vec<u32>,
    pub logits: Vec<GoldenLogits>,
}

#[derive(Deserialize)]
pub struct GoldenLogits {
    pub position: usize,
    pub values: Vec<f32>,
}

pub fn golden(name: &str) -> Golden {
    let text = std::fs::read_to_string(fixture(name).join("golden.json")).expect("golden.json");
    serde_json::from_str(&text).expect("golden.json parses")
}

/// Asserts |got - want| <= atol + rtol * |want| everywhere; on failure prints the first few
/// failing pairs and the worst one.
pub fn assert_close(what: &str, got: &[f32], want: &[f32], atol: f32, rtol: f32) {
    assert_eq!(got.len(), want.len(), "{what}: lengths differ");
    let mut bad = Vec::new();
    let mut worst = (0usize, 0.0f32);
    for (i, (&g, &w)) in got.iter().zip(want).enumerate() {
        let err = (g - w).abs();
        let excess = err - (atol + rtol * w.abs());
        if excess.is_nan() || excess > 0.0 {
            bad.push(i);
        }
        if err.is_nan() || err > worst.1 {
            worst = (i, err);
        }
    }
    if !bad.is_empty() {
        let first: Vec<String> = bad
            .iter()
            .take(8)
            .map(|&i| format!("[{i}] got {} want {}", got[i], want[i]))
            .collect();
        let (wi, we) = worst;
        panic!(
            "{what}: {} of {} values out of tolerance (atol {atol}, rtol {rtol}); first: {}; \
             worst: [{wi}] got {} want {} (|diff| {we})",
            bad.len(),
            got.len(),
            first.join(", "),
            got[wi],
            want[wi]
        );
    }
}

/// The model file at `path`, made or fetched by `script`, if it is here; when it is not,
/// prints SKIPPED and gives `None`, unless REQUIRE_MODEL=1 (CI) makes that a failure.
pub fn model_file(path: PathBuf, script: &str) -> Option<PathBuf> {
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var("REQUIRE_MODEL").map_or(true, |v| v != "1"),
        "REQUIRE_MODEL=1 but {} is missing: run {script}",
        path.display()
    );
    eprintln!("SKIPPED: {} is missing (run {script})", path.display());
    None
}

/// The GPU shared by the tests of one test binary; `None` (with a printed reason) when this
/// machine has no adapter, unless REQUIRE_GPU=1 makes that a failure.
pub fn gpu() -> Option<&'static Gpu> {
    static GPU: OnceLock<Option<Gpu>> = OnceLock::new();
    let gpu = GPU.get_or_init(|| match pollster::block_on(Gpu::new()) {
        Ok(g) => Some(g),
        Err(e) => {
            if std::env::var("REQUIRE_GPU").is_ok_and(|v| v == "1") {
                panic!("REQUIRE_GPU=1 but no GPU: {e}");
            }
            None
        }
    });
    if gpu.is_none() {
        eprintln!("SKIPPED: no GPU adapter on this machine (set REQUIRE_GPU=1 to fail instead)");
    }
    gpu.as_ref()
}

/// The shared GPU and, where it reduces with subgroups, a second one that uses the workgroup
/// trees instead: the kernels that reduce are tested on both paths.
pub fn gpus() -> Vec<&'static Gpu> {
    static TREE: OnceLock<Gpu> = OnceLock::new();
    let Some(gpu) = gpu() else { return vec![] };
    if gpu.subgroup_size.is_none() {
        return vec![gpu];
    }
    let tree = TREE.get_or_init(|| {
        pollster::block_on(Gpu::with_subgroups(false)).expect("a second device, without subgroups")
    });
    assert_eq!(tree.subgroup_size, None);
    vec![gpu, tree]
}

/// A seeded generator of test data (splitmix64), so that failures reproduce.
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    /// Uniform in [-1, 1).
    pub fn uniform(&mut self) -> f32 {
        (self.next_u64() >> 40) as f32 / (1u64 << 23) as f32 - 1.0
    }
    /// `n` values in [-scale, scale) with a few planted outliers of ±(20 × scale).
    pub fn data(&mut self, n: usize, scale: f32) -> Vec<f32> {
        let mut v: Vec<f32> = (0..n).map(|_| self.uniform() * scale).collect();
        for _ in 0..(n / 97).max(1) {
            let i = (self.next_u64() % n as u64) as usize;
            v[i] = if self.next_u64().is_multiple_of(2) {
                20.0
            } else {
                -20.0
            } * scale;
        }
        v
    }
}
