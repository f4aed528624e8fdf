// The fused linear layer (linear.wgsl) for a prompt chunk of T tokens:
//   y[t, c] = Σ_k norm(x)[t, k] · w[col_row(c), k] + bias,  then the epilogue.
// Built as quant.wgsl + linear.wgsl + this file. Each workgroup computes a TILE_M×128 tile
// (tokens × columns; TILE_M 64, or 32 for chunks of up to 32 tokens), each of its 2·TILE_M
// invocations an 8×8 block (16 vec4 accumulators), staging 16-deep slices of norm(x) and
// of the dequantized weights in workgroup memory: invocation i stages half of row i / 2 of
// x and column i (and i + 64 in 32-row tiles) of w, so a quantized slice's scale is read
// once. With a norm, the two invocations of each row first compute its statistics, and
// after a post norm (INPUT = 4) the first column tile's workgroups write their rows of
// the stream. Rust sets TILE_M (src/gpu/matmul.rs).
//
// Shaped for CPU adapters as much as for GPUs (SwiftShader ran the prompt here until matvec.wgsl's
// 16-token blocks took over): there
// each load with a computed index is a gather, lane by lane, each barrier a switch per
// subgroup, and both sides of every `if` run, masked. So an 8×8 block (4 multiply-adds
// per value loaded from the tiles, against 2 for 4×4), 128 columns per workgroup (each
// row of x is loaded and normed by half as many workgroups as with 64), a quantized slice
// dequantized whole, and a fallback behind a constant condition (behind a run-time one,
// both sides ran and cost ~10%): the prompt on SwiftShader went from 5.5 to 10–11 tokens/s.
// A 32-token prompt in 64-row tiles left half of each workgroup staging rows of zeros and
// waiting at its barriers: 32-row tiles took SwiftShader's 32-token prompt from 3.9–4.05
// to 3.35–3.5 s of GPU time; from 33 tokens on, the 64-row tiles read each weight half as
// often (a 128-token chunk in 32-row tiles ran 5–8% slower).

override TILE_M: u32 = 64u;  // rows (tokens) of the product per workgroup: 64 or 32
override WG: u32 = 2u * TILE_M;  // invocations: two for each row
const TILE_N: u32 = 128u;  // columns of the product per workgroup
const BK: u32 = 16u;       // depth of one staged slice
var<workgroup> x_tile: array<f32, 1024>;  // [BK][TILE_M]: norm(x)[row0 + r, k0 + kk] at kk * TILE_M + r
var<workgroup> w_tile: array<f32, 2048>;  // [BK][TILE_N]: w[col_row(col0 + c), k0 + kk] at kk * TILE_N + c

// The sum of v over invocations tid and tid ^ 1 (the two that share a row of x).
fn pair_sum(tid: u32, v: f32) -> f32 {
    x_tile[tid] = v;
    workgroupBarrier();
    let s = x_tile[tid & ~1u] + x_tile[tid | 1u];
    workgroupBarrier();
    return s;
}

// (mean, 1 / std) of row `row` of x for the norm (INPUT = 4: (inv_y, 1 / std of h)), summed
// by the two invocations that stage the row (`half`: which of them), each over every other
// value. Every invocation calls it (it has barriers); `live`: whether the row exists.
fn row_stats(tid: u32, row: u32, live: bool) -> vec2f {
    if (INPUT == 0u || INPUT == ATTENTION) {
        return vec2f(0.0);
    }
    let half = tid % 2u;
    if (INPUT == POST_NORM) {
        var inv_y = 0.0;
        if (p.y_at != NONE) {
            var sy = 0.0;
            for (var i = half; live && i < p.k; i += 2u) {
                let v = x[p.y_at + row * p.k + i];
                sy += v * v;
            }
            inv_y = inverseSqrt(pair_sum(tid, sy) / f32(p.k) + p.eps);
        }
        var sh = 0.0;
        for (var i = half; live && i < p.k; i += 2u) {
            let h = resolved(row, i, inv_y);
            sh += h * h;
        }
        return vec2f(inv_y, inverseSqrt(pair_sum(tid, sh) / f32(p.k) + p.eps));
    }
    var mean = 0.0;
    if (INPUT == 2u) {
        var s = 0.0;
        for (var i = half; live && i < p.k; i += 2u) {
            s += x[row * p.k + i];
        }
        mean = pair_sum(tid, s) / f32(p.k);
    }
    // Two passes for the layer norm: the variance of values far from zero must not cancel.
    var sq = 0.0;
    for (var i = half; live && i < p.k; i += 2u) {
        let d = x[row * p.k + i] - mean;
        sq += d * d;
    }
    return vec2f(mean, inverseSqrt(pair_sum(tid, sq) / f32(p.k) + p.eps));
}

// w[row, k .. k + 15] (k a multiple of 16), as 4 vec4s. A quantized row is whole blocks
// (K a multiple of 32), so its slice never passes the end and lies in one sub-block of 16
// or 32 weights, whose scale is read once; a float row (any K) is read 4 at a time.
fn w16(row: u32, k: u32) -> array<vec4f, 4> {
    if (FLOAT) {
        return array(w4(row, k, p.k), w4(row, k + 4u, p.k), w4(row, k + 8u, p.k), w4(row, k + 12u, p.k));
    }
    let base = row * row_words(p.k);
    let s = block_scale(base, p.k, k / sub_len());
    let a = ints8(base, p.k, k);
    let b = ints8(base, p.k, k + 8u);
    return array(s.x * a.lo + s.y, s.x * a.hi + s.y, s.x * b.lo + s.y, s.x * b.hi + s.y);
}

// norm(x)[row, k .. k + 3], zero for rows past the prompt.
fn x4_of(row: u32, k: u32, stats: vec2f) -> vec4f {
    if (row < step.n_tokens) {
        return x4(row, k, stats);
    }
    return vec4f(0.0);
}

// Depths kk .. kk + 3 of row r of the staged x slice.
fn put_x(r: u32, kk: u32, v: vec4f) {
    let at = kk * TILE_M + r;
    x_tile[at] = v.x;
    x_tile[at + TILE_M] = v.y;
    x_tile[at + 2u * TILE_M] = v.z;
    x_tile[at + 3u * TILE_M] = v.w;
}

// Depths kk .. kk + 3 of column c of the staged w slice.
fn put_w(c: u32, kk: u32, v: vec4f) {
    let at = kk * TILE_N + c;
    w_tile[at] = v.x;
    w_tile[at + TILE_N] = v.y;
    w_tile[at + 2u * TILE_N] = v.z;
    w_tile[at + 3u * TILE_N] = v.w;
}

// Rows (or columns) r .. r + 3 of a staged slice at depth kk (naga passes no workgroup
// pointers to functions, hence two).
fn x_tile4(kk: u32, r: u32) -> vec4f {
    let i = kk * TILE_M + r;
    return vec4f(x_tile[i], x_tile[i + 1u], x_tile[i + 2u], x_tile[i + 3u]);
}

fn w_tile4(kk: u32, c: u32) -> vec4f {
    let i = kk * TILE_N + c;
    return vec4f(w_tile[i], w_tile[i + 1u], w_tile[i + 2u], w_tile[i + 3u]);
}

// Stages column c of the tile's w slice at depth k0.
fn stage_w(c: u32, col0: u32, k0: u32) {
    var wv: array<vec4f, 4>;
    if (col0 + c < p.n) {
        wv = w16(col_row(col0 + c), k0);
    }
    // (Unrolled: a private array indexed by a loop variable is a gather on SwiftShader.)
    put_w(c, 0u, wv[0]);
    put_w(c, 4u, wv[1]);
    put_w(c, 8u, wv[2]);
    put_w(c, 12u, wv[3]);
}

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
    let m = step.n_tokens;
    let row0 = wg.y * TILE_M;
    let col0 = wg.x * TILE_N;
    let tr = (tid / 16u) * 8u;  // this invocation's rows within the tile
    let tc = (tid % 16u) * 8u;  // and columns
    // acc[2i + h][j]: row tr + i, column tc + 4h + j
    var acc: array<vec4f, 16>;
    let in_range = row0 + tr < m && col0 + tc < p.n;
    // Invocation tid stages half of row tid / 2 of x (depths 8h .. 8h + 7 of each slice,
    // h = tid % 2) and column tid (and tid + WG) of w.
    let own_row = row0 + tid / 2u;
    let half = tid % 2u;
    let stats = row_stats(tid, own_row, own_row < m);
    // The first column tile's workgroups write the resolved stream of their rows.
    if (INPUT == POST_NORM && wg.x == 0u && own_row < m) {
        store_stream(own_row, stats.x, half, 2u);
    }

    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        stage_w(tid, col0, k0);
        if (WG < TILE_N) {
            stage_w(tid + WG, col0, k0);
        }
        let kx = 8u * half;
        put_x(tid / 2u, kx, x4_of(own_row, k0 + kx, stats));
        put_x(tid / 2u, kx + 4u, x4_of(own_row, k0 + kx + 4u, stats));
        workgroupBarrier();
        // Invocations whose rows or columns lie past the end (a short prompt in a tile)
        // only help load: skipping their multiply-adds matters on CPU adapters.
        if (in_range) {
            for (var kk = 0u; kk < BK; kk++) {
                let a0 = x_tile4(kk, tr);
                let a1 = x_tile4(kk, tr + 4u);
                let b0 = w_tile4(kk, tc);
                let b1 = w_tile4(kk, tc + 4u);
                acc[0] += a0.x * b0;   acc[1] += a0.x * b1;
                acc[2] += a0.y * b0;   acc[3] += a0.y * b1;
                acc[4] += a0.z * b0;   acc[5] += a0.z * b1;
                acc[6] += a0.w * b0;   acc[7] += a0.w * b1;
                acc[8] += a1.x * b0;   acc[9] += a1.x * b1;
                acc[10] += a1.y * b0;  acc[11] += a1.y * b1;
                acc[12] += a1.z * b0;  acc[13] += a1.z * b1;
                acc[14] += a1.w * b0;  acc[15] += a1.w * b1;
            }
        }
        workgroupBarrier();
    }

    // Paired epilogues take columns (c, c + 1) together.
    let step_c = select(1u, 2u, paired());
    for (var i = 0u; i < 8u; i++) {
        let r = row0 + tr + i;
        if (r >= m) {
            break;
        }
        for (var j = 0u; j < 8u; j += step_c) {
            let c = col0 + tc + j;
            if (c < p.n) {
                let v = acc[2u * i + j / 4u];
                epilogue(r, c, vec2f(v[j % 4u], v[(j + 1u) % 4u]));
            }
        }
    }
}
