// Token and position embeddings: out[t, c] = wte[tokens[t], c] + wpe[pos0 + t, c].
// One invocation per output value. wte may be quantized (FORMAT); wpe is f32.

struct Params {
    n_embd: u32,      // C
    vocab_size: u32,  // V, to keep a bad id inside wte
    use_wpe: u32,     // 1 for learned position embeddings (GPT-2), 0 for none
    _pad: u32,
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
@group(0) @binding(3) var<storage, read> w: array<u32>;            // wte [V, C] in FORMAT
@group(0) @binding(4) var<storage, read> wpe: array<f32>;          // [P, C]
@group(0) @binding(5) var<storage, read_write> out: array<f32>;    // [T, C]

override WG: u32 = 256;

// Weight formats (the FORMAT override): 0 = f32, 1 = Q8_0, 2 = Q4_0, 3 = Q4_1. Quantized
// rows are ggml's blocks of 32 weights, stored as the file has them (src/model/quant.rs):
//   Q8_0: d: f16, 32 × i8                  w = d · q
//   Q4_0: d: f16, 16 bytes of nibbles      w = d · (q − 8)
//   Q4_1: d: f16, m: f16, 16 bytes         w = d · q + m
// where byte j of the nibbles holds weight j (low) and weight j + 16 (high).
override FORMAT: u32 = 0u;

fn w_byte(b: u32) -> u32 {
    return (w[b >> 2u] >> ((b & 3u) << 3u)) & 0xffu;
}

// The f16 at byte b (b even).
fn w_half(b: u32) -> f32 {
    let word = w[b >> 2u];
    return unpack2x16float(select(word, word >> 16u, (b & 2u) != 0u)).x;
}

// Weight k of row `row`, in a matrix of rows of k_len weights.
fn weight(row: u32, k: u32, k_len: u32) -> f32 {
    if (FORMAT == 0u) {
        return bitcast<f32>(w[row * k_len + k]);
    }
    let block = row * (k_len / 32u) + k / 32u;
    let j = k % 32u;
    if (FORMAT == 1u) {
        let base = block * 34u;
        return w_half(base) * f32(bitcast<i32>(w_byte(base + 2u + j) << 24u) >> 24u);
    }
    let size = select(18u, 20u, FORMAT == 3u);
    let base = block * size;
    let byte = w_byte(base + size - 16u + j % 16u);
    let q = f32(select(byte & 0xfu, byte >> 4u, j >= 16u));
    if (FORMAT == 2u) {
        return w_half(base) * (q - 8.0);
    }
    return w_half(base) * q + w_half(base + 2u);
}

@compute @workgroup_size(WG)
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(num_workgroups) groups: vec3u) {
    let i = gid.x + gid.y * groups.x * WG;
    if (i >= step.n_tokens * p.n_embd) {
        return;
    }
    let t = i / p.n_embd;
    let c = i % p.n_embd;
    let token = min(tokens[t], p.vocab_size - 1u);
    var v = weight(token, c, p.n_embd);
    if (p.use_wpe != 0u) {
        v += wpe[(step.pos0 + t) * p.n_embd + c];
    }
    out[i] = v;
}
