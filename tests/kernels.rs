//! Each WGSL kernel against the CPU reference, on odd shapes with planted outliers.
//! Runs on whatever adapter wgpu finds (Mesa's lavapipe in CI).

mod common;
use common::*;
use lantern::cpu;
use lantern::gpu::{self, Gpu, Step};
use lantern::model::quant::{Format, dequantize};

fn step(gpu: &Gpu, n_tokens: u32, pos0: u32, u: f32) -> wgpu::Buffer {
    gpu.uniform(
        "step",
        &Step {
            n_tokens,
            pos0,
            u,
            capture: 1,
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

    let params = gpu.uniform(
        "p",
        &gpu::embedding::Params {
            n_embd: c as u32,
            vocab_size: v as u32,
            use_wpe: 1,
            _pad: 0,
        },
    );
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

#[test]
fn layer_norm_matches_cpu() {
    let Some(gpu) = gpu() else { return };
    let k = pollster::block_on(gpu::layer_norm::kernel(gpu)).unwrap();
    let mut rng = Rng(2);
    for (t, c) in [(5usize, 77usize), (3, 768), (1, 1000)] {
        // A large common offset: the two-pass variance must not cancel.
        let x: Vec<f32> = rng.data(t * c, 2.0).iter().map(|v| v + 50.0).collect();
        let w = rng.data(c, 1.0);
        let b = rng.data(c, 0.3);
        let mut want = vec![0.0; t * c];
        cpu::layernorm_forward(&mut want, &x, &w, &b, 1e-5, c);
        let params = gpu.uniform(
            "p",
            &gpu::layer_norm::Params {
                n: c as u32,
                eps: 1e-5,
                _pad: [0; 2],
            },
        );
        let (xb, wb, bb) = (buf(gpu, &x), buf(gpu, &w), buf(gpu, &b));
        let out = gpu.storage("out", (t * c * 4) as u64).unwrap();
        let bg = k.bind(gpu, &[&params, &xb, &wb, &bb, &out]);
        run(gpu, |pass| {
            gpu::layer_norm::dispatch(gpu, &k, pass, &bg, t as u32)
        });
        assert_close(
            &format!("layer_norm {t}x{c}"),
            &read(gpu, &out, t * c),
            &want,
            1e-4,
            1e-4,
        );
    }
}

#[test]
fn matmul_and_matvec_match_cpu() {
    let Some(gpu) = gpu() else { return };
    let lin = pollster::block_on(gpu::matmul::Linear::new(gpu, &[Format::F32])).unwrap();
    let mut rng = Rng(3);
    // (rows, K, N, bias): odd sizes, sizes below one tile, sizes across tile edges.
    for (m, kk, n, bias) in [
        (1usize, 77usize, 131usize, true),
        (7, 45, 33, false),
        (65, 130, 67, true),
        (1, 1000, 5, true),
        (130, 64, 200, true),
        (2, 3, 1, false),
    ] {
        let x = rng.data(m * kk, 1.0);
        let w = rng.data(n * kk, 0.5);
        let b = rng.data(n, 1.0);
        let mut want = vec![0.0; m * n];
        cpu::matmul_forward(&mut want, &x, &w, bias.then_some(&b[..]), kk, n);
        let params = gpu.uniform(
            "p",
            &gpu::matmul::Params {
                k: kk as u32,
                n: n as u32,
                has_bias: bias as u32,
                _pad: 0,
            },
        );
        let st = step(gpu, m as u32, 0, 0.0);
        let (xb, wb, bb) = (buf(gpu, &x), buf(gpu, &w), buf(gpu, &b));
        let out = gpu.storage("out", (m * n * 4) as u64).unwrap();
        let bg = lin.bind(
            gpu,
            Format::F32,
            n as u32,
            &[&params, &st, &xb, &wb, &bb, &out],
        );
        // The path the model takes (matvec when m == 1), then matmul for every shape.
        run(gpu, |pass| lin.dispatch(gpu, pass, &bg, m as u32));
        let tol = 1e-5 * (kk as f32).sqrt() * 20.0;
        assert_close(
            &format!("linear {m}x{kk}x{n}"),
            &read(gpu, &out, m * n),
            &want,
            tol,
            1e-4,
        );
        run(gpu, |pass| lin.dispatch_matmul(gpu, pass, &bg, m as u32));
        assert_close(
            &format!("matmul {m}x{kk}x{n}"),
            &read(gpu, &out, m * n),
            &want,
            tol,
            1e-4,
        );
    }
}

#[test]
fn attention_matches_cpu_with_probabilities() {
    let Some(gpu) = gpu() else { return };
    let mut rng = Rng(4);
    // (heads, kv heads, head size, new tokens, cached positions before them)
    for (nh, nkv, hs, t, pos0) in [
        (3usize, 3usize, 16usize, 5usize, 0usize),
        (4, 4, 64, 1, 70),
        (2, 2, 24, 9, 3),
        (6, 2, 32, 3, 130),
        (1, 1, 100, 2, 0),
    ] {
        let k = pollster::block_on(gpu::attention::kernel(gpu, hs as u32)).unwrap();
        let (c, ckv, n_kv) = (nh * hs, nkv * hs, pos0 + t);
        let q = rng.data(t * c, 1.0);
        let kc = rng.data(n_kv * ckv, 1.0);
        let vc = rng.data(n_kv * ckv, 1.0);
        // The reference gets the shared key/value heads expanded to one per query head:
        // grouped-query attention checked against its definition.
        let group = nh / nkv;
        let expand = |src: &[f32]| -> Vec<f32> {
            (0..n_kv)
                .flat_map(|j| (0..nh).flat_map(move |h| (0..hs).map(move |d| (j, h, d))))
                .map(|(j, h, d)| src[j * ckv + (h / group) * hs + d])
                .collect()
        };
        let mut want = vec![0.0; t * c];
        let mut want_p = vec![0.0; nh * t * n_kv];
        cpu::attention_forward(
            &mut want,
            Some(&mut want_p),
            &q,
            &expand(&kc),
            &expand(&vc),
            pos0,
            nh,
            nh,
            hs,
        );

        let params = gpu.uniform(
            "p",
            &gpu::attention::Params {
                n_head: nh as u32,
                n_kv_head: nkv as u32,
                head_size: hs as u32,
                q_stride: c as u32,
                kv_stride: ckv as u32,
                out_stride: c as u32,
                probs_stride: n_kv as u32,
                probs_rows: n_kv as u32,
                scale: 1.0 / (hs as f32).sqrt(),
                _pad: [0; 3],
            },
        );
        let st = step(gpu, t as u32, pos0 as u32, 0.0);
        let (qb, kb, vb) = (buf(gpu, &q), buf(gpu, &kc), buf(gpu, &vc));
        let out = gpu.storage("out", (t * c * 4) as u64).unwrap();
        // Filled with junk first: masked entries must be written as zeros. Row r of a head
        // is position r: this pass writes rows pos0.., and leaves earlier ones alone.
        let probs = buf(gpu, &vec![7.0; nh * n_kv * n_kv]);
        let bg = k.bind(gpu, &[&params, &st, &qb, &kb, &vb, &out, &probs]);
        run(gpu, |pass| {
            gpu::attention::dispatch(gpu, &k, pass, &bg, nh as u32, t as u32)
        });
        let what = format!("attention nh={nh} nkv={nkv} hs={hs} t={t} pos0={pos0}");
        assert_close(&what, &read(gpu, &out, t * c), &want, 1e-5, 1e-4);
        let all_p = read(gpu, &probs, nh * n_kv * n_kv);
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

#[test]
fn gelu_and_residual_add_match_cpu() {
    let Some(gpu) = gpu() else { return };
    let (gk, ak) = pollster::block_on(async {
        (
            gpu::gelu::kernel(gpu).await.unwrap(),
            gpu::add::kernel(gpu).await.unwrap(),
        )
    });
    let mut rng = Rng(5);
    let (t, w) = (3usize, 333usize);
    // Includes ±20 outliers and large magnitudes where tanh saturates.
    let mut x = rng.data(t * w, 3.0);
    x[0] = 100.0;
    x[1] = -100.0;
    x[2] = 0.0;
    let y = rng.data(t * w, 1.0);
    let mut want = vec![0.0; t * w];
    cpu::gelu_forward(&mut want, &x);
    let mut want_add = want.clone();
    cpu::residual_forward(&mut want_add, &y);

    let params = gpu.uniform(
        "p",
        &gpu::gelu::Params {
            width: w as u32,
            _pad: [0; 3],
        },
    );
    let st = step(gpu, t as u32, 0, 0.0);
    let (xb, yb) = (buf(gpu, &x), buf(gpu, &y));
    let gbg = gk.bind(gpu, &[&params, &st, &xb]);
    run(gpu, |pass| {
        gpu::gelu::dispatch(gpu, &gk, pass, &gbg, (t * w) as u32)
    });
    assert_close("gelu", &read(gpu, &xb, t * w), &want, 1e-6, 1e-5);
    let abg = ak.bind(gpu, &[&params, &st, &xb, &yb]);
    run(gpu, |pass| {
        gpu::add::dispatch(gpu, &ak, pass, &abg, (t * w) as u32)
    });
    assert_close("add", &read(gpu, &xb, t * w), &want_add, 1e-6, 1e-5);
}

#[test]
fn kv_store_appends_rows_at_the_position() {
    let Some(gpu) = gpu() else { return };
    let k = pollster::block_on(gpu::kv_store::kernel(gpu)).unwrap();
    let mut rng = Rng(6);
    let (t, width, pos0, ctx) = (3usize, 21usize, 5usize, 10usize);
    let stride = 3 * width + 2;
    let src = rng.data(t * stride, 1.0);
    let params = gpu.uniform(
        "p",
        &gpu::kv_store::Params {
            width: width as u32,
            src_stride: stride as u32,
            k_offset: width as u32,
            v_offset: 2 * width as u32,
        },
    );
    let st = step(gpu, t as u32, pos0 as u32, 0.0);
    let sb = buf(gpu, &src);
    let (kc, vc) = (
        buf(gpu, &vec![-1.0; ctx * width]),
        buf(gpu, &vec![-1.0; ctx * width]),
    );
    let bg = k.bind(gpu, &[&params, &st, &sb, &kc, &vc]);
    run(gpu, |pass| {
        gpu::kv_store::dispatch(gpu, &k, pass, &bg, t as u32, width as u32)
    });
    let (mut want_k, mut want_v) = (vec![-1.0; ctx * width], vec![-1.0; ctx * width]);
    for r in 0..t {
        for c in 0..width {
            want_k[(pos0 + r) * width + c] = src[r * stride + width + c];
            want_v[(pos0 + r) * width + c] = src[r * stride + 2 * width + c];
        }
    }
    assert_close("k cache", &read(gpu, &kc, ctx * width), &want_k, 0.0, 0.0);
    assert_close("v cache", &read(gpu, &vc, ctx * width), &want_v, 0.0, 0.0);
}

#[test]
fn sampling_matches_cpu_rule() {
    let Some(gpu) = gpu() else { return };
    let k = pollster::block_on(gpu::sample::kernel(gpu)).unwrap();
    let mut rng = Rng(7);
    let settings = [
        (0.0, 0, 1.0),
        (1.0, 0, 1.0),
        (0.7, 40, 1.0),
        (1.3, 0, 0.9),
        (0.8, 50, 0.5),
        (1.0, 1, 1.0),
        (2.0, 3, 0.95),
    ];
    let mut draws = 0;
    for v in [1usize, 7, 1000, 50257] {
        let mut logits = rng.data(v, 4.0);
        if v > 7 {
            logits[v / 3] = logits.iter().cloned().fold(f32::MIN, f32::max); // a tie for the max
        }
        let lb = buf(gpu, &logits);
        let out = gpu.storage("out", 16).unwrap();
        for &(temperature, top_k, top_p) in &settings {
            let sp = cpu::SampleParams {
                temperature,
                top_k,
                top_p,
            };
            let params = gpu.uniform("p", &gpu::sample::Params::new(v as u32, sp));
            for _ in 0..6 {
                let u = (rng.next_u64() >> 40) as f32 / (1u64 << 24) as f32;
                let st = step(gpu, 1, 0, u);
                let bg = k.bind(gpu, &[&params, &st, &lb, &out]);
                run(gpu, |pass| gpu::sample::dispatch(gpu, &k, pass, &bg));
                let got = pollster::block_on(gpu.read_u32(&out, 1)).unwrap()[0];
                let want = cpu::sample(&logits, sp, u);
                assert_eq!(
                    got, want,
                    "V={v} {sp:?} u={u}: GPU picked {got}, CPU {want}"
                );
                draws += 1;
            }
        }
    }
    assert_eq!(draws, 4 * 7 * 6);
}

/// Random blocks in `format` for a [rows, cols] matrix: random quants, scales of varied size,
/// and a few blocks with a scale 30 times larger (outliers).
fn random_blocks(rng: &mut Rng, format: Format, rows: usize, cols: usize) -> Vec<u8> {
    let n_blocks = rows * cols / 32;
    let mut out = Vec::new();
    for b in 0..n_blocks {
        let big = if b % 37 == 5 { 30.0 } else { 1.0 };
        let half = |v: f32| half::f16::from_f32(v).to_le_bytes();
        out.extend(half(0.01 * big * (1.5 + rng.uniform())));
        if format == Format::Q4_1 {
            out.extend(half(0.05 * rng.uniform()));
        }
        let n_quant_bytes = if format == Format::Q8_0 { 32 } else { 16 };
        out.extend((0..n_quant_bytes).map(|_| rng.next_u64() as u8));
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
    assert!(file.cases.len() >= 5);
    for c in &file.cases {
        let format = match c.format.as_str() {
            "Q8_0" => Format::Q8_0,
            "Q4_0" => Format::Q4_0,
            "Q4_1" => Format::Q4_1,
            f => panic!("unexpected format {f}"),
        };
        let bytes: Vec<u8> = (0..c.bytes.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&c.bytes[i..i + 2], 16).unwrap())
            .collect();
        // Exactly: both compute one rounding of the same formula.
        assert_close(&c.name, &dequantize(format, &bytes), &c.values, 0.0, 0.0);
    }
}

#[test]
fn quantized_matmul_and_matvec_match_cpu_dequantization() {
    let Some(gpu) = gpu() else { return };
    let formats = [Format::Q8_0, Format::Q4_0, Format::Q4_1];
    let lin = pollster::block_on(gpu::matmul::Linear::new(gpu, &formats)).unwrap();
    let mut rng = Rng(11);
    for format in formats {
        // (rows of x, K, N): K a whole number of blocks; N and rows odd, across tile edges.
        for (m, kk, n) in [
            (1usize, 96usize, 37usize),
            (1, 576, 131),
            (5, 160, 67),
            (70, 64, 130),
            (3, 1536, 9),
        ] {
            let x = rng.data(m * kk, 1.0);
            let blocks = random_blocks(&mut rng, format, n, kk);
            let w = dequantize(format, &blocks);
            let mut want = vec![0.0; m * n];
            cpu::matmul_forward(&mut want, &x, &w, None, kk, n);
            let params = gpu.uniform(
                "p",
                &gpu::matmul::Params {
                    k: kk as u32,
                    n: n as u32,
                    has_bias: 0,
                    _pad: 0,
                },
            );
            let st = step(gpu, m as u32, 0, 0.0);
            let (xb, wb) = (buf(gpu, &x), gpu.storage_init("w", &blocks).unwrap());
            let out = gpu.storage("out", (m * n * 4) as u64).unwrap();
            let bg = lin.bind(gpu, format, n as u32, &[&params, &st, &xb, &wb, &xb, &out]);
            let tol = 2e-5 * (kk as f32).sqrt() * 20.0;
            run(gpu, |pass| lin.dispatch(gpu, pass, &bg, m as u32));
            assert_close(
                &format!("{format:?} linear {m}x{kk}x{n}"),
                &read(gpu, &out, m * n),
                &want,
                tol,
                1e-4,
            );
            run(gpu, |pass| lin.dispatch_matmul(gpu, pass, &bg, m as u32));
            assert_close(
                &format!("{format:?} matmul {m}x{kk}x{n}"),
                &read(gpu, &out, m * n),
                &want,
                tol,
                1e-4,
            );
        }
    }
}

#[test]
fn quantized_embedding_matches_cpu_rows() {
    let Some(gpu) = gpu() else { return };
    let mut rng = Rng(12);
    for format in [Format::Q8_0, Format::Q4_0, Format::Q4_1] {
        let k = pollster::block_on(gpu::embedding::kernel(gpu, format)).unwrap();
        let (v, c, t) = (41usize, 96usize, 5usize);
        let blocks = random_blocks(&mut rng, format, v, c);
        let table = dequantize(format, &blocks);
        let tokens: Vec<u32> = (0..t).map(|_| (rng.next_u64() % v as u64) as u32).collect();
        let want: Vec<f32> = tokens
            .iter()
            .flat_map(|&tok| table[tok as usize * c..][..c].to_vec())
            .collect();
        let params = gpu.uniform(
            "p",
            &gpu::embedding::Params {
                n_embd: c as u32,
                vocab_size: v as u32,
                use_wpe: 0,
                _pad: 0,
            },
        );
        let st = step(gpu, t as u32, 3, 0.0);
        let (tb, wb, unused) = (
            gpu.storage_init("t", &tokens).unwrap(),
            gpu.storage_init("w", &blocks).unwrap(),
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
fn rms_norm_matches_cpu() {
    let Some(gpu) = gpu() else { return };
    let k = pollster::block_on(gpu::rms_norm::kernel(gpu)).unwrap();
    let mut rng = Rng(13);
    for (t, c) in [(3usize, 77usize), (2, 576), (1, 1000)] {
        let x = rng.data(t * c, 3.0);
        let w = rng.data(c, 1.0);
        let mut want = vec![0.0; t * c];
        cpu::rmsnorm_forward(&mut want, &x, &w, 1e-5, c);
        let params = gpu.uniform(
            "p",
            &gpu::rms_norm::Params {
                n: c as u32,
                eps: 1e-5,
                _pad: [0; 2],
            },
        );
        let (xb, wb) = (buf(gpu, &x), buf(gpu, &w));
        let out = gpu.storage("out", (t * c * 4) as u64).unwrap();
        let bg = k.bind(gpu, &[&params, &xb, &wb, &out]);
        run(gpu, |pass| {
            gpu::rms_norm::dispatch(gpu, &k, pass, &bg, t as u32)
        });
        assert_close(
            &format!("rms_norm {t}x{c}"),
            &read(gpu, &out, t * c),
            &want,
            1e-5,
            1e-4,
        );
    }
}

#[test]
fn rope_matches_cpu_in_both_layouts() {
    let Some(gpu) = gpu() else { return };
    let k = pollster::block_on(gpu::rope::kernel(gpu)).unwrap();
    let mut rng = Rng(14);
    // 5 query + 2 key heads of 18 values, rows padded to a stride of 140 (with v after them).
    let (t, pos0, heads, hs, stride, theta) =
        (4usize, 1500usize, 7usize, 18usize, 140usize, 100000.0f32);
    let table: Vec<f32> = cpu::rope_table(pos0 + t, hs, theta)
        .into_iter()
        .flatten()
        .collect();
    for adjacent in [true, false] {
        let x = rng.data(t * stride, 2.0);
        // The reference rotates packed heads; copy them out, rotate, put them back.
        let mut heads_only: Vec<f32> = (0..t)
            .flat_map(|r| x[r * stride..][..heads * hs].to_vec())
            .collect();
        cpu::rope_forward(&mut heads_only, pos0, heads, hs, theta, adjacent);
        let mut want = x.clone();
        for r in 0..t {
            want[r * stride..][..heads * hs]
                .copy_from_slice(&heads_only[r * heads * hs..][..heads * hs]);
        }
        let params = gpu.uniform(
            "p",
            &gpu::rope::Params {
                n_heads: heads as u32,
                head_size: hs as u32,
                stride: stride as u32,
                adjacent: adjacent as u32,
            },
        );
        let st = step(gpu, t as u32, pos0 as u32, 0.0);
        let (tb, xb) = (buf(gpu, &table), buf(gpu, &x));
        let bg = k.bind(gpu, &[&params, &st, &tb, &xb]);
        run(gpu, |pass| {
            gpu::rope::dispatch(gpu, &k, pass, &bg, t as u32, heads as u32, hs as u32)
        });
        assert_close(
            &format!("rope adjacent={adjacent}"),
            &read(gpu, &xb, t * stride),
            &want,
            1e-5,
            1e-5,
        );
    }
}

#[test]
fn silu_mul_matches_cpu() {
    let Some(gpu) = gpu() else { return };
    let k = pollster::block_on(gpu::silu_mul::kernel(gpu)).unwrap();
    let mut rng = Rng(15);
    let (t, f) = (3usize, 301usize);
    let mut gu = rng.data(t * 2 * f, 4.0);
    gu[0] = -200.0; // exp overflow must not give NaN
    gu[1] = 200.0;
    let gate: Vec<f32> = (0..t).flat_map(|r| gu[r * 2 * f..][..f].to_vec()).collect();
    let up: Vec<f32> = (0..t)
        .flat_map(|r| gu[r * 2 * f + f..][..f].to_vec())
        .collect();
    let mut want = vec![0.0; t * f];
    cpu::swiglu_forward(&mut want, &gate, &up);
    let params = gpu.uniform(
        "p",
        &gpu::silu_mul::Params {
            width: f as u32,
            _pad: [0; 3],
        },
    );
    let st = step(gpu, t as u32, 0, 0.0);
    let gb = buf(gpu, &gu);
    let out = gpu.storage("out", (t * f * 4) as u64).unwrap();
    let bg = k.bind(gpu, &[&params, &st, &gb, &out]);
    run(gpu, |pass| {
        gpu::silu_mul::dispatch(gpu, &k, pass, &bg, (t * f) as u32)
    });
    assert_close("silu_mul", &read(gpu, &out, t * f), &want, 1e-6, 1e-5);
}

#[test]
fn top_k_matches_cpu() {
    let Some(gpu) = gpu() else { return };
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
