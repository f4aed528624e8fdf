// The functions of reduce.wgsl on subgroup operations: a subgroup reduces in registers, then
// one partial per subgroup goes through workgroup memory (two barriers, where the tree takes
// log2(WG) + 2). Only for adapters whose subgroups all have SG invocations, at least 4
// (WebGPU's minimum), and are runs of consecutive local_invocation_index (invocation tid is
// lane tid % SG of subgroup tid / SG): gpu::Gpu checks at load with subgroup_probe.wgsl,
// else it uses reduce.wgsl.
// (In the page the module starts with `enable subgroups;`, which Chromium asks for and naga
// refuses: Rust adds it there.)

override WG: u32 = 256;  // invocations per workgroup, a power of two, 2 to 256: set by each kernel
override SG: u32 = 32;   // invocations per subgroup, a power of two: the adapter's
var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;
var<workgroup> red_v: array<vec2f, WG>;

// Subgroups in the workgroup (one, part-filled, when WG < SG).
fn n_subgroups() -> u32 {
    return max(WG / SG, 1u);
}

// The workgroup's sum (or maximum) of the first n components of v at once (the rest 0):
// each of its two steps one subgroup operation on the vec4, two barriers in all (reduce.wgsl's
// tree takes log2(WG) + 2 per component). A subgroup's partial takes two entries of red_v
// (WG / SG <= WG / 4 subgroups, or one: hence WG >= 2).
fn reduce_4(tid: u32, v: vec4f, n: u32, is_max: bool) -> vec4f {
    var s: vec4f;
    if (is_max) {
        s = subgroupMax(v);
    } else {
        s = subgroupAdd(v);
    }
    if (tid % SG == 0u) {
        red_v[2u * (tid / SG)] = s.xy;
        red_v[2u * (tid / SG) + 1u] = s.zw;
    }
    workgroupBarrier();
    // Every subgroup reads the same partials into the same lanes, so all get the same result.
    var t = select(vec4f(0.0), vec4f(-3.4e38), is_max);
    for (var j = tid % SG; j < n_subgroups(); j += SG) {
        let u = vec4f(red_v[2u * j], red_v[2u * j + 1u]);
        t = select(t + u, max(t, u), is_max);
    }
    var r: vec4f;
    if (is_max) {
        r = subgroupMax(t);
    } else {
        r = subgroupAdd(t);
    }
    workgroupBarrier();
    return select(vec4f(0.0), r, vec4u(0u, 1u, 2u, 3u) < vec4u(n));
}
// A scalar goes as a vec4's first component: one shape for both. The three idle components
// cost the sampler 6-7% of its time (`--profile`, 8 sampled tokens: SwiftShader 8.9, 8.4 →
// 9.4, 9.2 ms; lavapipe 2.54, 2.50 → 2.70, 2.66 ms), 0.2% of a decoded token.
fn reduce_f(tid: u32, v: f32, is_max: bool) -> f32 {
    return reduce_4(tid, vec4f(v, 0.0, 0.0, 0.0), 1u, is_max).x;
}
fn reduce_sum(tid: u32, v: f32) -> f32 {
    return reduce_f(tid, v, false);
}
fn reduce_max(tid: u32, v: f32) -> f32 {
    return reduce_f(tid, v, true);
}

fn reduce_sum_u(tid: u32, v: u32) -> u32 {
    let s = subgroupAdd(v);
    if (tid % SG == 0u) {
        red_u[tid / SG] = s;
    }
    workgroupBarrier();
    var t = 0u;
    for (var j = tid % SG; j < n_subgroups(); j += SG) {
        t += red_u[j];
    }
    let r = subgroupAdd(t);
    workgroupBarrier();
    return r;
}

struct ArgMax {
    v: f32,
    i: u32,
}

// The largest value of a subgroup, and the lowest id holding it.
fn subgroup_arg_max(v: f32, i: u32) -> ArgMax {
    let m = subgroupMax(v);
    return ArgMax(m, subgroupMin(select(0xffffffffu, i, v == m)));
}

fn reduce_arg_max(tid: u32, v: f32, i: u32) -> vec2u {
    let s = subgroup_arg_max(v, i);
    if (tid % SG == 0u) {
        red_f[tid / SG] = s.v;
        red_u[tid / SG] = s.i;
    }
    workgroupBarrier();
    var t = ArgMax(-3.4e38, 0xffffffffu);
    for (var j = tid % SG; j < n_subgroups(); j += SG) {
        let c = ArgMax(red_f[j], red_u[j]);
        if (c.v > t.v || (c.v == t.v && c.i < t.i)) {
            t = c;
        }
    }
    let r = subgroup_arg_max(t.v, t.i);
    workgroupBarrier();
    return vec2u(bitcast<u32>(r.v), r.i);
}

fn lanes_sum(tid: u32, v: vec2f, lanes: u32) -> vec2f {
    if (lanes <= SG) {
        // Within one subgroup: a butterfly of shuffles, no barrier.
        var s = v;
        for (var m = lanes / 2u; m > 0u; m >>= 1u) {
            s += subgroupShuffleXor(s, m);
        }
        return s;
    }
    // Several subgroups per run: their sums through workgroup memory.
    let s = subgroupAdd(v);
    if (tid % SG == 0u) {
        red_v[tid / SG] = s;
    }
    workgroupBarrier();
    let per = lanes / SG;
    let first = tid / lanes * per;
    var r = vec2f(0.0);
    for (var j = 0u; j < per; j++) {
        r += red_v[first + j];
    }
    workgroupBarrier();
    return r;
}

// The vec4s that lanes 0-3 of this invocation's subgroup hold, in every invocation of it.
// For values all of a subgroup's invocations read alike: each lane loads a quarter and they
// share, a register move where an adapter runs a subgroup as SIMD lanes
// (lavapipe, SwiftShader), against a load each on those adapters. Call it in uniform
// control flow, so that lanes 0-3 are always in.
const SHARE4: bool = true;
fn share4(v: vec4f) -> array<vec4f, 4> {
    return array(subgroupBroadcast(v, 0u), subgroupBroadcast(v, 1u), subgroupBroadcast(v, 2u),
                 subgroupBroadcast(v, 3u));
}
