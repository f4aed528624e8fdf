// Matrix multiply for prefill (many tokens): out[m, n] = Σ_k x[m, k] · w[n, k] + bias[n].
// w is [N, K] (a linear layer's [out, in]). Each workgroup computes a 64×64 tile of out, each
// of its 256 invocations a 4×4 block, staging 16-wide slices of x and w in workgroup memory.

struct Params {
    k: u32,         // K: input width
    n: u32,         // N: output width
    has_bias: u32,  // 0 or 1
    _pad: u32,
}

struct Step {
    n_tokens: u32,  // M: rows of x
    pos0: u32,
    u: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> x: array<f32>;          // [M, K]
@group(0) @binding(3) var<storage, read> w: array<f32>;          // [N, K]
@group(0) @binding(4) var<storage, read> bias: array<f32>;       // [N]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;  // [M, N]

const TILE: u32 = 64u;  // rows and columns of out per workgroup
const BK: u32 = 16u;    // depth of one staged slice
var<workgroup> x_tile: array<f32, 1024>;  // [BK][TILE]: x[row0 + r, k0 + kk] at kk * TILE + r
var<workgroup> w_tile: array<f32, 1024>;  // [BK][TILE]: w[col0 + c, k0 + kk] at kk * TILE + c

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
    let m = step.n_tokens;
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    let tr = (tid / 16u) * 4u;  // this invocation's rows within the tile
    let tc = (tid % 16u) * 4u;  // and columns
    var acc: array<vec4f, 4>;   // acc[i][j] for rows tr + i, columns tc + j

    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        // 256 invocations load the 64×16 slices, 4 values each, k fastest (coalesced).
        for (var l = 0u; l < 4u; l++) {
            let idx = tid + l * 256u;
            let r = idx / BK;
            let kk = idx % BK;
            let gk = k0 + kk;
            var xv = 0.0;
            if (row0 + r < m && gk < p.k) {
                xv = x[(row0 + r) * p.k + gk];
            }
            x_tile[kk * TILE + r] = xv;
            var wv = 0.0;
            if (col0 + r < p.n && gk < p.k) {
                wv = w[(col0 + r) * p.k + gk];
            }
            w_tile[kk * TILE + r] = wv;
        }
        workgroupBarrier();
        for (var kk = 0u; kk < BK; kk++) {
            let a = vec4f(x_tile[kk * TILE + tr], x_tile[kk * TILE + tr + 1u],
                          x_tile[kk * TILE + tr + 2u], x_tile[kk * TILE + tr + 3u]);
            let b = vec4f(w_tile[kk * TILE + tc], w_tile[kk * TILE + tc + 1u],
                          w_tile[kk * TILE + tc + 2u], w_tile[kk * TILE + tc + 3u]);
            acc[0] += a.x * b;
            acc[1] += a.y * b;
            acc[2] += a.z * b;
            acc[3] += a.w * b;
        }
        workgroupBarrier();
    }

    for (var i = 0u; i < 4u; i++) {
        let r = row0 + tr + i;
        if (r >= m) {
            break;
        }
        for (var j = 0u; j < 4u; j++) {
            let c = col0 + tc + j;
            if (c < p.n) {
                var v = acc[i][j];
                if (p.has_bias != 0u) {
                    v += bias[c];
                }
                out[r * p.n + c] = v;
            }
        }
    }
}
