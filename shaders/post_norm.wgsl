// The norm after a sublayer, then the residual add (Gemma 3's post_attention_norm and
// post_ffw_norm): for each token t,
//   x[t] += y[t] / sqrt(mean(y[t]²) + eps) · g
// where y is the sublayer's output (the attention's projection or the MLP's down
// projection, stored by linear.wgsl). One workgroup per token.

struct Params {
    n_embd: u32,  // C
    eps: f32,
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> y: array<f32>;           // [T, C]
@group(0) @binding(2) var<storage, read> norm: array<f32>;        // [C] g
@group(0) @binding(3) var<storage, read_write> x: array<f32>;     // [T, C] the residual stream

// WG (reduce.wgsl): a power of two.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
    let row = wg.x * p.n_embd;
    var ss = 0.0;
    for (var c = tid; c < p.n_embd; c += WG) {
        ss += y[row + c] * y[row + c];
    }
    let inv = inverseSqrt(reduce_sum(tid, ss) / f32(p.n_embd) + p.eps);
    for (var c = tid; c < p.n_embd; c += WG) {
        x[row + c] += y[row + c] * inv * norm[c];
    }
}
