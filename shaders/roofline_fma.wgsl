// A roofline microkernel (`lantern bench --roofline`): each invocation runs ITERS rounds of
// 4 independent vec4 multiply-adds (16 per round, enough chains to hide their latency), to
// measure the adapter's f32 multiply-add rate. The start values depend on the invocation and
// the result is written, so nothing can be folded or dropped.

@group(0) @binding(0) var<storage, read_write> sink: array<f32>;  // [invocations]

override WG: u32 = 256;
override ITERS: u32 = 1024;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u) {
    let s = f32(gid.x) * 1e-9;
    var a = vec4f(s, s + 0.1, s + 0.2, s + 0.3);
    var b = a + 0.5;
    var c = a + 1.0;
    var d = a + 1.5;
    let m = vec4f(0.9999);
    let n = vec4f(1e-4);
    for (var i = 0u; i < ITERS; i++) {
        a = fma(a, m, n);
        b = fma(b, m, n);
        c = fma(c, m, n);
        d = fma(d, m, n);
    }
    let r = a + b + c + d;
    sink[gid.x] = r.x + r.y + r.z + r.w;
}
