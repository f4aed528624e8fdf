// Weights in the GPU layout (src/gpu/weights.rs), read by matvec.wgsl, matmul.wgsl and
// embedding.wgsl: this file is put before each of them (concat! in Rust), and parses alone.
// Each row of w (K weights) is whole u32 words in three parts, at word row · row_words(K):
//   [ low bits: K · LO / 32 words ][ high bits: K · HI / 32 words ][ meta ]
// Weight i's stored integer is q = low | high << LO, each part packed in weight order from
// bit 0; a sub-block of SUB weights shares (scale, offset) and w = scale · q + offset.
// The FORMAT override picks the format:
//   id  format  LO HI SUB  meta                      (scale, offset)
//   0   f32     32  0   -  -                          (1, 0): the floats themselves
//   1   Q8_0     8  0  32  1 word per 32: 2 × f16    (d, 0), q a signed byte
//   2   Q4_0     4  0  32                             (d, −8d)
//   3   Q4_1     4  0  32                             (d, m)
//   4   Q5_0     4  1  32                             (d, −16d)
//   5   Q5_1     4  1  32                             (d, m)
//   6   Q2_K     2  0  16  5 words per 256: (d, dmin) as 2 × f16, 16 bytes of scales:
//                           byte j = sc | m << 4      (d·sc, −dmin·m)
//   7   Q3_K     2  1  16   byte j = s (signed)       (d·s, −4·d·s)
//   8   Q4_K     4  0  32   bytes 0–7 sc, 8–15 m      (d·sc, −dmin·m)
//   9   Q5_K     4  1  32   as Q4_K                   (d·sc, −dmin·m)
//   10  Q6_K     4  2  16   byte j = s (signed)       (d·s, −32·d·s)
//   11  f16     16  0   -  -                          pairs in a word (a row of odd K padded)
//   12  bf16    16  0   -  -                          as f16

@group(0) @binding(3) var<storage, read> w: array<u32>;  // [N rows] in FORMAT

override FORMAT: u32 = 0u;

// The format's shape, constants once FORMAT is set: low and high bits per weight, and
// weights per sub-block (one (scale, offset); 1 for f32).
override FLOAT: bool = FORMAT == 0u || FORMAT >= 11u;
override K_QUANT: bool = FORMAT >= 6u && FORMAT <= 10u;
override LO_BITS: u32 = select(select(select(4u, 2u, FORMAT == 6u || FORMAT == 7u), select(8u, 32u, FORMAT == 0u), FORMAT <= 1u), 16u, FORMAT >= 11u);
override HI_BITS: u32 = select(select(0u, 1u, FORMAT == 4u || FORMAT == 5u || FORMAT == 7u || FORMAT == 9u), 2u, FORMAT == 10u);
override SUB_LEN: u32 = select(select(32u, 16u, FORMAT == 6u || FORMAT == 7u || FORMAT == 10u), 1u, FLOAT);

// The same as functions: their results are runtime values, so a division by SUB_LEN / 8
// (0 for the float formats) in a branch those formats never take is no pipeline error.
fn is_k_quant() -> bool {
    return K_QUANT;
}
fn lo_bits() -> u32 {
    return LO_BITS;
}
fn hi_bits() -> u32 {
    return HI_BITS;
}
fn sub_len() -> u32 {
    return SUB_LEN;
}

// Words of one row of k_len weights.
fn row_words(k_len: u32) -> u32 {
    if (FORMAT == 0u) {
        return k_len;
    }
    if (FLOAT) {
        return (k_len + 1u) / 2u;
    }
    var n_meta = k_len / 32u;
    if (is_k_quant()) {
        n_meta = k_len / 256u * 5u;
    }
    return k_len / 32u * (lo_bits() + hi_bits()) + n_meta;
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

// Byte j of the 16 scale bytes at word m.
fn scale_byte(m: u32, j: u32) -> u32 {
    return (w[m + j / 4u] >> (8u * (j % 4u))) & 0xffu;
}
fn signed_byte(v: u32) -> f32 {
    return f32(bitcast<i32>(v << 24u) >> 24u);
}

// (scale, offset) of sub-block b of the row at word `base` of k_len weights.
fn block_scale(base: u32, k_len: u32, b: u32) -> vec2f {
    if (FLOAT) {
        return vec2f(1.0, 0.0);
    }
    let at_meta = base + k_len / 32u * (lo_bits() + hi_bits());
    if (!is_k_quant()) {
        return halves(w[at_meta + b]);
    }
    let per_super = 256u / sub_len();
    let m = at_meta + b / per_super * 5u;
    let dd = halves(w[m]);
    let j = b % per_super;
    switch FORMAT {
        case 6u: {
            let s = scale_byte(m + 1u, j);
            return vec2f(dd.x * f32(s & 0xfu), -dd.y * f32(s >> 4u));
        }
        case 7u, 10u: {
            let s = dd.x * signed_byte(scale_byte(m + 1u, j));
            return vec2f(s, select(-4.0, -32.0, FORMAT == 10u) * s);
        }
        default: {
            return vec2f(dd.x * f32(scale_byte(m + 1u, j)), -dd.y * f32(scale_byte(m + 1u, 8u + j)));
        }
    }
}

// The stored integers of weights k .. k + 7 of the row at word `base` (k a multiple of 8),
// as floats: weights k .. k + 3 in .lo, k + 4 .. k + 7 in .hi.
struct Ints8 {
    lo: vec4f,
    hi: vec4f,
}

fn bytes4(q: u32) -> vec4f {
    return vec4f(vec4i(bitcast<i32>(q << 24u), bitcast<i32>(q << 16u), bitcast<i32>(q << 8u), bitcast<i32>(q)) >> vec4u(24u));
}
// The 4 values of `bits` bits at the bottom of v, from bit 0 up.
fn fields4(v: u32, bits: u32) -> vec4u {
    let mask = (1u << bits) - 1u;
    return (vec4u(v) >> (vec4u(0u, 1u, 2u, 3u) * bits)) & vec4u(mask);
}

fn ints8(base: u32, k_len: u32, k: u32) -> Ints8 {
    if (FORMAT == 1u) {
        return Ints8(bytes4(w[base + k / 4u]), bytes4(w[base + k / 4u + 1u]));
    }
    var a: vec4u;
    var b: vec4u;
    if (LO_BITS == 4u) {
        // One word of 8 nibbles, with constant shifts (a shift by a computed amount cost
        // decode 30% on lavapipe).
        let q = w[base + k / 8u];
        a = vec4u(q, q >> 4u, q >> 8u, q >> 12u) & vec4u(0xfu);
        b = vec4u(q >> 16u, q >> 20u, q >> 24u, q >> 28u) & vec4u(0xfu);
    } else {
        // 2 bits: half a word.
        let v = w[base + k / 16u] >> (2u * (k % 16u));
        a = fields4(v, 2u);
        b = fields4(v >> 8u, 2u);
    }
    if (HI_BITS > 0u) {
        let at = base + k_len * LO_BITS / 32u + k * HI_BITS / 32u;
        let h = w[at] >> ((k * HI_BITS) % 32u);
        // (% 32: naga rejects a constant shift by 32, f32's LO_BITS, even where unreached.)
        let up = vec4u(LO_BITS % 32u);
        a |= fields4(h, HI_BITS) << up;
        b |= fields4(h >> (4u * HI_BITS), HI_BITS) << up;
    }
    return Ints8(vec4f(a), vec4f(b));
}

// The two 16-bit floats of a word (f16, exactly, or bf16).
fn floats16(word: u32) -> vec2f {
    if (FORMAT == 12u) {
        return vec2f(bitcast<f32>(word << 16u), bitcast<f32>(word & 0xffff0000u));
    }
    return halves(word);
}

// Float weights (FLOAT formats) k .. k + 3 of the row at word `base` (k a multiple of 4).
fn weight4_at(base: u32, k: u32) -> vec4f {
    if (FORMAT != 0u) {
        let i = base + k / 2u;
        return vec4f(floats16(w[i]), floats16(w[i + 1u]));
    }
    let i = base + k;
    return vec4f(bitcast<f32>(w[i]), bitcast<f32>(w[i + 1u]), bitcast<f32>(w[i + 2u]), bitcast<f32>(w[i + 3u]));
}

// Float weight k of the row at word `base`.
fn weight_at(base: u32, k: u32) -> f32 {
    if (FORMAT != 0u) {
        return floats16(w[base + k / 2u])[k % 2u];
    }
    return bitcast<f32>(w[base + k]);
}

// Weights k .. k + 3 of row `row` (k a multiple of 4, k + 3 < k_len).
fn weight4(row: u32, k: u32, k_len: u32) -> vec4f {
    let base = row * row_words(k_len);
    if (FLOAT) {
        return weight4_at(base, k);
    }
    let q = ints8(base, k_len, k & ~7u);
    let s = block_scale(base, k_len, k / sub_len());
    return s.x * select(q.lo, q.hi, (k & 4u) != 0u) + s.y;
}

// Weight k of row `row`.
fn weight(row: u32, k: u32, k_len: u32) -> f32 {
    if (FLOAT) {
        return weight_at(row * row_words(k_len), k);
    }
    return weight4(row, k & ~3u, k_len)[k & 3u];
}

// Weights k .. k + 3 of row `row` (k a multiple of 4), zero past k_len.
fn w4(row: u32, k: u32, k_len: u32) -> vec4f {
    if (k + 3u < k_len) {
        return weight4(row, k, k_len);
    }
    var v = vec4f(0.0);
    for (var j = 0u; j < 4u && k + j < k_len; j++) {
        v[j] = weight(row, k + j, k_len);
    }
    return v;
}
