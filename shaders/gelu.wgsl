// GELU, tanh form (GPT-2's "gelu_new"), in place:
//   x = 0.5 · x · (1 + tanh(sqrt(2/π) · (x + 0.044715 · x³)))

struct Params {
    width: u32,  // values per row; T rows (from Step)
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
@group(0) @binding(2) var<storage, read_write> x: array<f32>;  // [T, width]

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = gid.x + gid.y * groups.x * WG;
    if (i >= step.n_tokens * p.width) {
        return;
    }
    let v = x[i];
    // x * x * x, not pow(x, 3.0): pow is undefined for negative x in WGSL. The tanh argument
    // is clamped because some drivers misbehave for large arguments; tanh(15) is 1 in f32.
    let inner = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -15.0, 15.0);
    x[i] = 0.5 * v * (1.0 + tanh(inner));
}
