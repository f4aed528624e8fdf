// The fused linear layer (linear.wgsl) for one token, as decode runs it:
//   y[r] = Σ_k norm(x)[k] · w[r, k] + bias[r],  then the epilogue.
// Built as quant.wgsl + linear.wgsl + this file. LANES invocations share one output (its
// one or two rows of w) and sum their parts with a tree reduction; a workgroup computes
// WG / LANES outputs. Many lanes per output suit GPUs (coalesced reads of a row); one suits
// CPU implementations of WebGPU (lavapipe, SwiftShader), where barriers are costly. Each
// lane takes whole blocks when lanes are fewer than a block's 8 words of 4 weights, and reads
// each block's scale once.

override WG: u32 = 256;
override LANES: u32 = 64;
var<workgroup> partial: array<vec2f, WG>;
var<workgroup> red: array<f32, WG>;

fn wg_sum(tid: u32, v: f32) -> f32 {
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

// (mean, 1 / std) of x's row 0 for the norm: every invocation of the workgroup calls it.
fn row_stats(tid: u32) -> vec2f {
    if (NORM == 0u) {
        return vec2f(0.0, 1.0);
    }
    var mean = 0.0;
    if (NORM == 2u) {
        var s = 0.0;
        for (var i = tid; i < p.k; i += WG) {
            s += x[i];
        }
        mean = wg_sum(tid, s) / f32(p.k);
    }
    // Two passes for the layer norm: the variance of values far from zero must not cancel.
    var sq = 0.0;
    for (var i = tid; i < p.k; i += WG) {
        let d = x[i] - mean;
        sq += d * d;
    }
    return vec2f(mean, inverseSqrt(wg_sum(tid, sq) / f32(p.k) + p.eps));
}

// This lane's share of the dot products of norm(x) with rows r.x and (when two) r.y.
fn dots(r: vec2u, two: bool, lane: u32, stats: vec2f) -> vec2f {
    var s = vec2f(0.0);
    let row_len = row_words(p.k);
    let base = r * row_len;
    if (FORMAT == 0u) {
        for (var k = lane * 4u; k < p.k; k += LANES * 4u) {
            let xv = x4(0u, k, stats);
            var wv = vec4f(0.0);
            var wv2 = vec4f(0.0);
            if (k + 3u < p.k) {
                wv = quants4(base.x, 0u, k);
                if (two) {
                    wv2 = quants4(base.y, 0u, k);
                }
            } else {
                for (var j = 0u; k + j < p.k; j++) {
                    wv[j] = weight(r.x, k + j, p.k);
                    if (two) {
                        wv2[j] = weight(r.y, k + j, p.k);
                    }
                }
            }
            s += vec2f(dot(xv, wv), dot(xv, wv2));
        }
        return s;
    }
    // Lanes per block (at most its 8 groups of 4 weights), and blocks taken side by side.
    let per_block = min(LANES, 8u);
    let nb = p.k / 32u;
    for (var b = lane / per_block; b < nb; b += LANES / per_block) {
        // Σ x·q and Σ x over this lane's weights of the block: w = scale · q + offset.
        var xq = vec2f(0.0);
        var xs = 0.0;
        for (var j = (lane % per_block) * 4u; j < 32u; j += per_block * 4u) {
            let xv = x4(0u, b * 32u + j, stats);
            xs += xv.x + xv.y + xv.z + xv.w;
            xq.x += dot(xv, quants4(base.x, b, j));
            if (two) {
                xq.y += dot(xv, quants4(base.y, b, j));
            }
        }
        let s0 = block_scale(base.x, nb, b);
        s.x += s0.x * xq.x + s0.y * xs;
        if (two) {
            let s1 = block_scale(base.y, nb, b);
            s.y += s1.x * xq.y + s1.y * xs;
        }
    }
    return s;
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(num_workgroups) groups: vec3u,
        @builtin(local_invocation_index) tid: u32) {
    let lane = tid % LANES;
    let cols = select(1u, 2u, paired());
    // Column c of the product (the first of its two when paired).
    let c = ((wg.x + wg.y * groups.x) * (WG / LANES) + tid / LANES) * cols;
    let stats = row_stats(tid);
    var y = vec2f(0.0);
    if (c < p.n) {
        y = dots(vec2u(col_row(c), col_row(c + 1u)), paired(), lane, stats);
    }
    if (LANES > 1u) {
        partial[tid] = y;
        workgroupBarrier();
        for (var s = LANES / 2u; s > 0u; s >>= 1u) {
            if (lane < s) {
                partial[tid] += partial[tid + s];
            }
            workgroupBarrier();
        }
        y = partial[tid];
    }
    if (lane == 0u && c < p.n) {
        epilogue(0u, c, y);
    }
}
