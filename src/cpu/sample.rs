//! Sampling the next token from logits. The GPU kernel (`shaders/sample.wgsl`) implements the
//! same rule with a different method (threshold search instead of sorting); this is the
//! definition both follow:
//!
//! 0. the repetition penalty ([`penalize`]: the logits of the last [`PENALTY_WINDOW`]
//!    tokens divided by it where positive, multiplied where negative; 1.0 = off);
//! 1. temperature 0: the arg max (lowest id on a tie);
//! 2. otherwise keep the tokens whose logit is at least the k-th largest (`top_k`, 0 = all);
//! 3. of those, with p ∝ exp(logit / temperature), keep the most likely tokens whose mass
//!    first reaches `top_p` of the total (ties at the edge kept; 1.0 = all);
//! 4. walk the kept tokens in id order, summing p, and take the first whose running sum
//!    exceeds `u` × the kept mass.

/// Settings of one draw.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SampleParams {
    pub temperature: f32,
    pub top_k: u32,
    pub top_p: f32,
    /// Makes the tokens of the last [`PENALTY_WINDOW`] less likely (1.0 = off; 1.1 is
    /// a common choice). Applies to greedy picks too.
    pub repeat_penalty: f32,
}

impl SampleParams {
    /// Always the most likely token.
    pub const GREEDY: Self = Self {
        temperature: 0.0,
        top_k: 0,
        top_p: 1.0,
        repeat_penalty: 1.0,
    };
}

/// How many of the latest tokens (prompt and generated) the repetition penalty looks at
/// (llama.cpp's `repeat_last_n` default).
pub const PENALTY_WINDOW: usize = 64;

/// The distinct ids among the last [`PENALTY_WINDOW`] of `ids`, each once, in order of
/// first appearance: what [`penalize`] and the GPU sampler penalize.
pub fn penalty_window(ids: &[u32]) -> Vec<u32> {
    let tail = &ids[ids.len().saturating_sub(PENALTY_WINDOW)..];
    let mut out: Vec<u32> = Vec::with_capacity(tail.len());
    for &id in tail {
        if !out.contains(&id) {
            out.push(id);
        }
    }
    out
}

/// The repetition penalty of CTRL (Keskar et al., 2019), as Hugging Face and llama.cpp
/// apply it: each distinct id of `window` has its logit divided by `penalty` when positive
/// and multiplied by it when not, once however often it appeared.
pub fn penalize(logits: &mut [f32], window: &[u32], penalty: f32) {
    if penalty == 1.0 {
        return;
    }
    for &id in window {
        if let Some(l) = logits.get_mut(id as usize) {
            *l = if *l > 0.0 { *l / penalty } else { *l * penalty };
        }
    }
}

/// The sampled token id; `u` is a uniform random number in [0, 1).
pub fn sample(logits: &[f32], p: SampleParams, u: f32) -> u32 {
    let argmax = || {
        let mut best = 0;
        for (i, &l) in logits.iter().enumerate() {
            if l > logits[best] {
                best = i;
            }
        }
        best as u32
    };
    if p.temperature <= 0.0 {
        return argmax();
    }
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    let max = logits[order[0]] as f64;
    let weight = |i: usize| ((logits[i] as f64 - max) / p.temperature as f64).exp();

    // 2. top-k: a threshold on the logit, ties kept.
    let mut threshold = f32::NEG_INFINITY;
    if p.top_k > 0 && (p.top_k as usize) < logits.len() {
        threshold = logits[order[p.top_k as usize - 1]];
    }
    // 3. top-p: raise the threshold to the logit at which the mass first reaches top_p.
    if p.top_p < 1.0 {
        let total: f64 = order
            .iter()
            .filter(|&&i| logits[i] >= threshold)
            .map(|&i| weight(i))
            .sum();
        let mut mass = 0.0;
        for &i in order.iter().take_while(|&&i| logits[i] >= threshold) {
            mass += weight(i);
            if mass >= p.top_p as f64 * total {
                threshold = logits[i];
                break;
            }
        }
    }
    // 4. inverse CDF over the kept tokens, in id order.
    let kept = |i: &usize| logits[*i] >= threshold;
    let total: f64 = (0..logits.len()).filter(kept).map(weight).sum();
    let target = u as f64 * total;
    let mut running = 0.0;
    for i in (0..logits.len()).filter(kept) {
        running += weight(i);
        if running > target {
            return i as u32;
        }
    }
    argmax() // rounding can leave no winner when u is within an ulp of 1
}

/// The `k` most likely ids of `logits` (logit descending, lowest id first on a tie) with their
/// softmax probabilities at temperature 1, and the probability of `chosen`: what the
/// prediction view and the logit lens show (`shaders/top_k.wgsl` computes the same on the GPU).
pub fn top_k(logits: &[f32], k: usize, chosen: Option<u32>) -> (Vec<u32>, Vec<f32>, Option<f32>) {
    let max = logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max) as f64;
    let z: f64 = logits.iter().map(|&l| (l as f64 - max).exp()).sum();
    let prob = |i: u32| ((logits[i as usize] as f64 - max).exp() / z) as f32;
    let mut ids: Vec<u32> = (0..logits.len() as u32).collect();
    ids.sort_by(|&a, &b| {
        logits[b as usize]
            .total_cmp(&logits[a as usize])
            .then(a.cmp(&b))
    });
    ids.truncate(k);
    let probs = ids.iter().map(|&i| prob(i)).collect();
    (ids, probs, chosen.map(prob))
}
