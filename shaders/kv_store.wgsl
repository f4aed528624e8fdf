// Appends this pass's keys and values to the KV cache: row t of src (holding k at k_offset and
// v at v_offset) goes to row pos0 + t of each cache.

struct Params {
    width: u32,       // floats per cache row (n_kv_head · head_size)
    src_stride: u32,  // floats between two rows of src
    k_offset: u32,    // where k starts within a src row
    v_offset: u32,    // where v starts within a src row
}

struct Step {
    n_tokens: u32,
    pos0: u32,
    u: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> src: array<f32>;            // [T, src_stride]
@group(0) @binding(3) var<storage, read_write> k_cache: array<f32>;  // [ctx, width]
@group(0) @binding(4) var<storage, read_write> v_cache: array<f32>;  // [ctx, width]

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = gid.x + gid.y * groups.x * WG;
    if (i >= step.n_tokens * p.width) {
        return;
    }
    let t = i / p.width;
    let c = i % p.width;
    let dst = (step.pos0 + t) * p.width + c;
    k_cache[dst] = src[t * p.src_stride + p.k_offset + c];
    v_cache[dst] = src[t * p.src_stride + p.v_offset + c];
}
