//! Tokenizers: byte-level BPE (GPT-2, SmolLM, Llama 3, Qwen) and SentencePiece-style BPE
//! over scored pieces (Gemma; see spm.rs).
//!
//! Byte-level BPE: text is split into words by a pre-tokenizer rule (GPT-2's: see
//! [`split_gpt2`]), each word's UTF-8 bytes become one token per byte, and adjacent pairs are
//! merged in the order of the merges list until no listed pair is left. For both kinds,
//! special tokens such as `<|endoftext|>` are cut out of the text first and map straight to
//! their ids.

use super::spm::Spm;
use crate::error::{LanternError, Result};
use serde_json::Value;
use std::collections::HashMap;
use unicode_general_category::{GeneralCategory as G, get_general_category};

/// How text is cut into words before BPE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PreTokenizer {
    /// GPT-2's pattern ([`split_gpt2`]).
    Gpt2,
    /// Every number character alone, then GPT-2's pattern on the text between (SmolLM,
    /// StarCoder: llama.cpp's "smollm" pre-tokenizer, Hugging Face's Digits + ByteLevel).
    DigitsThenGpt2,
    /// Llama 3's pattern ([`split_llama3`]): numbers in groups of up to three; and a word
    /// that is a token as a whole is not merged (`ignore_merges`).
    Llama3,
    /// Qwen 2's: Llama 3's with every digit alone.
    Qwen2,
}

impl PreTokenizer {
    pub fn name(self) -> &'static str {
        match self {
            Self::Gpt2 => "GPT-2",
            Self::DigitsThenGpt2 => "SmolLM (digits apart)",
            Self::Llama3 => "Llama 3",
            Self::Qwen2 => "Qwen 2",
        }
    }

    /// From a GGUF file's `tokenizer.ggml.pre`.
    pub fn from_gguf_name(name: &str) -> Option<Self> {
        match name {
            "default" | "gpt-2" | "gpt2" | "phi-2" | "jina-es" | "jina-de" | "poro-chat"
            | "viking" => Some(Self::Gpt2),
            "smollm" | "starcoder" | "refact" | "command-r" | "codeshell" | "exaone"
            | "minerva-7b" => Some(Self::DigitsThenGpt2),
            "llama-bpe" | "llama3" | "llama-v3" | "falcon3" | "pixtral" => Some(Self::Llama3),
            "qwen2" | "deepseek-r1-qwen" | "megrez" => Some(Self::Qwen2),
            _ => None,
        }
    }

    /// Splits text into the words BPE merges within.
    pub fn split(self, text: &str) -> Vec<&str> {
        match self {
            Self::Gpt2 => split_gpt2(text),
            Self::DigitsThenGpt2 => {
                let mut words = Vec::new();
                let mut start = 0;
                for (i, c) in text.char_indices() {
                    if is_number(c) {
                        words.extend(split_gpt2(&text[start..i]));
                        words.push(&text[i..i + c.len_utf8()]);
                        start = i + c.len_utf8();
                    }
                }
                words.extend(split_gpt2(&text[start..]));
                words
            }
            Self::Llama3 => split_llama3(text, 3),
            Self::Qwen2 => split_llama3(text, 1),
        }
    }
}

/// Byte-level BPE's tables.
struct Bpe {
    pre: PreTokenizer,
    /// A word that is a token as a whole becomes that token, unmerged (Llama 3's
    /// `ignore_merges`: the merges would reach other tokens for some words).
    whole_words: Option<HashMap<Vec<u8>, u32>>,
    /// Id of each single byte.
    byte_ids: [u32; 256],
    /// (left, right) → (rank, merged id).
    merges: HashMap<(u32, u32), (u32, u32)>,
}

/// How text between special tokens becomes ids.
/// (Boxed: their tables of 256 byte ids make them large.)
enum Model {
    Bpe(Box<Bpe>),
    Spm(Box<Spm>),
}

/// Bounds on what a tokenizer file may ask for, far above any real vocabulary (the largest
/// in use, Gemma 3's, has 262,144 tokens; Qwen 2's 151,387 merges; no token is longer than
/// a few hundred bytes), so that a malicious file is refused instead of slowly accepted.
pub const MAX_TOKENS: usize = 1 << 20;
pub const MAX_MERGES: usize = 1 << 21;
pub const MAX_TOKEN_BYTES: usize = 4096;

/// Refuses a vocabulary of more than [`MAX_TOKENS`] tokens, a token longer than
/// [`MAX_TOKEN_BYTES`] or more than [`MAX_MERGES`] merges.
fn check_sizes<'t>(
    tokens: impl ExactSizeIterator<Item = &'t str>,
    n_merges: usize,
) -> std::result::Result<(), String> {
    if tokens.len() > MAX_TOKENS {
        return Err(format!(
            "it has {} tokens; Lantern reads vocabularies of up to {MAX_TOKENS}",
            tokens.len()
        ));
    }
    if n_merges > MAX_MERGES {
        return Err(format!(
            "it has {n_merges} merges; Lantern reads up to {MAX_MERGES}"
        ));
    }
    for (id, t) in tokens.enumerate() {
        if t.len() > MAX_TOKEN_BYTES {
            return Err(format!(
                "token #{id} is {} bytes long; Lantern reads tokens of up to {MAX_TOKEN_BYTES}",
                t.len()
            ));
        }
    }
    Ok(())
}

pub struct Tokenizer {
    model: Model,
    /// Whether decode(encode(text)) == text for every text: each byte has a token of its
    /// own and every merge and special token spells what it joins (byte-level BPE; not
    /// SentencePiece, which adds a space in front).
    round_trips: bool,
    /// Bytes of each token id (empty for ids the vocabulary skips).
    token_bytes: Vec<Vec<u8>>,
    /// Special tokens, longest first, so that one that prefixes another cannot shadow it.
    special: Vec<(String, u32)>,
    /// BPE results per word: text repeats words a lot.
    cache: std::sync::Mutex<HashMap<String, Vec<u32>>>,
}

impl Tokenizer {
    /// Reads a Hugging Face `tokenizer.json` (a byte-level BPE model).
    pub fn from_tokenizer_json(text: &str, file: &str) -> Result<Self> {
        let err = |reason: String| LanternError::Tokenizer {
            file: file.to_string(),
            reason,
        };
        let v: Value =
            serde_json::from_str(text).map_err(|e| err(format!("malformed JSON: {e}")))?;
        let model = v
            .get("model")
            .ok_or_else(|| err("missing field `model`".into()))?;
        let kind = model.get("type").and_then(Value::as_str).unwrap_or("BPE");
        if kind != "BPE" {
            return Err(err(format!(
                "model type is \"{kind}\"; Lantern reads byte-level BPE"
            )));
        }
        let vocab = vocab_from_json(
            model
                .get("vocab")
                .ok_or_else(|| err("missing field `model.vocab`".into()))?,
        )
        .map_err(err)?;
        let merges_json = model
            .get("merges")
            .and_then(Value::as_array)
            .ok_or_else(|| err("missing field `model.merges`".into()))?;
        check_sizes(vocab.keys().map(String::as_str), merges_json.len()).map_err(err)?;
        let mut merges = Vec::with_capacity(merges_json.len());
        for (i, m) in merges_json.iter().enumerate() {
            // Older files write "a b", newer ones ["a", "b"].
            let pair = match m {
                Value::String(s) => s
                    .split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string())),
                Value::Array(a) if a.len() == 2 => match (a[0].as_str(), a[1].as_str()) {
                    (Some(x), Some(y)) => Some((x.to_string(), y.to_string())),
                    _ => None,
                },
                _ => None,
            };
            merges.push(pair.ok_or_else(|| err(format!("merge #{i} is malformed: {m}")))?);
        }
        let pre = pre_tokenizer_from_json(v.get("pre_tokenizer")).map_err(err)?;
        let mut special = Vec::new();
        for t in v
            .get("added_tokens")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let content = t.get("content").and_then(Value::as_str);
            let id = t.get("id").and_then(Value::as_u64);
            match (content, id) {
                (Some(c), Some(id)) => special.push((c.to_string(), id as u32)),
                _ => return Err(err(format!("malformed entry in `added_tokens`: {t}"))),
            }
        }
        Self::build(vocab, merges, special, pre).map_err(err)
    }

    /// Reads the older pair of files: `vocab.json` and `merges.txt`.
    pub fn from_vocab_and_merges(vocab_json: &str, merges_txt: &str, file: &str) -> Result<Self> {
        let err = |reason: String| LanternError::Tokenizer {
            file: file.to_string(),
            reason,
        };
        let v: Value = serde_json::from_str(vocab_json)
            .map_err(|e| err(format!("vocab.json: malformed JSON: {e}")))?;
        let vocab = vocab_from_json(&v).map_err(|e| err(format!("vocab.json: {e}")))?;
        let n_merges = merges_txt.lines().count();
        check_sizes(vocab.keys().map(String::as_str), n_merges).map_err(err)?;
        let mut merges = Vec::new();
        for (i, line) in merges_txt.lines().enumerate() {
            if line.starts_with("#version") || line.trim().is_empty() {
                continue;
            }
            let (a, b) = line.split_once(' ').ok_or_else(|| {
                err(format!(
                    "merges.txt line {}: expected two tokens, got {line:?}",
                    i + 1
                ))
            })?;
            merges.push((a.to_string(), b.to_string()));
        }
        // The old format has no list of special tokens; GPT-2's one is in the vocabulary.
        let special = ["<|endoftext|>"]
            .iter()
            .filter_map(|s| vocab.get(*s).map(|&id| (s.to_string(), id)))
            .collect();
        Self::build(vocab, merges, special, PreTokenizer::Gpt2).map_err(err)
    }

    /// Reads the tokenizer a GGUF file carries in its metadata (`tokenizer.ggml.*`).
    pub fn from_gguf(g: &super::gguf::Gguf) -> Result<Self> {
        let err = |reason: String| LanternError::Tokenizer {
            file: g.file().to_string(),
            reason,
        };
        let model = g.str("tokenizer.ggml.model")?;
        if model != "gpt2" && model != "llama" {
            return Err(err(format!(
                "tokenizer.ggml.model is \"{model}\"; Lantern reads byte-level BPE (\"gpt2\") and SentencePiece-style BPE (\"llama\")"
            )));
        }
        let tokens = g.strings("tokenizer.ggml.tokens")?;
        let n_merges = g
            .get("tokenizer.ggml.merges")
            .and_then(|v| v.as_array())
            .map_or(0, <[_]>::len);
        check_sizes(tokens.iter().copied(), n_merges).map_err(err)?;
        let types: Vec<u64> = match g
            .get("tokenizer.ggml.token_type")
            .and_then(|v| v.as_array())
        {
            Some(a) => a.iter().map(|t| t.as_u64().unwrap_or(1)).collect(),
            None => vec![1; tokens.len()],
        };
        // 3 = control (<|im_start|>), 4 = user-defined: matched whole in text.
        let special: Vec<(String, u32)> = tokens
            .iter()
            .enumerate()
            .filter(|(id, _)| matches!(types.get(*id), Some(3) | Some(4)))
            .map(|(id, t)| (t.to_string(), id as u32))
            .collect();
        if model == "llama" {
            return Self::from_gguf_spm(g, &tokens, special);
        }
        let pre_name = g
            .get("tokenizer.ggml.pre")
            .and_then(|v| v.as_str())
            .unwrap_or("default");
        let pre = PreTokenizer::from_gguf_name(pre_name)
            .ok_or_else(|| err(format!("pre-tokenizer \"{pre_name}\" (tokenizer.ggml.pre) is not supported; Lantern knows GPT-2's, SmolLM's, Llama 3's (llama-bpe) and Qwen 2's")))?;
        let vocab = tokens
            .iter()
            .enumerate()
            .map(|(id, t)| (t.to_string(), id as u32))
            .collect();
        let merges = g
            .strings("tokenizer.ggml.merges")?
            .iter()
            .enumerate()
            .map(|(i, m)| {
                m.split_once(' ')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .ok_or_else(|| err(format!("merge #{i} is malformed: {m:?}")))
            })
            .collect::<Result<Vec<_>>>()?;
        Self::build(vocab, merges, special, pre).map_err(err)
    }

    fn build(
        vocab: HashMap<String, u32>,
        merges: Vec<(String, String)>,
        mut special: Vec<(String, u32)>,
        pre: PreTokenizer,
    ) -> std::result::Result<Self, String> {
        let unicode_to_byte: HashMap<char, u8> = byte_to_unicode()
            .iter()
            .enumerate()
            .map(|(b, &c)| (c, b as u8))
            .collect();
        let max_id = vocab
            .values()
            .chain(special.iter().map(|(_, id)| id))
            .copied()
            .max()
            .unwrap_or(0);
        // Ids index a table: they must be dense, as every real vocabulary's are.
        let entries = vocab.len() + special.len();
        if max_id as usize >= MAX_TOKENS || max_id as usize >= 2 * entries + 1024 {
            return Err(format!(
                "token id {max_id} is implausibly large for a vocabulary of {entries} entries"
            ));
        }
        let mut token_bytes = vec![Vec::new(); max_id as usize + 1];
        for (token, &id) in &vocab {
            let bytes: Option<Vec<u8>> = token
                .chars()
                .map(|c| unicode_to_byte.get(&c).copied())
                .collect();
            token_bytes[id as usize] = match (bytes, special.iter().any(|(s, _)| s == token)) {
                (_, true) => token.as_bytes().to_vec(),
                (Some(b), false) => b,
                // A token outside the byte alphabet (an added, non-special token): keep its text.
                (None, false) => token.as_bytes().to_vec(),
            };
        }
        for (s, id) in &special {
            token_bytes[*id as usize] = s.as_bytes().to_vec();
        }

        // Some vocabularies leave out bytes that never occur in text (SmolLM2 lacks control
        // characters such as 0x04): those encode as the unknown token, or else id 0.
        let unknown = vocab.get("<unk>").copied().unwrap_or(0);
        let mut byte_ids = [unknown; 256];
        for (b, c) in byte_to_unicode().iter().enumerate() {
            if let Some(&id) = vocab.get(&c.to_string()) {
                byte_ids[b] = id;
            }
        }
        if byte_ids.iter().filter(|&&id| id == unknown).count() > 64 {
            return Err(
                "the vocabulary lacks most single-byte tokens: not a byte-level BPE vocabulary"
                    .into(),
            );
        }

        let mut merge_map = HashMap::with_capacity(merges.len());
        for (rank, (a, b)) in merges.iter().enumerate() {
            let id = |t: &str| {
                vocab.get(t).copied().ok_or_else(|| {
                    format!("merge #{rank} ({a} {b}): `{t}` is not in the vocabulary")
                })
            };
            let merged = format!("{a}{b}");
            merge_map.insert((id(a)?, id(b)?), (rank as u32, id(&merged)?));
        }
        special.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        let whole_words = (pre == PreTokenizer::Llama3).then(|| {
            let mut words = HashMap::with_capacity(token_bytes.len());
            for (id, bytes) in token_bytes.iter().enumerate().rev() {
                words.insert(bytes.clone(), id as u32);
            }
            words
        });
        let spelled = |id: u32| token_bytes[id as usize].as_slice();
        let round_trips = (0..256).all(|b| spelled(byte_ids[b]) == [b as u8])
            && merge_map
                .iter()
                .all(|(&(a, b), &(_, m))| spelled(m) == [spelled(a), spelled(b)].concat())
            && special.iter().all(|(s, id)| spelled(*id) == s.as_bytes());
        Ok(Self {
            model: Model::Bpe(Box::new(Bpe {
                pre,
                whole_words,
                byte_ids,
                merges: merge_map,
            })),
            round_trips,
            token_bytes,
            special,
            cache: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// A SentencePiece-style vocabulary from GGUF (`tokenizer.ggml.model = "llama"`):
    /// pieces with scores; the `special` tokens are matched whole.
    fn from_gguf_spm(
        g: &super::gguf::Gguf,
        tokens: &[&str],
        mut special: Vec<(String, u32)>,
    ) -> Result<Self> {
        let scores: Vec<f32> = match g.get("tokenizer.ggml.scores").and_then(|v| v.as_array()) {
            Some(a) if a.len() == tokens.len() => {
                a.iter().map(|s| s.as_f64().unwrap_or(0.0) as f32).collect()
            }
            _ => {
                return Err(LanternError::Tokenizer {
                    file: g.file().to_string(),
                    reason: format!(
                        "tokenizer.ggml.scores must hold one score per token ({})",
                        tokens.len()
                    ),
                });
            }
        };
        // Absent, llama.cpp's default for these vocabularies: a space prefix (Llama 2).
        let space_prefix = g.flag_or("tokenizer.ggml.add_space_prefix", true);
        let unknown = g
            .get("tokenizer.ggml.unknown_token_id")
            .and_then(|v| v.as_u64())
            .unwrap_or(0);
        if unknown >= tokens.len() as u64 {
            return Err(LanternError::Tokenizer {
                file: g.file().to_string(),
                reason: format!(
                    "tokenizer.ggml.unknown_token_id is {unknown}, outside the {} tokens",
                    tokens.len()
                ),
            });
        }
        let unknown = unknown as u32;
        special.sort_by_key(|s| std::cmp::Reverse(s.0.len()));
        let token_bytes = tokens.iter().map(|t| Spm::piece_bytes(t)).collect();
        Ok(Self {
            model: Model::Spm(Box::new(Spm::new(tokens, scores, space_prefix, unknown))),
            round_trips: false,
            token_bytes,
            special,
            cache: std::sync::Mutex::new(HashMap::new()),
        })
    }

    /// What the tokenizer is, for the page and `lantern info`: "BPE (byte-level, gpt2
    /// pre-tokenizer)", "SentencePiece BPE (scored pieces)".
    pub fn describe(&self) -> String {
        match &self.model {
            Model::Bpe(b) => format!("byte-level BPE, {} pre-tokenizer", b.pre.name()),
            Model::Spm(_) => "SentencePiece-style BPE (scored pieces, byte fallback)".into(),
        }
    }

    /// Whether decode(encode(text)) gives back every text, byte for byte.
    pub fn round_trips(&self) -> bool {
        self.round_trips
    }

    /// Number of token ids (one past the largest).
    pub fn vocab_size(&self) -> usize {
        self.token_bytes.len()
    }

    /// The id of a special token such as `<|endoftext|>`.
    pub fn special_id(&self, text: &str) -> Option<u32> {
        self.special
            .iter()
            .find(|(s, _)| s == text)
            .map(|&(_, id)| id)
    }

    /// Encodes text; special tokens written in the text become their ids.
    pub fn encode(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        let mut rest = text;
        while !rest.is_empty() {
            // The earliest special token in the rest of the text.
            let next = self
                .special
                .iter()
                .filter_map(|(s, id)| rest.find(s.as_str()).map(|at| (at, s.len(), *id)))
                .min_by_key(|&(at, len, _)| (at, std::cmp::Reverse(len)));
            match next {
                Some((at, len, id)) => {
                    self.encode_fragment(&rest[..at], &mut ids);
                    ids.push(id);
                    rest = &rest[at + len..];
                }
                None => {
                    self.encode_fragment(rest, &mut ids);
                    break;
                }
            }
        }
        ids
    }

    /// Encodes text, reading special tokens as plain text.
    pub fn encode_ordinary(&self, text: &str) -> Vec<u32> {
        let mut ids = Vec::new();
        self.encode_fragment(text, &mut ids);
        ids
    }

    /// Text without special tokens.
    fn encode_fragment(&self, text: &str, ids: &mut Vec<u32>) {
        let bpe = match &self.model {
            Model::Bpe(bpe) => bpe,
            Model::Spm(spm) => return spm.encode(text, ids),
        };
        for word in bpe.pre.split(text) {
            if let Some(cached) = self.cache.lock().expect("tokenizer cache").get(word) {
                ids.extend_from_slice(cached);
                continue;
            }
            let word_ids = bpe.merge(word.as_bytes());
            ids.extend_from_slice(&word_ids);
            let mut cache = self.cache.lock().expect("tokenizer cache");
            if cache.len() > 100_000 {
                cache.clear();
            }
            cache.insert(word.to_string(), word_ids);
        }
    }
}

impl Bpe {
    /// Merges the bytes of one word, always the pair of lowest rank first.
    fn merge(&self, bytes: &[u8]) -> Vec<u32> {
        if let Some(&id) = self.whole_words.as_ref().and_then(|w| w.get(bytes)) {
            return vec![id];
        }
        let mut parts: Vec<u32> = bytes.iter().map(|&b| self.byte_ids[b as usize]).collect();
        loop {
            let best = parts
                .windows(2)
                .enumerate()
                .filter_map(|(i, w)| {
                    self.merges
                        .get(&(w[0], w[1]))
                        .map(|&(rank, id)| (rank, i, id))
                })
                .min();
            let Some((_, i, id)) = best else { break };
            parts[i] = id;
            parts.remove(i + 1);
        }
        parts
    }
}

impl Tokenizer {
    /// The bytes of the tokens, concatenated (not necessarily valid UTF-8 on its own).
    pub fn decode_bytes(&self, ids: &[u32]) -> Vec<u8> {
        let mut out = Vec::new();
        for &id in ids {
            if let Some(b) = self.token_bytes.get(id as usize) {
                out.extend_from_slice(b);
            }
        }
        out
    }

    /// Decodes to text; invalid UTF-8 becomes U+FFFD.
    pub fn decode(&self, ids: &[u32]) -> String {
        String::from_utf8_lossy(&self.decode_bytes(ids)).into_owned()
    }

    /// The bytes of one token.
    pub fn token_bytes(&self, id: u32) -> &[u8] {
        self.token_bytes.get(id as usize).map_or(&[], Vec::as_slice)
    }
}

/// The pre-tokenizer a tokenizer.json describes: ByteLevel alone, or preceded by Digits.
fn pre_tokenizer_from_json(v: Option<&Value>) -> std::result::Result<PreTokenizer, String> {
    let Some(v) = v.filter(|v| !v.is_null()) else {
        return Ok(PreTokenizer::Gpt2);
    };
    let kind = |p: &Value| {
        p.get("type")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let parts: Vec<&Value> = match kind(v).as_str() {
        "Sequence" => v
            .get("pretokenizers")
            .and_then(Value::as_array)
            .map(|a| a.iter().collect())
            .unwrap_or_default(),
        _ => vec![v],
    };
    let kinds: Vec<String> = parts.iter().map(|p| kind(p)).collect();
    let individual = |p: &Value| p.get("individual_digits").and_then(Value::as_bool) == Some(true);
    // A Split by one of the patterns split_llama3 writes out, before a ByteLevel without its
    // own regex (Llama 3's and Qwen 2's tokenizer.json).
    let split = |p: &Value| match p.pointer("/pattern/Regex").and_then(Value::as_str) {
        Some(LLAMA3_PATTERN) => Some(PreTokenizer::Llama3),
        Some(QWEN2_PATTERN) => Some(PreTokenizer::Qwen2),
        _ => None,
    };
    let no_regex = |p: &Value| p.get("use_regex").and_then(Value::as_bool) == Some(false);
    match kinds
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        ["ByteLevel"] => Ok(PreTokenizer::Gpt2),
        ["Digits", "ByteLevel"] if individual(parts[0]) => Ok(PreTokenizer::DigitsThenGpt2),
        ["Split", "ByteLevel"] if no_regex(parts[1]) && split(parts[0]).is_some() => {
            Ok(split(parts[0]).expect("checked"))
        }
        _ => Err(format!(
            "pre-tokenizer {kinds:?} is not supported; Lantern knows ByteLevel, Digits + ByteLevel and the Split patterns of Llama 3 and Qwen 2"
        )),
    }
}

/// The patterns of Llama 3's and Qwen 2's tokenizer.json, which [`split_llama3`] follows.
const LLAMA3_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";
const QWEN2_PATTERN: &str = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+";

fn vocab_from_json(v: &Value) -> std::result::Result<HashMap<String, u32>, String> {
    let obj = v.as_object().ok_or("the vocabulary is not a JSON object")?;
    obj.iter()
        .map(|(k, id)| {
            id.as_u64()
                .filter(|&n| n <= u32::MAX as u64)
                .map(|n| (k.clone(), n as u32))
                .ok_or_else(|| format!("token {k:?} has a bad id {id}"))
        })
        .collect()
}

/// GPT-2's printable stand-in for each byte, so that every token is a visible string.
fn byte_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut next = 256u32;
    for b in 0..256u32 {
        let printable =
            (33..=126).contains(&b) || (161..=172).contains(&b) || (174..=255).contains(&b);
        table[b as usize] = if printable {
            char::from_u32(b).expect("valid")
        } else {
            next += 1;
            char::from_u32(next - 1).expect("valid")
        };
    }
    table
}

fn is_letter(c: char) -> bool {
    matches!(
        get_general_category(c),
        G::UppercaseLetter
            | G::LowercaseLetter
            | G::TitlecaseLetter
            | G::ModifierLetter
            | G::OtherLetter
    )
}

fn is_number(c: char) -> bool {
    matches!(
        get_general_category(c),
        G::DecimalNumber | G::LetterNumber | G::OtherNumber
    )
}

/// What the hand-written pre-tokenizers read `text` with, by character index: the character
/// at i, its byte offset (the text's length past the end), and the end of the run of
/// characters from i that `pred` accepts.
#[allow(clippy::type_complexity)]
fn char_cursor<'a>(
    text: &'a str,
    chars: &'a [(usize, char)],
) -> (
    impl Fn(usize) -> Option<char> + Copy + 'a,
    impl Fn(usize) -> usize + Copy + 'a,
    impl Fn(usize, &dyn Fn(char) -> bool) -> usize + Copy + 'a,
) {
    let at = move |i: usize| chars.get(i).map(|&(_, c)| c);
    let offset = move |i: usize| chars.get(i).map_or(text.len(), |&(o, _)| o);
    let run = move |mut i: usize, pred: &dyn Fn(char) -> bool| {
        while at(i).is_some_and(pred) {
            i += 1;
        }
        i
    };
    (at, offset, run)
}

/// Splits text into words with GPT-2's pattern, written out by hand:
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
pub fn split_gpt2(text: &str) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let (at, offset, run) = char_cursor(text, &chars);
    let is_other = |c: char| !c.is_whitespace() && !is_letter(c) && !is_number(c);

    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        let end = if c == '\'' && contraction_len(&text[offset(i)..]) > 0 {
            i + contraction_len(&text[offset(i)..])
        } else {
            // An optional single space, then a run of one class.
            let j = if c == ' ' && at(i + 1).is_some_and(|n| !n.is_whitespace()) {
                i + 1
            } else {
                i
            };
            match at(j) {
                Some(n) if is_letter(n) => run(j, &is_letter),
                Some(n) if is_number(n) => run(j, &is_number),
                Some(n) if is_other(n) => run(j, &is_other),
                _ => {
                    // Whitespace: leave the last one to prefix the next word, unless the run
                    // ends the text or is a single character.
                    let e = run(i, &|c: char| c.is_whitespace());
                    if e < chars.len() && e - i > 1 {
                        e - 1
                    } else {
                        e
                    }
                }
            }
        };
        words.push(&text[offset(i)..offset(end)]);
        i = end;
    }
    words
}

/// Splits text into words with Llama 3's pattern (llama.cpp's "llama-bpe"), or with
/// `max_digits` = 1 Qwen 2's ("qwen2"), written out by hand:
/// `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|
///  ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
pub fn split_llama3(text: &str, max_digits: usize) -> Vec<&str> {
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let (at, offset, run) = char_cursor(text, &chars);
    let newline = |c: char| c == '\r' || c == '\n';
    let is_other = |c: char| !c.is_whitespace() && !is_letter(c) && !is_number(c);

    let mut words = Vec::new();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i].1;
        // Contractions in any case ('S, 'Re): all ASCII, so characters are bytes.
        let head: String = chars[i..(i + 3).min(chars.len())]
            .iter()
            .map(|&(_, c)| c.to_ascii_lowercase())
            .collect();
        let contraction = contraction_len(&head);
        let next_is_letter = at(i + 1).is_some_and(is_letter);
        let end = if c == '\'' && contraction > 0 {
            i + contraction
        } else if is_letter(c) {
            run(i, &is_letter)
        } else if !newline(c) && !is_number(c) && next_is_letter {
            // One character that is no letter, digit or line break, then letters.
            run(i + 1, &is_letter)
        } else if is_number(c) {
            let e = run(i, &is_number);
            e.min(i + max_digits)
        } else if is_other(c) || (c == ' ' && at(i + 1).is_some_and(is_other)) {
            let j = if c == ' ' { i + 1 } else { i };
            run(run(j, &is_other), &newline)
        } else {
            // Whitespace: through its last line break if it has one; else all but the last
            // character (which prefixes the next word), unless it ends the text or is one.
            let e = run(i, &|c: char| c.is_whitespace());
            match (i..e).rev().find(|&k| at(k).is_some_and(newline)) {
                Some(k) => k + 1,
                None if e < chars.len() && e - i > 1 => e - 1,
                None => e,
            }
        };
        words.push(&text[offset(i)..offset(end)]);
        i = end;
    }
    words
}

/// Length in characters of a contraction ('s 't 're 've 'm 'll 'd) at the start of `s`.
fn contraction_len(s: &str) -> usize {
    ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d"]
        .iter()
        .find(|p| s.starts_with(**p))
        .map_or(0, |p| p.len())
}

/// Turns a stream of token ids into a stream of text that never splits a UTF-8 character:
/// bytes of an incomplete character wait for the next token.
#[derive(Default)]
pub struct TextStream {
    pending: Vec<u8>,
}

impl TextStream {
    /// Adds one token's bytes; returns the text that is now complete (maybe empty).
    pub fn push(&mut self, bytes: &[u8]) -> String {
        self.pending.extend_from_slice(bytes);
        let mut out = String::new();
        loop {
            match std::str::from_utf8(&self.pending) {
                Ok(s) => {
                    out.push_str(s);
                    self.pending.clear();
                    return out;
                }
                Err(e) => {
                    let valid = e.valid_up_to();
                    out.push_str(
                        std::str::from_utf8(&self.pending[..valid]).expect("valid prefix"),
                    );
                    match e.error_len() {
                        // Bytes that can never become a character: show U+FFFD and go on.
                        Some(n) => {
                            out.push(char::REPLACEMENT_CHARACTER);
                            self.pending.drain(..valid + n);
                        }
                        // An incomplete character at the end: wait for more bytes.
                        None => {
                            self.pending.drain(..valid);
                            return out;
                        }
                    }
                }
            }
        }
    }

    /// Ends the stream; a character left incomplete becomes U+FFFD.
    pub fn finish(&mut self) -> String {
        let out = String::from_utf8_lossy(&self.pending).into_owned();
        self.pending.clear();
        out
    }
}
