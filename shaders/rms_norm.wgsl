// RMS norm (Llama): out = x / sqrt(mean(x²) + eps) · weight, per row.
// One workgroup per row; the sum of squares is a tree reduction.

struct Params {
    n: u32,    // C: row length
    eps: f32,  // e.g. 1e-5
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // [T, C]
@group(0) @binding(2) var<storage, read> weight: array<f32>;      // [C]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;   // [T, C]

override WG: u32 = 256;  // a power of two
var<workgroup> partial: array<f32, WG>;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
    let base = wg.x * p.n;
    var sq = 0.0;
    for (var i = tid; i < p.n; i += WG) {
        let v = x[base + i];
        sq += v * v;
    }
    partial[tid] = sq;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            partial[tid] += partial[tid + s];
        }
        workgroupBarrier();
    }
    let rstd = inverseSqrt(partial[0] / f32(p.n) + p.eps);
    for (var i = tid; i < p.n; i += WG) {
        out[base + i] = x[base + i] * rstd * weight[i];
    }
}
