//! Real models the page suggests, as Q4_K_M GGUF files on Hugging Face, with what each needs:
//! the download and an estimate of the GPU memory Lantern allocates for it (the weights as
//! stored, the KV cache for the page's context, the attention capture of the visualization),
//! so that the page can say before downloading whether one fits.

/// One suggested model. Shapes are the checkpoints' own (config.json / GGUF metadata).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Suggested {
    pub name: &'static str,
    /// The Hugging Face repository and file.
    pub repo: &'static str,
    pub file: &'static str,
    /// Bytes of the file (Hugging Face's listing, rounded to MB).
    pub download_bytes: u64,
    pub architecture: &'static str,
    /// Whether it is tuned to chat (has a chat template).
    pub chat: bool,
    pub n_layer: u64,
    pub n_head: u64,
    /// Values of k (and of v) per position: key heads × head size.
    pub kv_width: u64,
    pub n_embd: u64,
    pub vocab: u64,
}

const MB: u64 = 1_000_000;

/// Smallest first.
pub const SUGGESTED: [Suggested; 5] = [
    Suggested {
        name: "Gemma 3 270M (instruction-tuned)",
        repo: "unsloth/gemma-3-270m-it-GGUF",
        file: "gemma-3-270m-it-Q4_K_M.gguf",
        download_bytes: 253 * MB,
        architecture: "Gemma 3",
        chat: true,
        n_layer: 18,
        n_head: 4,
        kv_width: 256,
        n_embd: 640,
        vocab: 262144,
    },
    Suggested {
        name: "SmolLM2 360M Instruct",
        repo: "bartowski/SmolLM2-360M-Instruct-GGUF",
        file: "SmolLM2-360M-Instruct-Q4_K_M.gguf",
        download_bytes: 271 * MB,
        architecture: "Llama",
        chat: true,
        n_layer: 32,
        n_head: 15,
        kv_width: 5 * 64,
        n_embd: 960,
        vocab: 49152,
    },
    Suggested {
        name: "Qwen2.5 0.5B Instruct",
        repo: "bartowski/Qwen2.5-0.5B-Instruct-GGUF",
        file: "Qwen2.5-0.5B-Instruct-Q4_K_M.gguf",
        download_bytes: 398 * MB,
        architecture: "Qwen 2",
        chat: true,
        n_layer: 24,
        n_head: 14,
        kv_width: 2 * 64,
        n_embd: 896,
        vocab: 151936,
    },
    Suggested {
        name: "Gemma 3 1B (instruction-tuned)",
        repo: "unsloth/gemma-3-1b-it-GGUF",
        file: "gemma-3-1b-it-Q4_K_M.gguf",
        download_bytes: 806 * MB,
        architecture: "Gemma 3",
        chat: true,
        n_layer: 26,
        n_head: 4,
        kv_width: 256,
        n_embd: 1152,
        vocab: 262144,
    },
    Suggested {
        name: "Llama 3.2 1B Instruct",
        repo: "bartowski/Llama-3.2-1B-Instruct-GGUF",
        file: "Llama-3.2-1B-Instruct-Q4_K_M.gguf",
        download_bytes: 808 * MB,
        architecture: "Llama",
        chat: true,
        n_layer: 16,
        n_head: 32,
        kv_width: 8 * 64,
        n_embd: 2048,
        vocab: 128256,
    },
];

impl Suggested {
    pub fn url(&self) -> String {
        format!(
            "https://huggingface.co/{}/resolve/main/{}",
            self.repo, self.file
        )
    }

    /// GPU bytes Lantern allocates for it with `context` tokens of f16 KV cache and
    /// `capture` positions of captured attention and logit lens: the weights (the GPU layout
    /// of weights.rs takes ~7% more than Q4_K_M's blocks: each 32-weight block's scales in a
    /// whole word), the cache, the probabilities, the lens's rows (Gemma's twice: each
    /// block's output is kept as the stream and the last sublayer's output) and logits.
    pub fn gpu_bytes(&self, context: u64, capture: u64) -> u64 {
        let weights = self.download_bytes * 107 / 100;
        let kv = self.n_layer * 2 * context * self.kv_width * 2;
        let probs = self.n_layer * self.n_head * capture * capture * 4;
        let rows = if self.architecture == "Gemma 3" { 2 } else { 1 };
        let lens = self.n_layer * (self.vocab + rows * capture * self.n_embd) * 4;
        weights + kv + probs + lens
    }
}

/// Whether a model of `gpu_bytes` fits a device that can give `budget` bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fit {
    Fits,
    TooBig,
}

pub fn fit(gpu_bytes: u64, budget: u64) -> Fit {
    if gpu_bytes <= budget {
        Fit::Fits
    } else {
        Fit::TooBig
    }
}

/// The GPU memory a page may count on: WebGPU does not say how much a device has, so half
/// of the machine's memory as the browser reports it (`navigator.deviceMemory`, in GB, which
/// Chromium caps at 8), or 2 GB where it does not say.
pub fn budget(device_memory_gb: Option<f64>) -> u64 {
    match device_memory_gb {
        Some(gb) if gb > 0.0 => (gb * 1e9 / 2.0) as u64,
        _ => 2_000_000_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_sizes_and_fits() {
        let llama = SUGGESTED.iter().find(|s| s.name.contains("Llama")).unwrap();
        assert_eq!(
            llama.url(),
            "https://huggingface.co/bartowski/Llama-3.2-1B-Instruct-GGUF/resolve/main/Llama-3.2-1B-Instruct-Q4_K_M.gguf"
        );
        // 808 MB of blocks (865 MB on the GPU) + 67 MB of cache + 134 MB of probabilities +
        // 42 MB of lens.
        assert_eq!(llama.gpu_bytes(2048, 256) / MB, 1107);
        assert_eq!(
            fit(llama.gpu_bytes(2048, 256), budget(Some(8.0))),
            Fit::Fits
        );
        assert_eq!(
            fit(llama.gpu_bytes(2048, 256), budget(Some(2.0))),
            Fit::TooBig
        );
        assert_eq!(budget(None), 2_000_000_000);
        assert!(
            SUGGESTED
                .windows(2)
                .all(|w| w[0].download_bytes <= w[1].download_bytes)
        );
    }
}
