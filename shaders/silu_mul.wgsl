// SwiGLU (Llama's MLP): out = silu(gate) · up, with silu(g) = g / (1 + e^−g).
// gate and up come from one matmul with the two weight matrices stacked: each row of gu is
// [gate (width values), up (width values)].

struct Params {
    width: u32,  // F: values of gate (and of up) per row
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Step {
    n_tokens: u32,
    pos0: u32,
    u: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> gu: array<f32>;          // [T, 2F]
@group(0) @binding(3) var<storage, read_write> out: array<f32>;   // [T, F]

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = gid.x + gid.y * groups.x * WG;
    if (i >= step.n_tokens * p.width) {
        return;
    }
    let t = i / p.width;
    let j = i % p.width;
    let g = gu[t * 2u * p.width + j];
    let u = gu[t * 2u * p.width + p.width + j];
    // For g → −∞, exp(−g) → inf and g / inf → 0: no NaN.
    out[i] = g / (1.0 + exp(-g)) * u;
}
