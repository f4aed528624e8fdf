//! Weight formats: f32 and ggml's block formats. A block of 32 weights stores f16 scale(s)
//! and small integers; the GPU keeps these bytes as they are and the kernels dequantize
//! (shaders/matmul.wgsl, matvec.wgsl, embedding.wgsl); this is the CPU's version.
//!
//! - Q8_0 (34 bytes): d: f16, q: 32 × i8;               w = d · q
//! - Q4_0 (18 bytes): d: f16, q: 16 bytes of nibbles;   w = d · (q − 8)
//! - Q4_1 (20 bytes): d: f16, m: f16, 16 bytes;         w = d · q + m
//!
//! In Q4 blocks byte j holds weight j in its low nibble and weight j + 16 in its high one.

use half::f16;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    F32,
    F16,
    Q8_0,
    Q4_0,
    Q4_1,
}

impl Format {
    /// From ggml's type id; the error names an unsupported type.
    pub fn from_ggml_type(ty: u32) -> Result<Self, String> {
        const NAMES: [&str; 31] = [
            "F32", "F16", "Q4_0", "Q4_1", "Q4_2", "Q4_3", "Q5_0", "Q5_1", "Q8_0", "Q8_1", "Q2_K",
            "Q3_K", "Q4_K", "Q5_K", "Q6_K", "Q8_K", "IQ2_XXS", "IQ2_XS", "IQ3_XXS", "IQ1_S",
            "IQ4_NL", "IQ3_S", "IQ2_S", "IQ4_XS", "I8", "I16", "I32", "I64", "F64", "IQ1_M",
            "BF16",
        ];
        match ty {
            0 => Ok(Format::F32),
            1 => Ok(Format::F16),
            2 => Ok(Format::Q4_0),
            3 => Ok(Format::Q4_1),
            8 => Ok(Format::Q8_0),
            t => Err(NAMES
                .get(t as usize)
                .map_or(format!("#{t}"), |n| n.to_string())),
        }
    }

    /// Weights per block.
    pub fn block_len(self) -> usize {
        match self {
            Format::F32 | Format::F16 => 1,
            _ => 32,
        }
    }

    /// Bytes per block.
    pub fn block_bytes(self) -> usize {
        match self {
            Format::F32 => 4,
            Format::F16 => 2,
            Format::Q8_0 => 34,
            Format::Q4_0 => 18,
            Format::Q4_1 => 20,
        }
    }

    /// Bytes of `n` weights (n a multiple of the block length).
    pub fn bytes_for(self, n: usize) -> usize {
        n / self.block_len() * self.block_bytes()
    }

    /// The kernels' `FORMAT` override constant. F16 is converted to F32 before upload.
    pub fn shader_id(self) -> u32 {
        match self {
            Format::F32 | Format::F16 => 0,
            Format::Q8_0 => 1,
            Format::Q4_0 => 2,
            Format::Q4_1 => 3,
        }
    }
}

/// Dequantizes `bytes` in `format` into f32.
pub fn dequantize(format: Format, bytes: &[u8]) -> Vec<f32> {
    let half = |b: &[u8]| f16::from_le_bytes([b[0], b[1]]).to_f32();
    let mut out = Vec::with_capacity(bytes.len() / format.block_bytes() * format.block_len());
    match format {
        Format::F32 => out.extend(
            bytes
                .chunks_exact(4)
                .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
        ),
        Format::F16 => out.extend(bytes.chunks_exact(2).map(half)),
        Format::Q8_0 => {
            for block in bytes.chunks_exact(34) {
                let d = half(block);
                out.extend(block[2..].iter().map(|&q| d * q as i8 as f32));
            }
        }
        Format::Q4_0 => {
            for block in bytes.chunks_exact(18) {
                let (d, q) = (half(block), &block[2..]);
                out.extend(q.iter().map(|&b| d * ((b & 0xF) as f32 - 8.0)));
                out.extend(q.iter().map(|&b| d * ((b >> 4) as f32 - 8.0)));
            }
        }
        Format::Q4_1 => {
            for block in bytes.chunks_exact(20) {
                let (d, m, q) = (half(block), half(&block[2..]), &block[4..]);
                out.extend(q.iter().map(|&b| d * (b & 0xF) as f32 + m));
                out.extend(q.iter().map(|&b| d * (b >> 4) as f32 + m));
            }
        }
    }
    out
}
