// Picks the next token from the logits, on the GPU, so that only its id is read back.
// The rule (the CPU reference in src/cpu/sample.rs states it too):
//   first the repetition penalty: the logits of the recent distinct ids (host-chosen, at most
//   WINDOW) divided by it where positive, multiplied where not — in place for this pick,
//   then restored, so the top-k that the page shows after still sees the model's own logits;
//   temperature 0 → arg max (lowest id on a tie);
//   else keep logits >= the k-th largest (top_k, 0 = all), then of those the most likely
//   whose mass first reaches top_p, and draw with p ∝ exp(logit / temperature) using u.
// Instead of sorting, thresholds are found on an order-preserving u32 key of the logits: the
// largest key θ such that "count (or mass) of keys >= θ" still meets the goal. top-k's θ is
// the k-th largest key, found a byte at a time from 256-bin histograms (4 passes over the
// vocabulary); the tokens it keeps (at most CAP) are then copied, in id order, into
// workgroup memory, where top-p's θ is found bit by bit and the draw walks them. Without a
// top-k that small, top-p and the draw pass over the whole vocabulary instead.
// One workgroup of WG invocations.

struct Params {
    vocab: u32,        // V
    top_k: u32,        // 0 = off
    temperature: f32,  // 0 = greedy
    top_p: f32,        // 1 = off
    penalty: f32,      // repetition penalty, 1 = off
    _pad0: u32,
    _pad1: u32,
    _pad2: u32,
}

struct Step {
    n_tokens: u32,
    pos0: u32,
    u: f32,  // uniform random number in [0, 1) for this draw
    _pad: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<uniform> step: Step;
@group(0) @binding(2) var<storage, read_write> logits: array<f32>;  // [V]
@group(0) @binding(3) var<storage, read_write> out: array<u32>;     // [0]: the token id
// [0]: how many ids follow (at most WINDOW), then the distinct ids to penalize.
@group(0) @binding(4) var<storage, read> recent: array<u32>;

const WINDOW: u32 = 64u;  // cpu::PENALTY_WINDOW; WINDOW <= WG
var<workgroup> unpenalized: array<f32, WINDOW>;

// What out[0] holds when a logit is NaN or infinite (the host reports it; no draw over
// such logits means anything, and an arg max over NaNs finds no id at all).
const NON_FINITE: u32 = 0xffffffffu;
var<workgroup> n_non_finite: u32;

// WG (reduce.wgsl): a power of two; red_f and red_u (reduce.wgsl) are scratch here too.
var<workgroup> total_mass: f32;
var<workgroup> chosen: u32;
const CAP: u32 = 1024u;
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> digit: vec2u;              // (byte of θ found, count still needed below it)
var<workgroup> n_kept: u32;
var<workgroup> cand_l: array<f32, CAP>;   // the kept logits, in id order
var<workgroup> cand_i: array<u32, CAP>;   // and their ids

// Orders like the floats: a < b ⇔ key(a) < key(b).
fn key(x: f32) -> u32 {
    let b = bitcast<u32>(x);
    if ((b >> 31u) == 1u) {
        return ~b;
    }
    return b | 0x80000000u;
}

fn weight(l: f32, max_logit: f32) -> f32 {
    return exp((l - max_logit) / p.temperature);
}

// Mass (unnormalized) of the logits whose key is >= theta, this invocation's share.
fn mass_above(tid: u32, theta: u32, max_logit: f32) -> f32 {
    var s = 0.0;
    for (var i = tid; i < p.vocab; i += WG) {
        let l = logits[i];
        if (key(l) >= theta) {
            s += weight(l, max_logit);
        }
    }
    return s;
}

// The key of the k-th largest logit: its bytes from the top, each from a histogram of the
// keys that share the bytes found so far.
fn top_k_key(tid: u32) -> u32 {
    var found = 0u;
    var mask = 0u;
    var need = p.top_k;
    for (var byte = 3i; byte >= 0i; byte--) {
        let shift = u32(byte) * 8u;
        for (var b = tid; b < 256u; b += WG) {
            atomicStore(&hist[b], 0u);
        }
        workgroupBarrier();
        for (var i = tid; i < p.vocab; i += WG) {
            let k = key(logits[i]);
            if ((k & mask) == found) {
                atomicAdd(&hist[(k >> shift) & 0xffu], 1u);
            }
        }
        workgroupBarrier();
        if (tid == 0u) {
            // The largest byte d with count(byte >= d) >= need.
            var above = 0u;
            var d = 255u;
            loop {
                let c = atomicLoad(&hist[d]);
                if (above + c >= need || d == 0u) {
                    break;
                }
                above += c;
                d -= 1u;
            }
            digit = vec2u(d, need - above);
        }
        let got = workgroupUniformLoad(&digit);
        found |= got.x << shift;
        mask |= 0xffu << shift;
        need = got.y;
    }
    return found;
}

// Copies the logits with key >= theta (n of them, n <= CAP) into cand_l / cand_i in id
// order: each invocation a contiguous range of ids, placed after the ranges before it.
fn compact(tid: u32, theta: u32) {
    let chunk = (p.vocab + WG - 1u) / WG;
    let lo = min(tid * chunk, p.vocab);
    let hi = min(lo + chunk, p.vocab);
    var n = 0u;
    for (var i = lo; i < hi; i++) {
        n += select(0u, 1u, key(logits[i]) >= theta);
    }
    red_u[tid] = n;
    workgroupBarrier();
    if (tid == 0u) {
        var running = 0u;
        for (var i = 0u; i < WG; i++) {
            let v = red_u[i];
            red_u[i] = running;
            running += v;
        }
    }
    workgroupBarrier();
    var at = red_u[tid];
    for (var i = lo; i < hi; i++) {
        let l = logits[i];
        if (key(l) >= theta) {
            cand_l[at] = l;
            cand_i[at] = i;
            at++;
        }
    }
    workgroupBarrier();
}

// This invocation's share of the mass of the candidates with key >= theta.
fn cand_mass(tid: u32, n: u32, theta: u32, max_logit: f32) -> f32 {
    var s = 0.0;
    for (var i = tid; i < n; i += WG) {
        if (key(cand_l[i]) >= theta) {
            s += weight(cand_l[i], max_logit);
        }
    }
    return s;
}

// top-p and the draw over the n candidates of top-k (cand_l, cand_i, in id order).
fn draw_candidates(tid: u32, n: u32, theta_k: u32, max_logit: f32, arg_max: u32) {
    var theta = theta_k;
    if (p.top_p < 1.0) {
        let goal = p.top_p * reduce_sum(tid, cand_mass(tid, n, theta, max_logit));
        var theta_p = 0u;
        for (var bit = 31i; bit >= 0i; bit--) {
            let cand = theta_p | (1u << u32(bit));
            if (reduce_sum(tid, cand_mass(tid, n, max(cand, theta), max_logit)) >= goal) {
                theta_p = cand;
            }
        }
        theta = max(theta, theta_p);
    }
    let total = reduce_sum(tid, cand_mass(tid, n, theta, max_logit));
    if (tid == 0u) {
        let goal = step.u * total;
        var running = 0.0;
        var pick = arg_max;  // rounding can leave no winner when u is within an ulp of 1
        for (var i = 0u; i < n; i++) {
            let l = cand_l[i];
            if (key(l) >= theta) {
                running += weight(l, max_logit);
                if (running > goal) {
                    pick = cand_i[i];
                    break;
                }
            }
        }
        out[0] = pick;
    }
}

// The number of ids to penalize (0 when the penalty is off).
fn n_penalized() -> u32 {
    if (p.penalty == 1.0) {
        return 0u;
    }
    return min(recent[0], min(WINDOW, arrayLength(&recent) - 1u));
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) tid: u32) {
    let n = n_penalized();
    var id = 0u;
    if (tid < n) {
        id = min(recent[1u + tid], p.vocab - 1u);
        let l = logits[id];
        unpenalized[tid] = l;
        logits[id] = select(l * p.penalty, l / p.penalty, l > 0.0);
    }
    storageBarrier();
    workgroupBarrier();
    pick(tid);
    // Every invocation is done reading before the model's own logits come back.
    storageBarrier();
    workgroupBarrier();
    if (tid < n) {
        logits[id] = unpenalized[tid];
    }
}

fn pick(tid: u32) {
    // Arg max: the greedy answer, the max for a stable exp, and the fallback of a draw.
    var best = -3.4e38;
    var best_i = 0xffffffffu;
    var bad = 0u;
    for (var i = tid; i < p.vocab; i += WG) {
        let l = logits[i];
        // All exponent bits set: infinity or NaN (a test compilers cannot fold away).
        bad += select(0u, 1u, (bitcast<u32>(l) & 0x7f800000u) == 0x7f800000u);
        if (l > best) {
            best = l;
            best_i = i;
        }
    }
    let n_bad = reduce_sum_u(tid, bad);
    if (tid == 0u) {
        n_non_finite = n_bad;
    }
    if (workgroupUniformLoad(&n_non_finite) > 0u) {
        if (tid == 0u) {
            out[0] = NON_FINITE;
        }
        return;
    }
    let best_of_all = reduce_arg_max(tid, best, best_i);
    let max_logit = bitcast<f32>(best_of_all.x);
    let arg_max = best_of_all.y;
    if (p.temperature <= 0.0) {
        if (tid == 0u) {
            out[0] = arg_max;
        }
        return;
    }

    // top-k: θ = the key of the k-th largest logit.
    var theta = 0u;
    if (p.top_k > 0u && p.top_k < p.vocab) {
        theta = top_k_key(tid);
        // The tokens kept: k, and more on a tie at θ.
        var n = 0u;
        for (var i = tid; i < p.vocab; i += WG) {
            n += select(0u, 1u, key(logits[i]) >= theta);
        }
        let total_kept = reduce_sum_u(tid, n);
        if (tid == 0u) {
            n_kept = total_kept;
        }
        // Read uniformly: the branch below holds barriers.
        let kept = workgroupUniformLoad(&n_kept);
        if (kept <= CAP) {
            compact(tid, theta);
            draw_candidates(tid, kept, theta, max_logit, arg_max);
            return;
        }
    }
    // top-p: raise θ to the largest key whose mass above still reaches top_p of the kept mass.
    if (p.top_p < 1.0) {
        let goal = p.top_p * reduce_sum(tid, mass_above(tid, theta, max_logit));
        var theta_p = 0u;
        for (var bit = 31i; bit >= 0i; bit--) {
            let cand = theta_p | (1u << u32(bit));
            if (reduce_sum(tid, mass_above(tid, max(cand, theta), max_logit)) >= goal) {
                theta_p = cand;
            }
        }
        theta = max(theta, theta_p);
    }

    // The draw: each invocation sums the kept mass of a contiguous range of ids, a prefix sum
    // over invocations orders the ranges by id, and the one whose range holds u × total walks it.
    let chunk = (p.vocab + WG - 1u) / WG;
    let lo = min(tid * chunk, p.vocab);
    let hi = min(lo + chunk, p.vocab);
    var local = 0.0;
    for (var i = lo; i < hi; i++) {
        let l = logits[i];
        if (key(l) >= theta) {
            local += weight(l, max_logit);
        }
    }
    red_f[tid] = local;
    workgroupBarrier();
    if (tid == 0u) {
        var running = 0.0;
        for (var i = 0u; i < WG; i++) {
            let v = red_f[i];
            red_f[i] = running;
            running += v;
        }
        total_mass = running;
        chosen = 0xffffffffu;
    }
    workgroupBarrier();
    let start = red_f[tid];
    let goal = step.u * total_mass;
    if (local > 0.0 && goal >= start && goal < start + local) {
        var running = start;
        for (var i = lo; i < hi; i++) {
            let l = logits[i];
            if (key(l) >= theta) {
                running += weight(l, max_logit);
                if (running > goal) {
                    chosen = i;
                    break;
                }
            }
        }
    }
    workgroupBarrier();
    if (tid == 0u) {
        // Rounding can leave no winner when u is within an ulp of 1: take the arg max then.
        out[0] = select(chosen, arg_max, chosen == 0xffffffffu);
    }
}
