// A linear layer with the steps around it fused in, shared by matvec.wgsl (one token) and
// matmul.wgsl (a prompt chunk): this file is put before each of them, after quant.wgsl.
//
//   y[t, r] = Σ_k norm(x)[t, k] · w[r, k] + bias[r]        then out = epilogue(y)
//
// INPUT (what the layer reads as x, computed by each workgroup from the raw rows of x):
//   0  x as it is
//   1  RMS norm    x / sqrt(mean(x²) + eps) · g
//   2  layer norm  (x − mean) / sqrt(var + eps) · g + b      (norm holds g then b)
//   3  attention   x holds attention.wgsl's partials [T, n_head, S, 2 + head_size]; the
//                  splits of each head are combined as they are read:
//                  M = max_s m_s,  out = Σ_s e^(m_s − M) · o_s / Σ_s e^(m_s − M) · l_s
//   4  post norm   Gemma's norms after a sublayer, resolved by the layer that reads the
//                  residual stream next: x holds the stream's rows at x_at and the
//                  sublayer's output y at y_at (y_at = NONE: no sublayer before), and the
//                  layer reads the RMS norm (gain norm[0 .. K]) of
//                    h = x + y / sqrt(mean(y²) + eps) · g     g: norm[K + t · post_stride ..]
//                  The workgroups of the first outputs also write h to the rows at out_at
//                  (unless NONE): the stream for the layers after (no one reads there in
//                  this dispatch, so it races with no read).
// A layer may be dispatched in parts (runs of rows in one format and one binding): w then
// holds rows row0 .. row0 + N of the layer's out_n, and the epilogue writes those.
// EPILOGUE (what becomes of y; an "output" may need two rows of w):
//   0  STORE     out[t, r] = y[r]
//   1  RESIDUAL  out[t, r] += y[r]                 out is the residual stream
//   2  SWIGLU    out[t, o] = silu(y[o]) · y[F + o]  w stacks gate and up (N = 2F rows)
//   3  GELU      out[t, r] = gelu(y[r])             tanh form, GPT-2's
//   4  QKV       w stacks q, k and v; when p.rope = 1 the pairs (2i, 2i + 1) of each q and
//                k head are rotated by their position's angle (RoPE); q goes to out
//                ([T, q_width]), k and v to row pos0 + t of the KV cache (f16 or f32).
//                p.rope = 2 (models that norm each head first): q and k go to out as they
//                are ([T, q_width + kv_width]; qk_norm.wgsl norms, rotates and stores them)
//   5  GEGLU     out[t, o] = gelu(y[o]) · y[F + o]  as SWIGLU, Gemma's

struct Params {
    k: u32,          // K: input width
    n: u32,          // N: rows of w
    has_bias: u32,   // 0 or 1
    eps: f32,        // the norm's epsilon
    q_width: u32,    // QKV: values of q (n_head · head_size); k and v follow, kv_width each
    kv_width: u32,
    head_size: u32,  // QKV, and INPUT = 3 (where K = n_head · head_size)
    rope: u32,       // QKV: 1 to rotate q and k, 2 to leave them raw in out
    row0: u32,       // w holds rows row0 .. row0 + N of the layer (a layer in parts: formats, bindings)
    out_n: u32,      // the layer's rows (out's row stride)
    x_at: u32,       // INPUT = 4: where in x the stream's rows are, the sublayer's output,
    y_at: u32,       // and where the resolved stream goes (NONE: nowhere)
    out_at: u32,
    post_stride: u32,  // INPUT = 4: 0 (one post-norm gain), or K (one per row: the logit lens)
    _pad0: u32,
    _pad1: u32,
}

struct Step {
    n_tokens: u32,  // T: rows of x
    pos0: u32,      // position of row 0
    u: f32,
    capture: u32,
    splits: u32,    // INPUT = 3: the attention's splits per head
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;        // [T, K] (INPUT = 3: partials; 4: stream)
@group(0) @binding(4) var<storage, read> bias: array<f32>;           // [N]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;      // [T, outputs]
@group(0) @binding(6) var<storage, read> norm: array<f32>;           // [K] g (layer norm: then [K] b)
@group(0) @binding(7) var<storage, read> table: array<vec2f>;        // QKV: [ctx, head_size / 2] (cos, sin)
@group(0) @binding(8) var<storage, read_write> k_cache: array<u32>;  // QKV: [ctx, kv_width] in KV_F16's format
@group(0) @binding(9) var<storage, read_write> v_cache: array<u32>;  // QKV: [ctx, kv_width] in KV_F16's format

override INPUT: u32 = 0u;
override EPILOGUE: u32 = 0u;
// The KV cache's values: f16 pairs packed in u32 (half the memory and reads; no shader-f16
// feature needed), or f32 bits.
override KV_F16: bool = true;
const ATTENTION: u32 = 3u;
const POST_NORM: u32 = 4u;
const NONE: u32 = 0xffffffffu;

// INPUT = 3 and 4: a workgroup of one token may first put the input of the layer, combined
// or resolved and normed, into staged (matvec.wgsl does, with STAGE = 2048 when K fits:
// each value is then computed once per workgroup, not once per use; matmul.wgsl, whose
// workgroups take many tokens, has STAGE = 1 and reads x). The attention input is staged
// only where its splits need combining: one split's values are read 4 at a time.
override STAGE: u32 = 1u;
var<workgroup> staged: array<f32, STAGE>;
const RESIDUAL: u32 = 1u;
const SWIGLU: u32 = 2u;
const GELU: u32 = 3u;
const QKV: u32 = 4u;
const GEGLU: u32 = 5u;

// Whether an output reads two rows of w: SWIGLU's and GEGLU's gate and up, QKV's RoPE pairs.
fn paired() -> bool {
    return EPILOGUE == SWIGLU || EPILOGUE == GEGLU || EPILOGUE == QKV;
}

// The row of w behind column c of the product. SWIGLU and GEGLU interleave gate and up
// (gate o at column 2o, up o at 2o + 1), so that an output's two rows sit side by side.
fn col_row(c: u32) -> u32 {
    if (EPILOGUE == SWIGLU || EPILOGUE == GEGLU) {
        return select(c / 2u, p.n / 2u + c / 2u, (c & 1u) != 0u);
    }
    return c;
}

// Value k of token t's attention, combined from its S splits (INPUT = 3).
fn attention_at(t: u32, k: u32) -> f32 {
    let hs = p.head_size;
    let h = k / hs;
    let n_head = p.k / hs;
    let base = (t * n_head + h) * step.splits * (hs + 2u);
    if (step.splits == 1u) {
        return x[base + 2u + k % hs];  // normalized by attention.wgsl
    }
    var m = -3.0e38;
    for (var s = 0u; s < step.splits; s++) {
        m = max(m, x[base + s * (hs + 2u)]);
    }
    var l = 0.0;
    var o = 0.0;
    for (var s = 0u; s < step.splits; s++) {
        let at = base + s * (hs + 2u);
        let e = exp(x[at] - m);
        l += e * x[at + 1u];
        o += e * x[at + 2u + k % hs];
    }
    return o / l;
}

// Whether x4 reads `staged` (INPUT = 4 in matvec, and 3 when its splits need combining,
// where K fits; never in matmul, whose STAGE of 1 would otherwise pass for K = 1). A
// prompt pass's attention has one split, which x4 reads straight from the partials,
// 4 values a load (lavapipe's output projections in a 1,000-token prompt: 10.0-10.5 s
// staged, 8.6-9.4 s read straight).
fn is_staged() -> bool {
    let input = INPUT == POST_NORM || (INPUT == ATTENTION && step.splits > 1u);
    return input && STAGE > 1u && STAGE >= p.k;
}

// INPUT = 4: value k of the residual stream's row t after the sublayer (inv_y: the
// 1 / sqrt(mean(y²) + eps) of y's row t).
fn resolved(t: u32, k: u32, inv_y: f32) -> f32 {
    var h = x[p.x_at + t * p.k + k];
    if (p.y_at != NONE) {
        h += x[p.y_at + t * p.k + k] * inv_y * norm[p.k + t * p.post_stride + k];
    }
    return h;
}

// INPUT = 4: row t of the resolved stream to out_at, by `n` invocations from `i0` (from
// `staged`, where matvec's row_stats left it, else computed).
fn store_stream(t: u32, inv_y: f32, i0: u32, n: u32) {
    if (p.out_at == NONE) {
        return;
    }
    for (var k = i0; k < p.k; k += n) {
        var h: f32;
        if (is_staged()) {
            h = staged[k];
        } else {
            h = resolved(t, k, inv_y);
        }
        x[p.out_at + t * p.k + k] = h;
    }
}

// Token t's input into `staged`, when it fits (stats as for x4): every invocation of the
// workgroup calls it, with the same `tid` and `n_threads` as row_stats (INPUT = 4: which
// left h in `staged`, each invocation its own values, normed here).
fn stage_input(tid: u32, n_threads: u32, t: u32, stats: vec2f) {
    if (!is_staged()) {
        return;
    }
    for (var k = tid; k < p.k; k += n_threads) {
        if (INPUT == ATTENTION) {
            staged[k] = attention_at(t, k);
        } else {
            staged[k] *= stats.y * norm[k];
        }
    }
    workgroupBarrier();
}

// x[t, k .. k + 3] as the layer reads it (stats = (mean, 1 / std) of row t for a norm;
// INPUT = 4: (inv_y, 1 / std of h)), zero past K.
fn x4(t: u32, k: u32, stats: vec2f) -> vec4f {
    if (is_staged()) {
        if (k + 3u < p.k) {
            return vec4f(staged[k], staged[k + 1u], staged[k + 2u], staged[k + 3u]);
        }
        var v = vec4f(0.0);
        for (var j = 0u; k + j < p.k; j++) {
            v[j] = staged[k + j];
        }
        return v;
    }
    if (INPUT == POST_NORM) {
        var v = vec4f(0.0);
        for (var j = 0u; j < 4u && k + j < p.k; j++) {
            v[j] = resolved(t, k + j, stats.x) * (stats.y * norm[k + j]);
        }
        return v;
    }
    if (INPUT == ATTENTION) {
        // Four at once where they are in one row: one split's normalized values of one
        // head (head sizes that are multiples of 4).
        if (k + 3u < p.k) {
            let hs = p.head_size;
            if (step.splits == 1u && hs % 4u == 0u) {
                let i = (t * (p.k / hs) + k / hs) * (hs + 2u) + 2u + k % hs;
                return vec4f(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
            }
        }
        var v = vec4f(0.0);
        for (var j = 0u; j < 4u && k + j < p.k; j++) {
            v[j] = attention_at(t, k + j);
        }
        return v;
    }
    let i = t * p.k + k;
    var v = vec4f(0.0);
    var g = vec4f(0.0);
    var b = vec4f(0.0);
    if (k + 3u < p.k) {
        v = vec4f(x[i], x[i + 1u], x[i + 2u], x[i + 3u]);
        if (INPUT != 0u) {
            g = vec4f(norm[k], norm[k + 1u], norm[k + 2u], norm[k + 3u]);
        }
        if (INPUT == 2u) {
            let j = p.k + k;
            b = vec4f(norm[j], norm[j + 1u], norm[j + 2u], norm[j + 3u]);
        }
    } else {
        for (var j = 0u; j < 4u && k + j < p.k; j++) {
            v[j] = x[i + j];
            if (INPUT != 0u) {
                g[j] = norm[k + j];
            }
            if (INPUT == 2u) {
                b[j] = norm[p.k + k + j];
            }
        }
    }
    if (INPUT == 0u) {
        return v;
    }
    return (v - stats.x) * (stats.y * g) + b;
}

fn bias_at(r: u32) -> f32 {
    return select(0.0, bias[r], p.has_bias != 0u);
}

fn silu(g: f32) -> f32 {
    // For g → −∞, exp(−g) → inf and g / inf → 0: no NaN.
    return g / (1.0 + exp(-g));
}

fn gelu(v: f32) -> f32 {
    // x * x * x, not pow(x, 3.0): pow is undefined for negative x in WGSL. The tanh argument
    // is clamped because some drivers misbehave for large arguments; tanh(15) is 1 in f32.
    let inner = clamp(0.7978845608028654 * (v + 0.044715 * v * v * v), -15.0, 15.0);
    return 0.5 * v * (1.0 + tanh(inner));
}

// Values e and e + 1 (e even) of the k or v cache.
fn store_kv(is_k: bool, e: u32, y: vec2f) {
    if (KV_F16) {
        if (is_k) {
            k_cache[e / 2u] = pack2x16float(y);
        } else {
            v_cache[e / 2u] = pack2x16float(y);
        }
    } else if (is_k) {
        k_cache[e] = bitcast<u32>(y.x);
        k_cache[e + 1u] = bitcast<u32>(y.y);
    } else {
        v_cache[e] = bitcast<u32>(y.x);
        v_cache[e + 1u] = bitcast<u32>(y.y);
    }
}

// Rows r and r + 1 of q, k or v for token t: RoPE on q and k, then to out or the cache.
fn store_qkv(t: u32, r: u32, y_in: vec2f) {
    var y = y_in;
    let pos = step.pos0 + t;
    let qk = p.q_width + p.kv_width;
    if (p.rope == 2u && r < qk) {
        out[t * qk + r] = y.x;
        out[t * qk + r + 1u] = y.y;
        return;
    }
    if (p.rope != 0u && r < qk) {
        let cs = table[pos * (p.head_size / 2u) + (r % p.head_size) / 2u];
        y = vec2f(y.x * cs.x - y.y * cs.y, y.x * cs.y + y.y * cs.x);
    }
    if (r < p.q_width) {
        out[t * p.q_width + r] = y.x;
        out[t * p.q_width + r + 1u] = y.y;
    } else if (r < qk) {
        store_kv(true, pos * p.kv_width + r - p.q_width, y);
    } else {
        store_kv(false, pos * p.kv_width + r - qk, y);
    }
}

// Output o of token t from its dot products: y.x for columns c (= 2o when paired), y.y
// for column c + 1 when paired.
fn epilogue(t: u32, c: u32, dots: vec2f) {
    let r = p.row0 + vec2u(col_row(c), col_row(c + 1u));
    var y = dots + vec2f(bias_at(r.x), 0.0);
    if (paired()) {
        y.y += bias_at(r.y);
    }
    let at = t * p.out_n + p.row0 + c;  // the layer's row row0 + c
    switch EPILOGUE {
        case RESIDUAL: {
            out[at] += y.x;
        }
        case SWIGLU: {
            out[t * (p.out_n / 2u) + (p.row0 + c) / 2u] = silu(y.x) * y.y;
        }
        case GEGLU: {
            out[t * (p.out_n / 2u) + (p.row0 + c) / 2u] = gelu(y.x) * y.y;
        }
        case GELU: {
            out[at] = gelu(y.x);
        }
        case QKV: {
            store_qkv(t, p.row0 + c, y);
        }
        default: {
            out[at] = y.x;
        }
    }
}
