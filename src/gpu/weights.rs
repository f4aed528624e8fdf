//! Weights laid out for the GPU, repacked once at load. The file's blocks put an f16 scale
//! and then the quants at odd byte offsets (a Q4_1 block is 20 bytes, Q8_0 34), so a kernel
//! reading them joins two unaligned words and rereads the scales for every 4 weights. Here
//! every row of a matrix is a run of whole u32 words:
//!
//! ```text
//! row r (nb = K / block_len blocks), at word r · nb · (QW + MW):
//!   [ quants of block 0 | block 1 | … | block nb−1 ][ meta of block 0 | … | block nb−1 ]
//!     QW words each                                   MW words each
//! ```
//!
//! - quants: the block's integers in order, densely packed: 4 bits → 8 per word (weight
//!   8i + n in bits 4n..4n+3 of word i), 8 bits → 4 per word (byte n of word i = weight
//!   4i + n, two's complement). Wider or split formats (the K-quants' 5- and 6-bit values)
//!   add planes of high bits after the low bits, in the same order.
//! - meta: what turns a block's (or sub-block's) integers into weights, `w = scale · q +
//!   offset`. For the 32-weight formats one word: (scale, offset) as two f16: Q8_0 (d, 0),
//!   Q4_0 (d, −8d: exact in f16), Q4_1 (d, m). The K-quants (256-weight super-blocks) keep
//!   their d, dmin and packed 6-bit sub-block scales here, whole words, decoded per
//!   sub-block in the kernel.
//! - f32 rows are the plain K floats (block_len 1, QW 1, MW 0).
//!
//! A row is self-contained, so a matrix can later be split by rows across bindings. The
//! shaders read this layout through `shaders/quant.wgsl`; the CPU reference keeps reading
//! the file's own blocks (`model::quant::dequantize`), so the repacking is tested too.

use super::Gpu;
use crate::error::Result;
use crate::model::llama::QTensor;
use crate::model::quant::Format;
use half::f16;

/// Words per block: quants (QW) and meta (MW).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Layout {
    pub quant_words: usize,
    pub meta_words: usize,
}

/// The layout of `format` on the GPU. F16 is uploaded as f32 (converted at load).
pub fn layout(format: Format) -> Layout {
    let (quant_words, meta_words) = match format {
        Format::F32 | Format::F16 => (1, 0),
        Format::Q8_0 => (8, 1),
        Format::Q4_0 | Format::Q4_1 => (4, 1),
    };
    Layout {
        quant_words,
        meta_words,
    }
}

/// Words of one row of `cols` weights.
pub fn row_words(format: Format, cols: usize) -> usize {
    let l = layout(format);
    cols / format.block_len() * (l.quant_words + l.meta_words)
}

fn half(b: &[u8]) -> f16 {
    f16::from_le_bytes([b[0], b[1]])
}

fn halves(scale: f16, offset: f16) -> u32 {
    scale.to_bits() as u32 | (offset.to_bits() as u32) << 16
}

/// The 4-bit values of a Q4 block (16 bytes: byte j holds weight j low, j + 16 high) as
/// 4 words of 8 weights each, in order.
fn nibble_words(qs: &[u8]) -> [u32; 4] {
    let q = |i: usize| (if i < 16 { qs[i] & 0xF } else { qs[i - 16] >> 4 }) as u32;
    std::array::from_fn(|w| (0..8).fold(0, |acc, n| acc | q(8 * w + n) << (4 * n)))
}

/// One block's quant words and meta words.
fn pack_block(format: Format, block: &[u8], quants: &mut Vec<u32>, meta: &mut Vec<u32>) {
    match format {
        Format::F32 => quants.push(u32::from_le_bytes([block[0], block[1], block[2], block[3]])),
        Format::F16 => quants.push(half(block).to_f32().to_bits()),
        Format::Q8_0 => {
            meta.push(halves(half(block), f16::ZERO));
            let qs = &block[2..34];
            quants.extend(
                qs.chunks_exact(4)
                    .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            );
        }
        Format::Q4_0 => {
            let d = half(block);
            meta.push(halves(d, -(d * f16::from_f32(8.0))));
            quants.extend(nibble_words(&block[2..18]));
        }
        Format::Q4_1 => {
            meta.push(halves(half(block), half(&block[2..])));
            quants.extend(nibble_words(&block[4..20]));
        }
    }
}

/// `bytes` (rows × cols weights in the file's `format`) in the GPU layout above.
pub fn pack(format: Format, rows: usize, cols: usize, bytes: &[u8]) -> Vec<u32> {
    let row_bytes = format.bytes_for(cols);
    let mut out = Vec::with_capacity(rows * row_words(format, cols));
    let (mut quants, mut meta) = (Vec::new(), Vec::new());
    for row in bytes.chunks_exact(row_bytes).take(rows) {
        quants.clear();
        meta.clear();
        for block in row.chunks_exact(format.block_bytes()) {
            pack_block(format, block, &mut quants, &mut meta);
        }
        out.extend_from_slice(&quants);
        out.extend_from_slice(&meta);
    }
    out
}

/// Uploads `t` in the GPU layout.
pub fn upload(gpu: &Gpu, name: &str, t: &QTensor) -> Result<wgpu::Buffer> {
    gpu.storage_init(name, &pack(t.format, t.rows, t.cols, &t.bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_nibbles_come_out_in_order() {
        // Byte j = (j + 16) << 4 | j: weight i holds i mod 16.
        let qs: Vec<u8> = (0..16u8).map(|j| (j << 4) | j).collect();
        let words = nibble_words(&qs);
        for i in 0..32 {
            assert_eq!((words[i / 8] >> (4 * (i % 8))) & 0xF, i as u32 % 16);
        }
    }

    #[test]
    fn rows_are_quants_then_meta() {
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
    }
}
