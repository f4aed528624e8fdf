// The fused linear layer (linear.wgsl) for one token, as decode runs it (and, on lavapipe,
// for each token of a prompt chunk: token wg.z; on SwiftShader, for a prompt chunk in blocks
// of 16 tokens: main_blocks):
//   y[t, r] = Σ_k input(x)[t, k] · w[r, k] + bias[r],  then the epilogue.
// Built as reduce.wgsl + quant.wgsl + linear.wgsl + this file. LANES invocations share one
// output (its one or two rows of w) and sum their parts (lanes_sum); a workgroup computes
// WG / LANES outputs. Many lanes per output suit GPUs (coalesced reads of a row); one suits
// CPU implementations of WebGPU (lavapipe, SwiftShader), where barriers are costly. Each
// lane takes 8 weights a step, whole sub-blocks when lanes are fewer than a sub-block's
// groups of 8, and reads each sub-block's scale once.

// WG (reduce.wgsl): LANES · (outputs per workgroup), a power of two.
override LANES: u32 = 64;

// (mean, 1 / std) of x's row t for the norm: every invocation of the workgroup calls it.
fn row_stats(tid: u32, t: u32) -> vec2f {
    if (INPUT == 0u || INPUT == ATTENTION) {
        return vec2f(0.0, 1.0);
    }
    if (INPUT == POST_NORM) {
        var inv_y = 0.0;
        if (p.y_at != NONE) {
            var sy = 0.0;
            for (var i = tid; i < p.k; i += WG) {
                let v = x[p.y_at + t * p.k + i];
                sy += v * v;
            }
            inv_y = inverseSqrt(reduce_sum(tid, sy) / f32(p.k) + p.eps);
        }
        // h to `staged` as it is summed, where it fits (stage_input then norms it there;
        // each invocation keeps to its own values until then).
        var sh = 0.0;
        for (var i = tid; i < p.k; i += WG) {
            let h = resolved(t, i, inv_y);
            sh += h * h;
            if (is_staged()) {
                staged[i] = h;
            }
        }
        return vec2f(inv_y, inverseSqrt(reduce_sum(tid, sh) / f32(p.k) + p.eps));
    }
    let row = t * p.k;
    var mean = 0.0;
    if (INPUT == 2u) {
        var s = 0.0;
        for (var i = tid; i < p.k; i += WG) {
            s += x[row + i];
        }
        mean = reduce_sum(tid, s) / f32(p.k);
    }
    // Two passes for the layer norm: the variance of values far from zero must not cancel.
    var sq = 0.0;
    for (var i = tid; i < p.k; i += WG) {
        let d = x[row + i] - mean;
        sq += d * d;
    }
    return vec2f(mean, inverseSqrt(reduce_sum(tid, sq) / f32(p.k) + p.eps));
}

// Outputs per invocation (1 to 8): each x value loaded is used OUTS times. CPU adapters
// run invocations as SIMD lanes, where every load is a gather: 4 outputs per invocation
// make 4× fewer of them per weight.
override OUTS: u32 = 1u;

// Σ x·q over weights k .. k + 7 of the row at word `base` (x in xa, xb).
fn dot8(base: u32, k: u32, xa: vec4f, xb: vec4f) -> f32 {
    let q = ints8(base, p.k, k);
    return dot(xa, q.lo) + dot(xb, q.hi);
}

// Σ x·q over weights k .. k + 15 of the row at word `base` (x in xv, 4 at a time).
fn dot16(base: u32, k: u32, xv: array<vec4f, 4>) -> f32 {
    return dot8(base, k, xv[0], xv[1]) + dot8(base, k + 8u, xv[2], xv[3]);
}

// s plus sub-block b's part of each output: scale · Σ x·q + offset · Σ x, from its rows'
// (scale, offset).
fn add_scaled(s_in: array<vec2f, 8>, base: array<vec2u, 8>, b: u32, xq: array<vec2f, 8>,
              xs: f32) -> array<vec2f, 8> {
    var s = s_in;
    for (var o = 0u; o < OUTS; o++) {
        let s0 = block_scale(base[o].x, p.k, b);
        s[o].x += s0.x * xq[o].x + s0.y * xs;
        if (paired()) {
            let s1 = block_scale(base[o].y, p.k, b);
            s[o].y += s1.x * xq[o].y + s1.y * xs;
        }
    }
    return s;
}

// This lane's share of the dot products of input(x)[t] with the rows of outputs c0, c0 + cols, …
// (OUTS of them; each its rows (col_row(c), col_row(c + 1)), the second only when paired).
fn dots(tid: u32, t: u32, c0: u32, cols: u32, lane: u32, stats: vec2f) -> array<vec2f, 8> {
    var s: array<vec2f, 8>;
    var base: array<vec2u, 8>;
    let two = paired();
    let row_len = row_words(p.k);
    // Outputs past the last (in the last workgroup) read the last output's rows, where a
    // branch per output made matvec up to 4× slower on lavapipe (a masked branch it could not
    // tell was taken), and the epilogue drops them.
    for (var o = 0u; o < OUTS; o++) {
        let c = min(c0 + o * cols, p.n - select(1u, 2u, two));
        base[o] = vec2u(col_row(c), col_row(c + 1u)) * row_len;
    }
    if (FLOAT) {
        for (var k = lane * 4u; k < p.k; k += LANES * 4u) {
            let xv = x4(t, k, stats);
            for (var o = 0u; o < OUTS; o++) {
                var wv = vec4f(0.0);
                var wv2 = vec4f(0.0);
                if (k + 3u < p.k) {
                    wv = weight4_at(base[o].x, k);
                    if (two) {
                        wv2 = weight4_at(base[o].y, k);
                    }
                } else {
                    for (var j = 0u; k + j < p.k; j++) {
                        wv[j] = weight_at(base[o].x, k + j);
                        if (two) {
                            wv2[j] = weight_at(base[o].y, k + j);
                        }
                    }
                }
                s[o] += vec2f(dot(xv, wv), dot(xv, wv2));
            }
        }
        return s;
    }
    let sub = sub_len();
    let nb = p.k / sub;
    if (LANES == 1u && SHARE4) {
        // One lane an output, whose subgroup's lanes read the same x: 16 values a step, each
        // lane loading (and norming) 4 of them for all (share4), 4× fewer loads of x, each
        // a loop over the lanes on lavapipe.
        for (var b = 0u; b < nb; b++) {
            var xq = array<vec2f, 8>();
            var xs = 0.0;
            for (var j = 0u; j < sub; j += 16u) {
                let k = b * sub + j;
                let xv = share4(x4(t, k + 4u * (tid % 4u), stats));
                xs += dot(xv[0] + xv[1] + xv[2] + xv[3], vec4f(1.0));
                for (var o = 0u; o < OUTS; o++) {
                    xq[o].x += dot16(base[o].x, k, xv);
                    if (two) {
                        xq[o].y += dot16(base[o].y, k, xv);
                    }
                }
            }
            s = add_scaled(s, base, b, xq, xs);
        }
        return s;
    }
    // Lanes per sub-block (each taking 8 weights a step), and sub-blocks taken side by side.
    let per_block = min(LANES, sub / 8u);
    for (var b = lane / per_block; b < nb; b += LANES / per_block) {
        // Σ x·q and Σ x over this lane's weights of the sub-block: w = scale · q + offset.
        // Zeroed explicitly: Chromium (Tint on SwiftShader) left a declaration-only array
        // inside a loop holding the last iteration's values.
        var xq = array<vec2f, 8>();
        var xs = 0.0;
        for (var j = (lane % per_block) * 8u; j < sub; j += per_block * 8u) {
            let k = b * sub + j;
            let xa = x4(t, k, stats);
            let xb = x4(t, k + 4u, stats);
            xs += dot(xa + xb, vec4f(1.0));
            for (var o = 0u; o < OUTS; o++) {
                xq[o].x += dot8(base[o].x, k, xa, xb);
                if (two) {
                    xq[o].y += dot8(base[o].y, k, xa, xb);
                }
            }
        }
        s = add_scaled(s, base, b, xq, xs);
    }
    return s;
}

// Prompt chunks on SwiftShader (BLOCKS): each invocation computes a block of 16 tokens × 16
// columns (z: the tokens' block of 16), its 256 sums in private memory at constant indices
// (which a CPU adapter keeps like registers), 8 multiply-adds for every value it loads. CPU
// adapters run invocations as SIMD lanes, where a load costs as much as 4-15 multiply-adds
// (measured on SwiftShader and lavapipe: a load from workgroup memory, even at a constant
// index, or a gather from a buffer), so the block is as large as the code allows: 32 matrix
// products a step, written out, because an index computed at run time, into the sums or
// the weights, is itself such a load. The workgroup stages the tokens' input (normed) 8
// depths at a time. 4 × 4 parts of the block are matrices: acc += w · x.
override BLOCKS: bool = false;
var<workgroup> xt: array<vec4f, 32>;         // token t's depths 4h .. 4h + 3 at 2t + h
var<workgroup> tok_stats: array<vec2f, 16>;  // the tokens' row_stats

// Weights k .. k + 7 of column c's row (the last row past the end), as two vec4s.
fn w8(c: u32, k: u32) -> array<vec4f, 2> {
    let row = col_row(min(c, p.n - 1u));
    if (FLOAT) {
        return array(w4(row, k, p.k), w4(row, k + 4u, p.k));
    }
    let base = row * row_words(p.k);
    let s = block_scale(base, p.k, k / sub_len());
    let q = ints8(base, p.k, k);
    return array(s.x * q.lo + s.y, s.x * q.hi + s.y);
}

// Columns c .. c + 3 at depths k .. k + 3 ([0]) and k + 4 .. k + 7 ([1]): matrices whose
// columns are depths (rows: the product's columns).
fn w_cols(c: u32, k: u32) -> array<mat4x4f, 2> {
    let a = w8(c, k);
    let b = w8(c + 1u, k);
    let d = w8(c + 2u, k);
    let e = w8(c + 3u, k);
    return array(transpose(mat4x4f(a[0], b[0], d[0], e[0])),
                 transpose(mat4x4f(a[1], b[1], d[1], e[1])));
}

// Staged depths 4h .. 4h + 3 of tokens 4g .. 4g + 3: a matrix whose columns are tokens.
fn x_toks(g: u32, h: u32) -> mat4x4f {
    return mat4x4f(xt[8u * g + h], xt[8u * g + 2u + h], xt[8u * g + 4u + h], xt[8u * g + 6u + h]);
}

// The block's sums over 4 staged depths (h), w: the 4 column groups' weights there.
// acc[4g + j]: tokens 4g .. 4g + 3 (its columns) × columns 4j .. 4j + 3 (its rows). Every
// index is a constant once inlined (h too, at each call).
fn mac(acc: ptr<function, array<mat4x4f, 16>>, h: u32, w: array<mat4x4f, 4>) {
    let x0 = x_toks(0u, h);
    let x1 = x_toks(1u, h);
    let x2 = x_toks(2u, h);
    let x3 = x_toks(3u, h);
    (*acc)[0] += w[0] * x0;   (*acc)[1] += w[1] * x0;   (*acc)[2] += w[2] * x0;   (*acc)[3] += w[3] * x0;
    (*acc)[4] += w[0] * x1;   (*acc)[5] += w[1] * x1;   (*acc)[6] += w[2] * x1;   (*acc)[7] += w[3] * x1;
    (*acc)[8] += w[0] * x2;   (*acc)[9] += w[1] * x2;   (*acc)[10] += w[2] * x2;  (*acc)[11] += w[3] * x2;
    (*acc)[12] += w[0] * x3;  (*acc)[13] += w[1] * x3;  (*acc)[14] += w[2] * x3;  (*acc)[15] += w[3] * x3;
}

fn main_blocks(tid: u32, group: u32, z: u32) {
    let c0 = (group * WG + tid) * 16u;  // this invocation's first column
    let t0 = z * 16u;
    let n = step.n_tokens;
    for (var t = 0u; t < 16u; t++) {
        let row = min(t0 + t, n - 1u);
        let s = row_stats(tid, row);
        if (INPUT == POST_NORM && group == 0u && t0 + t < n) {
            store_stream(row, s.x, tid, WG);
        }
        if (tid == 0u) {
            tok_stats[t] = s;
        }
    }
    var acc: array<mat4x4f, 16>;
    for (var k0 = 0u; k0 < p.k; k0 += 8u) {
        workgroupBarrier();
        for (var i = tid; i < 32u; i += WG) {
            let t = i / 2u;
            var v = vec4f(0.0);
            if (t0 + t < n) {
                v = x4(t0 + t, k0 + 4u * (i % 2u), tok_stats[t]);
            }
            xt[i] = v;
        }
        workgroupBarrier();
        let w0 = w_cols(c0, k0);
        let w1 = w_cols(c0 + 4u, k0);
        let w2 = w_cols(c0 + 8u, k0);
        let w3 = w_cols(c0 + 12u, k0);
        mac(&acc, 0u, array(w0[0], w1[0], w2[0], w3[0]));
        mac(&acc, 1u, array(w0[1], w1[1], w2[1], w3[1]));
    }
    // Paired epilogues take columns (c, c + 1) together.
    let step_c = select(1u, 2u, paired());
    for (var t = 0u; t < 16u && t0 + t < n; t++) {
        for (var c = 0u; c < 16u && c0 + c < p.n; c += step_c) {
            let m = acc[(t / 4u) * 4u + c / 4u];
            epilogue(t0 + t, c0 + c, vec2f(m[t % 4u][c % 4u], m[t % 4u][(c + 1u) % 4u]));
        }
    }
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) tid: u32) {
    let lane = tid % LANES;
    let cols = select(1u, 2u, paired());
    // This invocation's first column of the product; its outputs are OUTS · cols apart
    // groups of the workgroup, so that neighbouring invocations take neighbouring rows.
    let per_wg = WG / LANES;
    let first = (wg.x + wg.y * groups.x) * per_wg * OUTS + tid / LANES;
    let c0 = first * cols;
    let stride = per_wg * cols;
    if (BLOCKS) {
        main_blocks(tid, wg.x + wg.y * groups.x, wg.z);
        return;
    }
    let t = wg.z;
    let stats = row_stats(tid, t);
    if (INPUT == POST_NORM && wg.x == 0u && wg.y == 0u) {
        store_stream(t, stats.x, tid, WG);  // before stage_input norms `staged`
    }
    stage_input(tid, WG, t, stats);
    // Every invocation, those past the last output too (dots reads the last output's rows
    // for them, and nothing is written): dots may share loads across a subgroup.
    let y = dots(tid, t, c0, stride, lane, stats);
    for (var o = 0u; o < OUTS; o++) {
        let v = lanes_sum(tid, y[o], LANES);
        let c = c0 + o * stride;
        if (lane == 0u && c < p.n) {
            epilogue(t, c, v);
        }
    }
}
