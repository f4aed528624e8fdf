//! Times each kernel on the shapes of SmolLM2-135M (one decode token, and a 64-token prompt
//! chunk), on whatever adapter wgpu finds, and prints the figures: `cargo bench --bench
//! kernels [-- NAME]`.
//! Each figure is the wall time of many dispatches in one submit, divided by their number:
//! compare figures as ratios within one run.

use lantern::gpu::matmul::{Epilogue, Input, Linear, LinearIo, Params};
use lantern::gpu::{self, Gpu, Step, weights};
use lantern::model::quant::Format;
use std::time::Instant;

fn time(gpu: &Gpu, name: &str, reps: u32, f: impl Fn(&mut wgpu::ComputePass)) {
    let run = |n: u32| {
        let mut enc = gpu.encoder();
        {
            let mut pass = enc.begin_compute_pass(&Default::default());
            for _ in 0..n {
                f(&mut pass);
            }
        }
        gpu.submit(enc);
        gpu.device
            .poll(wgpu::PollType::wait_indefinitely())
            .unwrap();
    };
    // `cargo bench --bench kernels -- WORD` times only the kernels whose name holds WORD.
    if let Some(filter) = std::env::args().skip(1).find(|a| !a.starts_with('-'))
        && !name.contains(&filter)
    {
        return;
    }
    run(1); // warm-up
    let t = Instant::now();
    run(reps);
    let per = t.elapsed().as_secs_f64() / reps as f64;
    println!("{name:<48} {:>9.3} ms", per * 1e3);
}

fn main() {
    let gpu = pollster::block_on(Gpu::new()).expect("a GPU adapter");
    println!("adapter: {}", gpu.describe());
    let step_for = |t: u32| {
        gpu.uniform(
            "step",
            &Step {
                n_tokens: t,
                pos0: 100,
                u: 0.5,
                splits: 1,
                ..Step::default()
            },
        )
    };
    let zeros = |bytes: usize| gpu.storage("buf", bytes as u64).unwrap();
    let formats = [Format::F32, Format::Q8_0, Format::Q4_1];
    let mut lin = Linear::new(&gpu, gpu.shapes()).unwrap();
    // (name, norm, epilogue, K, N): SmolLM2's fused linear layers.
    let shapes = [
        ("qkv", Input::RmsNorm, Epilogue::Qkv, 576, 960),
        ("attn_output", Input::Raw, Epilogue::Residual, 576, 576),
        ("gate_up", Input::RmsNorm, Epilogue::SwiGlu, 576, 3072),
        ("down", Input::Raw, Epilogue::Residual, 1536, 576),
        ("lm_head", Input::RmsNorm, Epilogue::Store, 576, 49152),
    ];
    for &format in &formats {
        for (_, norm, ep, _, _) in shapes {
            pollster::block_on(lin.prepare(&gpu, format, norm, ep)).unwrap();
        }
    }
    let table = zeros(2048 * 32 * 8);
    let (kc, vc) = (zeros(2048 * 192 * 4), zeros(2048 * 192 * 4));
    for t in [1u32, 8, 64] {
        let step = step_for(t);
        for format in formats {
            for (name, norm, ep, k, n) in shapes {
                let params = gpu.uniform(
                    "p",
                    &Params {
                        eps: 1e-5,
                        q_width: 576,
                        kv_width: 192,
                        head_size: 64,
                        rope: 1,
                        ..Params::new(k as usize, n as usize)
                    },
                );
                let w = zeros(weights::row_words(format, k as usize) * n as usize * 4);
                let (x, out) = (zeros((t * k * 4) as usize), zeros((t * n * 4) as usize));
                let norm_w = zeros(k as usize * 4);
                let io = LinearIo {
                    params: &params,
                    step: &step,
                    x: &x,
                    w: &w,
                    bias: None,
                    out: &out,
                    norm: Some(&norm_w),
                    rope_table: Some(&table),
                    kv: Some((&kc, &vc)),
                };
                let bind = lin.bind(&gpu, format, norm, ep, n, &io);
                let reps = if t == 1 { 20 } else { 3 };
                time(
                    &gpu,
                    &format!(
                        "{} T={t} {format:?} {name} {k}x{n}",
                        if t == 1 { "matvec" } else { "matmul" }
                    ),
                    reps,
                    |pass| lin.dispatch(&gpu, pass, &bind, t),
                );
            }
        }
        // Attention over 100 cached positions (+ T new), SmolLM2's heads.
        let k = pollster::block_on(gpu::attention::kernel(
            &gpu,
            64,
            3,
            Default::default(),
            false,
        ))
        .unwrap();
        let params = gpu.uniform(
            "p",
            &gpu::attention::Params {
                n_head: 9,
                n_kv_head: 3,
                head_size: 64,
                q_stride: 576,
                kv_stride: 192,
                probs_stride: 2048,
                probs_rows: 0,
                scale: 0.125,
                window: 0,
                eps: 0.0,
                _pad: [0; 2],
            },
        );
        let (q, kc, vc, out, probs) = (
            zeros((t * 576 * 4) as usize),
            zeros(2048 * 192 * 4),
            zeros(2048 * 192 * 4),
            zeros(gpu::attention::partial_floats(t as usize * 9, 64) * 4),
            zeros(4),
        );
        let (table, norm) = (zeros(16), zeros(16)); // placeholders: no q/k norms
        let bind = k.kernel.bind(
            &gpu,
            &[&params, &step, &q, &kc, &vc, &out, &probs, &table, &norm],
        );
        time(&gpu, &format!("attention T={t} (100 cached)"), 10, |pass| {
            k.dispatch(&gpu, pass, &bind, 9, t, 1)
        });
    }
    let k = pollster::block_on(gpu::sample::kernel(&gpu)).unwrap();
    let step = step_for(1);
    let logits = zeros(49152 * 4);
    let out = zeros(4);
    // A full window of 64 recent ids, as a long chat with the penalty on has.
    let window: Vec<u32> = (0..64).map(|i| i * 700).collect();
    let recent = gpu
        .storage_init("recent", &gpu::sample::recent_words(&window))
        .unwrap();
    for (label, s) in [
        ("greedy", (0.0, 0, 1.0, 1.0)),
        ("top-k 40, top-p 0.95", (0.8, 40, 0.95, 1.0)),
        ("top-k 40, top-p 0.95, penalty 1.1", (0.8, 40, 0.95, 1.1)),
    ] {
        let sp = lantern::cpu::SampleParams {
            temperature: s.0,
            top_k: s.1,
            top_p: s.2,
            repeat_penalty: s.3,
        };
        let params = gpu.uniform("p", &gpu::sample::Params::new(49152, sp));
        let bind = k.bind(&gpu, &[&params, &step, &logits, &out, &recent]);
        time(&gpu, &format!("sample {label} V=49152"), 5, |pass| {
            gpu::sample::dispatch(&gpu, &k, pass, &bind)
        });
    }
}
