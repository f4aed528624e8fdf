// Matrix–vector product for decode (one token): out[n] = Σ_k x[k] · w[n, k] + bias[n].
// Each workgroup handles ROWS rows of w; WG invocations share a row, read it coalesced and
// sum their parts with a tree reduction. Binds the same slots as matmul.wgsl, so one bind
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
@group(0) @binding(3) var<storage, read> w: array<f32>;          // [N, K]
@group(0) @binding(4) var<storage, read> bias: array<f32>;       // [N]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;  // [N]

override WG: u32 = 64;  // invocations per row, a power of two; WG * ROWS <= 256
const ROWS: u32 = 4u;
var<workgroup> partial: array<f32, 256>;

@compute @workgroup_size(WG, ROWS)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_id) lid: vec3u) {
    let row = (wg.x + wg.y * groups.x) * ROWS + lid.y;
    var s = 0.0;
    if (row < p.n) {
        let base = row * p.k;
        for (var i = lid.x; i < p.k; i += WG) {
            s += x[i] * w[base + i];
        }
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
