// Matrix multiply for prefill (many tokens): out[m, n] = Σ_k x[m, k] · w[n, k] + bias[n].
// w is [N, K] (a linear layer's [out, in]), f32 or quantized (FORMAT). Each workgroup computes a 64×64 tile of out, each
// of its 256 invocations a 4×4 block, staging 16-wide slices of x and w in workgroup memory.

struct Params {
    k: u32,         // K: input width
    n: u32,         // N: output width
    has_bias: u32,  // 0 or 1
    _pad: u32,
}

struct Step {
    n_tokens: u32,  // M: rows of x
    pos0: u32,
    u: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> x: array<f32>;          // [M, K]
@group(0) @binding(3) var<storage, read> w: array<u32>;          // [N, K] in FORMAT
@group(0) @binding(4) var<storage, read> bias: array<f32>;       // [N]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;  // [M, N]

const TILE: u32 = 64u;  // rows and columns of out per workgroup
const BK: u32 = 16u;    // depth of one staged slice
var<workgroup> x_tile: array<f32, 1024>;  // [BK][TILE]: x[row0 + r, k0 + kk] at kk * TILE + r
var<workgroup> w_tile: array<f32, 1024>;  // [BK][TILE]: w[col0 + c, k0 + kk] at kk * TILE + c

// Weight formats (the FORMAT override): 0 = f32, 1 = Q8_0, 2 = Q4_0, 3 = Q4_1. Quantized
// rows are ggml's blocks of 32 weights, stored as the file has them (src/model/quant.rs):
//   Q8_0: d: f16, 32 × i8                  w = d · q
//   Q4_0: d: f16, 16 bytes of nibbles      w = d · (q − 8)
//   Q4_1: d: f16, m: f16, 16 bytes         w = d · q + m
// where byte j of the nibbles holds weight j (low) and weight j + 16 (high).
override FORMAT: u32 = 0u;

fn w_byte(b: u32) -> u32 {
    return (w[b >> 2u] >> ((b & 3u) << 3u)) & 0xffu;
}

// The f16 at byte b (b even).
fn w_half(b: u32) -> f32 {
    let word = w[b >> 2u];
    return unpack2x16float(select(word, word >> 16u, (b & 2u) != 0u)).x;
}

// Weight k of row `row`, in a matrix of rows of k_len weights.
fn weight(row: u32, k: u32, k_len: u32) -> f32 {
    if (FORMAT == 0u) {
        return bitcast<f32>(w[row * k_len + k]);
    }
    let block = row * (k_len / 32u) + k / 32u;
    let j = k % 32u;
    if (FORMAT == 1u) {
        let base = block * 34u;
        return w_half(base) * f32(bitcast<i32>(w_byte(base + 2u + j) << 24u) >> 24u);
    }
    let size = select(18u, 20u, FORMAT == 3u);
    let base = block * size;
    let byte = w_byte(base + size - 16u + j % 16u);
    let q = f32(select(byte & 0xfu, byte >> 4u, j >= 16u));
    if (FORMAT == 2u) {
        return w_half(base) * (q - 8.0);
    }
    return w_half(base) * q + w_half(base + 2u);
}


// The 4 bytes at byte offset b (b even: every block field starts on an even byte).
fn w_u32(b: u32) -> u32 {
    let i = b >> 2u;
    if ((b & 2u) == 0u) {
        return w[i];
    }
    return (w[i] >> 16u) | (w[i + 1u] << 16u);
}

// Weights k .. k + 3 of row `row` (k a multiple of 4, k + 3 < k_len): one word of quants.
fn weight4(row: u32, k: u32, k_len: u32) -> vec4f {
    if (FORMAT == 0u) {
        let i = row * k_len + k;
        return vec4f(bitcast<f32>(w[i]), bitcast<f32>(w[i + 1u]), bitcast<f32>(w[i + 2u]), bitcast<f32>(w[i + 3u]));
    }
    let block = row * (k_len / 32u) + k / 32u;
    let j = k % 32u;
    if (FORMAT == 1u) {
        let base = block * 34u;
        let q = w_u32(base + 2u + j);
        let v = vec4i(bitcast<i32>(q << 24u), bitcast<i32>(q << 16u), bitcast<i32>(q << 8u), bitcast<i32>(q)) >> vec4u(24u);
        return w_half(base) * vec4f(v);
    }
    let size = select(18u, 20u, FORMAT == 3u);
    let base = block * size;
    let q = w_u32(base + size - 16u + j % 16u) >> select(0u, 4u, j >= 16u);
    let nib = vec4f(vec4u(q, q >> 8u, q >> 16u, q >> 24u) & vec4u(0xfu));
    if (FORMAT == 2u) {
        return w_half(base) * (nib - 8.0);
    }
    return w_half(base) * nib + w_half(base + 2u);
}

// x[r, k .. k + 3], zero past the end of the row.
fn x4(r: u32, k: u32) -> vec4f {
    let i = r * p.k + k;
    if (k + 3u < p.k) {
        return vec4f(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
    }
    var v = vec4f(0.0);
    for (var j = 0u; j < 4u && k + j < p.k; j++) {
        v[j] = x[i + j];
    }
    return v;
}

// w[row, k .. k + 3], zero past the end of the row.
fn w4(row: u32, k: u32) -> vec4f {
    if (k + 3u < p.k) {
        return weight4(row, k, p.k);
    }
    var v = vec4f(0.0);
    for (var j = 0u; j < 4u && k + j < p.k; j++) {
        v[j] = weight(row, k + j, p.k);
    }
    return v;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
    let m = step.n_tokens;
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    let tr = (tid / 16u) * 4u;  // this invocation's rows within the tile
    let tc = (tid % 16u) * 4u;  // and columns
    var acc: array<vec4f, 4>;   // acc[i][j] for rows tr + i, columns tc + j
    let in_range = row0 + tr < m && col0 + tc < p.n;

    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        // 256 invocations load the 64×16 slices: each 4 consecutive k of one row (one
        // word of quantized weights, dequantized together).
        let r = tid / 4u;
        let kk = (tid % 4u) * 4u;
        var xv = vec4f(0.0);
        if (row0 + r < m) {
            xv = x4(row0 + r, k0 + kk);
        }
        var wv = vec4f(0.0);
        if (col0 + r < p.n) {
            wv = w4(col0 + r, k0 + kk);
        }
        for (var j = 0u; j < 4u; j++) {
            x_tile[(kk + j) * TILE + r] = xv[j];
            w_tile[(kk + j) * TILE + r] = wv[j];
        }
        workgroupBarrier();
        // Invocations whose rows or columns lie past the end (a short prompt in a 64-row
        // tile) only help load: skipping their multiply-adds matters on CPU adapters.
        if (in_range) {
            for (var kk = 0u; kk < BK; kk++) {
                let a = vec4f(x_tile[kk * TILE + tr], x_tile[kk * TILE + tr + 1u],
                              x_tile[kk * TILE + tr + 2u], x_tile[kk * TILE + tr + 3u]);
                let b = vec4f(w_tile[kk * TILE + tc], w_tile[kk * TILE + tc + 1u],
                              w_tile[kk * TILE + tc + 2u], w_tile[kk * TILE + tc + 3u]);
                acc[0] += a.x * b;
                acc[1] += a.y * b;
                acc[2] += a.z * b;
                acc[3] += a.w * b;
            }
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let r = row0 + tr + i;
        if (r >= m) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let c = col0 + tc + j;
            if (c < p.n) {
                var v = acc[i][j];
                if (p.has_bias != 0u) {
                    v += bias[c];
                }
                out[r * p.n + c] = v;
            }
        }
    }
}
