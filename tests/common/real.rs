//! Golden files of real models made by independent implementations
//! (scripts/make_smollm2_golden.py, scripts/make_gemma_golden.py), and the checks run on them.
#![allow(dead_code)]

use super::assert_close;
use lantern::cpu::SampleParams;
use lantern::gpu::Gpu;
use lantern::gpu::model::GpuModel;
use serde::Deserialize;
use std::path::Path;

pub const GREEDY: SampleParams = SampleParams {
    temperature: 0.0,
    top_k: 0,
    top_p: 1.0,
    repeat_penalty: 1.0,
};

#[derive(Deserialize)]
pub struct Golden {
    pub system_prompt: String,
    pub cases: Vec<Case>,
    pub tokenizer: Vec<TokenCase>,
}

#[derive(Deserialize)]
pub struct Case {
    pub kind: String,
    pub text: String,
    pub rendered: String,
    pub prompt_ids: Vec<u32>,
    pub greedy_ids: Vec<u32>,
    /// The gap between the reference's two best logits at each greedy step.
    #[serde(default)]
    pub greedy_margins: Vec<f32>,
    pub logits: Vec<TopLogits>,
}

#[derive(Deserialize)]
pub struct TopLogits {
    pub position: usize,
    pub top_ids: Vec<u32>,
    pub top_logits: Vec<f32>,
}

#[derive(Deserialize)]
pub struct TokenCase {
    pub text: String,
    pub ids: Vec<u32>,
}

/// The logits the golden file lists (the top 40 of the reference) within tolerance, and
/// the same arg max.
pub fn check_logits(what: &str, got: &[f32], want: &TopLogits) {
    let got_top: Vec<f32> = want.top_ids.iter().map(|&i| got[i as usize]).collect();
    assert_close(what, &got_top, &want.top_logits, 0.02, 0.002);
    let argmax = (0..got.len())
        .max_by(|&a, &b| got[a].total_cmp(&got[b]))
        .unwrap();
    assert_eq!(argmax as u32, want.top_ids[0], "{what}: arg max");
}

/// Gaps between the two best logits smaller than this are near-ties: past one, an exact-f32
/// implementation may rightly pick the other token.
pub const NEAR_TIE: f32 = 0.05;

pub fn load(path: &Path) -> Golden {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap()
}

/// `case`'s prompt and greedy tokens fed through `model` in passes (position 0, up to the
/// middle, the rest of the prompt, then one token at a time, so the KV cache carries over):
/// the logits the golden lists within tolerance after each pass, the greedy choice equal to
/// the reference's up to the first near-tie (the reference's tokens are fed on, so later
/// positions are compared too). Returns the greedy tokens compared.
pub fn check_case_on_gpu(gpu: &Gpu, model: &mut GpuModel, what: &str, case: &Case) -> usize {
    let mut seq = case.prompt_ids.clone();
    seq.extend_from_slice(&case.greedy_ids);
    let logits_at = |p: usize| case.logits.iter().find(|l| l.position == p);
    let n_prompt = case.prompt_ids.len();
    let tie = case
        .greedy_margins
        .iter()
        .position(|&g| g < NEAR_TIE)
        .unwrap_or(case.greedy_ids.len());
    model.reset();
    let mid = n_prompt / 2;
    let mut ranges = vec![0..1, 1..mid + 1, mid + 1..n_prompt];
    ranges.extend((n_prompt..seq.len()).map(|i| i..i + 1));
    for range in ranges.into_iter().filter(|r| !r.is_empty()) {
        let end = range.end - 1;
        let next = pollster::block_on(model.prefill(gpu, &seq[range], GREEDY, 0.0)).unwrap();
        // The greedy step this pass predicts, once past the prompt.
        let step = (end + 1).checked_sub(n_prompt);
        if step.is_some_and(|step| step < tie) {
            assert_eq!(next, seq[end + 1], "{what}: greedy token {step:?}");
        }
        if let Some(want) = logits_at(end) {
            let got = pollster::block_on(model.read_logits(gpu)).unwrap();
            let what = format!("{what} @{end}");
            if want.top_logits[0] - want.top_logits[1] >= NEAR_TIE {
                check_logits(&what, &got, want);
            } else {
                // A near-tie: the logits within tolerance, either of the two may win.
                let got_top: Vec<f32> = want.top_ids.iter().map(|&i| got[i as usize]).collect();
                assert_close(&what, &got_top, &want.top_logits, 0.02, 0.002);
            }
        }
    }
    tie.min(case.greedy_ids.len())
}
