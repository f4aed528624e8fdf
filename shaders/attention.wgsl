// Causal softmax attention over the KV cache, split over the keys (flash-decoding): for
// query t (at position pos0 + t), head h and split s of the keys 0 ..= pos0 + t,
//   m = max_j (q · k_j · scale),  l = Σ_j e^(q·k_j·scale − m),  o = Σ_j e^(q·k_j·scale − m) · v_j
// over the split's keys j, written as a partial (m, l, o[head_size]). The layer that reads
// the attention (linear.wgsl, INPUT = 3) combines the splits of a head:
//   M = max_s m_s,  out = Σ_s e^(m_s − M) · o_s / Σ_s e^(m_s − M) · l_s
// One workgroup per (HEADS query heads, query, split). The HEADS heads share one key/value
// head (grouped-query attention), so each key and value read from the cache serves all of
// them: their scores, maxima, sums and outputs are the components of one Hv (f32 to vec4f).
// Decode splits a long context into step.splits parts so that a GPU has work for more than
// n_head / HEADS workgroups; prompt passes use one. Two passes over the split's keys: the
// scores and their max, then the exponentials and the weighted values. The first SCORES
// scores of the split are kept in workgroup memory for the second pass (decode's splits
// hold at most SCORES keys: attention.rs); scores past them (prompt passes of long
// contexts) are recomputed, so any context fits. The cache holds f16 pairs packed in u32
// (unpack2x16float: no shader-f16 feature needed), or f32 (KV_F16).
// While step.capture is set (one split), a third pass writes the probabilities p_j = e^(s_j − m) / l
// to probs (zeros where the mask hides a key) for the attention visualization: row
// pos0 + t of each head, for the first probs_rows positions.
//
// QK_NORM (Qwen 3, Gemma 3, which RMS-norm each q and k head before RoPE): the q/k/v layer
// left q and k as they came out of the matrix, side by side in q ([T, q_width + kv_width]).
// Each workgroup norms and rotates its query head itself; a key of this pass (j >= pos0) is
// normed, rotated and rounded as the cache holds it wherever it is read, so that every
// query sees the value later passes read from the cache; and the workgroup of split 0 that
// holds each key head's first query head writes its query's own key to the cache. No workgroup
// reads the cache at this pass's positions, so the writes race with no read.

// The heads of a workgroup (attention.rs writes this block for each kernel: HEADS divides
// n_head / n_kv_head, SCORES fits the workgroup memory). hv(v, i): head i's component;
// hv_set: sets it; hv4 and from4: to and from a vec4f (unused components 0).
// heads {
alias Hv = vec4f;
const HEADS: u32 = 4u;
const SCORES: u32 = 128u;
fn hv(v: Hv, i: u32) -> f32 { return v[i]; }
fn hv_set(v: ptr<function, Hv>, i: u32, x: f32) { (*v)[i] = x; }
fn hv4(v: Hv) -> vec4f { return v; }
fn from4(v: vec4f) -> Hv { return v; }
// } heads

struct Params {
    n_head: u32,        // query heads
    n_kv_head: u32,     // key/value heads (= n_head without grouped-query attention)
    head_size: u32,     // even, <= WG and <= 256
    q_stride: u32,      // floats between two queries' rows in q
    kv_stride: u32,     // values (halves) between two positions' rows in the caches
    probs_stride: u32,  // floats between two rows of probs (>= probs_rows)
    probs_rows: u32,    // positions probs holds per head (0: no buffer to write)
    scale: f32,         // of q · k, e.g. 1 / sqrt(head_size)
    window: u32,        // keys a query sees, itself included (sliding window); 0: all
    eps: f32,           // QK_NORM: the heads' RMS norm epsilon
    _pad2: u32,
    _pad3: u32,
}

struct Step {
    n_tokens: u32,  // T: queries in this pass
    pos0: u32,      // position of the first query
    u: f32,
    capture: u32,   // 1: write the probabilities of this pass
    splits: u32,    // S: splits of the keys per (head, query)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> q: array<f32>;            // [T, q_stride]
@group(0) @binding(3) var<storage, read_write> k_cache: array<u32>;  // [ctx, kv_stride] (KV_F16: f16 pairs)
@group(0) @binding(4) var<storage, read> v_cache: array<u32>;      // [ctx, kv_stride] (KV_F16: f16 pairs)
@group(0) @binding(5) var<storage, read_write> out: array<f32>;    // [T, n_head, S, 2 + head_size]
@group(0) @binding(6) var<storage, read_write> probs: array<f32>;  // [n_head, probs_rows, probs_stride]
@group(0) @binding(7) var<storage, read> table: array<vec2f>;      // QK_NORM: [ctx, head_size / 2] (cos, sin)
@group(0) @binding(8) var<storage, read> norm: array<f32>;         // QK_NORM: [2, head_size] q's gain, then k's

// WG (reduce.wgsl): a power of two, >= head_size.
override KV_F16: bool = true;
override QK_NORM: bool = false;
var<workgroup> q_sh: array<Hv, WG>;  // the heads' queries, dimension by dimension
var<workgroup> p_sh: array<Hv, WG>;
var<workgroup> s_sh: array<Hv, SCORES>;  // scores of keys j_begin .. j_begin + SCORES
var<workgroup> kg_sh: array<f32, 256>;  // QK_NORM: the k heads' norm gain
// QK_NORM: head_inv of this pass's keys pos0 + i (i <= t), each computed once per workgroup.
const NEW_KEYS: u32 = 128u;
var<workgroup> new_inv: array<f32, NEW_KEYS>;

// Keys e and e + 1 (e even).
fn key2(e: u32) -> vec2f {
    if (KV_F16) {
        return unpack2x16float(k_cache[e / 2u]);
    }
    return vec2f(bitcast<f32>(k_cache[e]), bitcast<f32>(k_cache[e + 1u]));
}

// 1 / sqrt(mean(x²) + eps) of the head_size values of q from `row`, summed in order (the
// same sum wherever a key of this pass is read or written).
fn head_inv(row: u32) -> f32 {
    var ss = 0.0;
    for (var d = 0u; d < p.head_size; d++) {
        ss += q[row + d] * q[row + d];
    }
    return inverseSqrt(ss / f32(p.head_size) + p.eps);
}

// Values d and d + 1 of the head of q from `row`, normed (inv, their gains g) and rotated
// by position pos's angle d / 2.
fn normed_pair(row: u32, d: u32, inv: f32, g: vec2f, pos: u32) -> vec2f {
    let y = vec2f(q[row + d], q[row + d + 1u]) * inv * g;
    let cs = table[pos * (p.head_size / 2u) + d / 2u];
    return vec2f(y.x * cs.x - y.y * cs.y, y.x * cs.y + y.y * cs.x);
}

// QK_NORM: where the raw key (head kv_base / head_size) of position j >= pos0 lies in q.
fn raw_key_row(j: u32, kv_base: u32) -> u32 {
    return (j - step.pos0) * p.q_stride + p.n_head * p.head_size + kv_base;
}

// QK_NORM: head_inv of the raw key of position j >= pos0 (from new_inv where it is there:
// the same value).
fn key_inv(j: u32, kv_base: u32) -> f32 {
    let i = j - step.pos0;
    if (i < NEW_KEYS) {
        return new_inv[i];
    }
    return head_inv(raw_key_row(j, kv_base));
}

fn score(j: u32, kv_base: u32) -> Hv {
    var s = Hv(0.0);
    if (QK_NORM && j >= step.pos0) {
        let row = raw_key_row(j, kv_base);
        let inv = key_inv(j, kv_base);
        for (var d = 0u; d < p.head_size; d += 2u) {
            var k = normed_pair(row, d, inv, vec2f(kg_sh[d], kg_sh[d + 1u]), j);
            if (KV_F16) {
                k = unpack2x16float(pack2x16float(k));  // as the cache will hold it
            }
            s += q_sh[d] * k.x + q_sh[d + 1u] * k.y;
        }
        return s * p.scale;
    }
    let row = j * p.kv_stride + kv_base;
    for (var d = 0u; d < p.head_size; d += 2u) {
        let k = key2(row + d);
        s += q_sh[d] * k.x + q_sh[d + 1u] * k.y;
    }
    return s * p.scale;
}

// The score of key j (>= j0, the split's first key), from s_sh where pass 1 left it.
fn kept_score(j: u32, j0: u32, kv_base: u32) -> Hv {
    if (j - j0 < SCORES) {
        return s_sh[j - j0];
    }
    return score(j, kv_base);
}

// The sum (or max) over the workgroup, head by head: one reduction for all of them.
fn reduce_hv(tid: u32, v: Hv, is_max: bool) -> Hv {
    return from4(reduce_4(tid, hv4(v), HEADS, is_max));
}

// QK_NORM: the key of position pos (a token of this pass) normed, rotated, into the cache.
fn store_key(pos: u32, kv_base: u32, tid: u32) {
    let row = raw_key_row(pos, kv_base);
    let inv = key_inv(pos, kv_base);
    for (var d = 2u * tid; d < p.head_size; d += 2u * WG) {
        let k = normed_pair(row, d, inv, vec2f(kg_sh[d], kg_sh[d + 1u]), pos);
        let e = pos * p.kv_stride + kv_base + d;
        if (KV_F16) {
            k_cache[e / 2u] = pack2x16float(k);
        } else {
            k_cache[e] = bitcast<u32>(k.x);
            k_cache[e + 1u] = bitcast<u32>(k.y);
        }
    }
}

// Values d and d + 1 of key j's value (d even).
fn value2(j: u32, kv_base: u32, d: u32) -> vec2f {
    let e = j * p.kv_stride + kv_base + d;
    if (KV_F16) {
        return unpack2x16float(v_cache[e / 2u]);
    }
    return vec2f(bitcast<f32>(v_cache[e]), bitcast<f32>(v_cache[e + 1u]));
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
    let h0 = wg.x * HEADS;  // the workgroup's first query head
    let t = wg.y;
    let split = wg.z;
    let hs = p.head_size;
    let group = p.n_head / p.n_kv_head;
    let kv_base = (h0 / group) * hs;  // the key/value head its heads read
    let n_seen = step.pos0 + t + 1u;                      // keys 0 ..= pos0 + t
    // A sliding window sees keys first ..= pos0 + t.
    let first = select(0u, n_seen - p.window, p.window != 0u && n_seen > p.window);
    let per = (n_seen - first + step.splits - 1u) / step.splits;
    let j_begin = min(first + split * per, n_seen);
    let j_end = min(j_begin + per, n_seen);

    let q_row = t * p.q_stride + h0 * hs;  // head h0 + i at q_row + i * hs
    if (QK_NORM) {
        var inv: Hv;
        for (var i = 0u; i < HEADS; i++) {
            var ss = 0.0;
            for (var d = tid; d < hs; d += WG) {
                ss += q[q_row + i * hs + d] * q[q_row + i * hs + d];
            }
            hv_set(&inv, i, inverseSqrt(reduce_sum(tid, ss) / f32(hs) + p.eps));
        }
        for (var d = 2u * tid; d < hs; d += 2u * WG) {
            var a: Hv;
            var b: Hv;
            for (var i = 0u; i < HEADS; i++) {
                let g = vec2f(norm[d], norm[d + 1u]);
                let r = normed_pair(q_row + i * hs, d, hv(inv, i), g, step.pos0 + t);
                hv_set(&a, i, r.x);
                hv_set(&b, i, r.y);
            }
            q_sh[d] = a;
            q_sh[d + 1u] = b;
        }
        for (var d = tid; d < hs; d += WG) {
            kg_sh[d] = norm[hs + d];
        }
        for (var i = tid; i <= t && i < NEW_KEYS; i += WG) {
            new_inv[i] = head_inv(raw_key_row(step.pos0 + i, kv_base));
        }
    } else {
        for (var d = tid; d < hs; d += WG) {
            var v: Hv;
            for (var i = 0u; i < HEADS; i++) {
                hv_set(&v, i, q[q_row + i * hs + d]);
            }
            q_sh[d] = v;
        }
    }
    workgroupBarrier();
    if (QK_NORM && split == 0u && h0 % group == 0u) {
        store_key(step.pos0 + t, kv_base, tid);
    }

    // Pass 1: the scores, kept for pass 2 (each invocation reads back its own), and the
    // largest, subtracted before exp so that exp never overflows.
    var m = Hv(-3.0e38);
    for (var j = j_begin + tid; j < j_end; j += WG) {
        let s = score(j, kv_base);
        if (j - j_begin < SCORES) {
            s_sh[j - j_begin] = s;
        }
        m = max(m, s);
    }
    let max_score = reduce_hv(tid, m, true);

    // Pass 2: WG exponentials at a time into workgroup memory (each invocation adding its
    // own to the sum), then each invocation d < head_size / 2 accumulates dimensions 2d and
    // 2d + 1 of the weighted values (one load of an f16 pair; the invocations past them
    // skip the loop, which a CPU adapter does by whole subgroups).
    var acc0 = Hv(0.0);
    var acc1 = Hv(0.0);
    var l = Hv(0.0);
    let d2 = 2u * tid;
    for (var j0 = j_begin; j0 < j_end; j0 += WG) {
        let j = j0 + tid;
        var e = Hv(0.0);
        if (j < j_end) {
            e = exp(kept_score(j, j_begin, kv_base) - max_score);
            l += e;
        }
        p_sh[tid] = e;
        workgroupBarrier();
        let count = select(0u, min(WG, j_end - j0), d2 < hs);
        for (var jj = 0u; jj < count; jj++) {
            let v = value2(j0 + jj, kv_base, d2);
            let pj = p_sh[jj];
            acc0 += pj * v.x;
            acc1 += pj * v.y;
        }
        workgroupBarrier();
    }
    let sum = reduce_hv(tid, l, false);
    // One split (prompt passes): normalized here, (m, 1, o / l), so that the reader's
    // combine is a copy.
    let one = step.splits == 1u;
    for (var i = 0u; i < HEADS; i++) {
        let at = ((t * p.n_head + h0 + i) * step.splits + split) * (hs + 2u);
        if (tid == 0u) {
            out[at] = hv(max_score, i);
            out[at + 1u] = select(hv(sum, i), 1.0, one);
        }
        if (d2 < hs) {
            out[at + 2u + d2] = select(hv(acc0, i), hv(acc0, i) / hv(sum, i), one);
            out[at + 3u + d2] = select(hv(acc1, i), hv(acc1, i) / hv(sum, i), one);
        }
    }

    // Pass 3, while capturing (one split): the probabilities themselves.
    let row = step.pos0 + t;
    if (step.capture != 0u && row < p.probs_rows) {
        let inv_sum = Hv(1.0) / sum;
        for (var j = tid; j < n_seen; j += WG) {
            var pj = Hv(0.0);  // outside the window
            if (j >= first) {
                pj = exp(kept_score(j, j_begin, kv_base) - max_score) * inv_sum;
            }
            for (var i = 0u; i < HEADS; i++) {
                probs[((h0 + i) * p.probs_rows + row) * p.probs_stride + j] = hv(pj, i);
            }
        }
        // Future keys of this pass are masked: their probability is 0.
        for (var j = n_seen + tid; j < min(step.pos0 + step.n_tokens, p.probs_stride); j += WG) {
            for (var i = 0u; i < HEADS; i++) {
                probs[((h0 + i) * p.probs_rows + row) * p.probs_stride + j] = 0.0;
            }
        }
    }
}
