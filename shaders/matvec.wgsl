// Matrix–vector product for decode (one token): out[n] = Σ_k x[k] · w[n, k] + bias[n].
// Each workgroup handles WG / LANES rows of w; LANES invocations share a row and sum their
// parts with a tree reduction. Weights are read 4 at a time: one word of quantized values,
// dequantized together. Binds the same slots as matmul.wgsl, so one bind group serves both.

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

// Invocations per workgroup (<= 256) and per row of w (a power of two dividing WG). Many
// lanes per row suit GPUs (coalesced reads of a row); one suits CPU implementations of
// WebGPU (lavapipe, SwiftShader), where the reduction's barriers are costly.
override WG: u32 = 256;
override LANES: u32 = 64;
var<workgroup> partial: array<f32, WG>;

// Weight formats (the FORMAT override): 0 = f32, 1 = Q8_0, 2 = Q4_0, 3 = Q4_1. Quantized
// rows are ggml's blocks of 32 weights, stored as the file has them (src/model/quant.rs):
//   Q8_0: d: f16, 32 × i8                  w = d · q
//   Q4_0: d: f16, 16 bytes of nibbles      w = d · (q − 8)
//   Q4_1: d: f16, m: f16, 16 bytes         w = d · q + m
// where byte j of the nibbles holds weight j (low) and weight j + 16 (high).
override FORMAT: u32 = 0u;

// The f16 at byte b (b even).
fn w_half(b: u32) -> f32 {
    let word = w[b >> 2u];
    return unpack2x16float(select(word, word >> 16u, (b & 2u) != 0u)).x;
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


// This lane's share of Σ_k x[k] · w[row, k].
fn row_dot(row: u32, lane: u32) -> f32 {
    var s = 0.0;
    if (FORMAT == 0u && p.k % 4u != 0u) {
        // f32 rows of any length, one weight at a time.
        for (var k = lane; k < p.k; k += LANES) {
            s += x[k] * bitcast<f32>(w[row * p.k + k]);
        }
        return s;
    }
    for (var k = lane * 4u; k < p.k; k += LANES * 4u) {
        s += dot(vec4f(x[k], x[k + 1u], x[k + 2u], x[k + 3u]), weight4(row, k, p.k));
    }
    return s;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) tid: u32) {
    let lane = tid % LANES;
    let row = (wg.x + wg.y * groups.x) * (WG / LANES) + tid / LANES;
    var s = 0.0;
    if (row < p.n) {
        s = row_dot(row, lane);
    }
    if (LANES > 1u) {
        partial[tid] = s;
        workgroupBarrier();
        for (var s2 = LANES / 2u; s2 > 0u; s2 >>= 1u) {
            if (lane < s2) {
                partial[tid] += partial[tid + s2];
            }
            workgroupBarrier();
        }
        s = partial[tid];
    }
    if (lane == 0u && row < p.n) {
        if (p.has_bias != 0u) {
            s += bias[row];
        }
        out[row] = s;
    }
}
