// The fused linear layer (linear.wgsl) for a prompt chunk of T tokens:
//   y[t, c] = Σ_k norm(x)[t, k] · w[col_row(c), k] + bias,  then the epilogue.
// Built as quant.wgsl + linear.wgsl + this file. Each workgroup computes a 64×64 tile
// (tokens × columns), each of its 256 invocations a 4×4 block, staging 16-wide slices of
// norm(x) and of the dequantized weights in workgroup memory. With a norm, the workgroup
// first computes the statistics of its 64 rows of x (4 invocations per row), and after a
// post norm (INPUT = 4) the first column tile's workgroups write their rows of the stream.

const TILE: u32 = 64u;  // rows and columns of the product per workgroup
const BK: u32 = 16u;    // depth of one staged slice
var<workgroup> x_tile: array<f32, 1024>;  // [BK][TILE]: norm(x)[row0 + r, k0 + kk] at kk * TILE + r
var<workgroup> w_tile: array<f32, 1024>;  // [BK][TILE]: w[col_row(col0 + c), k0 + kk] at kk * TILE + c
var<workgroup> part: array<f32, 256>;
var<workgroup> stats: array<vec2f, TILE>; // (mean, 1 / std) of each row of the tile

// The sum of the 4 parts of row r (tid = 4r + lane) of `part`, set by every invocation.
fn row_sum(tid: u32, v: f32) -> f32 {
    part[tid] = v;
    workgroupBarrier();
    let r = tid & ~3u;
    let s = part[r] + part[r + 1u] + part[r + 2u] + part[r + 3u];
    workgroupBarrier();
    return s;
}

fn tile_stats(row0: u32, m: u32, tid: u32) {
    if (INPUT == 0u || INPUT == ATTENTION) {
        return;
    }
    let row = row0 + tid / 4u;
    let live = row < m;
    let lane = tid % 4u;
    if (INPUT == POST_NORM) {
        var inv_y = 0.0;
        if (p.y_at != NONE) {
            var sy = 0.0;
            for (var i = lane; live && i < p.k; i += 4u) {
                let v = x[p.y_at + row * p.k + i];
                sy += v * v;
            }
            inv_y = inverseSqrt(row_sum(tid, sy) / f32(p.k) + p.eps);
        }
        var sh = 0.0;
        for (var i = lane; live && i < p.k; i += 4u) {
            let h = resolved(row, i, inv_y);
            sh += h * h;
        }
        let inv = inverseSqrt(row_sum(tid, sh) / f32(p.k) + p.eps);
        if (lane == 0u) {
            stats[tid / 4u] = vec2f(inv_y, inv);
        }
        workgroupBarrier();
        return;
    }
    var mean = 0.0;
    if (INPUT == 2u) {
        var s = 0.0;
        for (var i = lane; live && i < p.k; i += 4u) {
            s += x[row * p.k + i];
        }
        mean = row_sum(tid, s) / f32(p.k);
    }
    // Two passes for the layer norm: the variance of values far from zero must not cancel.
    var sq = 0.0;
    for (var i = lane; live && i < p.k; i += 4u) {
        let d = x[row * p.k + i] - mean;
        sq += d * d;
    }
    let var_ = row_sum(tid, sq) / f32(p.k);
    if (lane == 0u) {
        stats[tid / 4u] = vec2f(mean, inverseSqrt(var_ + p.eps));
    }
    workgroupBarrier();
}

// w[row, k .. k + 3], zero past the end of the row.
fn w4(row: u32, k: u32) -> vec4f {
    if (k + 3u < p.k) {
        return weight4(row, k, p.k);
    }
    var v = vec4f(0.0);
    for (var j = 0u; j < 4u && k + j < p.k; j++) {
        v[j] = weight(row, k + j, p.k);
    }
    return v;
}

@compute @workgroup_size(256)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
    let m = step.n_tokens;
    let row0 = wg.y * TILE;
    let col0 = wg.x * TILE;
    let tr = (tid / 16u) * 4u;  // this invocation's rows within the tile
    let tc = (tid % 16u) * 4u;  // and columns
    var acc: array<vec4f, 4>;   // acc[i][j] for rows tr + i, columns tc + j
    let in_range = row0 + tr < m && col0 + tc < p.n;
    tile_stats(row0, m, tid);
    // The first column tile's workgroups write the resolved stream of their rows.
    let r_own = row0 + tid / 4u;
    if (INPUT == POST_NORM && wg.x == 0u && r_own < m) {
        store_stream(r_own, stats[tid / 4u].x, tid % 4u, 4u);
    }

    for (var k0 = 0u; k0 < p.k; k0 += BK) {
        // 256 invocations load the 64×16 slices: each 4 consecutive k of one row (one
        // word of quantized weights, dequantized together).
        let r = tid / 4u;
        let kk = (tid % 4u) * 4u;
        var xv = vec4f(0.0);
        if (row0 + r < m) {
            xv = x4(row0 + r, k0 + kk, stats[r]);
        }
        var wv = vec4f(0.0);
        if (col0 + r < p.n) {
            wv = w4(col_row(col0 + r), k0 + kk);
        }
        for (var j = 0u; j < 4u; j++) {
            x_tile[(kk + j) * TILE + r] = xv[j];
            w_tile[(kk + j) * TILE + r] = wv[j];
        }
        workgroupBarrier();
        // Invocations whose rows or columns lie past the end (a short prompt in a 64-row
        // tile) only help load: skipping their multiply-adds matters on CPU adapters.
        if (in_range) {
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
        }
        workgroupBarrier();
    }

    // Paired epilogues take columns (tc, tc + 1) and (tc + 2, tc + 3) together.
    let step_c = select(1u, 2u, paired());
    for (var i = 0u; i < 4u; i++) {
        let r = row0 + tr + i;
        if (r >= m) {
            break;
        }
        for (var j = 0u; j < 4u; j += step_c) {
            let c = col0 + tc + j;
            if (c < p.n) {
                epilogue(r, c, vec2f(acc[i][j], acc[i][min(j + 1u, 3u)]));
            }
        }
    }
}
