// Rotary position embedding, in place on the query and key heads of each row:
//   (x_a, x_b) ← (x_a·cos − x_b·sin, x_a·sin + x_b·cos),  angle = pos · θ^(−2i/head_size)
// for pair i of each head, with (a, b) = (2i, 2i + 1) in GGUF's layout (adjacent) or
// (i, i + head_size/2) in Hugging Face's (halves). The angles come from a table computed in
// f64 on the CPU: f32 sin/cos of large angles (pos · freq up to thousands) drift.
// One invocation per (row, head, pair).

struct Params {
    n_heads: u32,    // heads to rotate per row (query heads + key heads)
    head_size: u32,
    stride: u32,     // floats between two rows
    adjacent: u32,   // 1: pairs (2i, 2i + 1); 0: pairs (i, i + head_size / 2)
}

struct Step {
    n_tokens: u32,
    pos0: u32,
    u: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> table: array<vec2f>;    // [ctx, head_size / 2]: (cos, sin)
@group(0) @binding(3) var<storage, read_write> x: array<f32>;    // [T, stride]; heads from 0

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = gid.x + gid.y * groups.x * WG;
    let n_pairs = p.head_size / 2u;
    if (i >= step.n_tokens * p.n_heads * n_pairs) {
        return;
    }
    let pair = i % n_pairs;
    let head = (i / n_pairs) % p.n_heads;
    let t = i / (n_pairs * p.n_heads);
    let cs = table[(step.pos0 + t) * n_pairs + pair];
    let base = t * p.stride + head * p.head_size;
    var a = base + pair;
    var b = base + pair + n_pairs;
    if (p.adjacent != 0u) {
        a = base + 2u * pair;
        b = a + 1u;
    }
    let x0 = x[a];
    let x1 = x[b];
    x[a] = x0 * cs.x - x1 * cs.y;
    x[b] = x0 * cs.y + x1 * cs.x;
}
