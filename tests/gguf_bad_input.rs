//! Malformed GGUF files get a clear error that names what is wrong, never a panic or a huge
//! allocation. Each test writes its bad file here, with a small GGUF writer.

use lantern::LanternError;
use lantern::model::LoadedModel;
use lantern::model::gguf::Gguf;

/// A minimal GGUF v3 writer: metadata, tensor infos, aligned data.
#[derive(Default)]
struct Writer {
    kv: Vec<u8>,
    n_kv: u64,
    infos: Vec<u8>,
    n_tensors: u64,
    data: Vec<u8>,
}

fn string(out: &mut Vec<u8>, s: &str) {
    out.extend((s.len() as u64).to_le_bytes());
    out.extend(s.as_bytes());
}

impl Writer {
    fn key(&mut self, k: &str, ty: u32) -> &mut Vec<u8> {
        string(&mut self.kv, k);
        self.kv.extend(ty.to_le_bytes());
        self.n_kv += 1;
        &mut self.kv
    }
    fn str(mut self, k: &str, v: &str) -> Self {
        string(self.key(k, 8), v);
        self
    }
    fn u32(mut self, k: &str, v: u32) -> Self {
        self.key(k, 4).extend(v.to_le_bytes());
        self
    }
    fn strs(mut self, k: &str, v: &[&str]) -> Self {
        let out = self.key(k, 9);
        out.extend(8u32.to_le_bytes());
        out.extend((v.len() as u64).to_le_bytes());
        for s in v {
            string(out, s);
        }
        self
    }
    fn f32(mut self, k: &str, v: f32) -> Self {
        self.key(k, 6).extend(v.to_le_bytes());
        self
    }
    /// A tensor of ggml type `ty` whose data (already in `bytes`) sits at `offset`.
    fn tensor(mut self, name: &str, dims: &[u64], ty: u32, bytes: &[u8]) -> Self {
        string(&mut self.infos, name);
        self.infos.extend((dims.len() as u32).to_le_bytes());
        for d in dims {
            self.infos.extend(d.to_le_bytes());
        }
        self.infos.extend(ty.to_le_bytes());
        let offset = self.data.len().next_multiple_of(32);
        self.data.resize(offset, 0);
        self.infos.extend((offset as u64).to_le_bytes());
        self.data.extend(bytes);
        self.n_tensors += 1;
        self
    }
    fn bytes(&self) -> Vec<u8> {
        let mut out = b"GGUF".to_vec();
        out.extend(3u32.to_le_bytes());
        out.extend(self.n_tensors.to_le_bytes());
        out.extend(self.n_kv.to_le_bytes());
        out.extend(&self.kv);
        out.extend(&self.infos);
        out.resize(out.len().next_multiple_of(32), 0);
        out.extend(&self.data);
        out
    }
}

fn llama_metadata() -> Writer {
    Writer::default()
        .str("general.architecture", "llama")
        .u32("llama.context_length", 64)
        .u32("llama.embedding_length", 32)
        .u32("llama.block_count", 1)
        .u32("llama.feed_forward_length", 64)
        .u32("llama.attention.head_count", 2)
        .u32("llama.attention.head_count_kv", 1)
        .f32("llama.attention.layer_norm_rms_epsilon", 1e-5)
}

fn error_of(bytes: &[u8]) -> String {
    match LoadedModel::from_gguf(bytes, "bad.gguf") {
        Ok(_) => panic!("a bad file loaded"),
        Err(e) => {
            assert!(
                matches!(
                    e,
                    LanternError::Checkpoint { .. }
                        | LanternError::UnsupportedArchitecture { .. }
                        | LanternError::MissingTensor { .. }
                        | LanternError::Config { .. }
                ),
                "{e:?}"
            );
            e.to_string()
        }
    }
}

fn assert_mentions(msg: &str, words: &[&str]) {
    for w in words {
        assert!(msg.contains(w), "error {msg:?} should mention {w:?}");
    }
}

#[test]
fn unsupported_architecture() {
    let bytes = Writer::default()
        .str("general.architecture", "falcon")
        .bytes();
    assert_mentions(
        &error_of(&bytes),
        &[
            "bad.gguf",
            "unsupported architecture `falcon`",
            "llama, qwen2, qwen3, gemma3, or gpt2",
        ],
    );
}

/// Parts Lantern does not compute (YaRN RoPE scaling, soft-capped logits) are refused by
/// key, not run wrongly.
#[test]
fn unsupported_model_parts_are_refused_by_key() {
    let bytes = llama_metadata()
        .str("llama.rope.scaling.type", "yarn")
        .strs("tokenizer.ggml.tokens", &["a", "b"])
        .bytes();
    assert_mentions(
        &error_of(&bytes),
        &["llama.rope.scaling.type", "\"yarn\" is not supported"],
    );
    let bytes = llama_metadata()
        .f32("llama.final_logit_softcapping", 30.0)
        .strs("tokenizer.ggml.tokens", &["a", "b"])
        .bytes();
    assert_mentions(&error_of(&bytes), &["llama.final_logit_softcapping"]);
}

/// Metadata that contradicts itself is refused with the key that is wrong.
#[test]
fn contradictory_metadata_names_the_key() {
    let tokens = ["a", "b", "c"];
    // Two heads do not divide a width of 33 (no key_length to say otherwise).
    let bytes = llama_metadata()
        .u32("llama.embedding_length", 33)
        .strs("tokenizer.ggml.tokens", &tokens)
        .bytes();
    assert_mentions(
        &error_of(&bytes),
        &[
            "llama.attention.head_count",
            "2 heads do not divide the width 33",
        ],
    );
    // Gemma 3: a window larger than the context.
    let gemma = Writer::default()
        .str("general.architecture", "gemma3")
        .u32("gemma3.context_length", 64)
        .u32("gemma3.embedding_length", 32)
        .u32("gemma3.block_count", 1)
        .u32("gemma3.feed_forward_length", 64)
        .u32("gemma3.attention.head_count", 2)
        .f32("gemma3.attention.layer_norm_rms_epsilon", 1e-6)
        .u32("gemma3.attention.sliding_window", 512)
        .strs("tokenizer.ggml.tokens", &tokens);
    assert_mentions(
        &error_of(&gemma.bytes()),
        &[
            "gemma3.attention.sliding_window",
            "512 is larger than the context (64)",
        ],
    );
    // A vocabulary size that disagrees with the embedding's rows.
    let bytes = llama_metadata()
        .u32("llama.vocab_size", 5)
        .strs("tokenizer.ggml.tokens", &tokens)
        .tensor("token_embd.weight", &[32, 3], 0, &[0; 32 * 3 * 4])
        .bytes();
    assert_mentions(
        &error_of(&bytes),
        &[
            "llama.vocab_size",
            "5 tokens, but token_embd.weight has 3 rows",
        ],
    );
}

#[test]
fn unknown_tensor_type() {
    let bytes = llama_metadata()
        .tensor("blk.0.ffn_down.weight", &[256, 32], 16, &[0; 66 * 32])
        .bytes();
    assert_mentions(
        &error_of(&bytes),
        &[
            "bad.gguf",
            "unsupported tensor type IQ2_XXS",
            "blk.0.ffn_down.weight",
            "Q4_K, Q5_K, Q6_K",
        ],
    );
    let bytes = llama_metadata().tensor("x", &[32], 99, &[0; 128]).bytes();
    assert_mentions(&error_of(&bytes), &["unsupported tensor type #99", "`x`"]);
}

#[test]
fn tensor_size_disagrees_with_shape() {
    // Shape [64, 4] of f32 needs 1024 bytes; the file holds 512.
    let bytes = llama_metadata()
        .tensor("token_embd.weight", &[64, 4], 0, &[0; 512])
        .bytes();
    assert_mentions(
        &error_of(&bytes),
        &["token_embd.weight", "needs 1024 bytes", "past the end"],
    );
    // Two tensors: the first's shape says more bytes than lie before the second.
    let bytes = llama_metadata()
        .tensor("a", &[32, 4], 0, &[0; 64])
        .tensor("b", &[32], 0, &[0; 512])
        .bytes();
    assert_mentions(
        &error_of(&bytes),
        &[
            "tensor `a`",
            "512 bytes from its shape",
            "overlaps tensor `b`",
        ],
    );
    // A row that is not a whole number of blocks.
    let bytes = llama_metadata().tensor("q", &[40, 1], 8, &[0; 68]).bytes();
    assert_mentions(
        &error_of(&bytes),
        &["`q`", "rows of 40 values", "Q8_0 blocks of 32"],
    );
}

#[test]
fn missing_metadata_key() {
    let bytes = Writer::default()
        .str("general.architecture", "llama")
        .u32("llama.context_length", 64)
        .bytes();
    assert_mentions(
        &error_of(&bytes),
        &["bad.gguf", "missing metadata key `llama.embedding_length`"],
    );
}

#[test]
fn missing_tensor() {
    let bytes = llama_metadata()
        .strs("tokenizer.ggml.tokens", &["a", "b"])
        .bytes();
    assert_mentions(
        &error_of(&bytes),
        &["bad.gguf", "tensor `blk.0.attn_norm.weight` is missing"],
    );
}

#[test]
fn truncated_file() {
    let full = llama_metadata()
        .tensor("token_embd.weight", &[32, 4], 0, &[0; 512])
        .bytes();
    for cut in [3, 10, 30, 100, full.len() - 100] {
        let msg = error_of(&full[..cut]);
        assert!(msg.contains("truncated"), "cut at {cut}: {msg}");
    }
}

#[test]
fn huge_counts_are_refused_before_allocating() {
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(3u32.to_le_bytes());
    bytes.extend(0u64.to_le_bytes()); // tensors
    bytes.extend(1u64.to_le_bytes()); // one metadata entry…
    string(&mut bytes, "tokenizer.ggml.tokens");
    bytes.extend(9u32.to_le_bytes()); // …an array
    bytes.extend(8u32.to_le_bytes()); // of strings
    bytes.extend(u64::MAX.to_le_bytes()); // claiming 2^64 − 1 elements
    let e = Gguf::parse(&bytes, "bad.gguf")
        .err()
        .expect("an error")
        .to_string();
    assert_mentions(
        &e,
        &["promises 18446744073709551615 elements of `tokenizer.ggml.tokens`"],
    );
    // A string of 2^60 bytes.
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(3u32.to_le_bytes());
    bytes.extend(0u64.to_le_bytes());
    bytes.extend(1u64.to_le_bytes());
    bytes.extend((1u64 << 60).to_le_bytes());
    bytes.extend([0; 64]);
    let e = Gguf::parse(&bytes, "bad.gguf")
        .err()
        .expect("an error")
        .to_string();
    assert_mentions(&e, &["bytes of a metadata key"]);
}

#[test]
fn not_gguf_or_wrong_version() {
    assert_mentions(
        &error_of(b"PK\x03\x04 not a gguf file at all"),
        &["not a GGUF file"],
    );
    let mut bytes = b"GGUF".to_vec();
    bytes.extend(1u32.to_le_bytes());
    bytes.extend([0; 16]);
    assert_mentions(&error_of(&bytes), &["GGUF version 1 is not supported"]);
}
