//! The defaults the page and the `lantern` tool share, defined once: the context, how long
//! an answer may grow, the system prompt, and the sampling settings each model answers well
//! with.
//!
//! Sampling comes from the checkpoint when it says (`generation_config.json`'s
//! `temperature`, `top_k`, `top_p`, `repetition_penalty`, `do_sample`), else from
//! [`FAMILIES`], the settings each family's model card or own generation config recommends,
//! else from [`OTHER`].

use crate::cpu::SampleParams;
use crate::model::LoadedModel;

/// Tokens of context (the KV cache), at most the model's own.
pub const CONTEXT: usize = 2048;

/// New tokens at most in a chat answer (the page's setting, `lantern chat`).
pub const MAX_TOKENS_CHAT: usize = 256;

/// New tokens at most for `lantern generate`, which continues text without a turn's end.
pub const MAX_TOKENS_GENERATE: usize = 64;

/// The system prompt Lantern gives when the user sets none. SmolLM2's template would
/// otherwise insert its own ("You are a helpful AI assistant named SmolLM, trained by
/// Hugging Face"), with which the model answers worse (it calls the capital of France
/// "L'Étoile"); a short neutral instruction keeps its answers plain and factual.
pub const SYSTEM_PROMPT: &str = "You are a helpful assistant. Answer briefly and accurately.";

/// A family of models and the sampling it is recommended with.
pub struct Family {
    pub name: &'static str,
    /// `general.architecture` (GGUF) or `model_type`; with `name_has`, a substring of the
    /// model's name (lowercase) that must appear too.
    arch: &'static str,
    name_has: &'static str,
    pub sample: SampleParams,
    /// Where the numbers come from.
    pub source: &'static str,
}

const fn params(temperature: f32, top_k: u32, top_p: f32, repeat_penalty: f32) -> SampleParams {
    SampleParams {
        temperature,
        top_k,
        top_p,
        repeat_penalty,
    }
}

/// The families Lantern knows, first match wins. `top_k` 0 is "off"; where a card gives
/// no top-k, Hugging Face's `generate` default (50) is what its users got.
pub const FAMILIES: [Family; 6] = [
    Family {
        name: "SmolLM2",
        arch: "llama",
        name_has: "smollm",
        sample: params(0.2, 50, 0.9, 1.0),
        source: "SmolLM2's model card: temperature 0.2, top-p 0.9",
    },
    Family {
        name: "Llama 3",
        arch: "llama",
        name_has: "",
        sample: params(0.6, 50, 0.9, 1.0),
        source: "Llama 3.2's generation_config.json: temperature 0.6, top-p 0.9",
    },
    Family {
        name: "Qwen 2.5",
        arch: "qwen2",
        name_has: "",
        sample: params(0.7, 20, 0.8, 1.05),
        source: "Qwen2.5-Instruct's generation_config.json: temperature 0.7, top-k 20, top-p 0.8, repetition penalty 1.05",
    },
    Family {
        name: "Qwen 3",
        arch: "qwen3",
        name_has: "",
        sample: params(0.6, 20, 0.95, 1.0),
        source: "Qwen3's model card (thinking mode): temperature 0.6, top-k 20, top-p 0.95",
    },
    Family {
        name: "Gemma 3",
        arch: "gemma3",
        name_has: "",
        sample: params(1.0, 64, 0.95, 1.0),
        source: "Gemma 3's generation_config.json: top-k 64, top-p 0.95 (temperature 1)",
    },
    Family {
        name: "GPT-2",
        arch: "gpt2",
        name_has: "",
        sample: params(1.0, 50, 1.0, 1.0),
        source: "Hugging Face generate's defaults for GPT-2: top-k 50",
    },
];

/// Any other model: llama.cpp's defaults.
pub const OTHER: SampleParams = params(0.8, 40, 0.95, 1.0);

/// The family of `m`, when Lantern knows it.
pub fn family(m: &LoadedModel) -> Option<&'static Family> {
    let arch = m.weights.arch_key();
    let name = m.name.to_lowercase();
    FAMILIES
        .iter()
        .find(|f| f.arch == arch && name.contains(f.name_has))
}

/// The sampling settings for `m`, and where they come from (for the user to read).
pub fn sampling(m: &LoadedModel) -> (SampleParams, String) {
    let family = family(m);
    let base = family.map_or(OTHER, |f| f.sample);
    if let Some(config) = &m.generation_config
        && let Some(s) = from_generation_config(config, base)
    {
        return (s, "the model's generation_config.json".into());
    }
    match family {
        Some(f) => (f.sample, f.source.into()),
        None => (
            OTHER,
            "llama.cpp's defaults (an unknown model family)".into(),
        ),
    }
}

/// The settings `generation_config.json` gives, over `base` for the ones it leaves out;
/// `None` when it gives none (most only name token ids). `do_sample: false` is greedy.
pub fn from_generation_config(
    config: &serde_json::Value,
    base: SampleParams,
) -> Option<SampleParams> {
    let num = |k: &str| config.get(k).and_then(serde_json::Value::as_f64);
    let mut s = base;
    let mut given = false;
    if let Some(t) = num("temperature") {
        s.temperature = t as f32;
        given = true;
    }
    if let Some(k) = num("top_k") {
        s.top_k = k.max(0.0) as u32;
        given = true;
    }
    if let Some(p) = num("top_p") {
        s.top_p = p as f32;
        given = true;
    }
    if let Some(r) = num("repetition_penalty") {
        s.repeat_penalty = r as f32;
        given = true;
    }
    if config.get("do_sample").and_then(serde_json::Value::as_bool) == Some(false) {
        s.temperature = 0.0;
        given = true;
    }
    given.then_some(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn generation_config_overrides_what_it_gives() {
        let base = FAMILIES[0].sample;
        assert_eq!(
            from_generation_config(&json!({"bos_token_id": 1}), base),
            None
        );
        let s = from_generation_config(&json!({"temperature": 0.7, "top_p": 0.8}), base).unwrap();
        assert_eq!((s.temperature, s.top_p, s.top_k), (0.7, 0.8, base.top_k));
        let s = from_generation_config(&json!({"do_sample": false, "top_k": 20}), base).unwrap();
        assert_eq!((s.temperature, s.top_k), (0.0, 20));
    }
}
