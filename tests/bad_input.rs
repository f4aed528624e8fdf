//! Bad input gets a typed error that names the file and the tensor or field, never a panic.
//! Each test builds its bad model folder from a good fixture.

mod common;
use common::*;
use lantern::LanternError;
use lantern::model::LoadedModel;
use std::path::{Path, PathBuf};

/// A copy of a fixture in a fresh folder, to spoil; the folder goes when the test ends,
/// passed or failed.
struct BadDir(PathBuf);

impl std::ops::Deref for BadDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl Drop for BadDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn copy_fixture(name: &str, test: &str) -> BadDir {
    let dir = std::env::temp_dir().join(format!("lantern-bad-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    for entry in std::fs::read_dir(fixture(name)).unwrap() {
        let p = entry.unwrap().path();
        std::fs::copy(&p, dir.join(p.file_name().unwrap())).unwrap();
    }
    BadDir(dir)
}

fn load_err(dir: &Path) -> LanternError {
    match LoadedModel::from_path(dir) {
        Ok(_) => panic!("{} loaded, but it is bad", dir.display()),
        Err(e) => e,
    }
}

/// Rewrites model.safetensors after `edit` changes its tensor list (name, dtype, shape, bytes).
fn rewrite_tensors(dir: &Path, edit: impl FnOnce(&mut Vec<(String, String, Vec<usize>, Vec<u8>)>)) {
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    let st = safetensors::SafeTensors::deserialize(&bytes).unwrap();
    let mut tensors: Vec<_> = st
        .tensors()
        .into_iter()
        .map(|(n, v)| {
            (
                n,
                format!("{:?}", v.dtype()),
                v.shape().to_vec(),
                v.data().to_vec(),
            )
        })
        .collect();
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    edit(&mut tensors);
    let mut header = serde_json::Map::new();
    let mut offset = 0;
    for (name, dtype, shape, data) in &tensors {
        header.insert(name.clone(), serde_json::json!({"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + data.len()]}));
        offset += data.len();
    }
    let mut h = serde_json::to_vec(&header).unwrap();
    while !h.len().is_multiple_of(8) {
        h.push(b' ');
    }
    let mut out = (h.len() as u64).to_le_bytes().to_vec();
    out.extend_from_slice(&h);
    for (_, _, _, data) in &tensors {
        out.extend_from_slice(data);
    }
    std::fs::write(path, out).unwrap();
}

fn edit_config(dir: &Path, edit: impl FnOnce(&mut serde_json::Value)) {
    let path = dir.join("config.json");
    let mut v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    edit(&mut v);
    std::fs::write(path, v.to_string()).unwrap();
}

fn assert_mentions(e: &LanternError, words: &[&str]) {
    let msg = e.to_string();
    for w in words {
        assert!(msg.contains(w), "error {msg:?} should mention {w:?}");
    }
}

#[test]
fn truncated_file() {
    let dir = copy_fixture("gpt2-tiny-f32", "truncated");
    let path = dir.join("model.safetensors");
    let bytes = std::fs::read(&path).unwrap();
    std::fs::write(&path, &bytes[..bytes.len() / 2]).unwrap();
    let e = load_err(&dir);
    assert!(matches!(e, LanternError::Checkpoint { .. }), "{e:?}");
    assert_mentions(&e, &["model.safetensors", "truncated"]);

    std::fs::write(&path, [1u8, 2, 3]).unwrap();
    let e = load_err(&dir);
    assert_mentions(&e, &["model.safetensors", "3 bytes", "too short"]);
}

#[test]
fn header_length_past_the_end_of_the_file() {
    let dir = copy_fixture("gpt2-tiny-f32", "header");
    let path = dir.join("model.safetensors");
    let mut bytes = std::fs::read(&path).unwrap();
    bytes[..8].copy_from_slice(&(1u64 << 40).to_le_bytes());
    std::fs::write(&path, &bytes).unwrap();
    let e = load_err(&dir);
    assert!(matches!(e, LanternError::Checkpoint { .. }), "{e:?}");
    assert_mentions(
        &e,
        &["model.safetensors", "header claims 1099511627776 bytes"],
    );
}

#[test]
fn wrong_dtype() {
    let dir = copy_fixture("gpt2-tiny-f32", "dtype");
    rewrite_tensors(&dir, |t| {
        let ln = t
            .iter_mut()
            .find(|x| x.0 == "transformer.ln_f.weight")
            .unwrap();
        ln.1 = "I32".into();
    });
    let e = load_err(&dir);
    assert!(matches!(e, LanternError::UnsupportedDtype { .. }), "{e:?}");
    assert_mentions(&e, &["model.safetensors", "transformer.ln_f.weight", "I32"]);
}

#[test]
fn missing_tensor() {
    let dir = copy_fixture("gpt2-odd-f16", "missing");
    rewrite_tensors(&dir, |t| t.retain(|x| x.0 != "h.1.mlp.c_fc.bias"));
    let e = load_err(&dir);
    assert!(matches!(e, LanternError::MissingTensor { .. }), "{e:?}");
    assert_mentions(&e, &["model.safetensors", "h.1.mlp.c_fc.bias"]);
}

#[test]
fn shape_disagrees_with_config() {
    let dir = copy_fixture("gpt2-tiny-f32", "shape");
    edit_config(&dir, |c| c["n_inner"] = serde_json::json!(100));
    let e = load_err(&dir);
    assert!(matches!(e, LanternError::ShapeMismatch { .. }), "{e:?}");
    assert_mentions(
        &e,
        &[
            "model.safetensors",
            "transformer.h.0.mlp.c_fc.weight",
            "[64, 256]",
            "[64, 100]",
        ],
    );
}

#[test]
fn non_finite_weights() {
    let dir = copy_fixture("gpt2-tiny-f32", "nan");
    rewrite_tensors(&dir, |t| {
        let w = t
            .iter_mut()
            .find(|x| x.0 == "transformer.wpe.weight")
            .unwrap();
        w.3[8..12].copy_from_slice(&f32::NAN.to_le_bytes());
    });
    let e = load_err(&dir);
    assert_mentions(
        &e,
        &[
            "model.safetensors",
            "transformer.wpe.weight",
            "non-finite",
            "index 2",
        ],
    );
}

#[test]
fn missing_or_malformed_config() {
    let dir = copy_fixture("gpt2-tiny-f32", "config");
    std::fs::remove_file(dir.join("config.json")).unwrap();
    let e = load_err(&dir);
    assert!(matches!(e, LanternError::Config { .. }), "{e:?}");
    assert_mentions(&e, &["config.json", "missing"]);

    std::fs::write(dir.join("config.json"), "{\"model_type\": \"gpt2\", ").unwrap();
    assert_mentions(&load_err(&dir), &["config.json", "malformed JSON"]);

    std::fs::write(
        dir.join("config.json"),
        r#"{"model_type":"gpt2","vocab_size":657,"n_positions":64,"n_embd":64,"n_head":4}"#,
    )
    .unwrap();
    assert_mentions(&load_err(&dir), &["config.json", "n_layer"]);

    std::fs::write(dir.join("config.json"), r#"{"model_type":"gpt2","vocab_size":657,"n_positions":64,"n_embd":64,"n_head":5,"n_layer":2}"#).unwrap();
    assert_mentions(&load_err(&dir), &["config.json", "not a multiple"]);
}

#[test]
fn missing_or_malformed_tokenizer() {
    let dir = copy_fixture("gpt2-tiny-f32", "tokenizer");
    let good = std::fs::read_to_string(dir.join("tokenizer.json")).unwrap();
    std::fs::remove_file(dir.join("tokenizer.json")).unwrap();
    let e = load_err(&dir);
    assert!(matches!(e, LanternError::Tokenizer { .. }), "{e:?}");
    assert_mentions(&e, &["tokenizer.json", "missing"]);

    std::fs::write(dir.join("tokenizer.json"), &good[..good.len() / 2]).unwrap();
    assert_mentions(&load_err(&dir), &["tokenizer.json", "malformed JSON"]);

    // A merge whose parts are not in the vocabulary.
    let mut v: serde_json::Value = serde_json::from_str(&good).unwrap();
    v["model"]["merges"]
        .as_array_mut()
        .unwrap()
        .push(serde_json::json!("zzz qqq"));
    std::fs::write(dir.join("tokenizer.json"), v.to_string()).unwrap();
    assert_mentions(
        &load_err(&dir),
        &[
            "tokenizer.json",
            "merge #400",
            "`zzz` is not in the vocabulary",
        ],
    );

    // An end-of-text id past the model's vocabulary would never stop a reply (or, cut to
    // 32 bits, stop it on the wrong token).
    std::fs::write(dir.join("tokenizer.json"), &good).unwrap();
    edit_config(&dir, |c| c["eos_token_id"] = serde_json::json!(1u64 << 32));
    assert_mentions(
        &load_err(&dir),
        &["config.json", "eos_token_id is 4294967296", "outside"],
    );
}

#[test]
fn unsupported_architecture() {
    let dir = copy_fixture("gpt2-tiny-f32", "arch");
    edit_config(&dir, |c| {
        c["model_type"] = serde_json::json!("bert");
        c["architectures"] = serde_json::json!(["BertForMaskedLM"]);
    });
    let e = load_err(&dir);
    assert!(
        matches!(e, LanternError::UnsupportedArchitecture { .. }),
        "{e:?}"
    );
    assert_mentions(&e, &["config.json", "bert", "gpt2, llama, qwen2 and qwen3"]);
}

#[test]
fn prompt_longer_than_the_context() {
    let m = LoadedModel::from_path(&fixture("gpt2-tiny-f32")).unwrap();
    let long: Vec<u32> = vec![5; 65]; // the context holds 64
    let opts = lantern::generate::GenerateOptions::default();
    let e = lantern::generate::generate_cpu(&m.weights, &m.stop_ids, &long, opts).unwrap_err();
    assert!(
        matches!(
            e,
            LanternError::PromptTooLong {
                prompt_tokens: 65,
                context: 64,
                ..
            }
        ),
        "{e:?}"
    );
    assert_mentions(&e, &["65 tokens", "holds 64", "shorten the prompt"]);
    let e = lantern::generate::generate_cpu(&m.weights, &m.stop_ids, &[], opts).unwrap_err();
    assert!(matches!(e, LanternError::EmptyPrompt), "{e:?}");

    let Some(gpu) = gpu() else { return };
    let mut model = pollster::block_on(lantern::gpu::model::GpuModel::new(
        gpu,
        &m.weights,
        Default::default(),
    ))
    .unwrap();
    let r =
        lantern::generate::Generation::new(gpu, &mut model, &m.tokenizer, &m.stop_ids, long, opts);
    assert!(matches!(r, Err(LanternError::PromptTooLong { .. })));
}

#[test]
fn buffer_too_large_for_the_device() {
    let Some(gpu) = gpu() else { return };
    let limit = gpu.limits.max_storage_buffer_binding_size;
    let e = gpu.storage("wte", limit + 4).unwrap_err();
    assert!(matches!(e, LanternError::TooLargeForDevice { .. }), "{e:?}");
    assert_mentions(&e, &["wte", &format!("{}", limit + 4), &format!("{limit}")]);
}

#[test]
fn bad_sampling_settings() {
    let m = LoadedModel::from_path(&fixture("gpt2-tiny-f32")).unwrap();
    let mut opts = lantern::generate::GenerateOptions::default();
    opts.sample.top_p = 0.0;
    let e = lantern::generate::generate_cpu(&m.weights, &m.stop_ids, &[1, 2], opts).unwrap_err();
    assert_mentions(&e, &["top-p"]);
    opts.sample.top_p = 1.0;
    opts.sample.temperature = -1.0;
    let e = lantern::generate::generate_cpu(&m.weights, &m.stop_ids, &[1, 2], opts).unwrap_err();
    assert_mentions(&e, &["temperature"]);
}

#[test]
fn token_outside_the_vocabulary() {
    let Some(gpu) = gpu() else { return };
    let m = LoadedModel::from_path(&fixture("gpt2-tiny-f32")).unwrap();
    let mut model = pollster::block_on(lantern::gpu::model::GpuModel::new(
        gpu,
        &m.weights,
        Default::default(),
    ))
    .unwrap();
    let greedy = lantern::cpu::SampleParams {
        temperature: 0.0,
        top_k: 0,
        top_p: 1.0,
        repeat_penalty: 1.0,
    };
    let e = pollster::block_on(model.prefill(gpu, &[1, 5000], greedy, 0.0)).unwrap_err();
    assert!(
        matches!(
            e,
            LanternError::TokenOutOfRange {
                id: 5000,
                vocab: 657
            }
        ),
        "{e:?}"
    );
}
