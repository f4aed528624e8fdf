//! Weight formats: f32, the 16-bit floats, and ggml's block formats, in one table
//! ([`Format::spec`]: ggml's type id, block size and bytes, the CPU dequantization). The GPU
//! keeps the blocks quantized in its own layout (`gpu/weights.rs`) and the kernels dequantize
//! (`shaders/quant.wgsl`); this is the CPU's version, written from the file's own bytes, and
//! proven equal, bit for bit, to the `gguf` Python package's (`tests/kernels.rs`).
//!
//! 32-weight blocks (each starts with f16 d; Q4 and Q5 bytes j hold weight j in the low
//! nibble and j + 16 in the high one; Q5's 32 fifth bits are one little-endian u32, bit i
//! for weight i):
//! - Q8_0 (34 bytes): d, 32 × i8                    w = d · q
//! - Q4_0 (18 bytes): d, 16 bytes                   w = d · (q − 8)
//! - Q4_1 (20 bytes): d, m: f16, 16 bytes           w = d · q + m
//! - Q5_0 (22 bytes): d, qh: u32, 16 bytes          w = d · (q − 16)
//! - Q5_1 (24 bytes): d, m: f16, qh: u32, 16 bytes  w = d · q + m
//!
//! K-quants: 256-weight super-blocks of sub-blocks, each with its own integer scale (and
//! min), times the super-block's f16 d (and dmin):
//! - Q2_K (84): scales[16] (sc | m << 4), qs[64] (2 bits), d, dmin   w = d·sc·q − dmin·m
//! - Q3_K (110): hmask[32], qs[64] (2 low bits), scales[12] (16 × 6 bits, − 32), d
//!   w = d·sc·(q − 4), q = low 2 bits + 4 · high bit
//! - Q4_K (144): d, dmin, scales[12] (8 × (6-bit sc, 6-bit m)), qs[128]   w = d·sc·q − dmin·m
//! - Q5_K (176): d, dmin, scales[12], qh[32] (fifth bits), qs[128]        w = d·sc·q − dmin·m
//! - Q6_K (210): ql[128] (4 low bits), qh[64] (2 high bits), scales[16] (i8), d
//!   w = d·sc·(q − 32)
//!
//! Sub-blocks hold 16 weights in Q2_K, Q3_K and Q6_K, 32 in Q4_K and Q5_K. Where the bits of
//! weight i sit in a super-block is spelled out by each `dequant_*` below.

use half::{bf16, f16};

#[allow(non_camel_case_types)]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    F32,
    F16,
    BF16,
    Q8_0,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q2_K,
    Q3_K,
    Q4_K,
    Q5_K,
    Q6_K,
}

/// What the table says of one format.
pub struct Spec {
    pub format: Format,
    /// ggml's type id in GGUF files.
    pub ggml_type: u32,
    /// Weights per block.
    pub block_len: usize,
    /// Bytes per block.
    pub block_bytes: usize,
    /// Appends the weights of one block.
    dequant: fn(&[u8], &mut Vec<f32>),
}

const QK_K: usize = 256;

/// Every format Lantern reads.
pub const FORMATS: [Spec; 13] = [
    spec(Format::F32, 0, 1, 4, |b, out| {
        out.push(f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }),
    spec(Format::F16, 1, 1, 2, |b, out| out.push(half(b))),
    spec(Format::BF16, 30, 1, 2, |b, out| {
        out.push(bf16::from_le_bytes([b[0], b[1]]).to_f32())
    }),
    spec(Format::Q8_0, 8, 32, 34, dequant_q8_0),
    spec(Format::Q4_0, 2, 32, 18, dequant_q4_0),
    spec(Format::Q4_1, 3, 32, 20, dequant_q4_1),
    spec(Format::Q5_0, 6, 32, 22, dequant_q5_0),
    spec(Format::Q5_1, 7, 32, 24, dequant_q5_1),
    spec(Format::Q2_K, 10, QK_K, 84, dequant_q2_k),
    spec(Format::Q3_K, 11, QK_K, 110, dequant_q3_k),
    spec(Format::Q4_K, 12, QK_K, 144, dequant_q4_k),
    spec(Format::Q5_K, 13, QK_K, 176, dequant_q5_k),
    spec(Format::Q6_K, 14, QK_K, 210, dequant_q6_k),
];

const fn spec(
    format: Format,
    ggml_type: u32,
    block_len: usize,
    block_bytes: usize,
    dequant: fn(&[u8], &mut Vec<f32>),
) -> Spec {
    Spec {
        format,
        ggml_type,
        block_len,
        block_bytes,
        dequant,
    }
}

/// ggml's type names by id, for errors about the ones Lantern does not read.
const GGML_NAMES: [&str; 31] = [
    "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K", "Q3_K",
    "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S", "IQ4_NL", "IQ3_S",
    "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M", "BF16",
];

impl Format {
    pub fn spec(self) -> &'static Spec {
        FORMATS
            .iter()
            .find(|s| s.format == self)
            .expect("every format is in the table")
    }

    /// From ggml's type id; the error names an unsupported type.
    pub fn from_ggml_type(ty: u32) -> Result<Self, String> {
        FORMATS
            .iter()
            .find(|s| s.ggml_type == ty)
            .map(|s| s.format)
            .ok_or_else(|| {
                GGML_NAMES
                    .get(ty as usize)
                    .map_or(format!("#{ty}"), |n| n.to_string())
            })
    }

    /// The names of every format, for messages ("F32, F16, …").
    pub fn all_names() -> String {
        let names: Vec<String> = FORMATS.iter().map(|s| format!("{:?}", s.format)).collect();
        names.join(", ")
    }

    /// Weights per block.
    pub fn block_len(self) -> usize {
        self.spec().block_len
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        self.spec().block_bytes
    }

    /// Bytes of `n` weights (n a multiple of the block length).
    pub fn bytes_for(self, n: usize) -> usize {
        n / self.block_len() * self.block_bytes()
    }
}

/// Dequantizes `bytes` (whole blocks) in `format` into f32.
pub fn dequantize(format: Format, bytes: &[u8]) -> Vec<f32> {
    let spec = format.spec();
    let mut out = Vec::with_capacity(bytes.len() / spec.block_bytes * spec.block_len);
    for block in bytes.chunks_exact(spec.block_bytes) {
        (spec.dequant)(block, &mut out);
    }
    out
}

/// The first weight of `bytes` (whole blocks in `format`) that is NaN or infinite. In a
/// block format only the f16 scales can be (the rest are small integers, and no scale
/// times them leaves f32's range), so this reads one or two values per block.
pub fn first_non_finite(format: Format, bytes: &[u8]) -> Option<usize> {
    use Format::*;
    let finite_f16 = |b: &[u8]| f16::from_le_bytes([b[0], b[1]]).is_finite();
    let scales: &[usize] = match format {
        F32 => {
            return bytes
                .chunks_exact(4)
                .position(|b| !f32::from_le_bytes([b[0], b[1], b[2], b[3]]).is_finite());
        }
        F16 => return bytes.chunks_exact(2).position(|b| !finite_f16(b)),
        BF16 => {
            return bytes
                .chunks_exact(2)
                .position(|b| !bf16::from_le_bytes([b[0], b[1]]).is_finite());
        }
        // d (and m or dmin) where each block keeps them: see the layouts above.
        Q8_0 | Q4_0 | Q5_0 => &[0],
        Q4_1 | Q5_1 | Q4_K | Q5_K => &[0, 2],
        Q2_K => &[80, 82],
        Q3_K => &[108],
        Q6_K => &[208],
    };
    let spec = format.spec();
    bytes
        .chunks_exact(spec.block_bytes)
        .position(|b| scales.iter().any(|&at| !finite_f16(&b[at..])))
        .map(|block| block * spec.block_len)
}

fn half(b: &[u8]) -> f32 {
    f16::from_le_bytes([b[0], b[1]]).to_f32()
}

/// Weight j of a 32-weight block's 16 bytes of nibbles: j in the low nibble of byte j,
/// j + 16 in the high nibble of byte j − 16.
fn nibble(qs: &[u8], j: usize) -> u8 {
    if j < 16 { qs[j] & 0xF } else { qs[j - 16] >> 4 }
}

/// The 5-bit value of weight j of a Q5 block: its nibble and bit j of qh.
fn five_bits(qh: &[u8], qs: &[u8], j: usize) -> u8 {
    let high = (u32::from_le_bytes([qh[0], qh[1], qh[2], qh[3]]) >> j) & 1;
    nibble(qs, j) | (high as u8) << 4
}

fn dequant_q8_0(b: &[u8], out: &mut Vec<f32>) {
    let d = half(b);
    out.extend(b[2..34].iter().map(|&q| q as i8 as f32 * d));
}

fn dequant_q4_0(b: &[u8], out: &mut Vec<f32>) {
    let d = half(b);
    out.extend((0..32).map(|j| d * (nibble(&b[2..], j) as f32 - 8.0)));
}

fn dequant_q4_1(b: &[u8], out: &mut Vec<f32>) {
    let (d, m) = (half(b), half(&b[2..]));
    out.extend((0..32).map(|j| d * nibble(&b[4..], j) as f32 + m));
}

fn dequant_q5_0(b: &[u8], out: &mut Vec<f32>) {
    let d = half(b);
    out.extend((0..32).map(|j| d * (five_bits(&b[2..6], &b[6..], j) as f32 - 16.0)));
}

fn dequant_q5_1(b: &[u8], out: &mut Vec<f32>) {
    let (d, m) = (half(b), half(&b[2..]));
    out.extend((0..32).map(|j| d * five_bits(&b[4..8], &b[8..], j) as f32 + m));
}

/// The stored integer of weight i of a block (before its scale and offset), as the GPU
/// layout keeps it: Q8_0's byte (two's complement), the 4-bit formats' nibble, Q5's 5 bits,
/// Q2_K's 2 bits, Q3_K's 3 (the high bit set when hmask's is), Q4_K's 4, Q5_K's 5, Q6_K's 6.
pub fn stored_int(format: Format, b: &[u8], i: usize) -> u8 {
    match format {
        Format::Q8_0 => b[2 + i],
        Format::Q4_0 => nibble(&b[2..], i),
        Format::Q4_1 => nibble(&b[4..], i),
        Format::Q5_0 => five_bits(&b[2..6], &b[6..], i),
        Format::Q5_1 => five_bits(&b[4..8], &b[8..], i),
        Format::Q2_K => q2_k_int(&b[16..80], i),
        Format::Q3_K => q2_k_int(&b[32..96], i) | ((b[i % 32] >> (i / 32)) & 1) << 2,
        Format::Q4_K => q4_k_int(&b[16..144], i),
        Format::Q5_K => q4_k_int(&b[48..176], i) | ((b[16 + i % 32] >> (i / 32)) & 1) << 4,
        Format::Q6_K => q6_k_int(b, i),
        Format::F32 | Format::F16 | Format::BF16 => unreachable!("{format:?} has no integers"),
    }
}

/// Q2_K's (and Q3_K's low) 2 bits of weight i (of 256): in byte 32·(i / 128) + i % 32 of
/// qs, at bit 2·((i / 32) % 4).
fn q2_k_int(qs: &[u8], i: usize) -> u8 {
    (qs[32 * (i / 128) + i % 32] >> (2 * ((i / 32) % 4))) & 3
}

/// Q4_K's (and Q5_K's low) 4 bits of weight i: sub-block j = i / 32 in byte
/// 32·(j / 2) + i % 32 of qs, the low nibble for even j and the high one for odd j.
fn q4_k_int(qs: &[u8], i: usize) -> u8 {
    let j = i / 32;
    (qs[32 * (j / 2) + i % 32] >> (4 * (j % 2))) & 0xF
}

/// Q6_K's 6 bits of weight i = 128·h + 32·t + l (h < 2, t < 4, l < 32): 4 low bits in
/// ql[64·h + 32·(t % 2) + l] (the low nibble for t < 2), 2 high bits in qh[32·h + l] at
/// bit 2·t.
fn q6_k_int(b: &[u8], i: usize) -> u8 {
    let (ql, qh) = (&b[..128], &b[128..192]);
    let (h, t, l) = (i / 128, (i / 32) % 4, i % 32);
    let low = (ql[64 * h + 32 * (t % 2) + l] >> (4 * (t / 2))) & 0xF;
    low | ((qh[32 * h + l] >> (2 * t)) & 3) << 4
}

/// Q2_K: w = d·sc·q − dmin·m, (sc, m) the nibbles of scales[i / 16].
fn dequant_q2_k(b: &[u8], out: &mut Vec<f32>) {
    let (d, dmin) = (half(&b[80..]), half(&b[82..]));
    out.extend((0..QK_K).map(|i| {
        let s = b[i / 16];
        let q = stored_int(Format::Q2_K, b, i);
        d * (s & 0xF) as f32 * q as f32 - dmin * (s >> 4) as f32
    }));
}

/// Q3_K's 16 sub-block scales (6 bits each, minus 32): the low 4 bits of scale j in byte
/// j % 8 (low nibble for j < 8, high for the rest), the high 2 bits in byte 8 + j % 4 at
/// bit 2·(j / 4).
pub fn q3_k_scales(s: &[u8]) -> [i8; 16] {
    std::array::from_fn(|j| {
        let low = (s[j % 8] >> (4 * (j / 8))) & 0xF;
        let high = (s[8 + j % 4] >> (2 * (j / 4))) & 3;
        (low | high << 4) as i8 - 32
    })
}

/// Q3_K: w = d·sc·(q − 4), the third bit of q from bit i / 32 of hmask[i % 32].
fn dequant_q3_k(b: &[u8], out: &mut Vec<f32>) {
    let scales = q3_k_scales(&b[96..108]);
    let d = half(&b[108..]);
    out.extend((0..QK_K).map(|i| {
        let q = stored_int(Format::Q3_K, b, i) as i32 - 4;
        d * scales[i / 16] as f32 * q as f32
    }));
}

/// Q4_K and Q5_K's 8 (scale, min) pairs of 6 bits from 12 bytes: pair j < 4 in the low 6
/// bits of bytes j and j + 4; pair j ≥ 4 in the nibbles of byte j + 4 with the high 2 bits
/// from the top of bytes j − 4 and j.
pub fn k4_scale_min(s: &[u8], j: usize) -> (u8, u8) {
    if j < 4 {
        (s[j] & 63, s[j + 4] & 63)
    } else {
        (
            (s[j + 4] & 0xF) | (s[j - 4] >> 6) << 4,
            (s[j + 4] >> 4) | (s[j] >> 6) << 4,
        )
    }
}

/// Q4_K and Q5_K: w = d·sc·q − dmin·m per 32-weight sub-block.
fn dequant_k4(format: Format, b: &[u8], out: &mut Vec<f32>) {
    let (d, dmin) = (half(b), half(&b[2..]));
    for j in 0..8 {
        let (sc, m) = k4_scale_min(&b[4..16], j);
        let (dl, ml) = (d * sc as f32, dmin * m as f32);
        out.extend((32 * j..32 * j + 32).map(|i| dl * stored_int(format, b, i) as f32 - ml));
    }
}

fn dequant_q4_k(b: &[u8], out: &mut Vec<f32>) {
    dequant_k4(Format::Q4_K, b, out)
}

fn dequant_q5_k(b: &[u8], out: &mut Vec<f32>) {
    dequant_k4(Format::Q5_K, b, out)
}

/// Q6_K: w = d·sc·(q − 32), sc the signed byte scales[i / 16].
fn dequant_q6_k(b: &[u8], out: &mut Vec<f32>) {
    let d = half(&b[208..]);
    out.extend((0..QK_K).map(|i| {
        let q = stored_int(Format::Q6_K, b, i) as i32 - 32;
        d * b[192 + i / 16] as i8 as f32 * q as f32
    }));
}
