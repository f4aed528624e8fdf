//! The CPU reference against golden files made by an independent numpy implementation
//! (scripts/make_gpt2_fixtures.py).

mod common;
use common::*;
use lantern::cpu::{SampleParams, forward};
use lantern::generate::{GenerateOptions, StopReason, generate_cpu};
use lantern::model::LoadedModel;

#[test]
fn cpu_logits_and_greedy_tokens_match_golden() {
    for name in FIXTURES {
        let model = LoadedModel::from_path(&fixture(name)).expect("fixture loads");
        let golden = golden(name);
        let v = golden.vocab_size;
        for case in &golden.cases {
            assert_eq!(
                model.encode_prompt(&case.prompt),
                case.prompt_ids,
                "{name}: prompt ids"
            );
            let mut seq = case.prompt_ids.clone();
            seq.extend_from_slice(&case.greedy_ids[..case.greedy_ids.len() - 1]);
            let logits = forward(&model.weights, &seq);
            for g in &case.logits {
                let got = &logits[g.position * v..][..v];
                assert_close(
                    &format!("{name} logits @{}", g.position),
                    got,
                    &g.values,
                    1e-3,
                    1e-3,
                );
            }
            let greedy = SampleParams {
                temperature: 0.0,
                top_k: 0,
                top_p: 1.0,
                repeat_penalty: 1.0,
            };
            let opts = GenerateOptions {
                max_tokens: 12,
                sample: greedy,
                seed: 0,
            };
            let (generated, stop) =
                generate_cpu(&model.weights, &model.stop_ids, &case.prompt_ids, opts).unwrap();
            assert_eq!(
                generated, case.greedy_ids,
                "{name}: greedy ids for {:?}",
                case.prompt
            );
            let want_stop = if case.greedy_ids.len() < 12 {
                StopReason::EndOfText
            } else {
                StopReason::MaxTokens
            };
            assert_eq!(stop, want_stop, "{name}: stop reason");
        }
    }
}
