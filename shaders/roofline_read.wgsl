// A roofline microkernel (`lantern bench --roofline`): streams a large buffer once, as
// vec4s, to measure the adapter's read bandwidth. Grid-stride loop: invocation i reads
// elements i, i + total, i + 2·total, …, so neighbouring invocations read neighbouring
// 16 bytes. Each writes one sum, so that the reads cannot be optimized away.

@group(0) @binding(0) var<storage, read> src: array<vec4f>;
@group(0) @binding(1) var<storage, read_write> sink: array<f32>;  // [invocations]

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let total = groups.x * WG;
    var acc = vec4f(0.0);
    for (var i = gid.x; i < arrayLength(&src); i += total) {
        acc += src[i];
    }
    sink[gid.x] = acc.x + acc.y + acc.z + acc.w;
}
