// Matrix–vector product for decode (one token): out[n] = Σ_k x[k] · w[n, k] + bias[n].
// Each workgroup handles ROWS rows of w; WG invocations share a row, read it coalesced and
// sum their parts with a tree reduction. Quantized rows are read 8 weights (a quarter
// block) at a time, with the block's scale read once: d · Σ x·q (+ m · Σ x). Binds the same slots as matmul.wgsl, so one bind
// group serves both.

struct Params {
    k: u32,         // K: input width
    n: u32,         // N: output width (rows of w)
    has_bias: u32,  // 0 or 1
    _pad: u32,
}

struct Step {
    n_tokens: u32,
    pos0: u32,
    u: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;                   // unused: same layout as matmul
@group(0) @binding(2) var<storage, read> x: array<f32>;          // [K] (row 0 of the activations)
@group(0) @binding(3) var<storage, read> w: array<u32>;          // [N, K] in FORMAT
@group(0) @binding(4) var<storage, read> bias: array<f32>;       // [N]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;  // [N]

override WG: u32 = 64;  // invocations per row, a power of two; WG * ROWS <= 256
const ROWS: u32 = 4u;
var<workgroup> partial: array<f32, 256>;

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

// This lane's share of Σ_k x[k] · w[row, k].
fn row_dot(row: u32, lane: u32) -> f32 {
    var s = 0.0;
    if (FORMAT == 0u) {
        let base = row * p.k;
        for (var i = lane; i < p.k; i += WG) {
            s += x[i] * bitcast<f32>(w[base + i]);
        }
        return s;
    }
    for (var c = lane; c < p.k / 8u; c += WG) {
        let block = row * (p.k / 32u) + c / 4u;
        let j0 = (c % 4u) * 8u;  // the chunk's first weight within its block
        let k0 = c * 8u;
        if (FORMAT == 1u) {
            let base = block * 34u;
            var acc = 0.0;
            for (var j = 0u; j < 8u; j++) {
                acc += x[k0 + j] * f32(bitcast<i32>(w_byte(base + 2u + j0 + j) << 24u) >> 24u);
            }
            s += w_half(base) * acc;
        } else {
            let size = select(18u, 20u, FORMAT == 3u);
            let base = block * size;
            let first = base + size - 16u + j0 % 16u;
            let high = j0 >= 16u;
            var acc = 0.0;
            var x_sum = 0.0;
            for (var j = 0u; j < 8u; j++) {
                let byte = w_byte(first + j);
                acc += x[k0 + j] * f32(select(byte & 0xfu, byte >> 4u, high));
                x_sum += x[k0 + j];
            }
            if (FORMAT == 2u) {
                s += w_half(base) * (acc - 8.0 * x_sum);
            } else {
                s += w_half(base) * acc + w_half(base + 2u) * x_sum;
            }
        }
    }
    return s;
}

@compute @workgroup_size(WG, ROWS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
    let row = (wg.x + wg.y * groups.x) * ROWS + lid.y;
    var s = 0.0;
    if (row < p.n) {
        s = row_dot(row, lid.x);
    }
    let slot = lid.y * WG + lid.x;
    partial[slot] = s;
    workgroupBarrier();
    for (var s2 = WG / 2u; s2 > 0u; s2 >>= 1u) {
        if (lid.x < s2) {
            partial[slot] += partial[slot + s2];
        }
        workgroupBarrier();
    }
    if (lid.x == 0u && row < p.n) {
        var v = partial[slot];
        if (p.has_bias != 0u) {
            v += bias[row];
        }
        out[row] = v;
    }
}
