//! One function per op, the same ops the WGSL kernels implement.

/// out[t, c] = wte[tokens[t], c] + wpe[pos0 + t, c]
pub fn embedding_forward(
    out: &mut [f32], // [T, C]
    tokens: &[u32],  // [T]
    wte: &[f32],     // [V, C]
    wpe: &[f32],     // [P, C]
    pos0: usize,
    c: usize,
) {
    for (t, &tok) in tokens.iter().enumerate() {
        let row = &mut out[t * c..(t + 1) * c];
        let te = &wte[tok as usize * c..(tok as usize + 1) * c];
        let pe = &wpe[(pos0 + t) * c..(pos0 + t + 1) * c];
        for i in 0..c {
            row[i] = te[i] + pe[i];
        }
    }
}

/// Normalizes each row to zero mean and unit variance, then scales and shifts.
pub fn layernorm_forward(
    out: &mut [f32], // [T, C]
    inp: &[f32],     // [T, C]
    weight: &[f32],  // [C]
    bias: &[f32],    // [C]
    eps: f32,
    c: usize,
) {
    for (o, x) in out.chunks_exact_mut(c).zip(inp.chunks_exact(c)) {
        let mean = x.iter().map(|&v| v as f64).sum::<f64>() / c as f64;
        let var = x.iter().map(|&v| (v as f64 - mean).powi(2)).sum::<f64>() / c as f64;
        let rstd = 1.0 / (var + eps as f64).sqrt();
        for i in 0..c {
            o[i] = (((x[i] as f64 - mean) * rstd) as f32) * weight[i] + bias[i];
        }
    }
}

/// out[t, o] = Σ_i inp[t, i] · weight[o, i] + bias[o]
pub fn matmul_forward(
    out: &mut [f32],      // [T, OC]
    inp: &[f32],          // [T, C]
    weight: &[f32],       // [OC, C]
    bias: Option<&[f32]>, // [OC]
    c: usize,
    oc: usize,
) {
    for (o_row, x) in out.chunks_exact_mut(oc).zip(inp.chunks_exact(c)) {
        for (o, w) in weight.chunks_exact(c).enumerate() {
            let dot: f64 = x.iter().zip(w).map(|(&a, &b)| a as f64 * b as f64).sum();
            o_row[o] = dot as f32 + bias.map_or(0.0, |b| b[o]);
        }
    }
}

/// The heads of an attention layer and how they look at the keys.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Heads {
    pub n_head: usize,
    pub n_kv_head: usize,
    pub head_size: usize,
    /// q · k is multiplied by this (usually 1/√head_size).
    pub scale: f32,
    /// Keys a query sees, itself included (a sliding window); 0: all before it.
    pub window: usize,
}

impl Heads {
    /// Full causal attention scaled by 1/√head_size.
    pub fn new(n_head: usize, n_kv_head: usize, head_size: usize) -> Self {
        Self {
            n_head,
            n_kv_head,
            head_size,
            scale: 1.0 / (head_size as f32).sqrt(),
            window: 0,
        }
    }
}

/// Causal self-attention of T new queries over a cache of `pos0 + T` keys and values.
/// Query t sits at position pos0 + t and sees keys 0..=pos0 + t (with a window w, only the
/// last w of them). With grouped-query attention, query head h reads key/value head
/// h / (n_head / n_kv_head).
pub fn attention_forward(
    out: &mut [f32],           // [T, NH * HS]
    probs: Option<&mut [f32]>, // [NH, T, pos0 + T], zero where masked
    q: &[f32],                 // [T, NH * HS]
    k: &[f32],                 // [pos0 + T, NKV * HS]
    v: &[f32],                 // [pos0 + T, NKV * HS]
    pos0: usize,
    heads: Heads,
) {
    let Heads {
        n_head,
        n_kv_head,
        head_size,
        ..
    } = heads;
    let (c, ckv) = (n_head * head_size, n_kv_head * head_size);
    let t_new = q.len() / c;
    let n_kv = pos0 + t_new;
    let scale = heads.scale as f64;
    let mut all_probs = vec![0.0f32; n_head * t_new * n_kv];
    for h in 0..n_head {
        let kv_off = (h / (n_head / n_kv_head)) * head_size;
        for t in 0..t_new {
            let qv = &q[t * c + h * head_size..][..head_size];
            let seen = pos0 + t + 1;
            // Keys first..seen: a sliding window sees the last `window` of them.
            let first = match heads.window {
                0 => 0,
                w => seen.saturating_sub(w),
            };
            // pass 1: scores and their max
            let scores: Vec<f64> = (first..seen)
                .map(|j| {
                    let kv = &k[j * ckv + kv_off..][..head_size];
                    qv.iter()
                        .zip(kv)
                        .map(|(&a, &b)| a as f64 * b as f64)
                        .sum::<f64>()
                        * scale
                })
                .collect();
            let max = scores.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
            // pass 2: exp (after subtracting the max) and the sum
            let exps: Vec<f64> = scores.iter().map(|s| (s - max).exp()).collect();
            let sum: f64 = exps.iter().sum();
            // pass 3: normalize
            let row = &mut all_probs[(h * t_new + t) * n_kv..][..n_kv];
            for (j, e) in (first..seen).zip(&exps) {
                row[j] = (e / sum) as f32;
            }
            // pass 4: weighted sum of the values
            let o = &mut out[t * c + h * head_size..][..head_size];
            for (d, od) in o.iter_mut().enumerate() {
                let acc: f64 = (first..seen)
                    .zip(&exps)
                    .map(|(j, e)| e / sum * v[j * ckv + kv_off + d] as f64)
                    .sum();
                *od = acc as f32;
            }
        }
    }
    if let Some(p) = probs {
        p.copy_from_slice(&all_probs);
    }
}

/// RMS norm: out = x / sqrt(mean(x²) + eps) · weight, per row.
pub fn rmsnorm_forward(
    out: &mut [f32], // [T, C]
    inp: &[f32],     // [T, C]
    weight: &[f32],  // [C]
    eps: f32,
    c: usize,
) {
    for (o, x) in out.chunks_exact_mut(c).zip(inp.chunks_exact(c)) {
        let ms = x.iter().map(|&v| v as f64 * v as f64).sum::<f64>() / c as f64;
        let rstd = 1.0 / (ms + eps as f64).sqrt();
        for i in 0..c {
            o[i] = ((x[i] as f64 * rstd) as f32) * weight[i];
        }
    }
}

/// The angle table of rotary position embeddings: (cos, sin) of pos · θ^(−2i/head_size) for
/// each position and pair i, computed in f64. The GPU reads the same table.
pub fn rope_table(n_pos: usize, head_size: usize, theta: f32, factors: &[f32]) -> Vec<[f32; 2]> {
    let half = head_size / 2;
    let mut table = Vec::with_capacity(n_pos * half);
    for pos in 0..n_pos {
        for i in 0..half {
            let factor = factors.get(i).map_or(1.0, |&f| f as f64);
            let freq = (theta as f64).powf(-2.0 * i as f64 / head_size as f64) / factor;
            let angle = pos as f64 * freq;
            table.push([angle.cos() as f32, angle.sin() as f32]);
        }
    }
    table
}

/// Rotates each head of each row by its position's angles, in place. Pairs are (2i, 2i + 1)
/// when `adjacent` (GGUF's layout), else (i, i + head_size / 2) (Hugging Face's).
pub fn rope_forward(
    x: &mut [f32],      // [T, n_heads * HS], rows at positions pos0..pos0 + T
    table: &[[f32; 2]], // [>= pos0 + T, HS / 2] (cos, sin): rope_table
    pos0: usize,
    n_heads: usize,
    head_size: usize,
    adjacent: bool,
) {
    let half = head_size / 2;
    let t_len = x.len() / (n_heads * head_size);
    for t in 0..t_len {
        for h in 0..n_heads {
            let head = &mut x[(t * n_heads + h) * head_size..][..head_size];
            for i in 0..half {
                let [cos, sin] = table[(pos0 + t) * half + i];
                let (a, b) = if adjacent {
                    (2 * i, 2 * i + 1)
                } else {
                    (i, i + half)
                };
                let (x0, x1) = (head[a] as f64, head[b] as f64);
                head[a] = (x0 * cos as f64 - x1 * sin as f64) as f32;
                head[b] = (x0 * sin as f64 + x1 * cos as f64) as f32;
            }
        }
    }
}

/// SwiGLU: out = silu(gate) · up, with silu(x) = x / (1 + e^−x).
pub fn swiglu_forward(out: &mut [f32], gate: &[f32], up: &[f32]) {
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        let g = g as f64;
        *o = (g / (1.0 + (-g).exp()) * u as f64) as f32;
    }
}

/// GeGLU (Gemma): out = gelu(gate) · up, GELU in its tanh form.
pub fn geglu_forward(out: &mut [f32], gate: &[f32], up: &[f32]) {
    let s = (2.0 / std::f64::consts::PI).sqrt();
    for ((o, &g), &u) in out.iter_mut().zip(gate).zip(up) {
        let g = g as f64;
        *o = (0.5 * g * (1.0 + (s * (g + 0.044715 * g * g * g)).tanh()) * u as f64) as f32;
    }
}

/// GELU, tanh form (GPT-2's "gelu_new").
pub fn gelu_forward(out: &mut [f32], inp: &[f32]) {
    let s = (2.0 / std::f64::consts::PI).sqrt();
    for (o, &x) in out.iter_mut().zip(inp) {
        let x = x as f64;
        *o = (0.5 * x * (1.0 + (s * (x + 0.044715 * x * x * x)).tanh())) as f32;
    }
}

/// out += inp
pub fn residual_forward(out: &mut [f32], inp: &[f32]) {
    for (o, &x) in out.iter_mut().zip(inp) {
        *o += x;
    }
}
