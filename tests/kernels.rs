//! Each WGSL kernel against the CPU reference, on odd shapes with planted outliers.
//! Runs on whatever adapter wgpu finds (Mesa's lavapipe in CI).

mod common;
use common::*;
use lantern::cpu;
use lantern::gpu::attention::KvCache;
use lantern::gpu::matmul::{Epilogue, Input, Linear, LinearIo, NONE, Params};
use lantern::gpu::{self, Gpu, Step, weights};
use lantern::model::llama::QTensor;
use lantern::model::quant::{self, Format, dequantize};

fn step(gpu: &Gpu, n_tokens: u32, pos0: u32, u: f32) -> wgpu::Buffer {
    gpu.uniform(
        "step",
        &Step {
            n_tokens,
            pos0,
            u,
            capture: 1,
            splits: 1,
            _pad: [0; 3],
        },
    )
}

fn buf(gpu: &Gpu, data: &[f32]) -> wgpu::Buffer {
    gpu.storage_init("test", data).unwrap()
}

/// Records one compute pass with `f`, submits it and waits.
fn run(gpu: &Gpu, f: impl FnOnce(&mut wgpu::ComputePass)) {
    let mut enc = gpu.encoder();
    {
        let mut pass = enc.begin_compute_pass(&Default::default());
        f(&mut pass);
    }
    gpu.submit(enc);
}

fn read(gpu: &Gpu, b: &wgpu::Buffer, n: usize) -> Vec<f32> {
    pollster::block_on(gpu.read_f32(b, n)).unwrap()
}

#[test]
fn embedding_matches_cpu() {
    let Some(gpu) = gpu() else { return };
    let k = pollster::block_on(gpu::embedding::kernel(gpu, Format::F32)).unwrap();
    let mut rng = Rng(1);
    let (v, p, c, t, pos0) = (37usize, 29usize, 45usize, 7usize, 11usize);
    let wte = rng.data(v * c, 1.0);
    let wpe = rng.data(p * c, 0.5);
    let tokens: Vec<u32> = (0..t).map(|_| (rng.next_u64() % v as u64) as u32).collect();
    let mut want = vec![0.0; t * c];
    cpu::embedding_forward(&mut want, &tokens, &wte, &wpe, pos0, c);

    let params = gpu.uniform("p", &gpu::embedding::Params::new(c, v, true));
    let st = step(gpu, t as u32, pos0 as u32, 0.0);
    let (tb, wteb, wpeb) = (
        gpu.storage_init("t", &tokens).unwrap(),
        buf(gpu, &wte),
        buf(gpu, &wpe),
    );
    let out = gpu.storage("out", (t * c * 4) as u64).unwrap();
    let bg = k.bind(gpu, &[&params, &st, &tb, &wteb, &wpeb, &out]);
    run(gpu, |pass| {
        gpu::embedding::dispatch(gpu, &k, pass, &bg, t as u32, c as u32)
    });
    assert_close("embedding", &read(gpu, &out, t * c), &want, 0.0, 0.0);
}

/// Values rounded to f16, as the KV cache holds them.
fn f16_round(v: &[f32]) -> Vec<f32> {
    v.iter().map(|&x| half::f16::from_f32(x).to_f32()).collect()
}

/// Values as f16 pairs packed in u32, the KV cache's layout.
fn f16_pairs(v: &[f32]) -> Vec<u32> {
    v.chunks(2)
        .map(|p| {
            let h = |x: f32| half::f16::from_f32(x).to_bits() as u32;
            h(p[0]) | h(p[1]) << 16
        })
        .collect()
}

/// Values as the KV cache holds them: rounded to f16, or f32 as they are.
fn as_cached(v: &[f32], f16: bool) -> Vec<f32> {
    if f16 { f16_round(v) } else { v.to_vec() }
}

/// Values in the KV cache's words: f16 pairs, or f32 bits.
fn cache_words(v: &[f32], f16: bool) -> Vec<u32> {
    if f16 {
        f16_pairs(v)
    } else {
        bytemuck::cast_slice(v).to_vec()
    }
}

/// Rows [n, nkv · hs] of shared key/value heads expanded to one per query head
/// [n, nh · hs], so that the CPU reference checks grouped-query attention against its
/// definition.
fn expand_heads(src: &[f32], nh: usize, nkv: usize, hs: usize) -> Vec<f32> {
    let group = nh / nkv;
    src.chunks(nkv * hs)
        .flat_map(|row| (0..nh).flat_map(move |h| row[(h / group) * hs..][..hs].to_vec()))
        .collect()
}

/// `n` values of a KV cache (f16 pairs or f32).
fn read_cache(gpu: &Gpu, b: &wgpu::Buffer, n: usize, f16: bool) -> Vec<f32> {
    if !f16 {
        return read(gpu, b, n);
    }
    let pairs = pollster::block_on(gpu.read_u32(b, n / 2)).unwrap();
    pairs
        .iter()
        .flat_map(|&w| [w as u16, (w >> 16) as u16])
        .map(|h| half::f16::from_bits(h).to_f32())
        .collect()
}

/// The attention output [T, n_head · hs] from the kernel's partials [T, n_head, S, 2 + hs]:
/// the combine linear.wgsl does, written out.
fn combine(partials: &[f32], t: usize, nh: usize, hs: usize, splits: usize) -> Vec<f32> {
    let mut out = Vec::with_capacity(t * nh * hs);
    for row in partials.chunks(splits * (hs + 2)).take(t * nh) {
        let parts: Vec<&[f32]> = row.chunks(hs + 2).collect();
        let m = parts.iter().map(|p| p[0]).fold(f32::MIN, f32::max);
        let l: f32 = parts.iter().map(|p| (p[0] - m).exp() * p[1]).sum();
        for d in 0..hs {
            let o: f32 = parts.iter().map(|p| (p[0] - m).exp() * p[2 + d]).sum();
            out.push(o / l);
        }
    }
    out
}

#[test]
fn attention_matches_cpu_with_probabilities() {
    for gpu in gpus() {
        eprintln!("reductions: {}", gpu.describe());
        let mut rng = Rng(4);
        // (heads, kv heads, head size, new tokens, cached positions before them, key splits,
        // f16 cache, sliding window)
        for (nh, nkv, hs, t, pos0, splits, f16, window) in [
            (
                3usize, 3usize, 16usize, 5usize, 0usize, 1usize, true, 0usize,
            ),
            (4, 4, 64, 1, 70, 1, true, 0),
            (4, 4, 64, 1, 70, 3, true, 0),
            (2, 2, 24, 9, 3, 1, false, 0),
            (6, 2, 32, 3, 130, 1, true, 0),
            (6, 2, 32, 1, 130, 7, true, 0),
            (6, 2, 32, 1, 130, 7, false, 0),
            (1, 1, 100, 2, 0, 1, false, 0),
            (9, 3, 64, 1, 4, 16, true, 0),
            // Gemma's shapes: one key head of 256, a window shorter and longer than the keys.
            (4, 1, 256, 5, 40, 1, false, 17),
            (4, 1, 256, 1, 90, 3, true, 33),
            (4, 1, 256, 3, 2, 1, true, 512),
            (2, 2, 16, 7, 0, 1, false, 1),
            // Splits of more keys than the kernel keeps scores for (1,024 for one or two
            // heads per workgroup, 512 for 3 or 4 here, 128 for 4 heads of 256): the rest are
            // recomputed; with capture, in a window, and in two splits.
            (2, 1, 16, 2, 1100, 1, true, 0),
            (2, 1, 16, 1, 1500, 1, false, 1200),
            (2, 2, 16, 1, 2500, 2, true, 0),
            (6, 2, 32, 1, 600, 1, true, 0),
            (4, 1, 256, 2, 200, 1, true, 0),
            // Groups of 6 and 8 query heads: two workgroups of 3 or 4 heads per key head.
            (12, 2, 32, 2, 40, 1, true, 0),
            (8, 1, 64, 1, 300, 2, false, 0),
        ] {
            let kv = if f16 { KvCache::F16 } else { KvCache::F32 };
            let group = (nh / nkv) as u32;
            let k = pollster::block_on(gpu::attention::kernel(gpu, hs as u32, group, kv, false))
                .unwrap();
            let cached = |v: &[f32]| as_cached(v, f16);
            let packed = |v: &[f32]| cache_words(v, f16);
            let (c, ckv, n_kv) = (nh * hs, nkv * hs, pos0 + t);
            let q = rng.data(t * c, 1.0);
            let kc = rng.data(n_kv * ckv, 1.0);
            let vc = rng.data(n_kv * ckv, 1.0);
            // The reference gets the shared key/value heads expanded (expand_heads), over the
            // values the cache holds (f16 or f32).
            let expand = |src: &[f32]| expand_heads(src, nh, nkv, hs);
            let mut want = vec![0.0; t * c];
            let mut want_p = vec![0.0; nh * t * n_kv];
            // A scale other than 1/√hs where a window is tried (Gemma's is set by the file).
            let scale = if window > 0 {
                0.3
            } else {
                1.0 / (hs as f32).sqrt()
            };
            let heads = cpu::Heads {
                scale,
                window,
                ..cpu::Heads::new(nh, nh, hs)
            };
            cpu::attention_forward(
                &mut want,
                Some(&mut want_p),
                &q,
                &expand(&cached(&kc)),
                &expand(&cached(&vc)),
                pos0,
                heads,
            );

            let params = gpu.uniform(
                "p",
                &gpu::attention::Params {
                    n_head: nh as u32,
                    n_kv_head: nkv as u32,
                    head_size: hs as u32,
                    q_stride: c as u32,
                    kv_stride: ckv as u32,
                    probs_stride: n_kv as u32,
                    probs_rows: n_kv as u32,
                    scale,
                    window: window as u32,
                    eps: 0.0,
                    _pad: [0; 2],
                },
            );
            let capture = splits == 1;
            let st = gpu.uniform(
                "step",
                &Step {
                    n_tokens: t as u32,
                    pos0: pos0 as u32,
                    capture: capture as u32,
                    splits: splits as u32,
                    ..Step::default()
                },
            );
            let qb = buf(gpu, &q);
            let kb = gpu.storage_init("k", &packed(&kc)).unwrap();
            let vb = gpu.storage_init("v", &packed(&vc)).unwrap();
            let n_partials = gpu::attention::partial_floats(t * nh * splits, hs);
            let out = gpu.storage("out", (n_partials * 4) as u64).unwrap();
            // Filled with junk first: masked entries must be written as zeros. Row r of a head
            // is position r: this pass writes rows pos0.., and leaves earlier ones alone.
            let probs = buf(gpu, &vec![7.0; nh * n_kv * n_kv]);
            let none = buf(gpu, &[0.0; 4]); // no q/k norms: the table and norm unread
            let bg = k.kernel.bind(
                gpu,
                &[&params, &st, &qb, &kb, &vb, &out, &probs, &none, &none],
            );
            run(gpu, |pass| {
                k.dispatch(gpu, pass, &bg, nh as u32, t as u32, splits as u32)
            });
            let what = format!(
                "attention nh={nh} nkv={nkv} hs={hs} t={t} pos0={pos0} splits={splits} window={window} \
                 ({} heads a workgroup, {} scores kept)",
                k.heads, k.scores
            );
            let got = combine(&read(gpu, &out, n_partials), t, nh, hs, splits);
            assert_close(&what, &got, &want, 1e-5, 1e-4);
            let all_p = read(gpu, &probs, nh * n_kv * n_kv);
            if !capture {
                assert!(
                    all_p.iter().all(|&v| v == 7.0),
                    "{what}: wrote probabilities"
                );
                continue;
            }
            let (mut old, mut got_p) = (Vec::new(), Vec::new());
            for (r, row) in all_p.chunks(n_kv).enumerate() {
                let rows = if r % n_kv < pos0 {
                    &mut old
                } else {
                    &mut got_p
                };
                rows.extend_from_slice(row);
            }
            assert!(
                old.iter().all(|&v| v == 7.0),
                "{what}: rows before pos0 were written"
            );
            assert_close(&format!("{what} probs"), &got_p, &want_p, 1e-6, 1e-4);
            for (r, row) in got_p.chunks(n_kv).enumerate() {
                let s: f32 = row.iter().sum();
                assert!((s - 1.0).abs() < 1e-4, "{what}: row {r} sums to {s}");
            }
        }
    }
}

/// The ids a test penalizes: the arg max, a few negative logits, and a spread of others
/// (repeats included, as a real window has them); `penalty_window` makes them distinct.
fn test_window(logits: &[f32], rng: &mut Rng) -> Vec<u32> {
    let v = logits.len();
    let argmax = cpu::sample(logits, cpu::SampleParams::GREEDY, 0.0);
    let mut ids = vec![argmax, argmax];
    ids.extend(
        logits
            .iter()
            .enumerate()
            .filter(|(_, l)| **l < 0.0)
            .take(5)
            .map(|(i, _)| i as u32),
    );
    ids.extend((0..80).map(|_| (rng.next_u64() % v as u64) as u32));
    ids.push(argmax);
    cpu::penalty_window(&ids)
}

#[test]
fn sampling_matches_cpu_rule() {
    for gpu in gpus() {
        eprintln!("reductions: {}", gpu.describe());
        let k = pollster::block_on(gpu::sample::kernel(gpu)).unwrap();
        let mut rng = Rng(7);
        let settings = [
            (0.0, 0, 1.0, 1.0),
            (1.0, 0, 1.0, 1.0),
            (0.7, 40, 1.0, 1.0),
            (1.3, 0, 0.9, 1.0),
            (0.8, 50, 0.5, 1.0),
            (1.0, 1, 1.0, 1.0),
            (2.0, 3, 0.95, 1.0),
            // The repetition penalty: greedy and sampled, mild and strong.
            (0.0, 0, 1.0, 1.3),
            (0.8, 40, 0.95, 1.1),
            (1.0, 0, 0.9, 3.0),
        ];
        let mut draws = 0;
        for v in [1usize, 7, 1000, 50257] {
            let mut logits = rng.data(v, 4.0);
            if v > 7 {
                logits[v / 3] = logits.iter().cloned().fold(f32::MIN, f32::max); // a tie for the max
            }
            let window = test_window(&logits, &mut rng);
            assert!(window.len() <= cpu::PENALTY_WINDOW);
            let recent = gpu
                .storage_init("recent", &gpu::sample::recent_words(&window))
                .unwrap();
            let lb = buf(gpu, &logits);
            let out = gpu.storage("out", 16).unwrap();
            for &(temperature, top_k, top_p, repeat_penalty) in &settings {
                let sp = cpu::SampleParams {
                    temperature,
                    top_k,
                    top_p,
                    repeat_penalty,
                };
                let mut penalized = logits.clone();
                cpu::penalize(&mut penalized, &window, repeat_penalty);
                let params = gpu.uniform("p", &gpu::sample::Params::new(v as u32, sp));
                for _ in 0..6 {
                    let u = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
                    let st = step(gpu, 1, 0, u);
                    let bg = k.bind(gpu, &[&params, &st, &lb, &out, &recent]);
                    run(gpu, |pass| gpu::sample::dispatch(gpu, &k, pass, &bg));
                    let got = pollster::block_on(gpu.read_u32(&out, 1)).unwrap()[0];
                    let want = cpu::sample(&penalized, sp, u);
                    assert_eq!(
                        got, want,
                        "V={v} {sp:?} u={u}: GPU picked {got}, CPU {want}"
                    );
                    draws += 1;
                }
                // The penalty was for this pick only: the logits are the model's again.
                assert_eq!(
                    read(gpu, &lb, v),
                    logits,
                    "V={v} {sp:?}: logits not restored"
                );
            }
            if v > 7 {
                // A strong penalty on the arg max moves the greedy pick.
                let argmax = cpu::sample(&logits, cpu::SampleParams::GREEDY, 0.0);
                let mut p = logits.clone();
                cpu::penalize(&mut p, &window, 3.0);
                assert_ne!(cpu::sample(&p, cpu::SampleParams::GREEDY, 0.0), argmax);
            }
        }
        assert_eq!(draws, 4 * 10 * 6);
    }
}

/// A NaN or an infinity anywhere in the logits: the sampler writes u32::MAX (no id) for
/// every setting, which the host reports as non-finite logits.
#[test]
fn sampling_refuses_non_finite_logits() {
    for gpu in gpus() {
        let k = pollster::block_on(gpu::sample::kernel(gpu)).unwrap();
        let mut rng = Rng(9);
        for (v, at, bad) in [
            (1usize, 0, f32::NAN),
            (1000, 999, f32::INFINITY),
            (50257, 12345, f32::NEG_INFINITY),
            (50257, 0, f32::NAN),
        ] {
            let mut logits = rng.data(v, 4.0);
            logits[at] = bad;
            let lb = buf(gpu, &logits);
            let out = gpu.storage("out", 16).unwrap();
            let recent = gpu
                .storage_init("recent", &gpu::sample::recent_words(&[0, 1]))
                .unwrap();
            for (temperature, top_k, top_p, repeat_penalty) in
                [(0.0, 0, 1.0, 1.0), (0.8, 40, 0.95, 1.0), (1.0, 0, 0.9, 1.2)]
            {
                let sp = cpu::SampleParams {
                    temperature,
                    top_k,
                    top_p,
                    repeat_penalty,
                };
                let params = gpu.uniform("p", &gpu::sample::Params::new(v as u32, sp));
                let st = step(gpu, 1, 0, 0.5);
                let bg = k.bind(gpu, &[&params, &st, &lb, &out, &recent]);
                run(gpu, |pass| gpu::sample::dispatch(gpu, &k, pass, &bg));
                let got = pollster::block_on(gpu.read_u32(&out, 1)).unwrap()[0];
                assert_eq!(got, u32::MAX, "V={v}, {bad} at {at}, {sp:?}");
            }
        }
    }
}

/// Byte offsets of the f16 scales in a block of `format`: (the d of each, the dmin or m).
fn scale_offsets(format: Format) -> (usize, Option<usize>) {
    match format {
        Format::Q4_1 | Format::Q5_1 | Format::Q4_K | Format::Q5_K => (0, Some(2)),
        Format::Q2_K => (80, Some(82)),
        Format::Q3_K => (108, None),
        Format::Q6_K => (208, None),
        _ => (0, None),
    }
}

/// `values` stored in a float format (rounded to it).
fn float_bytes(format: Format, values: &[f32]) -> Vec<u8> {
    QTensor::encode(format, 1, values.len(), values).bytes
}

/// Every quantized format.
const QUANTIZED: [Format; 10] = [
    Format::Q8_0,
    Format::Q4_0,
    Format::Q4_1,
    Format::Q5_0,
    Format::Q5_1,
    Format::Q2_K,
    Format::Q3_K,
    Format::Q4_K,
    Format::Q5_K,
    Format::Q6_K,
];

/// Random blocks in `format` for a [rows, cols] matrix: random quants and sub-block scales
/// (any bytes are a valid block), f16 scales of varied size and sign, a few blocks with a
/// scale 30 times larger (outliers) and a few with subnormal scales, as in real files.
fn random_blocks(rng: &mut Rng, format: Format, rows: usize, cols: usize) -> Vec<u8> {
    let n_blocks = rows * cols / format.block_len();
    let (d_at, m_at) = scale_offsets(format);
    // The K-quants multiply d by 6- or 8-bit sub-block scales: smaller d keeps weights O(1).
    let unit = if format.block_len() == 256 {
        0.0005
    } else {
        0.01
    };
    let mut out = Vec::new();
    for b in 0..n_blocks {
        let big = if b % 37 == 5 { 30.0 } else { 1.0 };
        let tiny = if b % 23 == 4 { 0.004 } else { 1.0 };
        let sign = if b % 5 == 2 { -1.0 } else { 1.0 };
        let half = |v: f32| half::f16::from_f32(v).to_le_bytes();
        let mut block: Vec<u8> = (0..format.block_bytes())
            .map(|_| rng.next_u64() as u8)
            .collect();
        let d = sign * unit * big * tiny * (1.5 + rng.uniform());
        block[d_at..d_at + 2].copy_from_slice(&half(d));
        if let Some(m) = m_at {
            block[m..m + 2].copy_from_slice(&half(unit * 5.0 * rng.uniform()));
        }
        out.extend(block);
    }
    out
}

#[derive(serde::Deserialize)]
struct QuantCase {
    name: String,
    format: String,
    bytes: String,
    values: Vec<f32>,
}

#[test]
fn dequantization_matches_the_gguf_package() {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/quant_blocks.json");
    #[derive(serde::Deserialize)]
    struct File {
        cases: Vec<QuantCase>,
    }
    let file: File = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    // Every format, each in random, all-minimum and all-maximum blocks at least.
    for spec in &quant::FORMATS {
        let name = format!("{:?}", spec.format);
        let n = file.cases.iter().filter(|c| c.format == name).count();
        assert!(spec.format == Format::F32 || n >= 1, "no blocks of {name}");
    }
    for c in &file.cases {
        let format = quant::FORMATS
            .iter()
            .find(|s| format!("{:?}", s.format) == c.format)
            .unwrap_or_else(|| panic!("unexpected format {}", c.format))
            .format;
        let bytes: Vec<u8> = (0..c.bytes.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&c.bytes[i..i + 2], 16).unwrap())
            .collect();
        // Exactly: both compute one rounding of the same formula.
        assert_close(&c.name, &dequantize(format, &bytes), &c.values, 0.0, 0.0);
    }
}

#[test]
fn quantized_embedding_matches_cpu_rows() {
    let Some(gpu) = gpu() else { return };
    let mut rng = Rng(12);
    for format in QUANTIZED.into_iter().chain([Format::F16, Format::BF16]) {
        let k = pollster::block_on(gpu::embedding::kernel(gpu, format)).unwrap();
        let (v, c, t) = (41usize, 512usize, 5usize);
        let blocks = if format.block_len() == 1 {
            float_bytes(format, &rng.data(v * c, 1.0))
        } else {
            random_blocks(&mut rng, format, v, c)
        };
        let table = dequantize(format, &blocks);
        let tokens: Vec<u32> = (0..t).map(|_| (rng.next_u64() % v as u64) as u32).collect();
        let want: Vec<f32> = tokens
            .iter()
            .flat_map(|&tok| table[tok as usize * c..][..c].to_vec())
            .collect();
        let params = gpu.uniform("p", &gpu::embedding::Params::new(c, v, false));
        let st = step(gpu, t as u32, 3, 0.0);
        let (tb, wb, unused) = (
            gpu.storage_init("t", &tokens).unwrap(),
            gpu.storage_init("w", &weights::pack(format, v, c, &blocks))
                .unwrap(),
            gpu.storage("u", 4).unwrap(),
        );
        let out = gpu.storage("out", (t * c * 4) as u64).unwrap();
        let bg = k.bind(gpu, &[&params, &st, &tb, &wb, &unused, &out]);
        run(gpu, |pass| {
            gpu::embedding::dispatch(gpu, &k, pass, &bg, t as u32, c as u32)
        });
        assert_close(
            &format!("{format:?} embedding"),
            &read(gpu, &out, t * c),
            &want,
            0.0,
            1e-6,
        );
    }
}

#[test]
fn top_k_matches_cpu() {
    for gpu in gpus() {
        eprintln!("reductions: {}", gpu.describe());
        let kern = pollster::block_on(gpu::top_k::kernel(gpu)).unwrap();
        let mut rng = Rng(11);
        for (v, rows, k) in [
            (7usize, 1usize, 7usize),
            (1000, 3, 10),
            (50257, 2, 10),
            (49152, 1, 1),
        ] {
            let mut logits = rng.data(rows * v, 3.0);
            for r in 0..rows {
                let row = &mut logits[r * v..][..v];
                row[v / 2] = 25.0; // an outlier: most of the mass
                row[v - 1] = row[v / 5]; // ties in the order
                row[3.min(v - 1)] = row[v / 5];
            }
            let chosen = (v as u32 - 1).min(4);
            let params = gpu.uniform(
                "p",
                &gpu::top_k::Params {
                    vocab: v as u32,
                    k: k as u32,
                    _pad: [0; 2],
                },
            );
            let (lb, cb) = (buf(gpu, &logits), gpu.storage_init("c", &[chosen]).unwrap());
            let n = gpu::top_k::row_len(k);
            let out = gpu.storage("out", (rows * n * 4) as u64).unwrap();
            let bg = kern.bind(gpu, &[&params, &lb, &cb, &out]);
            run(gpu, |pass| {
                gpu::top_k::dispatch(gpu, &kern, pass, &bg, rows as u32)
            });
            let got = pollster::block_on(gpu.read_u32(&out, rows * n)).unwrap();
            for r in 0..rows {
                let g = gpu::top_k::TopK::from_row(&got[r * n..][..n], k);
                let (ids, probs, c) = cpu::top_k(&logits[r * v..][..v], k, Some(chosen));
                assert_eq!(g.ids, ids, "V={v} row {r}: ids");
                assert_close(
                    &format!("V={v} row {r} probs"),
                    &g.probs,
                    &probs,
                    1e-6,
                    1e-4,
                );
                assert_close(
                    &format!("V={v} row {r} chosen"),
                    &[g.chosen.unwrap()],
                    &[c.unwrap()],
                    1e-7,
                    1e-4,
                );
            }
        }
    }
}

/// One case of the fused linear layer: T tokens of width K into N rows of w.
struct LinearCase {
    format: Format,
    input: Input,
    ep: Epilogue,
    t: usize,
    k: usize,
    n: usize,
    bias: bool,
    /// The layer in parts (weights::upload_parts): its last N / 4 rows (v, for QKV) in a
    /// second format, and parts of at most so many bytes.
    parts: Option<(Format, u64)>,
    /// `Input::PostNorm`: what the layer resolves.
    post: Post,
}

/// The ways the models use `Input::PostNorm`.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Post {
    /// x + rms_norm(y) · g, written back (gate/up, and q/k/v after block 0).
    Resolve,
    /// No sublayer before: x as it is, written back (block 0's q/k/v).
    NoSublayer,
    /// One post-norm gain per row, nothing written (the logit lens's head).
    PerRowGains,
}

/// `Input::PostNorm`: x holds y [T, K] then the stream [T, K]; the stream after the
/// post-norm, x + rms_norm(y) · g (row t's g from norm[K + t · stride ..]).
fn resolved_stream(c: &LinearCase, x: &[f32], norm: &[f32]) -> Vec<f32> {
    let (t, k) = (c.t, c.k);
    let (y, stream) = x.split_at(t * k);
    if c.post == Post::NoSublayer {
        return stream.to_vec();
    }
    let mut h = vec![0.0; t * k];
    for r in 0..t {
        let g = match c.post {
            Post::PerRowGains => &norm[k * (1 + r)..][..k],
            _ => &norm[k..2 * k],
        };
        cpu::rmsnorm_forward(&mut h[r * k..][..k], &y[r * k..][..k], g, 1e-5, k);
    }
    cpu::residual_forward(&mut h, stream);
    h
}

/// The CPU reference: the unfused steps one after the other. Returns what the kernel leaves
/// in `out` and, for QKV, in the k and v caches (rows pos0 .. pos0 + T).
#[allow(clippy::too_many_arguments)]
fn linear_reference(
    c: &LinearCase,
    x: &[f32],
    norm: &[f32],
    w: &[f32],
    bias: &[f32],
    out0: &[f32],
    qkv: (usize, usize, usize),
    pos0: usize,
) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let (t, k, n) = (c.t, c.k, c.n);
    let mut xn = vec![0.0; t * k];
    match c.input {
        Input::Raw => xn.copy_from_slice(x),
        Input::RmsNorm => cpu::rmsnorm_forward(&mut xn, x, &norm[..k], 1e-5, k),
        Input::LayerNorm => cpu::layernorm_forward(&mut xn, x, &norm[..k], &norm[k..], 1e-5, k),
        Input::Attention => xn = combine(x, t, k / ATT_HEAD, ATT_HEAD, att_splits(t)),
        Input::PostNorm => {
            let h = resolved_stream(c, x, norm);
            cpu::rmsnorm_forward(&mut xn, &h, &norm[..k], 1e-5, k)
        }
    }
    let mut y = vec![0.0; t * n];
    cpu::matmul_forward(&mut y, &xn, w, c.bias.then_some(bias), k, n);
    let rows = |v: &[f32], from: usize, width: usize| -> Vec<f32> {
        (0..t)
            .flat_map(|i| v[i * n + from..][..width].to_vec())
            .collect()
    };
    match c.ep {
        Epilogue::Store => (y, vec![], vec![]),
        Epilogue::Residual => {
            let mut out = out0.to_vec();
            cpu::residual_forward(&mut out, &y);
            (out, vec![], vec![])
        }
        Epilogue::Gelu => {
            let mut out = vec![0.0; t * n];
            cpu::gelu_forward(&mut out, &y);
            (out, vec![], vec![])
        }
        Epilogue::SwiGlu | Epilogue::GeGlu => {
            let f = n / 2;
            let mut out = vec![0.0; t * f];
            let (gate, up) = (rows(&y, 0, f), rows(&y, f, f));
            match c.ep {
                Epilogue::SwiGlu => cpu::swiglu_forward(&mut out, &gate, &up),
                _ => cpu::geglu_forward(&mut out, &gate, &up),
            }
            (out, vec![], vec![])
        }
        Epilogue::Qkv => {
            let (qw, kvw, hs) = qkv;
            let (mut q, mut kk) = (rows(&y, 0, qw), rows(&y, qw, kvw));
            let table = cpu::rope_table(pos0 + t, hs, 10000.0, &[]);
            cpu::rope_forward(&mut q, &table, pos0, qw / hs, hs, true);
            cpu::rope_forward(&mut kk, &table, pos0, kvw / hs, hs, true);
            (q, kk, rows(&y, qw + kvw, kvw))
        }
    }
}

/// The head size and splits of the attention partials an `Input::Attention` case reads:
/// several splits for one token (decode), one for a chunk.
const ATT_HEAD: usize = 16;
fn att_splits(t: usize) -> usize {
    if t == 1 { 3 } else { 1 }
}

/// Runs `c` through matvec (when T = 1, the path decode takes) and matmul, and checks each
/// against the CPU reference.
fn check_linear(gpu: &Gpu, lin: &mut Linear, c: &LinearCase, rng: &mut Rng) {
    pollster::block_on(lin.prepare(gpu, c.format, c.input, c.ep)).unwrap();
    let (t, k, n) = (c.t, c.k, c.n);
    // A common offset, so that a layer norm's variance must not cancel.
    let offset = if c.input == Input::LayerNorm {
        30.0
    } else {
        0.0
    };
    let x: Vec<f32> = if c.input == Input::Attention {
        // Partials (m, l, o[16]) of each head and split: l > 0, and maxima apart; one split
        // comes normalized (l = 1), as attention.wgsl writes it.
        let rows = t * (k / ATT_HEAD) * att_splits(t);
        let one = att_splits(t) == 1;
        (0..rows)
            .flat_map(|_| {
                let m = 3.0 * rng.uniform();
                let l = if one { 1.0 } else { 1.5 + rng.uniform() };
                [m, l].into_iter().chain(rng.data(ATT_HEAD, 2.0))
            })
            .collect()
    } else if c.input == Input::PostNorm {
        // y, with an outlier, then the stream.
        let mut v = rng.data(2 * t * k, 2.0);
        v[k / 2] = 300.0;
        v
    } else {
        rng.data(t * k, 2.0).iter().map(|v| v + offset).collect()
    };
    let norm = rng.data(
        if c.post == Post::PerRowGains {
            1 + t
        } else {
            2
        } * k,
        1.0,
    );
    let random = |rng: &mut Rng, format: Format, rows: usize| {
        if rows == 0 {
            Vec::new()
        } else if matches!(format, Format::F32 | Format::F16 | Format::BF16) {
            float_bytes(format, &rng.data(rows * k, 0.5))
        } else {
            random_blocks(rng, format, rows, k)
        }
    };
    // In parts: rows 0 .. split in c.format, the rest in the second format.
    let (second, split) = c.parts.map_or((c.format, n), |(f, _)| (f, n - n / 4));
    let blocks = random(rng, c.format, split);
    let blocks_b = random(rng, second, n - split);
    let w = [dequantize(c.format, &blocks), dequantize(second, &blocks_b)].concat();
    let bias = rng.data(n, 1.0);
    let (hs, pos0) = (8usize, 13usize);
    // QKV: q heads then one k and one v head of 8 (n = 24 · heads / 3 … see the cases).
    let kvw = n / 4;
    let qkv = (n - 2 * kvw, kvw, hs);
    let out_len = match c.ep {
        Epilogue::SwiGlu | Epilogue::GeGlu => t * n / 2,
        Epilogue::Qkv => t * qkv.0,
        _ => t * n,
    };
    let out0 = rng.data(out_len, 1.0);
    let (want, want_k, want_v) = linear_reference(c, &x, &norm, &w, &bias, &out0, qkv, pos0);

    let ctx = pos0 + t + 2;
    let table: Vec<f32> = cpu::rope_table(ctx, hs, 10000.0, &[])
        .into_iter()
        .flatten()
        .collect();
    let layer_params = Params {
        has_bias: c.bias as u32,
        eps: 1e-5,
        q_width: qkv.0 as u32,
        kv_width: kvw as u32,
        head_size: if c.input == Input::Attention {
            ATT_HEAD
        } else {
            hs
        } as u32,
        rope: 1,
        x_at: (t * k) as u32,
        y_at: if c.post == Post::NoSublayer { NONE } else { 0 },
        out_at: if c.post == Post::PerRowGains {
            NONE
        } else {
            (2 * t * k) as u32
        },
        post_stride: if c.post == Post::PerRowGains { k } else { 0 } as u32,
        ..Params::new(k, n)
    };
    let params = gpu.uniform("p", &layer_params);
    // PostNorm: the resolved stream goes after y and the stream (junk before).
    let x_in = match c.input {
        Input::PostNorm => [x.clone(), vec![5.0; t * k]].concat(),
        _ => x.clone(),
    };
    let st = gpu.uniform(
        "step",
        &Step {
            n_tokens: t as u32,
            pos0: pos0 as u32,
            splits: att_splits(t) as u32,
            ..Step::default()
        },
    );
    let packed = weights::pack(c.format, split, k, &blocks);
    let (xb, wb, bb, nb, tb) = (
        buf(gpu, &x_in),
        gpu.storage_init("w", &packed).unwrap(),
        buf(gpu, &bias),
        buf(gpu, &norm),
        buf(gpu, &table),
    );
    let kc = gpu.storage("k", (ctx * kvw * 4) as u64).unwrap();
    let vc = gpu.storage("v", (ctx * kvw * 4) as u64).unwrap();
    let out = buf(gpu, &out0);
    let io = LinearIo {
        params: &params,
        step: &st,
        x: &xb,
        w: &wb,
        bias: Some(&bb),
        out: &out,
        norm: Some(&nb),
        rope_table: Some(&tb),
        kv: Some((&kc, &vc)),
    };
    let bg = match c.parts {
        None => lin.bind(gpu, c.format, c.input, c.ep, n as u32, &io),
        Some((_, max_bytes)) => {
            let tensor = |format, rows, bytes: &[u8]| QTensor {
                format,
                rows,
                cols: k,
                bytes: bytes.to_vec(),
            };
            let (a, b) = (
                tensor(c.format, split, &blocks),
                tensor(second, n - split, &blocks_b),
            );
            let parts = weights::upload_parts(gpu, "w", &[&a, &b], max_bytes).unwrap();
            pollster::block_on(lin.prepare(gpu, second, c.input, c.ep)).unwrap();
            lin.bind_parts(gpu, &parts, c.input, c.ep, layer_params, &io)
        }
    };
    let quant = if c.format == Format::F32 { 1.0 } else { 2.0 };
    let tol = quant * 1e-5 * (k as f32).sqrt() * 20.0;
    let name = |kernel: &str| {
        format!(
            "{kernel} {:?} {:?} {:?} {t}x{k}x{n} bias={} parts={:?}",
            c.format, c.input, c.ep, c.bias, c.parts
        )
    };
    // The path the model takes (matvec for one token; for more, matmul, matvec per token or
    // matvec's 16-token blocks, as the Linear says), then matmul for every shape, and the
    // 16-token blocks where the Linear has them.
    let mut kernels = vec!["model's path", "matmul"];
    if lin.has_blocks() {
        kernels.push("16-token blocks");
    }
    for kernel in kernels {
        gpu.queue.write_buffer(&out, 0, bytemuck::cast_slice(&out0));
        gpu.queue.write_buffer(&xb, 0, bytemuck::cast_slice(&x_in));
        run(gpu, |pass| match kernel {
            "matmul" => lin.dispatch_matmul(gpu, pass, &bg, t as u32),
            "16-token blocks" => lin.dispatch_blocks(gpu, pass, &bg, t as u32),
            _ => lin.dispatch(gpu, pass, &bg, t as u32),
        });
        assert_close(&name(kernel), &read(gpu, &out, out_len), &want, tol, 1e-4);
        if c.input == Input::PostNorm {
            let got = read(gpu, &xb, x_in.len());
            let stream = &got[2 * t * k..];
            match c.post {
                Post::PerRowGains => assert!(stream.iter().all(|&v| v == 5.0), "wrote"),
                _ => {
                    let want_h = resolved_stream(c, &x, &norm);
                    assert_close(
                        &format!("{} stream", name(kernel)),
                        stream,
                        &want_h,
                        1e-5,
                        1e-5,
                    )
                }
            }
            assert_eq!(
                got[..2 * t * k],
                x[..],
                "{}: y or the stream changed",
                name(kernel)
            );
        }
        if c.ep == Epilogue::Qkv {
            let at = pos0 * kvw;
            let cache =
                |b: &wgpu::Buffer| read_cache(gpu, b, ctx * kvw, true)[at..][..t * kvw].to_vec();
            // The cache holds f16: within the kernel's tolerance plus half an f16 ulp
            // (2^-11 of the value) for the rounding.
            let rtol = 1e-4 + 2f32.powi(-11);
            let k_name = format!("{} k", name(kernel));
            assert_close(&k_name, &cache(&kc), &want_k, tol, rtol);
            let v_name = format!("{} v", name(kernel));
            assert_close(&v_name, &cache(&vc), &want_v, tol, rtol);
        }
    }
}

#[test]
fn linear_matches_cpu_on_odd_shapes() {
    for gpu in gpus() {
        eprintln!("reductions: {}", gpu.describe());
        let mut lin = Linear::new(gpu, gpu.shapes())
            .unwrap()
            .with_matmul()
            .with_blocks();
        let mut rng = Rng(3);
        // (T, K, N, bias): odd sizes, sizes below one tile, sizes across tile edges; f32 rows of
        // any length.
        for (t, k, n, bias) in [
            (1usize, 77usize, 131usize, true),
            (7, 45, 33, false),
            (65, 130, 67, true),
            (1, 1000, 5, true),
            (130, 64, 200, true),
            (2, 3, 1, false),
        ] {
            for format in [Format::F32, Format::F16, Format::BF16] {
                let c = LinearCase {
                    format,
                    input: Input::Raw,
                    ep: Epilogue::Store,
                    t,
                    k,
                    n,
                    bias,
                    parts: None,
                    post: Post::Resolve,
                };
                check_linear(gpu, &mut lin, &c, &mut rng);
            }
        }
    }
}

#[test]
fn quantized_linear_matches_cpu_dequantization() {
    for gpu in gpus() {
        eprintln!("reductions: {}", gpu.describe());
        let mut lin = Linear::new(gpu, gpu.shapes())
            .unwrap()
            .with_matmul()
            .with_blocks();
        let mut rng = Rng(11);
        for format in QUANTIZED {
            // K a whole number of blocks (K-quants: one to three super-blocks); N and T odd,
            // across tile edges.
            let shapes = [
                (1usize, 96usize, 37usize),
                (1, 576, 131),
                (5, 160, 67),
                (70, 64, 130),
                (3, 1536, 9),
                (1, 512, 37),
                (5, 768, 67),
                (66, 256, 130),
            ];
            for (t, k, n) in shapes.into_iter().filter(|s| s.1 % format.block_len() == 0) {
                let c = LinearCase {
                    format,
                    input: Input::Raw,
                    ep: Epilogue::Store,
                    t,
                    k,
                    n,
                    bias: false,
                    parts: None,
                    post: Post::Resolve,
                };
                check_linear(gpu, &mut lin, &c, &mut rng);
            }
        }
    }
}

/// Every (norm, epilogue) the models fuse, in every format, for one token and for chunks
/// across tile edges; each against the CPU's unfused steps.
#[test]
fn fused_norms_and_epilogues_match_cpu() {
    for gpu in gpus() {
        eprintln!("reductions: {}", gpu.describe());
        let mut rng = Rng(21);
        let fused = [
            (Input::RmsNorm, Epilogue::Qkv, false),
            (Input::LayerNorm, Epilogue::Qkv, true),
            (Input::RmsNorm, Epilogue::SwiGlu, false),
            (Input::RmsNorm, Epilogue::GeGlu, true),
            (Input::LayerNorm, Epilogue::Gelu, true),
            (Input::Raw, Epilogue::Residual, true),
            (Input::RmsNorm, Epilogue::Store, false),
            (Input::LayerNorm, Epilogue::Store, false),
            (Input::Attention, Epilogue::Residual, true),
            (Input::PostNorm, Epilogue::Qkv, false),
            (Input::PostNorm, Epilogue::GeGlu, false),
            (Input::PostNorm, Epilogue::Store, false),
        ];
        let formats = [
            Format::F32,
            Format::Q8_0,
            Format::Q4_0,
            Format::Q4_1,
            Format::Q5_0,
            Format::Q4_K,
            Format::Q6_K,
        ];
        for (fi, format) in formats.into_iter().enumerate() {
            for (input, ep, bias) in fused {
                let mut lin = Linear::new(gpu, gpu.shapes()).unwrap().with_matmul();
                // The 16-token blocks for a float, a 32-weight and a K-quant format (every
                // format's are checked above): each of their pipelines takes lavapipe ~1 s.
                if matches!(format, Format::F32 | Format::Q4_1 | Format::Q6_K) {
                    lin = lin.with_blocks();
                }
                // N: 96 = q 48 (6 heads of 8) + k 24 + v 24 for QKV; 2 × 48 for SwiGLU.
                let shapes = if format.block_len() == 256 {
                    [(1usize, 256usize), (3, 512), (67, 256)]
                } else {
                    [(1, 160), (3, 96), (67, 64)]
                };
                for (si, (t, k)) in shapes.into_iter().enumerate() {
                    let n = if ep == Epilogue::Residual { 75 } else { 96 };
                    // PostNorm: each way the models use it, one token and chunks.
                    let post = [Post::Resolve, Post::NoSublayer, Post::PerRowGains][(fi + si) % 3];
                    let c = LinearCase {
                        format,
                        input,
                        ep,
                        t,
                        k,
                        n,
                        bias,
                        parts: None,
                        post,
                    };
                    check_linear(gpu, &mut lin, &c, &mut rng);
                }
            }
        }
    }
}

/// matvec in the shapes the adapters use (one lane per output with 8 outputs each on CPU
/// adapters, 8 invocations a workgroup; 64 lanes with a tree reduction on GPUs) and odd ones,
/// on every format.
#[test]
fn matvec_shapes_all_match_cpu() {
    for gpu in gpus() {
        eprintln!("reductions: {}", gpu.describe());
        let mut rng = Rng(31);
        for (lanes, groups, outs) in [(1, 8, 8), (1, 32, 8), (64, 4, 1), (8, 8, 3), (2, 16, 5)] {
            // prompt: chunks of 6 tokens through matvec too.
            let prompt = true;
            for format in [Format::F32, Format::Q4_1, Format::Q3_K, Format::Q6_K] {
                for (input, ep) in [
                    (Input::RmsNorm, Epilogue::SwiGlu),
                    (Input::Raw, Epilogue::Residual),
                    (Input::Attention, Epilogue::Residual),
                    // Store: GeGLU's products of sums over 2,304 values would dwarf the
                    // tolerance of their smallest outputs.
                    (Input::PostNorm, Epilogue::Store),
                ] {
                    for t in [1, 6] {
                        let mut lin = Linear::with_matvec_shape(gpu, lanes, groups, outs, prompt)
                            .unwrap()
                            .with_matmul();
                        let c = LinearCase {
                            format,
                            input,
                            ep,
                            t,
                            // PostNorm: wider than matvec stages (2,048), read from x.
                            k: match (input, format.block_len()) {
                                (Input::PostNorm, _) => 2304,
                                (_, 256) => 512,
                                _ => 192,
                            },
                            n: 326,
                            bias: false,
                            parts: None,
                            post: Post::Resolve,
                        };
                        check_linear(gpu, &mut lin, &c, &mut rng);
                    }
                }
            }
        }
    }
}

/// Where the adapter offers subgroups of one size, the probe accepts them (lavapipe: 8), so
/// that the tests above really run both kinds of reductions.
#[test]
fn subgroup_reductions_are_used_where_offered() {
    let Some(gpu) = gpu() else { return };
    let info = &gpu.info;
    let offered = gpu.adapter_features.contains(wgpu::Features::SUBGROUP)
        && info.subgroup_min_size == info.subgroup_max_size;
    eprintln!(
        "{}: subgroups offered {offered} ({}..{})",
        gpu.describe(),
        info.subgroup_min_size,
        info.subgroup_max_size
    );
    if offered && std::env::var("LANTERN_SUBGROUPS").as_deref() != Ok("0") {
        assert_eq!(gpu.subgroup_size, Some(info.subgroup_min_size));
    }
}

/// Layers in parts, as the models bind them (weights::upload_parts): q and k in one format
/// and v in another (Q4_K_M files mix Q4_K or Q5_0 with Q6_K or Q8_0), and layers split by
/// rows into parts smaller than a binding; each against the CPU.
#[test]
fn layers_in_parts_match_cpu() {
    for gpu in gpus() {
        eprintln!("reductions: {}", gpu.describe());
        let mut rng = Rng(41);
        let mut lin = Linear::new(gpu, gpu.shapes())
            .unwrap()
            .with_matmul()
            .with_blocks();
        let cases = [
            (Format::Q4_K, Format::Q6_K, Epilogue::Qkv, 256, 96, 1 << 20),
            (Format::Q5_0, Format::Q8_0, Epilogue::Qkv, 96, 96, 1 << 20),
            (Format::Q4_K, Format::Q6_K, Epilogue::Qkv, 256, 96, 2000),
            (Format::Q8_0, Format::Q8_0, Epilogue::Store, 96, 131, 500),
            (Format::F32, Format::Q4_1, Epilogue::Residual, 64, 75, 1000),
        ];
        for (first, second, ep, k, n, max_bytes) in cases {
            for t in [1, 5] {
                let c = LinearCase {
                    format: first,
                    input: if ep == Epilogue::Residual {
                        Input::Raw
                    } else {
                        Input::RmsNorm
                    },
                    ep,
                    t,
                    k,
                    n,
                    bias: false,
                    parts: Some((second, max_bytes)),
                    post: Post::Resolve,
                };
                check_linear(gpu, &mut lin, &c, &mut rng);
            }
        }
    }
}

/// Attention of the models that norm each q and k head (Qwen 3, Gemma 3; attention.wgsl's
/// QK_NORM): q and k come raw from the q/k/v layer; the kernel norms and rotates them, reads
/// this pass's keys from there and writes them to the cache. Against the CPU's norm, RoPE
/// and attention over the keys as the cache holds them; with planted outliers, grouped
/// heads, windows, several splits, both caches.
#[test]
fn attention_norms_and_rotates_q_and_k_heads() {
    for gpu in gpus() {
        eprintln!("reductions: {}", gpu.describe());
        let mut rng = Rng(41);
        // (heads, kv heads, head size, new tokens, cached positions, splits, f16, window)
        for (nh, nkv, hs, t, pos0, splits, f16, window) in [
            (
                4usize, 1usize, 256usize, 3usize, 5usize, 1usize, false, 0usize,
            ),
            (4, 1, 256, 1, 77, 3, true, 0),
            (4, 1, 256, 6, 9, 1, true, 4),
            (3, 3, 6, 5, 0, 1, false, 0),
            (16, 8, 128, 2, 9, 1, true, 0),
            (16, 8, 128, 1, 40, 5, false, 0),
            // 4 and 3 query heads per workgroup (one writes the new keys), past the 512
            // scores kept.
            (8, 2, 64, 3, 5, 1, true, 0),
            (12, 2, 16, 2, 5, 1, false, 0),
            (6, 2, 16, 2, 520, 1, true, 0),
            // More new keys than the kernel keeps the norms of (128): the rest computed.
            (2, 1, 16, 131, 3, 1, true, 0),
        ] {
            let kv = if f16 { KvCache::F16 } else { KvCache::F32 };
            let group = (nh / nkv) as u32;
            let k = pollster::block_on(gpu::attention::kernel(gpu, hs as u32, group, kv, true))
                .unwrap();
            let (qw, kvw, n_kv) = (nh * hs, nkv * hs, pos0 + t);
            let cached = |v: &[f32]| as_cached(v, f16);
            let packed = |v: &[f32]| cache_words(v, f16);
            let mut qk = rng.data(t * (qw + kvw), 2.0);
            qk[3] = 40.0; // outliers, in a query head and in the last key head
            let last = qk.len() - 2;
            qk[last] = -25.0;
            let g = rng.data(2 * hs, 1.0);
            let eps = 1e-6;
            let rows = |v: &[f32], off: usize, w: usize| -> Vec<f32> {
                v.chunks(qw + kvw)
                    .flat_map(|r| r[off..off + w].to_vec())
                    .collect()
            };
            let table = cpu::rope_table(n_kv, hs, 10000.0, &[1.0, 2.5]);
            let norm_rope = |x: Vec<f32>, g: &[f32], heads: usize| {
                let mut y = vec![0.0; x.len()];
                cpu::rmsnorm_forward(&mut y, &x, g, eps, hs);
                cpu::rope_forward(&mut y, &table, pos0, heads, hs, true);
                y
            };
            let q_ref = norm_rope(rows(&qk, 0, qw), &g[..hs], nh);
            let new_k = norm_rope(rows(&qk, qw, kvw), &g[hs..], nkv);
            // Keys of earlier passes, as the cache holds them (already normed and rotated).
            let old_k = match pos0 {
                0 => Vec::new(),
                _ => rng.data(pos0 * kvw, 1.0),
            };
            let vc = rng.data(n_kv * kvw, 1.0);
            let keys = cached(&[old_k.clone(), new_k.clone()].concat());
            let expand = |src: &[f32]| expand_heads(src, nh, nkv, hs);
            let heads = cpu::Heads {
                scale: 0.3,
                window,
                ..cpu::Heads::new(nh, nh, hs)
            };
            let mut want = vec![0.0; t * qw];
            let mut want_p = vec![0.0; nh * t * n_kv];
            cpu::attention_forward(
                &mut want,
                Some(&mut want_p),
                &q_ref,
                &expand(&keys),
                &expand(&cached(&vc)),
                pos0,
                heads,
            );

            let params = gpu.uniform(
                "p",
                &gpu::attention::Params {
                    n_head: nh as u32,
                    n_kv_head: nkv as u32,
                    head_size: hs as u32,
                    q_stride: (qw + kvw) as u32,
                    kv_stride: kvw as u32,
                    probs_stride: n_kv as u32,
                    probs_rows: n_kv as u32,
                    scale: 0.3,
                    window: window as u32,
                    eps,
                    _pad: [0; 2],
                },
            );
            let capture = splits == 1;
            let st = gpu.uniform(
                "step",
                &Step {
                    n_tokens: t as u32,
                    pos0: pos0 as u32,
                    capture: capture as u32,
                    splits: splits as u32,
                    ..Step::default()
                },
            );
            let flat: Vec<f32> = table.iter().flatten().copied().collect();
            let (qk_b, gb, tb) = (buf(gpu, &qk), buf(gpu, &g), buf(gpu, &flat));
            // This pass's rows of the cache hold junk before: nothing may read them.
            let k_init = [old_k.clone(), vec![9.0; t * kvw]].concat();
            let kb = gpu.storage_init("k", &packed(&k_init)).unwrap();
            let vb = gpu.storage_init("v", &packed(&vc)).unwrap();
            let n_partials = gpu::attention::partial_floats(t * nh * splits, hs);
            let out = gpu.storage("out", (n_partials * 4) as u64).unwrap();
            let probs = buf(gpu, &vec![7.0; nh * n_kv * n_kv]);
            let bg = k.kernel.bind(
                gpu,
                &[&params, &st, &qk_b, &kb, &vb, &out, &probs, &tb, &gb],
            );
            run(gpu, |pass| {
                k.dispatch(gpu, pass, &bg, nh as u32, t as u32, splits as u32)
            });
            let what = format!(
                "qk-normed attention nh={nh} nkv={nkv} hs={hs} t={t} pos0={pos0} splits={splits} window={window} \
                 f16={f16} ({} heads a workgroup, {} scores kept)",
                k.heads, k.scores
            );
            let got = combine(&read(gpu, &out, n_partials), t, nh, hs, splits);
            assert_close(&what, &got, &want, 1e-5, 1e-4);
            if capture {
                let all_p = read(gpu, &probs, nh * n_kv * n_kv);
                let got_p: Vec<f32> = all_p
                    .chunks(n_kv)
                    .enumerate()
                    .filter(|(r, _)| r % n_kv >= pos0)
                    .flat_map(|(_, row)| row.to_vec())
                    .collect();
                assert_close(&format!("{what} probs"), &got_p, &want_p, 1e-6, 1e-4);
            }
            // q and k left in place; this pass's keys normed and rotated in the cache, the
            // earlier ones untouched.
            assert_eq!(read(gpu, &qk_b, qk.len()), qk, "{what}: q/k changed");
            let got_k = read_cache(gpu, &kb, n_kv * kvw, f16);
            assert_eq!(got_k[..pos0 * kvw], cached(&old_k)[..], "{what}: old keys");
            // An f16 cache: plus half an f16 ulp (2^-11 of the value) for the rounding.
            let rtol = if f16 { 1e-4 + 2f32.powi(-11) } else { 1e-4 };
            let name = format!("{what} cached k");
            assert_close(&name, &got_k[pos0 * kvw..], &new_k, 1e-5, rtol);
        }
    }
}
