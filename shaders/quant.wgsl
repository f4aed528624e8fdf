// Weights in the GPU layout (src/gpu/weights.rs), read by matvec.wgsl, matmul.wgsl and
// embedding.wgsl: this file is put before each of them (concat! in Rust), and parses alone.
// Each row of w is whole u32 words: the quants of all its blocks, then their meta:
//   row r at word r · row_words(K); block b's quants at + b · QW, its meta at + nb · QW + b · MW
// The FORMAT override picks the format: 0 = f32, 1 = Q8_0, 2 = Q4_0, 3 = Q4_1. For the
// 32-weight formats the meta word is (scale, offset) as two f16 and w = scale · q + offset:
//   Q8_0: q = 4 signed bytes per word          (d, 0)
//   Q4_0: q = 8 nibbles per word, in order      (d, −8d)
//   Q4_1: q = 8 nibbles per word, in order      (d, m)

@group(0) @binding(3) var<storage, read> w: array<u32>;  // [N rows] in FORMAT

override FORMAT: u32 = 0u;

// Weights per block, and words of quants (QW) and meta (MW) per block.
fn block_len() -> u32 {
    return select(32u, 1u, FORMAT == 0u);
}
fn quant_words() -> u32 {
    switch FORMAT {
        case 0u: { return 1u; }
        case 1u: { return 8u; }
        default: { return 4u; }
    }
}
fn meta_words() -> u32 {
    return select(1u, 0u, FORMAT == 0u);
}

// Words of one row of k_len weights.
fn row_words(k_len: u32) -> u32 {
    return k_len / block_len() * (quant_words() + meta_words());
}

// Two f16 as f32, exact for subnormals too: unpack2x16float may flush those to zero, and
// real files hold a few subnormal scales.
fn halves(word: u32) -> vec2f {
    var v = unpack2x16float(word);
    let mag = vec2u(word & 0x7fffu, (word >> 16u) & 0x7fffu);
    let neg = vec2u(word & 0x8000u, (word >> 16u) & 0x8000u) != vec2u(0u);
    let sub = mag < vec2u(0x400u);  // exponent 0: m · 2^-24
    let exact = select(vec2f(1.0), vec2f(-1.0), neg) * vec2f(mag) * 5.9604644775390625e-8;
    return select(v, exact, sub);
}

// (scale, offset) of block b of the row at word `base` of nb blocks.
fn block_scale(base: u32, nb: u32, b: u32) -> vec2f {
    if (FORMAT == 0u) {
        return vec2f(1.0, 0.0);
    }
    return halves(w[base + nb * quant_words() + b * meta_words()]);
}

// The integers of weights j .. j + 3 of block b (j a multiple of 4), as floats.
fn quants4(base: u32, b: u32, j: u32) -> vec4f {
    if (FORMAT == 0u) {
        let i = base + b + j;
        return vec4f(bitcast<f32>(w[i]), bitcast<f32>(w[i + 1u]), bitcast<f32>(w[i + 2u]), bitcast<f32>(w[i + 3u]));
    }
    if (FORMAT == 1u) {
        let q = w[base + b * 8u + j / 4u];
        return vec4f(vec4i(bitcast<i32>(q << 24u), bitcast<i32>(q << 16u), bitcast<i32>(q << 8u), bitcast<i32>(q)) >> vec4u(24u));
    }
    let q = w[base + b * 4u + j / 8u] >> ((j % 8u) * 4u);
    return vec4f(vec4u(q, q >> 4u, q >> 8u, q >> 12u) & vec4u(0xfu));
}

// Weights per quant word: 4 (8-bit) or 8 (4-bit).
fn weights_per_word() -> u32 {
    return select(8u, 4u, FORMAT == 1u);
}

// The integers in a quant word, as floats: the first 4 weights, and (4-bit) the next 4.
fn word_lo(q: u32) -> vec4f {
    if (FORMAT == 1u) {
        return vec4f(vec4i(bitcast<i32>(q << 24u), bitcast<i32>(q << 16u), bitcast<i32>(q << 8u), bitcast<i32>(q)) >> vec4u(24u));
    }
    return vec4f(vec4u(q, q >> 4u, q >> 8u, q >> 12u) & vec4u(0xfu));
}
fn word_hi(q: u32) -> vec4f {
    return word_lo(q >> 16u);
}

// Weights k .. k + 3 of row `row` (k a multiple of 4, k + 3 < k_len).
fn weight4(row: u32, k: u32, k_len: u32) -> vec4f {
    let base = row * row_words(k_len);
    if (FORMAT == 0u) {
        return quants4(base, 0u, k);
    }
    let b = k / 32u;
    let s = block_scale(base, k_len / 32u, b);
    return s.x * quants4(base, b, k % 32u) + s.y;
}

// Weight k of row `row`.
fn weight(row: u32, k: u32, k_len: u32) -> f32 {
    if (FORMAT == 0u) {
        return bitcast<f32>(w[row * k_len + k]);
    }
    return weight4(row, k & ~3u, k_len)[k & 3u];
}
