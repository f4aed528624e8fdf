//! The GPU forward pass and generation against golden files made by an independent numpy
//! implementation (scripts/make_gpt2_fixtures.py).
//!
//! The logits and the captured probabilities are compared with the f32 KV cache
//! (`KvCache::F32`), like the f32 implementations they are checked against: the default f16
//! cache rounds keys and values to 2^-11 of their size, which moves gpt2-tiny-f32's logits by
//! up to 2.8e-3 (the tolerance there is 2e-3 + 1e-3·|logit|) and attention probabilities by
//! up to 1e-3 of their value. Greedy generation and the KV-cache reuse of chat run with the
//! default f16 cache; the kernels test it against f16-rounded references.

mod common;
use common::*;
use lantern::cpu::SampleParams;
use lantern::generate::{GenerateOptions, Generation, StopReason, generate_cpu};
use lantern::gpu::Shapes;
use lantern::gpu::attention::KvCache;
use lantern::gpu::model::{GpuModel, ModelOptions};
use lantern::gpu::top_k::{self, TopK};
use lantern::model::LoadedModel;
use lantern::model::chat::Message;

const GREEDY: SampleParams = SampleParams {
    temperature: 0.0,
    top_k: 0,
    top_p: 1.0,
    repeat_penalty: 1.0,
};
const ATOL: f32 = 2e-3;
const RTOL: f32 = 1e-3;

fn sequence(case: &GoldenCase) -> Vec<u32> {
    let mut seq = case.prompt_ids.clone();
    seq.extend_from_slice(&case.greedy_ids[..case.greedy_ids.len() - 1]);
    seq
}

#[test]
fn gpu_prefill_logits_match_golden() {
    let Some(gpu) = gpu() else { return };
    for name in FIXTURES {
        let m = LoadedModel::from_path(&fixture(name)).unwrap();
        // A chunk of 7 tokens: prompts take several passes, as long prompts do; with it,
        // every matrix split by rows into parts of at most 4 KiB (one dispatch each), as
        // matrices larger than one storage binding are (Llama: all; GPT-2: wte and lm_head);
        // and the kernel shapes a real GPU takes (prompts through the tiled matmul).
        for (chunk, max_part_bytes, shapes) in [
            (128, None, None),
            (7, Some(4096), None),
            (7, None, Some(Shapes::Gpu)),
        ] {
            let mut model = pollster::block_on(GpuModel::new(
                gpu,
                &m.weights,
                ModelOptions {
                    context: None,
                    chunk,
                    capture: 0,
                    kv_cache: KvCache::F32,
                    max_part_bytes,
                    f16_weights: false,
                    shapes,
                },
            ))
            .unwrap();
            for case in &golden(name).cases {
                let seq = sequence(case);
                for g in &case.logits {
                    model.reset();
                    pollster::block_on(model.prefill(gpu, &seq[..=g.position], GREEDY, 0.0))
                        .unwrap();
                    let got = pollster::block_on(model.read_logits(gpu)).unwrap();
                    assert_close(
                        &format!(
                            "{name} chunk {chunk} parts {max_part_bytes:?} {shapes:?} prefill logits @{}",
                            g.position
                        ),
                        &got,
                        &g.values,
                        ATOL,
                        RTOL,
                    );
                }
            }
        }
    }
}

#[test]
fn gpu_decode_logits_match_golden() {
    let Some(gpu) = gpu() else { return };
    // The adapter's kernel shapes, and a real GPU's (matvec's 64 lanes an output).
    for (name, shapes) in FIXTURES
        .iter()
        .flat_map(|n| [(n, None), (n, Some(Shapes::Gpu))])
    {
        let m = LoadedModel::from_path(&fixture(name)).unwrap();
        let mut model = pollster::block_on(GpuModel::new(
            gpu,
            &m.weights,
            ModelOptions {
                kv_cache: KvCache::F32,
                shapes,
                ..Default::default()
            },
        ))
        .unwrap();
        for case in &golden(name).cases {
            // One token per pass: the matrix–vector path and the KV cache.
            model.reset();
            let seq = sequence(case);
            for (pos, &tok) in seq.iter().enumerate() {
                pollster::block_on(model.prefill(gpu, &[tok], GREEDY, 0.0)).unwrap();
                if let Some(g) = case.logits.iter().find(|g| g.position == pos) {
                    let got = pollster::block_on(model.read_logits(gpu)).unwrap();
                    assert_close(
                        &format!("{name} {shapes:?} decode logits @{pos}"),
                        &got,
                        &g.values,
                        ATOL,
                        RTOL,
                    );
                }
            }
        }
    }
}

/// Greedy generation as the CLI runs it, and as the page does (capturing for the
/// visualization: one compute pass per block, one attention split, probabilities written).
#[test]
fn gpu_greedy_generation_matches_golden() {
    let Some(gpu) = gpu() else { return };
    for (name, capture) in FIXTURES.iter().flat_map(|n| [(n, 0), (n, 256)]) {
        let m = LoadedModel::from_path(&fixture(name)).unwrap();
        let opts = ModelOptions {
            capture,
            ..Default::default()
        };
        let mut model = pollster::block_on(GpuModel::new(gpu, &m.weights, opts)).unwrap();
        model.set_capture(capture > 0);
        for case in &golden(name).cases {
            let ids = m.encode_prompt(&case.prompt);
            assert_eq!(ids, case.prompt_ids, "{name}: prompt ids");
            let opts = GenerateOptions {
                max_tokens: 12,
                sample: GREEDY,
                seed: 0,
            };
            let mut generation =
                Generation::new(gpu, &mut model, &m.tokenizer, &m.stop_ids, ids, opts).unwrap();
            let text: String = generation.by_ref().map(|p| p.unwrap()).collect();
            assert_eq!(
                generation.generated_ids, case.greedy_ids,
                "{name}: greedy ids for {:?}",
                case.prompt
            );
            assert_eq!(
                text,
                m.tokenizer.decode(&case.greedy_ids),
                "{name}: streamed text"
            );
            let want_stop = if case.greedy_ids.len() < 12 {
                StopReason::EndOfText
            } else {
                StopReason::MaxTokens
            };
            assert_eq!(generation.stop, Some(want_stop), "{name}: stop reason");
        }
    }
}

/// The repetition penalty on the GPU (applied in the sampler over the last 64 tokens)
/// picks the tokens the CPU reference picks, greedy and sampled, and it changes them.
#[test]
fn repetition_penalty_matches_the_cpu_reference() {
    let Some(gpu) = gpu() else { return };
    let mut changed = 0;
    for name in FIXTURES {
        let m = LoadedModel::from_path(&fixture(name)).unwrap();
        let opts = ModelOptions {
            kv_cache: KvCache::F32,
            ..Default::default()
        };
        let mut model = pollster::block_on(GpuModel::new(gpu, &m.weights, opts)).unwrap();
        let ids = golden(name).cases[0].prompt_ids.clone();
        for (temperature, top_k, top_p, repeat_penalty) in
            [(0.0, 0, 1.0, 1.5), (0.9, 40, 0.95, 1.3)]
        {
            let opts = GenerateOptions {
                max_tokens: 16,
                sample: SampleParams {
                    temperature,
                    top_k,
                    top_p,
                    repeat_penalty,
                },
                seed: 3,
            };
            model.reset();
            let mut g = Generation::new(
                gpu,
                &mut model,
                &m.tokenizer,
                &m.stop_ids,
                ids.clone(),
                opts,
            )
            .unwrap();
            g.by_ref().for_each(|p| {
                p.unwrap();
            });
            let (want, _) = generate_cpu(&m.weights, &m.stop_ids, &ids, opts).unwrap();
            assert_eq!(g.generated_ids, want, "{name}: {:?}", opts.sample);
            let plain = GenerateOptions {
                sample: SampleParams {
                    repeat_penalty: 1.0,
                    ..opts.sample
                },
                ..opts
            };
            let (unpenalized, _) = generate_cpu(&m.weights, &m.stop_ids, &ids, plain).unwrap();
            changed += (unpenalized != want) as usize;
        }
    }
    assert!(changed > 0, "the penalty changed no generation");
}

/// A second chat turn that reuses the KV cache of the first gives the same tokens as the
/// same prompt run from scratch.
#[test]
fn chat_turns_reuse_the_kv_cache_exactly() {
    let Some(gpu) = gpu() else { return };
    let m = LoadedModel::from_path(&fixture("llama-tiny-f16")).unwrap();
    let mut model =
        pollster::block_on(GpuModel::new(gpu, &m.weights, ModelOptions::default())).unwrap();
    let opts = GenerateOptions {
        max_tokens: 6,
        sample: GREEDY,
        seed: 0,
    };
    let mut chat = lantern::chat::Chat::new("Be brief.");
    let mut answers = Vec::new();
    for (turn, text) in ["Hi there!", "And again?"].iter().enumerate() {
        let (ids, cached) = chat.prompt_for(&m, text, 64, 6).unwrap();
        if turn == 1 {
            assert!(
                cached > 10,
                "the second turn reuses the first's tokens ({cached})"
            );
        }
        let mut g = Generation::resume(
            gpu,
            &mut model,
            &m.tokenizer,
            &m.stop_ids,
            ids.clone(),
            cached,
            opts,
        )
        .unwrap();
        let _: String = g.by_ref().map(|p| p.unwrap()).collect();
        let (generated, kept) = (g.generated_ids.clone(), g.cached_ids());
        chat.answered(&m.tokenizer.decode(&generated), kept);
        answers.push((ids, generated));
    }
    let (ids, reused) = &answers[1];
    let mut fresh = Generation::new(
        gpu,
        &mut model,
        &m.tokenizer,
        &m.stop_ids,
        ids.clone(),
        opts,
    )
    .unwrap();
    let _: String = fresh.by_ref().map(|p| p.unwrap()).collect();
    assert_eq!(&fresh.generated_ids, reused);
}

/// Editing the second question (and changing the system prompt) and sending it again, as
/// the page does: the KV cache is reused up to the first changed token, and the answer is
/// the one a fresh run of the edited conversation gives.
#[test]
fn an_edited_question_reuses_the_cache_up_to_the_edit() {
    let Some(gpu) = gpu() else { return };
    let m = LoadedModel::from_path(&fixture("llama-tiny-f16")).unwrap();
    let mut model =
        pollster::block_on(GpuModel::new(gpu, &m.weights, ModelOptions::default())).unwrap();
    let opts = GenerateOptions {
        max_tokens: 6,
        sample: GREEDY,
        seed: 0,
    };
    let run = |model: &mut GpuModel, ids: Vec<u32>, cached: usize| {
        let mut g =
            Generation::resume(gpu, model, &m.tokenizer, &m.stop_ids, ids, cached, opts).unwrap();
        let _: String = g.by_ref().map(|p| p.unwrap()).collect();
        (g.generated_ids.clone(), g.cached_ids())
    };
    let mut chat = lantern::chat::Chat::new("Be brief.");
    let mut turns = Vec::new();
    for text in ["Hi there!", "And again?"] {
        let (ids, cached) = chat.prompt_for(&m, text, 64, 6).unwrap();
        let (generated, kept) = run(&mut model, ids, cached);
        let answer = m.tokenizer.decode(&generated);
        chat.answered(&answer, kept);
        turns.push(Message::new("user", text));
        turns.push(Message::new("assistant", &answer));
    }
    for (system, edit_at) in [("Be brief.", 2), ("Be very brief.", 0)] {
        let mut edited = turns[..edit_at].to_vec();
        edited.push(Message::new("user", "Once more?"));
        chat.set_turns(system, edited);
        let (ids, cached) = chat.prompt(&m, 64, 6).unwrap();
        let before = chat.token_count(&m).unwrap();
        assert_eq!(before, ids.len());
        if edit_at == 2 {
            assert!(
                cached > 10 && cached < ids.len(),
                "reused {cached} of {}",
                ids.len()
            );
        }
        let (generated, kept) = run(&mut model, ids.clone(), cached);
        chat.answered(&m.tokenizer.decode(&generated), kept);
        model.reset();
        let (fresh, _) = run(&mut model, ids, 0);
        assert_eq!(generated, fresh, "{system:?}, edit at {edit_at}");
    }
}

/// The attention probabilities the GPU kernels write (captured over a prompt in several
/// chunks, then decoded tokens) equal the CPU reference's, layer by layer; rows sum to 1,
/// future positions are exactly 0, and while capturing a token reads back only its id and
/// its top-k row.
#[test]
fn captured_attention_matches_cpu() {
    if gpu().is_none() {
        return;
    }
    // A device of its own: its read-back counter sees no other test's work.
    let gpu = &pollster::block_on(lantern::gpu::Gpu::new()).unwrap();
    for name in FIXTURES {
        let m = LoadedModel::from_path(&fixture(name)).unwrap();
        let opts = ModelOptions {
            context: None,
            chunk: 7,
            capture: 40,
            kv_cache: KvCache::F32,
            max_part_bytes: None,
            f16_weights: false,
            shapes: None,
        };
        let mut model = pollster::block_on(GpuModel::new(gpu, &m.weights, opts)).unwrap();
        model.set_capture(true);
        let case = &golden(name).cases[0];
        let mut ids = case.prompt_ids.clone();
        let mut next = pollster::block_on(model.prefill(gpu, &ids, GREEDY, 0.0)).unwrap();
        for _ in 0..2 {
            ids.push(next);
            let before = gpu.snapshot();
            next = pollster::block_on(model.decode(gpu, GREEDY, 0.0)).unwrap();
            let top_k_row = top_k::row_len(top_k::K) as u64 * 4;
            let read = gpu.snapshot().since(&before).readback_bytes;
            assert_eq!(read, 4 + top_k_row, "{name}");
        }
        let n = ids.len();
        assert!(n <= 40, "{name}: the test prompt must fit the capture");
        let want = lantern::cpu::attention(&m.weights, &ids);
        for (layer, want) in want.iter().enumerate() {
            let before = gpu.snapshot();
            let got = pollster::block_on(model.read_attention(gpu, layer, n)).unwrap();
            let what = format!("{name} layer {layer} attention ({n} tokens)");
            let cost = gpu.snapshot().since(&before);
            assert_eq!(cost.objects(), 0, "{what}: reading made GPU objects");
            let rows = 40.min(m.weights.context_length()) as u64;
            let heads = m.weights.n_head() as u64;
            assert_eq!(cost.readback_bytes, heads * n as u64 * rows * 4, "{what}");
            assert_close(&what, &got, want, 1e-5, 1e-3);
            for (r, row) in got.chunks(n).enumerate() {
                let i = r % n;
                let s: f32 = row.iter().sum();
                assert!((s - 1.0).abs() < 1e-4, "{what}: row {r} sums to {s}");
                assert!(
                    row[i + 1..].iter().all(|&p| p == 0.0),
                    "{what}: row {r} sees the future"
                );
            }
        }
    }
}

/// A GPU top-k row against the CPU's logits: rank by rank the same probabilities, and each
/// id's CPU probability equal to the one shown (so near-ties may swap, nothing else).
fn assert_top_k(what: &str, got: &TopK, logits: &[f32], chosen: Option<u32>) {
    let (ids, probs, c) = lantern::cpu::top_k(logits, got.ids.len(), chosen);
    assert_close(
        &format!("{what}: probabilities by rank"),
        &got.probs,
        &probs,
        1e-5,
        1e-3,
    );
    let cpu_prob = |id: u32| lantern::cpu::top_k(logits, 0, Some(id)).2.unwrap();
    let of_ids: Vec<f32> = got.ids.iter().map(|&i| cpu_prob(i)).collect();
    assert_close(
        &format!("{what}: probabilities of the ids shown"),
        &of_ids,
        &got.probs,
        1e-5,
        1e-3,
    );
    assert_eq!(got.ids[0], ids[0], "{what}: the most likely token");
    match (got.chosen, c) {
        (Some(g), Some(w)) => assert_close(&format!("{what}: chosen"), &[g], &[w], 1e-5, 1e-3),
        (g, w) => assert_eq!(g.is_some(), w.is_some(), "{what}: chosen"),
    }
}

/// The prediction view's numbers (top-k of each sampled token's logits) and the logit lens
/// (each layer's output row through the final norm and unembedding) equal the CPU
/// reference's; the lens's last layer is the model's own prediction.
#[test]
fn predictions_and_logit_lens_match_cpu() {
    let Some(gpu) = gpu() else { return };
    for name in FIXTURES {
        let m = LoadedModel::from_path(&fixture(name)).unwrap();
        let opts = ModelOptions {
            context: None,
            chunk: 7,
            capture: 40,
            kv_cache: KvCache::F32,
            max_part_bytes: None,
            f16_weights: false,
            shapes: None,
        };
        let mut model = pollster::block_on(GpuModel::new(gpu, &m.weights, opts)).unwrap();
        model.set_capture(true);
        let mut ids = golden(name).cases[0].prompt_ids.clone();
        let prompt_len = ids.len();
        let mut next = pollster::block_on(model.prefill(gpu, &ids, GREEDY, 0.0)).unwrap();
        let v = m.weights.vocab_size();
        for step in 0..3 {
            let logits = lantern::cpu::forward(&m.weights, &ids);
            let last = &logits[(ids.len() - 1) * v..];
            let got = model.prediction().expect("captured").clone();
            assert_top_k(&format!("{name} token {step}"), &got, last, Some(next));
            assert_eq!(got.ids[0], next, "{name}: greedy takes the top candidate");
            ids.push(next);
            next = pollster::block_on(model.decode(gpu, GREEDY, 0.0)).unwrap();
        }
        // ids now holds the prompt and 2 generated tokens; the cache holds all of them.
        let n = ids.len();
        for pos in [0, n / 2, n - 2, n - 1] {
            let follow = ids.get(pos + 1).copied();
            let got = pollster::block_on(model.logit_lens(gpu, pos, follow)).unwrap();
            let want = lantern::cpu::logit_lens(&m.weights, &ids, pos);
            assert_eq!(got.len(), m.weights.n_layer(), "{name}: a row per layer");
            for (layer, (g, w)) in got.iter().zip(&want).enumerate() {
                assert_top_k(
                    &format!("{name} lens pos {pos} layer {layer}"),
                    g,
                    w,
                    follow,
                );
            }
            // From the prompt's last token on, what followed is what the model predicted.
            if pos + 1 >= prompt_len {
                let top = got.last().unwrap().ids[0];
                let said = follow.unwrap_or(next);
                assert_eq!(
                    top, said,
                    "{name} pos {pos}: the last layer's lens predicts it"
                );
            }
        }
        assert!(pollster::block_on(model.logit_lens(gpu, n, None)).is_err());
    }
}

/// A quantized GPT-2 from GGUF (gpt2-gguf: Q8_0 matrices and embedding) stays in its blocks
/// on the GPU: its decode reads about a quarter of the bytes the same matrices take in f32.
#[test]
fn a_quantized_gpt2_gguf_stays_quantized_on_the_gpu() {
    let Some(gpu) = gpu() else { return };
    let m = LoadedModel::from_path(&fixture("gpt2-gguf")).unwrap();
    let lantern::model::Weights::Gpt2(w) = &m.weights else {
        panic!("a GPT-2")
    };
    assert!(w.blocks[0].attn_c_attn.quantized.is_some() && w.wte_quantized.is_some());
    let model = pollster::block_on(GpuModel::new(gpu, &m.weights, Default::default())).unwrap();
    let (c, f, v) = (w.config.n_embd, w.config.n_inner, w.config.vocab_size);
    let f32_matrices = 4 * (w.config.n_layer * (4 * c * c + 2 * c * f) + v * c) as u64;
    let read = model.decode_cost().weight_bytes;
    eprintln!(
        "gpt2-gguf (Q8_0): {read} bytes of weights per token; its matrices in f32: {f32_matrices}"
    );
    assert!(read < f32_matrices / 3, "{read} of {f32_matrices}");
}

/// A stop text (a chat format's turn marker) ends generation where the text reaches it: the
/// streamed pieces and `text()` stop just before it, no piece shows a part of it, and one
/// that never occurs changes nothing. The stop text here spans several of the greedy tokens.
#[test]
fn stop_texts_end_generation_before_them_and_never_show() {
    let Some(gpu) = gpu() else { return };
    let m = LoadedModel::from_path(&fixture("gpt2-tiny-f32")).unwrap();
    let mut model = pollster::block_on(GpuModel::new(gpu, &m.weights, Default::default())).unwrap();
    let case = &golden("gpt2-tiny-f32").cases[0];
    let full = m.tokenizer.decode(&case.greedy_ids);
    // From the middle of the 3rd token's text to the middle of the 5th's.
    let before = m.tokenizer.decode(&case.greedy_ids[..2]).len() + 1;
    let upto = m.tokenizer.decode(&case.greedy_ids[..5]).len() - 1;
    let stop = full[before..upto].to_string();
    let want = &full[..full.find(&stop).unwrap()];
    let opts = GenerateOptions {
        max_tokens: 12,
        sample: GREEDY,
        seed: 0,
    };
    for (stops, expected) in [
        (vec![stop.clone()], want),
        (
            vec!["never in this text \u{1F600}".to_string()],
            full.as_str(),
        ),
    ] {
        let ids = case.prompt_ids.clone();
        let mut g = Generation::new(gpu, &mut model, &m.tokenizer, &m.stop_ids, ids, opts)
            .unwrap()
            .stop_at_texts(&stops);
        let pieces: Vec<String> = g.by_ref().map(|p| p.unwrap()).collect();
        let shown = pieces.concat();
        assert_eq!(shown, expected, "stops {stops:?}: pieces {pieces:?}");
        assert_eq!(g.text(), expected);
        if expected.len() < full.len() {
            assert_eq!(g.stop, Some(StopReason::EndOfText));
            assert!(g.generated_ids.len() < case.greedy_ids.len());
        }
    }
}

/// Finite weights whose activations overflow (qwen2-tiny's final norm gains × 1e38): the
/// logits are infinite, and generation stops with an error naming the step, never an id
/// outside the vocabulary; for greedy and sampled draws, at the prompt and while decoding.
#[test]
fn non_finite_logits_are_an_error_at_their_step() {
    use lantern::LanternError;
    use lantern::model::Weights;
    let Some(gpu) = gpu() else { return };
    let mut m = LoadedModel::from_path(&fixture("qwen2-tiny").join("model.gguf")).unwrap();
    let Weights::Llama(w) = &mut m.weights else {
        panic!("a Llama-family model")
    };
    let gains = w.output_norm.clone();
    w.output_norm
        .iter_mut()
        .for_each(|g| *g = (*g * 1e38).clamp(-3e38, 3e38));
    let mut model = pollster::block_on(GpuModel::new(gpu, &m.weights, Default::default())).unwrap();
    let ids = m.encode_prompt("The lantern");
    for sample in [
        GREEDY,
        SampleParams {
            temperature: 0.8,
            top_k: 40,
            top_p: 0.95,
            repeat_penalty: 1.0,
        },
    ] {
        let opts = GenerateOptions {
            max_tokens: 4,
            sample,
            seed: 1,
        };
        model.reset();
        let mut g = Generation::new(
            gpu,
            &mut model,
            &m.tokenizer,
            &m.stop_ids,
            ids.clone(),
            opts,
        )
        .unwrap();
        match pollster::block_on(g.next_token()) {
            Err(e @ LanternError::NonFiniteLogits { step: 1, .. }) => {
                assert!(
                    e.to_string()
                        .contains("non-finite logits (NaN or infinity) at step 1")
                )
            }
            other => panic!("{sample:?}: {other:?}"),
        }
    }
    // NaN only once decoding feeds back the first answer (its embedding row NaN, as an
    // overflowing f16 KV cache would make it): the error names step 2.
    let Weights::Llama(w) = &mut m.weights else {
        unreachable!()
    };
    w.output_norm = gains;
    let opts = GenerateOptions {
        max_tokens: 4,
        sample: GREEDY,
        seed: 1,
    };
    let first = {
        let mut model =
            pollster::block_on(GpuModel::new(gpu, &m.weights, Default::default())).unwrap();
        let mut g = Generation::new(
            gpu,
            &mut model,
            &m.tokenizer,
            &m.stop_ids,
            ids.clone(),
            opts,
        )
        .unwrap();
        pollster::block_on(g.next_token())
            .unwrap()
            .expect("a token")
    };
    assert!(!ids.contains(&first));
    let Weights::Llama(w) = &mut m.weights else {
        unreachable!()
    };
    if w.output.is_none() {
        w.output = Some(w.token_embd.clone()); // untied, so the unembedding stays finite
    }
    let row = w.token_embd.cols * 4;
    let nan = f32::NAN.to_le_bytes().repeat(w.token_embd.cols);
    w.token_embd.bytes[first as usize * row..][..row].copy_from_slice(&nan);
    let mut model = pollster::block_on(GpuModel::new(gpu, &m.weights, Default::default())).unwrap();
    let mut g = Generation::new(gpu, &mut model, &m.tokenizer, &m.stop_ids, ids, opts).unwrap();
    assert_eq!(pollster::block_on(g.next_token()).unwrap(), Some(first));
    match pollster::block_on(g.next_token()) {
        Err(LanternError::NonFiniteLogits { step: 2, .. }) => {}
        other => panic!("decoding a NaN row: {other:?}"),
    }
}
