//! The CPU reference against golden files made by an independent numpy implementation
//! (scripts/make_gpt2_fixtures.py).

mod common;
use common::*;
use lantern::cpu::gpt2_forward;
use lantern::model::LoadedModel;

#[test]
fn cpu_logits_and_greedy_tokens_match_golden() {
    for name in FIXTURES {
        let model = LoadedModel::from_path(&fixture(name)).expect("fixture loads");
        let golden = golden(name);
        let v = golden.vocab_size;
        for case in &golden.cases {
            assert_eq!(
                model.tokenizer.encode(&case.prompt),
                case.prompt_ids,
                "{name}: prompt ids"
            );
            let mut seq = case.prompt_ids.clone();
            seq.extend_from_slice(&case.greedy_ids[..case.greedy_ids.len() - 1]);
            let logits = gpt2_forward(&model.weights, &seq, None);
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
            // Greedy generation, one full forward pass per token.
            let mut ids = case.prompt_ids.clone();
            let mut generated = Vec::new();
            while generated.len() < case.greedy_ids.len() + 1
                && ids.len() < model.weights.config.n_positions
            {
                let logits = gpt2_forward(&model.weights, &ids, None);
                let last = &logits[(ids.len() - 1) * v..];
                let next = lantern::cpu::sample(
                    last,
                    lantern::cpu::SampleParams {
                        temperature: 0.0,
                        top_k: 0,
                        top_p: 1.0,
                    },
                    0.0,
                );
                if Some(next) == model.eos {
                    break;
                }
                generated.push(next);
                ids.push(next);
                if generated.len() == case.greedy_ids.len()
                    && golden_stopped_by_length(&case.greedy_ids)
                {
                    break;
                }
            }
            assert_eq!(
                generated, case.greedy_ids,
                "{name}: greedy ids for {:?}",
                case.prompt
            );
        }
    }
}

/// The golden script generates at most 12 tokens.
fn golden_stopped_by_length(ids: &[u32]) -> bool {
    ids.len() == 12
}
