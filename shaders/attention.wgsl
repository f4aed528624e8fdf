// Causal softmax attention over the KV cache: for query t (at position pos0 + t) and head h,
//   p_j = softmax_j(q · k_j / sqrt(head_size)),  j = 0 ..= pos0 + t
//   out = Σ_j p_j · v_j
// One workgroup per (head, query). Three passes over the keys (max, sum of exp, then the
// weighted sum of values), recomputing the scores instead of storing them: any context
// length fits, with workgroup memory of O(WG). While step.capture is set, p is also written
// to probs (zeros where the mask hides a key) for the attention visualization: row
// pos0 + t of head h, for the first probs_rows positions.

struct Params {
    n_head: u32,        // query heads
    n_kv_head: u32,     // key/value heads (= n_head without grouped-query attention)
    head_size: u32,     // <= WG and <= 256
    q_stride: u32,      // floats between two queries' rows in q
    kv_stride: u32,     // floats between two positions' rows in the caches
    out_stride: u32,    // floats between two rows of out
    probs_stride: u32,  // floats between two rows of probs (>= probs_rows)
    probs_rows: u32,    // positions probs holds per head (0: no buffer to write)
    scale: f32,         // 1 / sqrt(head_size)
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Step {
    n_tokens: u32,  // T: queries in this pass
    pos0: u32,      // position of the first query
    u: f32,
    capture: u32,   // 1: write the probabilities of this pass
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> q: array<f32>;            // [T, q_stride]
@group(0) @binding(3) var<storage, read> k_cache: array<f32>;      // [ctx, kv_stride]
@group(0) @binding(4) var<storage, read> v_cache: array<f32>;      // [ctx, kv_stride]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;    // [T, out_stride]
@group(0) @binding(6) var<storage, read_write> probs: array<f32>;  // [n_head, probs_rows, probs_stride]

override WG: u32 = 64;  // a power of two, >= head_size
var<workgroup> q_sh: array<f32, 256>;
var<workgroup> red: array<f32, WG>;
var<workgroup> p_sh: array<f32, WG>;

fn score(j: u32, kv_base: u32) -> f32 {
    var s = 0.0;
    let row = j * p.kv_stride + kv_base;
    for (var d = 0u; d < p.head_size; d++) {
        s += q_sh[d] * k_cache[row + d];
    }
    return s * p.scale;
}

fn reduce_max(tid: u32, v: f32) -> f32 {
    red[tid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            red[tid] = max(red[tid], red[tid + s]);
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

fn reduce_sum(tid: u32, v: f32) -> f32 {
    red[tid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            red[tid] += red[tid + s];
        }
        workgroupBarrier();
    }
    let r = red[0];
    workgroupBarrier();
    return r;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
    let h = wg.x;
    let t = wg.y;
    let hs = p.head_size;
    let kv_base = (h / (p.n_head / p.n_kv_head)) * hs;  // the key/value head this head reads
    let n_seen = step.pos0 + t + 1u;                      // keys 0 ..= pos0 + t

    for (var d = tid; d < hs; d += WG) {
        q_sh[d] = q[t * p.q_stride + h * hs + d];
    }
    workgroupBarrier();

    // Pass 1: the largest score, subtracted before exp so that exp never overflows.
    var m = -3.0e38;
    for (var j = tid; j < n_seen; j += WG) {
        m = max(m, score(j, kv_base));
    }
    let max_score = reduce_max(tid, m);

    // Pass 2: the softmax denominator.
    var s = 0.0;
    for (var j = tid; j < n_seen; j += WG) {
        s += exp(score(j, kv_base) - max_score);
    }
    let inv_sum = 1.0 / reduce_sum(tid, s);

    // Pass 3: WG probabilities at a time into workgroup memory, then each invocation
    // d < head_size accumulates its dimension of the weighted values.
    var acc = 0.0;
    let row = step.pos0 + t;
    let keep = step.capture != 0u && row < p.probs_rows;
    let probs_row = (h * p.probs_rows + row) * p.probs_stride;
    for (var j0 = 0u; j0 < n_seen; j0 += WG) {
        let j = j0 + tid;
        var pj = 0.0;
        if (j < n_seen) {
            pj = exp(score(j, kv_base) - max_score) * inv_sum;
            if (keep) {
                probs[probs_row + j] = pj;
            }
        }
        p_sh[tid] = pj;
        workgroupBarrier();
        if (tid < hs) {
            let count = min(WG, n_seen - j0);
            for (var jj = 0u; jj < count; jj++) {
                acc += p_sh[jj] * v_cache[(j0 + jj) * p.kv_stride + kv_base + tid];
            }
        }
        workgroupBarrier();
    }
    if (tid < hs) {
        out[t * p.out_stride + h * hs + tid] = acc;
    }
    // Future keys of this pass are masked: their probability is 0.
    if (keep) {
        for (var j = n_seen + tid; j < min(step.pos0 + step.n_tokens, p.probs_stride); j += WG) {
            probs[probs_row + j] = 0.0;
        }
    }
}
