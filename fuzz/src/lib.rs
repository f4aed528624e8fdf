//! What each fuzz target does with its bytes: parse them the way the page and the CLI do,
//! then go as deep as a model goes without a GPU (tokenize, render the chat, run the CPU
//! reference on a few tokens), asserting the promises the rest of Lantern relies on. A
//! panic, an abort, a sanitizer report, a hang or an allocation over libFuzzer's limit is
//! a crash.
//!
//! Inputs made of several files separate them with a NUL byte (no JSON, merges.txt or
//! template holds one); `scripts/make_fuzz_corpus.py` writes seeds in these layouts.

use arbitrary::{Arbitrary, Unstructured};
use lantern::model::chat::{ChatTemplate, Message};
use lantern::model::gguf::{self, Gguf, TensorData, Value};
use lantern::model::quant::{FORMATS, dequantize};
use lantern::model::{LoadedModel, ModelFiles, Tokenizer};
use std::collections::BTreeMap;

/// Models up to this many bytes of weights also run through the CPU reference.
const CPU_FORWARD_BYTES: usize = 1 << 22;

/// A GGUF file, parsed, every small tensor dequantized, then loaded as a model.
pub fn gguf(data: &[u8]) {
    let Ok(g) = Gguf::parse(data, "fuzz.gguf") else {
        return;
    };
    for t in &g.tensors {
        let bytes = g.data(t);
        assert_eq!(bytes.len(), t.len);
        if t.len <= 1 << 16 {
            assert_eq!(dequantize(t.format, bytes).len() as u64, t.n_elements());
        }
    }
    if let Ok(model) = LoadedModel::from_gguf(data, "fuzz.gguf") {
        exercise(&model);
    }
}

/// `u16 length of config.json` | config.json | model.safetensors, loaded with a byte-level
/// tokenizer of 256 tokens.
pub fn safetensors(data: &[u8]) {
    let Some((len, rest)) = data.split_first_chunk::<2>() else {
        return;
    };
    let len = (u16::from_le_bytes(*len) as usize).min(rest.len());
    let (config, weights) = rest.split_at(len);
    let Ok(config_json) = std::str::from_utf8(config) else {
        return;
    };
    let vocab = byte_vocab_json();
    let files = ModelFiles {
        config_json,
        safetensors: weights,
        tokenizer_json: None,
        vocab_json: Some(&vocab),
        merges_txt: Some(""),
        tokenizer_config_json: None,
        generation_config_json: None,
    };
    if let Ok(model) = LoadedModel::from_files(&files) {
        exercise(&model);
    }
}

/// `kind` | file \0 [file \0] text: kind even, tokenizer.json; odd, vocab.json \0 merges.txt.
/// Then the text is encoded and decoded.
pub fn tokenizer(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let tok = if kind % 2 == 0 {
        let mut parts = rest.splitn(2, |&b| b == 0);
        let (Some(json), Some(text)) = (parts.next(), parts.next()) else {
            return;
        };
        let Ok(json) = std::str::from_utf8(json) else {
            return;
        };
        (Tokenizer::from_tokenizer_json(json, "tokenizer.json"), text)
    } else {
        let mut parts = rest.splitn(3, |&b| b == 0);
        let (Some(vocab), Some(merges), Some(text)) = (parts.next(), parts.next(), parts.next())
        else {
            return;
        };
        let (Ok(vocab), Ok(merges)) = (std::str::from_utf8(vocab), std::str::from_utf8(merges))
        else {
            return;
        };
        let t = Tokenizer::from_vocab_and_merges(vocab, merges, "vocab.json + merges.txt");
        (t, text)
    };
    let (Ok(tokenizer), text) = tok else {
        return;
    };
    round_trip(&tokenizer, &String::from_utf8_lossy(text));
}

/// template \0 system \0 user \0 assistant \0 user …: rendered with the conversation.
pub fn chat_template(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut parts = text.split('\0');
    let Some(source) = parts.next() else { return };
    let Ok(template) = ChatTemplate::new(source, "<s>", "</s>") else {
        return;
    };
    let roles = ["system", "user", "assistant"];
    let messages: Vec<Message> = parts
        .enumerate()
        .map(|(i, content)| {
            let role = if i == 0 {
                roles[0]
            } else {
                roles[1 + (i - 1) % 2]
            };
            Message::new(role, content)
        })
        .collect();
    for add_generation_prompt in [false, true] {
        if let Ok(out) = template.render(&messages, add_generation_prompt) {
            assert!(out.len() <= template.output_limit(&messages));
        }
    }
}

/// Tokenizes, decodes and chats with a loaded model, and runs a small one on the CPU.
fn exercise(model: &LoadedModel) {
    let w = &model.weights;
    let ids = model.encode_prompt("Hello, world! 1234 ünïcode <|im_end|> 日本");
    assert!(
        ids.iter().all(|&id| (id as usize) < w.vocab_size()),
        "an id outside the vocabulary of {}: {ids:?}",
        w.vocab_size()
    );
    round_trip(&model.tokenizer, "a b  c\n\t x");
    let chat = [Message::new("user", "Hi")];
    let _ = model.chat_format().render(&chat, true);
    if w.bytes() <= CPU_FORWARD_BYTES && !ids.is_empty() {
        let ids = &ids[..ids.len().min(3).min(w.context_length())];
        let logits = lantern::cpu::forward(w, ids);
        assert_eq!(logits.len(), ids.len() * w.vocab_size());
    }
}

/// Every id is in the vocabulary; the text comes back where the tokenizer promises it.
fn round_trip(tokenizer: &Tokenizer, text: &str) {
    for ids in [tokenizer.encode(text), tokenizer.encode_ordinary(text)] {
        assert!(ids.iter().all(|&id| (id as usize) < tokenizer.vocab_size()));
        if tokenizer.round_trips() {
            assert_eq!(
                tokenizer.decode_bytes(&ids),
                text.as_bytes(),
                "decode(encode(x)) != x for ids {ids:?}"
            );
        }
    }
}

/// vocab.json of GPT-2's 256 byte tokens: printable bytes as themselves, the others
/// shifted to U+0100 and up, as byte-level BPE writes them.
pub fn byte_vocab_json() -> String {
    let mut shifted = 0;
    let entries: Vec<String> = (0..=255u8)
        .map(|b| {
            let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
            let c = if printable {
                char::from(b)
            } else {
                shifted += 1;
                char::from_u32(255 + shifted).expect("a char")
            };
            let key = if c == '"' || c == '\\' {
                format!("\\{c}")
            } else {
                c.to_string()
            };
            format!("\"{key}\": {b}")
        })
        .collect();
    format!("{{{}}}", entries.join(", "))
}

/// A GGUF file described by the fuzzer: metadata of every type and tensors of every format.
#[derive(Debug, Arbitrary)]
pub struct GgufSpec {
    metadata: Vec<(String, ArbValue)>,
    tensors: Vec<ArbTensor>,
    /// log2 of `general.alignment`, when the file sets one.
    alignment: Option<u8>,
}

#[derive(Debug, Arbitrary)]
enum ArbValue {
    U8(u8),
    I8(i8),
    U16(u16),
    I16(i16),
    U32(u32),
    I32(i32),
    U64(u64),
    I64(i64),
    F32(f32),
    F64(f64),
    Bool(bool),
    String(String),
    Array(ArbArray),
}

/// Arrays hold one type (GGUF stores the element type once).
#[derive(Debug, Arbitrary)]
enum ArbArray {
    U8(Vec<u8>),
    I32(Vec<i32>),
    F32(Vec<f32>),
    U64(Vec<u64>),
    Bool(Vec<bool>),
    String(Vec<String>),
    Nested(Vec<ArbArray>),
}

#[derive(Debug, Arbitrary)]
struct ArbTensor {
    name: String,
    format: u8,
    /// Dimensions after the first, 0 to 3 of them.
    dims: Vec<u8>,
    /// Blocks per row.
    blocks: u8,
    fill: Vec<u8>,
}

impl ArbValue {
    fn value(self) -> Value {
        match self {
            ArbValue::U8(x) => Value::U8(x),
            ArbValue::I8(x) => Value::I8(x),
            ArbValue::U16(x) => Value::U16(x),
            ArbValue::I16(x) => Value::I16(x),
            ArbValue::U32(x) => Value::U32(x),
            ArbValue::I32(x) => Value::I32(x),
            ArbValue::U64(x) => Value::U64(x),
            ArbValue::I64(x) => Value::I64(x),
            ArbValue::F32(x) => Value::F32(x),
            ArbValue::F64(x) => Value::F64(x),
            ArbValue::Bool(x) => Value::Bool(x),
            ArbValue::String(x) => Value::String(x),
            ArbValue::Array(a) => a.value(0),
        }
    }
}

impl ArbArray {
    /// GGUF readers (ours, llama.cpp's) nest arrays at most three deep.
    fn value(self, depth: u32) -> Value {
        let items = match self {
            ArbArray::U8(v) => v.into_iter().map(Value::U8).collect(),
            ArbArray::I32(v) => v.into_iter().map(Value::I32).collect(),
            ArbArray::F32(v) => v.into_iter().map(Value::F32).collect(),
            ArbArray::U64(v) => v.into_iter().map(Value::U64).collect(),
            ArbArray::Bool(v) => v.into_iter().map(Value::Bool).collect(),
            ArbArray::String(v) => v.into_iter().map(Value::String).collect(),
            ArbArray::Nested(v) if depth < 2 => v.into_iter().map(|a| a.value(depth + 1)).collect(),
            ArbArray::Nested(_) => Vec::new(),
        };
        Value::Array(items)
    }
}

/// Writes the file the fuzzer described, reads it back, and checks it is the same.
pub fn gguf_roundtrip(data: &[u8]) {
    let Ok(spec) = GgufSpec::arbitrary_take_rest(Unstructured::new(data)) else {
        return;
    };
    let mut metadata: BTreeMap<String, Value> = spec
        .metadata
        .into_iter()
        .map(|(k, v)| (k, v.value()))
        .collect();
    metadata.remove("general.alignment");
    if let Some(a) = spec.alignment {
        metadata.insert("general.alignment".into(), Value::U32(1 << (a % 12)));
    }
    let mut tensors: Vec<TensorData> = Vec::new();
    for t in spec.tensors {
        if tensors.iter().any(|x| x.name == t.name) {
            continue;
        }
        let format = FORMATS[t.format as usize % FORMATS.len()].format;
        let mut dims = vec![(t.blocks % 4 + 1) as u64 * format.block_len() as u64];
        dims.extend(t.dims.iter().take(3).map(|&d| (d % 5 + 1) as u64));
        let n: u64 = dims.iter().product();
        let len = n as usize / format.block_len() * format.block_bytes();
        let fill = if t.fill.is_empty() { vec![0] } else { t.fill };
        let bytes = fill.iter().copied().cycle().take(len).collect();
        tensors.push(TensorData {
            name: t.name,
            dims,
            format,
            bytes,
        });
    }
    let file = gguf::write(&metadata, &tensors);
    let g = Gguf::parse(&file, "roundtrip.gguf").expect("a file gguf::write wrote parses");
    assert_eq!(g.version, 3);
    assert_eq!(g.metadata.len(), metadata.len());
    for ((ka, va), (kb, vb)) in g.metadata.iter().zip(&metadata) {
        assert_eq!(ka, kb);
        assert!(same(va, vb), "`{ka}` read back as {va:?}, written {vb:?}");
    }
    assert_eq!(g.tensors.len(), tensors.len());
    for (got, want) in g.tensors.iter().zip(&tensors) {
        assert_eq!(got.name, want.name);
        assert_eq!(got.dims, want.dims);
        assert_eq!(got.format, want.format);
        assert_eq!(g.data(got), want.bytes.as_slice());
    }
}

/// Equal values, floats bit for bit (NaN included).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::F32(x), Value::F32(y)) => x.to_bits() == y.to_bits(),
        (Value::F64(x), Value::F64(y)) => x.to_bits() == y.to_bits(),
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        _ => a == b,
    }
}

/// Elements `lantern::markdown::render` may make; anything else came from the text.
const MARKDOWN_TAGS: [&str; 29] = [
    "p",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "blockquote",
    "code",
    "pre",
    "div",
    "span",
    "button",
    "ol",
    "ul",
    "li",
    "table",
    "thead",
    "tr",
    "th",
    "td",
    "em",
    "strong",
    "del",
    "sup",
    "sub",
    "a",
    "br",
    "hr",
];

/// A model's answer rendered as Markdown, as the page shows it, at every length it streams
/// through: no panic, only Lantern's own elements, links only to http(s), and all the text
/// of a raw-HTML answer kept as text.
pub fn markdown(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    // A few cut points, as pieces arrive (each a char boundary).
    let cuts: Vec<usize> = text
        .char_indices()
        .map(|(i, _)| i)
        .step_by((text.len() / 4).max(1))
        .chain([text.len()])
        .collect();
    for cut in cuts {
        for node in lantern::markdown::render(&text[..cut]) {
            for el in node.elements() {
                let lantern::markdown::Node::Element { tag, attrs, .. } = el else {
                    continue;
                };
                assert!(MARKDOWN_TAGS.contains(tag), "made <{tag}>");
                for (name, value) in attrs {
                    assert!(
                        [
                            "class",
                            "title",
                            "data-lang",
                            "data-testid",
                            "type",
                            "start",
                            "href",
                            "target",
                            "rel"
                        ]
                        .contains(name),
                        "attribute {name}"
                    );
                    if *name == "href" {
                        assert!(lantern::markdown::safe_link(value), "link to {value}");
                    }
                }
            }
        }
    }
}
