// Residual connection, in place: x += y.

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
@group(0) @binding(3) var<storage, read> y: array<f32>;        // [T, width]

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = gid.x + gid.y * groups.x * WG;
    if (i < step.n_tokens * p.width) {
        x[i] += y[i];
    }
}
