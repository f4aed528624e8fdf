// Token and position embeddings: out[t, c] = wte[tokens[t], c] · scale + wpe[pos0 + t, c]
// (scale: 1, or Gemma's √C).
// One invocation per output value. wte (w, binding 3) is in the GPU weight layout, read
// through quant.wgsl (put before this file); wpe is f32.

struct Params {
    n_embd: u32,      // C
    vocab_size: u32,  // V, to keep a bad id inside wte
    use_wpe: u32,     // 1 for learned position embeddings (GPT-2), 0 for none
    row0: u32,        // w holds rows row0 .. row0 + rows of wte (a table in parts: one
    rows: u32,        // dispatch per part, each writing the tokens of its rows)
    scale: f32,       // of the token embeddings
    _pad1: u32,
    _pad2: u32,
}

struct Step {
    n_tokens: u32,  // T: tokens in this pass
    pos0: u32,      // position of the first of them
    u: f32,
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read> tokens: array<u32>;       // [T]
@group(0) @binding(4) var<storage, read> wpe: array<f32>;          // [P, C]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;    // [T, C]

override WG: u32 = 256;

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = gid.x + gid.y * groups.x * WG;
    if (i >= step.n_tokens * p.n_embd) {
        return;
    }
    let t = i / p.n_embd;
    let c = i % p.n_embd;
    let token = min(tokens[t], p.vocab_size - 1u);
    if (token < p.row0 || token >= p.row0 + p.rows) {
        return;  // another part's row
    }
    var v = weight(token - p.row0, c, p.n_embd) * p.scale;
    if (p.use_wpe != 0u) {
        v += wpe[(step.pos0 + t) * p.n_embd + c];
    }
    out[i] = v;
}
