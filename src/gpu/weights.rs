//! Weights laid out for the GPU, repacked once at load. The file's blocks put f16 scales and
//! quants at odd byte offsets (a Q4_1 block is 20 bytes, Q8_0 34, Q6_K 210) and spread a
//! weight's bits over several places, so a kernel reading them joins unaligned words and
//! rereads the scales for every few weights. Here every row of a matrix is a run of whole
//! u32 words in three parts:
//!
//! ```text
//! row r, at word r · row_words(K):
//!   [ low bits: K · LO / 32 words ][ high bits: K · HI / 32 words ][ meta ]
//! ```
//!
//! - low bits: each weight's stored integer (`model::quant::stored_int`), its low LO bits
//!   (8, 4 or 2), weights in order, densely packed from bit 0 (weight i of a 4-bit format in
//!   bits 4·(i % 8) of word i / 8). Q8_0's bytes are two's complement.
//! - high bits: the bits above LO (HI = 1 for Q5_0, Q5_1, Q5_K and Q3_K, 2 for Q6_K), in order
//!   the same way. The integer is q = low | high << LO.
//! - meta, what turns a sub-block's integers into weights, w = scale · q + offset:
//!   - 32-weight formats: one word per block, (scale, offset) as two f16: Q8_0 (d, 0), Q4_0
//!     (d, −8d), Q4_1 (d, m), Q5_0 (d, −16d), Q5_1 (d, m) (−8d and −16d are exact in f16).
//!   - K-quants: 5 words per 256-weight super-block: (d, dmin) as two f16 (Q3_K, Q6_K: (d,
//!     0)), then 16 bytes of sub-block scales, decoded in the kernel in f32 as the CPU does:
//!     Q4_K, Q5_K: 8 scales then 8 mins (6-bit values unpacked), sub-block j of 32 weights:
//!     (d·sc_j, −dmin·m_j); Q2_K: the file's 16 bytes (sc | m << 4), sub-blocks of 16:
//!     (d·sc_j, −dmin·m_j); Q3_K: 16 signed scales (the 6-bit value − 32), (d·s_j, −4·d·s_j);
//!     Q6_K: its 16 signed scales, (d·s_j, −32·d·s_j).
//! - f32 rows are the plain K floats (LO 32, no meta); f16 and bf16 rows their K 16-bit
//!   floats in pairs (weight 2i in the low half of word i), padded to whole words.
//!
//! A row is self-contained, so a matrix can be split by rows across bindings. The shaders
//! read this layout through `shaders/quant.wgsl`; the CPU reference keeps reading the file's
//! own blocks (`model::quant::dequantize`), so the repacking is tested too.

use super::Gpu;
use crate::error::Result;
use crate::model::llama::QTensor;
use crate::model::quant::{Format, k4_scale_min, q3_k_scales, stored_int};
use half::f16;

/// How one format sits on the GPU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    /// The kernels' `FORMAT` override constant.
    pub shader_id: u32,
    /// Low bits per weight (32 for f32).
    pub lo_bits: usize,
    /// High bits per weight.
    pub hi_bits: usize,
    /// Meta words per block of the file (one 32-weight block, or one 256-weight super-block).
    pub meta_words: usize,
}

/// The layout of `format` on the GPU.
pub fn layout(format: Format) -> Layout {
    let (shader_id, lo_bits, hi_bits, meta_words) = match format {
        Format::F32 => (0, 32, 0, 0),
        Format::F16 => (11, 16, 0, 0),
        Format::BF16 => (12, 16, 0, 0),
        Format::Q8_0 => (1, 8, 0, 1),
        Format::Q4_0 => (2, 4, 0, 1),
        Format::Q4_1 => (3, 4, 0, 1),
        Format::Q5_0 => (4, 4, 1, 1),
        Format::Q5_1 => (5, 4, 1, 1),
        Format::Q2_K => (6, 2, 0, 5),
        Format::Q3_K => (7, 2, 1, 5),
        Format::Q4_K => (8, 4, 0, 5),
        Format::Q5_K => (9, 4, 1, 5),
        Format::Q6_K => (10, 4, 2, 5),
    };
    Layout {
        shader_id,
        lo_bits,
        hi_bits,
        meta_words,
    }
}

impl Format {
    /// The kernels' `FORMAT` override constant (quant.wgsl).
    pub fn shader_id(self) -> u32 {
        layout(self).shader_id
    }
}

/// Words of one row of `cols` weights (cols a multiple of the block length).
pub fn row_words(format: Format, cols: usize) -> usize {
    let l = layout(format);
    if l.lo_bits == 16 {
        return cols.div_ceil(2); // a row of odd length padded to whole words
    }
    cols * (l.lo_bits + l.hi_bits) / 32 + cols / format.block_len() * l.meta_words
}

fn half(b: &[u8]) -> f16 {
    f16::from_le_bytes([b[0], b[1]])
}

fn halves(scale: f16, offset: f16) -> u32 {
    scale.to_bits() as u32 | (offset.to_bits() as u32) << 16
}

fn bytes_word(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

/// The meta words of one block of the file.
fn meta(format: Format, b: &[u8], out: &mut Vec<u32>) {
    let d = half(b);
    match format {
        Format::Q8_0 => out.push(halves(d, f16::ZERO)),
        Format::Q4_0 => out.push(halves(d, -(d * f16::from_f32(8.0)))),
        Format::Q5_0 => out.push(halves(d, -(d * f16::from_f32(16.0)))),
        Format::Q4_1 | Format::Q5_1 => out.push(halves(d, half(&b[2..]))),
        Format::Q4_K | Format::Q5_K => {
            out.push(halves(d, half(&b[2..])));
            let pairs: Vec<(u8, u8)> = (0..8).map(|j| k4_scale_min(&b[4..16], j)).collect();
            let bytes: Vec<u8> = pairs
                .iter()
                .map(|p| p.0)
                .chain(pairs.iter().map(|p| p.1))
                .collect();
            out.extend(bytes.chunks_exact(4).map(bytes_word));
        }
        Format::Q2_K => {
            out.push(halves(half(&b[80..]), half(&b[82..])));
            out.extend(b[..16].chunks_exact(4).map(bytes_word));
        }
        Format::Q3_K => {
            out.push(halves(half(&b[108..]), f16::ZERO));
            let s = q3_k_scales(&b[96..108]).map(|v| v as u8);
            out.extend(s.chunks_exact(4).map(bytes_word));
        }
        Format::Q6_K => {
            out.push(halves(half(&b[208..]), f16::ZERO));
            out.extend(b[192..208].chunks_exact(4).map(bytes_word));
        }
        Format::F32 | Format::F16 | Format::BF16 => {}
    }
}

/// Packs `values` (each < 2^bits) densely into words, in order from bit 0.
fn pack_bits(values: &[u8], bits: usize, out: &mut Vec<u32>) {
    let per_word = 32 / bits;
    out.extend(values.chunks(per_word).map(|chunk| {
        chunk
            .iter()
            .enumerate()
            .fold(0u32, |w, (n, &v)| w | (v as u32) << (bits * n))
    }));
}

/// `bytes` (rows × cols weights in the file's `format`) in the GPU layout above.
pub fn pack(format: Format, rows: usize, cols: usize, bytes: &[u8]) -> Vec<u32> {
    let row_bytes = format.bytes_for(cols);
    let l = layout(format);
    let mut out = Vec::with_capacity(rows * row_words(format, cols));
    if l.lo_bits == 32 {
        out.extend(bytes[..rows * row_bytes].chunks_exact(4).map(bytes_word));
        return out;
    }
    if l.lo_bits == 16 {
        // Pairs of 16-bit floats as they are, each row padded to whole words.
        for row in bytes.chunks_exact(row_bytes).take(rows) {
            out.extend(row.chunks(4).map(|b| {
                let hi = if b.len() == 4 { [b[2], b[3]] } else { [0, 0] };
                u32::from_le_bytes([b[0], b[1], hi[0], hi[1]])
            }));
        }
        return out;
    }
    let (mut ints, mut metas) = (Vec::with_capacity(cols), Vec::new());
    let (lo_mask, bl) = (((1u16 << l.lo_bits) - 1) as u8, format.block_len());
    for row in bytes.chunks_exact(row_bytes).take(rows) {
        ints.clear();
        metas.clear();
        for block in row.chunks_exact(format.block_bytes()) {
            ints.extend((0..bl).map(|i| stored_int(format, block, i)));
            meta(format, block, &mut metas);
        }
        let low: Vec<u8> = ints.iter().map(|&q| q & lo_mask).collect();
        pack_bits(&low, l.lo_bits, &mut out);
        if l.hi_bits > 0 {
            let high: Vec<u8> = ints.iter().map(|&q| q >> l.lo_bits).collect();
            pack_bits(&high, l.hi_bits, &mut out);
        }
        out.extend_from_slice(&metas);
    }
    out
}

/// Uploads `t` in the GPU layout.
pub fn upload(gpu: &Gpu, name: &str, t: &QTensor) -> Result<wgpu::Buffer> {
    gpu.storage_init(name, &pack(t.format, t.rows, t.cols, &t.bytes))
}

/// A run of a layer's rows in one format and one buffer (one binding).
#[derive(Clone)]
pub struct Part {
    pub buffer: wgpu::Buffer,
    pub format: Format,
    /// The layer's rows row0 .. row0 + rows.
    pub row0: usize,
    pub rows: usize,
}

/// The layer made of `tensors` (its rows in order, e.g. q, k and v) as parts: consecutive
/// tensors of one format stacked, and each run split by rows where it would exceed
/// `max_bytes` (the adapter's largest binding, [`Gpu::max_binding`], unless less is asked).
/// Each part is one dispatch; a layer of one format that fits is one part, as before.
pub fn upload_parts(
    gpu: &Gpu,
    name: &str,
    tensors: &[&QTensor],
    max_bytes: u64,
) -> Result<Vec<Part>> {
    let mut parts = Vec::new();
    let mut row0 = 0;
    for run in tensors.chunk_by(|a, b| a.format == b.format) {
        let stacked;
        let t = match run {
            [one] => *one,
            _ => {
                stacked = QTensor::stack(run);
                &stacked
            }
        };
        let row_bytes = (row_words(t.format, t.cols) * 4) as u64;
        // An even number of rows: the q/k/v layer's outputs are pairs of rows (RoPE).
        let per_part = ((max_bytes / row_bytes) as usize & !1).max(2);
        let file_row = t.format.bytes_for(t.cols);
        for first in (0..t.rows).step_by(per_part) {
            let rows = per_part.min(t.rows - first);
            let bytes = &t.bytes[first * file_row..(first + rows) * file_row];
            let label = format!("{name} rows {}..{}", row0 + first, row0 + first + rows);
            parts.push(Part {
                buffer: gpu.storage_init(&label, &pack(t.format, rows, t.cols, bytes))?,
                format: t.format,
                row0: row0 + first,
                rows,
            });
        }
        row0 += t.rows;
    }
    Ok(parts)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_nibbles_come_out_in_order() {
        // Q4_0 block: d, then byte j = (j + 16) << 4 | j: weight i holds i mod 16.
        let mut block = vec![0u8; 18];
        for j in 0..16u8 {
            block[2 + j as usize] = (j << 4) | j;
        }
        let words = pack(Format::Q4_0, 1, 32, &block);
        for i in 0..32 {
            assert_eq!((words[i / 8] >> (4 * (i % 8))) & 0xF, i as u32 % 16);
        }
    }

    #[test]
    fn rows_are_low_bits_high_bits_then_meta() {
        let mut block = vec![0u8; 34];
        block[..2].copy_from_slice(&f16::from_f32(0.5).to_le_bytes());
        block[2..]
            .iter_mut()
            .enumerate()
            .for_each(|(i, b)| *b = i as u8);
        let two_blocks = [block.clone(), block].concat();
        let packed = pack(Format::Q8_0, 1, 64, &two_blocks);
        assert_eq!(packed.len(), row_words(Format::Q8_0, 64));
        assert_eq!(packed[0], u32::from_le_bytes([0, 1, 2, 3]));
        assert_eq!(packed[16], halves(f16::from_f32(0.5), f16::ZERO));
        assert_eq!(packed[17], packed[16]);
        // Q6_K: 256 · 4 / 32 low words, 256 · 2 / 32 high words, 5 meta words.
        assert_eq!(row_words(Format::Q6_K, 512), 2 * (32 + 16 + 5));
        // Q5_0's fifth bits: one word per 32 weights after the nibbles.
        let mut q5 = vec![0u8; 22];
        q5[2..6].copy_from_slice(&0x8000_0001u32.to_le_bytes());
        let packed = pack(Format::Q5_0, 1, 32, &q5);
        assert_eq!(packed[4], 0x8000_0001);
    }
}
