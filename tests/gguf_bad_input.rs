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
    llama_metadata_of_width(32)
}

/// (Each key is written once: a repeated key is refused.)
fn llama_metadata_of_width(width: u32) -> Writer {
    Writer::default()
        .str("general.architecture", "llama")
        .u32("llama.context_length", 64)
        .u32("llama.embedding_length", width)
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
                        | LanternError::Tokenizer { .. }
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
    let bytes = llama_metadata_of_width(33)
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
    // 2^40 layers (Gemma 3's per-layer window pattern once sized a table by this), and a
    // GPT-2 of width 2^62 (3 × width once overflowed).
    for (arch, key, value) in [
        ("gemma3", "gemma3.block_count", 1u64 << 40),
        ("gpt2", "gpt2.embedding_length", 1 << 62),
    ] {
        let mut w = Writer::default().str("general.architecture", arch);
        for (k, v) in [
            ("context_length", 64),
            ("embedding_length", 32),
            ("block_count", 1),
            ("feed_forward_length", 64),
            ("attention.head_count", 2),
        ] {
            let k = format!("{arch}.{k}");
            let v = if k == key { value } else { v };
            w.key(&k, 10).extend(v.to_le_bytes());
        }
        let bytes = w
            .f32(&format!("{arch}.attention.layer_norm_rms_epsilon"), 1e-6)
            .f32(&format!("{arch}.attention.layer_norm_epsilon"), 1e-5)
            .strs("tokenizer.ggml.tokens", &["a", "b"])
            .bytes();
        assert_mentions(&error_of(&bytes), &["implausible dimensions"]);
    }
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

/// A file with the llama body of `llama_metadata` and the given tokenizer keys.
fn with_tensors(w: Writer, embd: (u32, &[u8])) -> Vec<u8> {
    let f32s = |n: usize| vec![0u8; n * 4];
    w.tensor("token_embd.weight", &[32, 259], embd.0, embd.1)
        .tensor("output_norm.weight", &[32], 0, &f32s(32))
        .tensor("blk.0.attn_norm.weight", &[32], 0, &f32s(32))
        .tensor("blk.0.attn_q.weight", &[32, 32], 0, &f32s(32 * 32))
        .tensor("blk.0.attn_k.weight", &[32, 16], 0, &f32s(32 * 16))
        .tensor("blk.0.attn_v.weight", &[32, 16], 0, &f32s(32 * 16))
        .tensor("blk.0.attn_output.weight", &[32, 32], 0, &f32s(32 * 32))
        .tensor("blk.0.ffn_norm.weight", &[32], 0, &f32s(32))
        .tensor("blk.0.ffn_gate.weight", &[32, 64], 0, &f32s(32 * 64))
        .tensor("blk.0.ffn_up.weight", &[32, 64], 0, &f32s(32 * 64))
        .tensor("blk.0.ffn_down.weight", &[64, 32], 0, &f32s(64 * 32))
        .bytes()
}

/// A SentencePiece vocabulary of 259 pieces (3 specials and the 256 byte pieces).
fn spm_tokens(w: Writer) -> Writer {
    let mut pieces = vec!["<unk>".to_string(), "<s>".into(), "</s>".into()];
    pieces.extend((0..256).map(|b| format!("<0x{b:02X}>")));
    let refs: Vec<&str> = pieces.iter().map(String::as_str).collect();
    let mut w = w
        .str("tokenizer.ggml.model", "llama")
        .strs("tokenizer.ggml.tokens", &refs);
    let out = w.key("tokenizer.ggml.scores", 9);
    out.extend(6u32.to_le_bytes());
    out.extend((refs.len() as u64).to_le_bytes());
    for _ in &refs {
        out.extend(0f32.to_le_bytes());
    }
    w
}

#[test]
fn a_valid_spm_model_loads() {
    // The base of the tests below: without its one fault, the file is a model.
    let f32s = vec![0u8; 32 * 259 * 4];
    let bytes = with_tensors(spm_tokens(llama_metadata()), (0, &f32s));
    LoadedModel::from_gguf(&bytes, "ok.gguf").expect("a valid model");
}

#[test]
fn weights_that_decode_to_nan_or_infinity_are_refused_naming_the_tensor() {
    // A Q8_0 embedding whose third block's f16 scale is NaN (0x7e00).
    let mut q8 = Vec::new();
    for block in 0..259 {
        q8.extend(if block == 2 {
            [0x00, 0x7e]
        } else {
            [0x00, 0x3c]
        });
        q8.extend([1u8; 32]);
    }
    let msg = error_of(&with_tensors(spm_tokens(llama_metadata()), (8, &q8)));
    assert_mentions(
        &msg,
        &[
            "token_embd.weight",
            "NaN or infinity",
            "weight 64",
            "corrupt",
        ],
    );
    // An F16 embedding of infinities (0x7c00).
    let inf: Vec<u8> = [0x00, 0x7c].repeat(32 * 259);
    let msg = error_of(&with_tensors(spm_tokens(llama_metadata()), (1, &inf)));
    assert_mentions(
        &msg,
        &["token_embd.weight", "F16", "NaN or infinity", "weight 0"],
    );
}

#[test]
fn repeated_keys_and_tensor_names_are_refused() {
    let f32s = vec![0u8; 32 * 259 * 4];
    let twice = spm_tokens(llama_metadata()).u32("llama.block_count", 2);
    let msg = error_of(&with_tensors(twice, (0, &f32s)));
    assert_mentions(&msg, &["llama.block_count", "twice"]);
    let bytes = spm_tokens(llama_metadata())
        .tensor("output_norm.weight", &[32], 0, &[0u8; 128])
        .tensor("output_norm.weight", &[32], 0, &[0u8; 128])
        .bytes();
    assert_mentions(&error_of(&bytes), &["output_norm.weight", "twice"]);
}

#[test]
fn tokenizers_beyond_the_limits_are_refused() {
    let f32s = vec![0u8; 32 * 259 * 4];
    let unknown = spm_tokens(llama_metadata()).u32("tokenizer.ggml.unknown_token_id", 9999);
    let msg = error_of(&with_tensors(unknown, (0, &f32s)));
    assert_mentions(&msg, &["unknown_token_id", "9999"]);
    // Found by the `gguf` fuzz target (CI, 2026-12-07): a BOS id past the vocabulary went
    // into every prompt, past the embedding's rows.
    let bos = spm_tokens(llama_metadata()).u32("tokenizer.ggml.bos_token_id", 259);
    let msg = error_of(&with_tensors(bos, (0, &f32s)));
    assert_mentions(&msg, &["tokenizer.ggml.bos_token_id is 259", "259 tokens"]);
    // 2^32 + 2 would have wrapped to 2, a valid id, had it been cut to 32 bits first.
    let mut eos = spm_tokens(llama_metadata());
    eos.key("tokenizer.ggml.eos_token_id", 10)
        .extend(((1u64 << 32) + 2).to_le_bytes());
    let msg = error_of(&with_tensors(eos, (0, &f32s)));
    assert_mentions(&msg, &["tokenizer.ggml.eos_token_id is 4294967298"]);

    // (The tokenizer alone: a model's tensors would need a row per token.)
    let tokenizer_error = |tokens: &[&str]| {
        let bytes = llama_metadata()
            .str("tokenizer.ggml.model", "gpt2")
            .strs("tokenizer.ggml.tokens", tokens)
            .strs("tokenizer.ggml.merges", &[])
            .bytes();
        let g = Gguf::parse(&bytes, "bad.gguf").expect("it parses");
        match lantern::model::Tokenizer::from_gguf(&g) {
            Ok(_) => panic!("a tokenizer beyond the limits loaded"),
            Err(e) => e.to_string(),
        }
    };
    let long = "a".repeat(lantern::model::MAX_TOKEN_BYTES + 1);
    assert_mentions(
        &tokenizer_error(&["a", &long]),
        &["token #1", "4097 bytes long"],
    );
    let many = vec!["a"; lantern::model::MAX_TOKENS + 1];
    assert_mentions(
        &tokenizer_error(&many),
        &["1048577 tokens", "up to 1048576"],
    );
}
