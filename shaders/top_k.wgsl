// The k most likely next tokens of each row of logits, with their softmax probabilities
// (temperature 1: the model's own distribution), and the probability of one chosen token
// (the one the sampler picked). For the prediction view and the logit lens.
// One workgroup per row. Pick r is the largest logit strictly below pick r-1 in the order
// (logit descending, id ascending), so k rounds of an arg max give the top k without sorting.
// Out, per row (stride 2K+1): [ids: K u32][probs: K f32 bits][chosen's prob: f32 bits].

struct Params {
    vocab: u32,   // V
    k: u32,       // picks per row, <= V
    _pad0: u32,
    _pad1: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;       // [rows, V]
@group(0) @binding(2) var<storage, read> chosen: array<u32>;       // [0]: an id, or ≥ V: none
@group(0) @binding(3) var<storage, read_write> out: array<u32>;    // [rows, 2K+1]

// WG (reduce.wgsl): a power of two.

@compute @workgroup_size(WG)
fn main(@builtin(workgroup_id) wg: vec3u, @builtin(local_invocation_index) tid: u32) {
    let row = wg.x * p.vocab;
    let o = wg.x * (2u * p.k + 1u);
    // Pick 0 is the arg max, and its logit makes exp() safe for the softmax's denominator.
    var prev_v = 3.4e38;
    var prev_i = 0xffffffffu;
    var max_logit = 0.0;
    var z = 0.0;
    for (var r = 0u; r < p.k; r++) {
        var best = -3.4e38;
        var best_i = 0xffffffffu;
        for (var i = tid; i < p.vocab; i += WG) {
            let l = logits[row + i];
            let after_prev = l < prev_v || (l == prev_v && i > prev_i);
            if (after_prev && (l > best || (l == best && i < best_i))) {
                best = l;
                best_i = i;
            }
        }
        let b = reduce_arg_max(tid, best, best_i);
        prev_v = bitcast<f32>(b.x);
        prev_i = b.y;
        if (r == 0u) {
            max_logit = prev_v;
            var s = 0.0;
            for (var i = tid; i < p.vocab; i += WG) {
                s += exp(logits[row + i] - max_logit);
            }
            z = reduce_sum(tid, s);
        }
        if (tid == 0u) {
            out[o + r] = prev_i;
            out[o + p.k + r] = bitcast<u32>(exp(prev_v - max_logit) / z);
        }
    }
    if (tid == 0u) {
        let c = chosen[0];
        var prob = -1.0;  // none chosen
        if (c < p.vocab) {
            prob = exp(logits[row + c] - max_logit) / z;
        }
        out[o + 2u * p.k] = bitcast<u32>(prob);
    }
}
