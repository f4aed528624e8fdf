// Layer norm: out = (x - mean) / sqrt(var + eps) * weight + bias, per row.
// One workgroup per row; the mean and then the variance are each a tree reduction.

struct Params {
    n: u32,    // C: row length
    eps: f32,  // e.g. 1e-5
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;           // [T, C]
@group(0) @binding(2) var<storage, read> weight: array<f32>;      // [C]
@group(0) @binding(3) var<storage, read> bias: array<f32>;        // [C]
@group(0) @binding(4) var<storage, read_write> out: array<f32>;   // [T, C]

override WG: u32 = 256;  // a power of two
var<workgroup> partial: array<f32, WG>;

fn sum_over_workgroup(tid: u32, v: f32) -> f32 {
    partial[tid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            partial[tid] += partial[tid + s];
        }
        workgroupBarrier();
    }
    let total = partial[0];
    workgroupBarrier();
    return total;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
    let base = wg.x * p.n;
    var s = 0.0;
    for (var i = tid; i < p.n; i += WG) {
        s += x[base + i];
    }
    let mean = sum_over_workgroup(tid, s) / f32(p.n);
    // Two passes (not E[x²] - mean²): no cancellation when the mean is large.
    var sq = 0.0;
    for (var i = tid; i < p.n; i += WG) {
        let d = x[base + i] - mean;
        sq += d * d;
    }
    let rstd = inverseSqrt(sum_over_workgroup(tid, sq) / f32(p.n) + p.eps);
    for (var i = tid; i < p.n; i += WG) {
        out[base + i] = (x[base + i] - mean) * rstd * weight[i] + bias[i];
    }
}
