// Reductions over a workgroup, put before the kernels that reduce (attention, matvec,
// sample, top_k): this file, built on a tree in workgroup memory, or reduce_subgroup.wgsl,
// which has the same functions built on subgroup operations where the adapter has them
// (gpu::Gpu::reducing picks one). Every invocation of the workgroup calls them, in uniform
// control flow, and gets the result. red_f and red_u are scratch for the kernels too.

override WG: u32 = 256;  // invocations per workgroup, a power of two <= 256: set by each kernel
var<workgroup> red_f: array<f32, WG>;
var<workgroup> red_u: array<u32, WG>;
var<workgroup> red_v: array<vec2f, WG>;

// Σ v (or max v) over the workgroup.
fn reduce_f(tid: u32, v: f32, is_max: bool) -> f32 {
    red_f[tid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            red_f[tid] = select(red_f[tid] + red_f[tid + s], max(red_f[tid], red_f[tid + s]), is_max);
        }
        workgroupBarrier();
    }
    let r = red_f[0];
    workgroupBarrier();
    return r;
}
// reduce_f for the first n components of v (the rest 0), one at a time.
fn reduce_4(tid: u32, v: vec4f, n: u32, is_max: bool) -> vec4f {
    var r = vec4f(0.0);
    for (var i = 0u; i < n; i++) {
        r[i] = reduce_f(tid, v[i], is_max);
    }
    return r;
}
fn reduce_sum(tid: u32, v: f32) -> f32 {
    return reduce_f(tid, v, false);
}
fn reduce_max(tid: u32, v: f32) -> f32 {
    return reduce_f(tid, v, true);
}

fn reduce_sum_u(tid: u32, v: u32) -> u32 {
    red_u[tid] = v;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            red_u[tid] += red_u[tid + s];
        }
        workgroupBarrier();
    }
    let r = red_u[0];
    workgroupBarrier();
    return r;
}

// The workgroup's best (value as bits, id) of each invocation's (v, i): the largest value,
// the lowest id on a tie.
fn reduce_arg_max(tid: u32, v: f32, i: u32) -> vec2u {
    red_f[tid] = v;
    red_u[tid] = i;
    workgroupBarrier();
    for (var s = WG / 2u; s > 0u; s >>= 1u) {
        if (tid < s) {
            let w = red_f[tid + s];
            let wi = red_u[tid + s];
            if (w > red_f[tid] || (w == red_f[tid] && wi < red_u[tid])) {
                red_f[tid] = w;
                red_u[tid] = wi;
            }
        }
        workgroupBarrier();
    }
    let r = vec2u(bitcast<u32>(red_f[0]), red_u[0]);
    workgroupBarrier();
    return r;
}

// Σ v over each run of `lanes` consecutive invocations (lanes a power of two <= WG, the
// same in every call of a kernel), given to each of them.
fn lanes_sum(tid: u32, v: vec2f, lanes: u32) -> vec2f {
    if (lanes == 1u) {
        return v;
    }
    let lane = tid % lanes;
    red_v[tid] = v;
    workgroupBarrier();
    for (var s = lanes / 2u; s > 0u; s >>= 1u) {
        if (lane < s) {
            red_v[tid] += red_v[tid + s];
        }
        workgroupBarrier();
    }
    let r = red_v[tid - lane];
    workgroupBarrier();
    return r;
}

// Four invocations' values shared with their neighbours: reduce_subgroup.wgsl's share4 gives
// every invocation the vec4s of lanes 0-3 of its subgroup. A tree in workgroup memory
// would need a barrier for it, which costs more than it saves, so here SHARE4 is false and
// the kernels load for themselves: the calls to share4 sit behind it and never run.
const SHARE4: bool = false;
fn share4(v: vec4f) -> array<vec4f, 4> {
    return array(v, v, v, v);
}
