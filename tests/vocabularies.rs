//! The tokenizers of real vocabularies (the vocab-only GGUF files llama.cpp ships for its
//! own tokenizer tests: Llama 3 "llama-bpe", Qwen 2 "qwen2", Llama 2's SentencePiece
//! "llama-spm", GPT-2, placed in models/vocab/ by scripts/fetch-vocabs.sh; and Gemma 3's, in
//! its model file) against two independent tokenizers: the ids Hugging Face's tokenizer gave
//! for llama.cpp's test texts (the `.out` beside each `.inp`), and llama.cpp's own tokenizer
//! on Lantern's committed corpora, tests/data/tokenizer_corpus.json and the 5,488 lines of
//! tokenizer_corpus.txt (tests/data/vocab_golden.json, by scripts/make_vocab_golden.py).
//! Without the files these tests print SKIPPED, unless REQUIRE_MODEL=1 (CI) makes that a
//! failure.

mod common;
use common::model_file;
use lantern::model::Tokenizer;
use lantern::model::gguf::Gguf;
use serde::Deserialize;
use std::collections::HashMap;
use std::path::PathBuf;

const NAMES: [&str; 4] = ["llama-bpe", "qwen2", "llama-spm", "gpt-2"];

fn path(name: &str, ext: &str) -> PathBuf {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    if name == "gemma3" {
        return root.join("models/gemma-3-270m-q4_k_m.gguf");
    }
    root.join(format!("models/vocab/ggml-vocab-{name}.{ext}"))
}

/// The tokenizer of vocabulary `name`; `None` when its file is missing (see [`model_file`]).
fn tokenizer(name: &str) -> Option<Tokenizer> {
    let script = match name {
        "gemma3" => "scripts/fetch-gemma.sh",
        _ => "scripts/fetch-vocabs.sh",
    };
    let p = model_file(path(name, "gguf"), script)?;
    let bytes = std::fs::read(&p).unwrap();
    let g = Gguf::parse(&bytes, &p.display().to_string()).unwrap();
    Some(Tokenizer::from_gguf(&g).unwrap_or_else(|e| panic!("{name}: {e}")))
}

/// Fails with every mismatch listed (text, ours, theirs), not only the first.
fn check(name: &str, who: &str, t: &Tokenizer, cases: &[(String, Vec<u32>)]) {
    let bad: Vec<String> = cases
        .iter()
        .filter(|(text, ids)| t.encode(text) != *ids)
        .map(|(text, ids)| format!("{text:?}: ours {:?}, {who} {ids:?}", t.encode(text)))
        .collect();
    assert!(
        bad.is_empty(),
        "{name}: {} of {} texts differ from {who}:\n{}",
        bad.len(),
        cases.len(),
        bad.join("\n")
    );
    eprintln!("{name}: {} texts equal to {who}", cases.len());
}

#[test]
fn real_vocabularies_match_hugging_face_on_llama_cpp_test_texts() {
    for name in NAMES {
        let Some(t) = tokenizer(name) else { continue };
        let inp = std::fs::read_to_string(path(name, "gguf.inp")).unwrap();
        let out = std::fs::read_to_string(path(name, "gguf.out")).unwrap();
        let texts = inp.split("\n__ggml_vocab_test__\n");
        let cases: Vec<(String, Vec<u32>)> = texts
            .zip(out.lines())
            .map(|(text, ids)| {
                let ids = ids.split_whitespace().map(|i| i.parse().unwrap()).collect();
                (text.to_string(), ids)
            })
            .collect();
        assert!(cases.len() > 30, "{name}: {} cases", cases.len());
        check(name, "Hugging Face", &t, &cases);
    }
}

#[derive(Deserialize)]
struct VocabGolden {
    /// Per vocabulary, the ids of each text of tokenizer_corpus.json.
    corpus: HashMap<String, Vec<Vec<u32>>>,
    /// Per vocabulary, the ids of each line of tokenizer_corpus.txt, as "1 2 3".
    corpus_txt: HashMap<String, Vec<String>>,
}

fn texts() -> (Vec<String>, Vec<String>) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("tokenizer_corpus.json")).unwrap())
            .unwrap();
    let corpus = json["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t.as_str().unwrap().to_string())
        .collect();
    let txt = std::fs::read_to_string(dir.join("tokenizer_corpus.txt")).unwrap();
    let lines = txt.split('\n').map(|s| s.replace("\\r", "\r")).collect();
    (corpus, lines)
}

#[test]
fn real_vocabularies_match_llama_cpp_on_the_corpora() {
    let golden: VocabGolden = serde_json::from_str(
        &std::fs::read_to_string(
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/vocab_golden.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let (corpus, lines) = texts();
    for name in NAMES.into_iter().chain(["gemma3"]) {
        let Some(t) = tokenizer(name) else { continue };
        let mut cases: Vec<(String, Vec<u32>)> = corpus
            .iter()
            .cloned()
            .zip(golden.corpus[name].clone())
            .collect();
        let txt = &golden.corpus_txt[name];
        assert_eq!(txt.len(), lines.len(), "{name}");
        cases.extend(lines.iter().zip(txt).map(|(text, ids)| {
            let ids = ids.split_whitespace().map(|i| i.parse().unwrap()).collect();
            (text.clone(), ids)
        }));
        check(name, "llama.cpp", &t, &cases);
        // Byte-level BPE gives every text back.
        if !matches!(name, "llama-spm" | "gemma3") {
            for (text, ids) in &cases {
                assert_eq!(t.decode(ids), *text, "{name}: decode");
            }
        }
    }
}
