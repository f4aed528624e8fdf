//! SentencePiece-style BPE over scored pieces (GGUF's `tokenizer.ggml.model = "llama"`:
//! Gemma, Llama 2, TinyLlama), the way llama.cpp reads such vocabularies. Spaces are
//! written `▁`; the text's characters are merged pairwise, always the adjacent pair whose
//! joined piece has the highest score (the leftmost among equals), while such a piece
//! exists; a character left without a piece falls back to its UTF-8 bytes (`<0x41>`).

use std::cmp::Ordering;
use std::collections::{BinaryHeap, HashMap};

pub struct Spm {
    /// Every piece's id (its text as the vocabulary writes it, `▁` for spaces).
    ids: HashMap<String, u32>,
    scores: Vec<f32>,
    /// The `<0xXX>` pieces, where the vocabulary has them.
    byte_ids: [Option<u32>; 256],
    /// `tokenizer.ggml.add_space_prefix`: a `▁` before each run of text (at the start and
    /// after each special token, as llama.cpp does; Llama 2 has it, Gemma not).
    pub space_prefix: bool,
    unknown: u32,
}

/// The byte a byte-fallback piece `<0xXX>` stands for.
fn byte_piece(piece: &str) -> Option<u8> {
    let hex = piece.strip_prefix("<0x")?.strip_suffix('>')?;
    if hex.len() != 2 {
        return None;
    }
    u8::from_str_radix(hex, 16).ok()
}

/// A candidate merge: symbols `left` and `right` (adjacent) into a piece of this score;
/// `len` checks that neither changed since the candidate was made.
struct Candidate {
    score: f32,
    left: usize,
    right: usize,
    len: usize,
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}
impl Eq for Candidate {}
impl PartialOrd for Candidate {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Candidate {
    /// The highest score first, then the leftmost.
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then(other.left.cmp(&self.left))
    }
}

/// One symbol of the text being merged: a byte range, linked to its neighbours.
#[derive(Clone, Copy)]
struct Symbol {
    start: usize,
    len: usize,
    prev: Option<usize>,
    next: Option<usize>,
}

impl Spm {
    /// `pieces` and `scores` by id; `unknown`: the id of text nothing else covers.
    pub fn new(pieces: &[&str], scores: Vec<f32>, space_prefix: bool, unknown: u32) -> Self {
        let mut byte_ids = [None; 256];
        let mut ids = HashMap::with_capacity(pieces.len());
        for (id, p) in pieces.iter().enumerate() {
            ids.entry(p.to_string()).or_insert(id as u32);
            if let Some(b) = byte_piece(p) {
                byte_ids[b as usize] = Some(id as u32);
            }
        }
        Self {
            ids,
            scores,
            byte_ids,
            space_prefix,
            unknown,
        }
    }

    /// The bytes a piece stands for: `▁` as a space, `<0xXX>` as its byte.
    pub fn piece_bytes(piece: &str) -> Vec<u8> {
        match byte_piece(piece) {
            Some(b) => vec![b],
            None => piece.replace('▁', " ").into_bytes(),
        }
    }

    /// Ids of `text` (no special tokens in it), appended to `out`.
    pub fn encode(&self, text: &str, out: &mut Vec<u32>) {
        if text.is_empty() {
            return;
        }
        let mut s = String::with_capacity(text.len() + 3);
        if self.space_prefix {
            s.push('▁');
        }
        s.push_str(&text.replace(' ', "▁"));
        let mut symbols: Vec<Symbol> = s
            .char_indices()
            .map(|(i, c)| Symbol {
                start: i,
                len: c.len_utf8(),
                prev: None,
                next: None,
            })
            .collect();
        let n = symbols.len();
        for (i, sym) in symbols.iter_mut().enumerate() {
            sym.prev = i.checked_sub(1);
            sym.next = (i + 1 < n).then_some(i + 1);
        }
        let mut heap = BinaryHeap::new();
        let candidate = |symbols: &[Symbol], left: usize, right: usize| {
            let (l, r) = (symbols[left], symbols[right]);
            let len = l.len + r.len;
            let id = self.ids.get(&s[l.start..l.start + len])?;
            Some(Candidate {
                score: self.scores.get(*id as usize).copied().unwrap_or(0.0),
                left,
                right,
                len,
            })
        };
        for i in 1..n {
            heap.extend(candidate(&symbols, i - 1, i));
        }
        while let Some(c) = heap.pop() {
            let (l, r) = (symbols[c.left], symbols[c.right]);
            // Stale: one side was merged into something else since.
            if l.len == 0 || r.len == 0 || l.len + r.len != c.len || l.next != Some(c.right) {
                continue;
            }
            symbols[c.left].len = c.len;
            symbols[c.left].next = r.next;
            symbols[c.right].len = 0;
            if let Some(next) = r.next {
                symbols[next].prev = Some(c.left);
                heap.extend(candidate(&symbols, c.left, next));
            }
            if let Some(prev) = l.prev {
                heap.extend(candidate(&symbols, prev, c.left));
            }
        }
        let mut at = Some(0);
        while let Some(i) = at {
            let sym = symbols[i];
            let piece = &s[sym.start..sym.start + sym.len];
            match self.ids.get(piece) {
                Some(&id) => out.push(id),
                None => {
                    for b in piece.bytes() {
                        out.push(self.byte_ids[b as usize].unwrap_or(self.unknown));
                    }
                }
            }
            at = sym.next;
        }
    }
}
