// Per-head RMS norm of q and k, then RoPE, for the models that norm each head before
// rotating it (Qwen 3, Gemma 3). The q/k/v layer (linear.wgsl, QKV with rope = 2) left q
// and k as they came out of the matrix in qk [T, q_width + kv_width]; for token t (at
// position pos0 + t) and head h of the n_head query heads and n_kv_head key heads:
//   y = x / sqrt(mean(x²) + eps) · g        g: norm[0 .. hs] for q, norm[hs .. 2hs] for k
//   (y[2i], y[2i + 1]) rotated by the position's angle i (the table's (cos, sin))
// q heads are written back in place (attention.wgsl reads them there), k heads to row
// pos0 + t of the KV cache. One workgroup per (head, token); each invocation owns pairs.

struct Params {
    n_head: u32,     // query heads
    n_kv_head: u32,  // key heads
    head_size: u32,  // even, <= 2 · WG
    eps: f32,
}

struct Step {
    n_tokens: u32,
    pos0: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read_write> qk: array<f32>;       // [T, (n_head + n_kv_head) · hs]
@group(0) @binding(3) var<storage, read> norm: array<f32>;           // [2, hs]: q's g, then k's
@group(0) @binding(4) var<storage, read> table: array<vec2f>;        // [ctx, hs / 2] (cos, sin)
@group(0) @binding(5) var<storage, read_write> k_cache: array<u32>;  // [ctx, n_kv_head · hs] in KV_F16's format

// WG (reduce.wgsl): a power of two, >= head_size / 2.
override KV_F16: bool = true;

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
    let h = wg.x;
    let t = wg.y;
    let hs = p.head_size;
    let is_k = h >= p.n_head;
    let row = t * (p.n_head + p.n_kv_head) * hs + h * hs;
    let i = 2u * tid;  // this invocation's pair (i, i + 1)
    var x = vec2f(0.0);
    if (i < hs) {
        x = vec2f(qk[row + i], qk[row + i + 1u]);
    }
    let ms = reduce_sum(tid, dot(x, x)) / f32(hs);
    if (i >= hs) {
        return;
    }
    let g0 = select(0u, hs, is_k) + i;
    let y = x * inverseSqrt(ms + p.eps) * vec2f(norm[g0], norm[g0 + 1u]);
    let pos = step.pos0 + t;
    let cs = table[pos * (hs / 2u) + tid];
    let r = vec2f(y.x * cs.x - y.y * cs.y, y.x * cs.y + y.y * cs.x);
    if (!is_k) {
        qk[row + i] = r.x;
        qk[row + i + 1u] = r.y;
        return;
    }
    let e = pos * p.n_kv_head * hs + (h - p.n_head) * hs + i;
    if (KV_F16) {
        k_cache[e / 2u] = pack2x16float(r);
    } else {
        k_cache[e] = bitcast<u32>(r.x);
        k_cache[e + 1u] = bitcast<u32>(r.y);
    }
}
