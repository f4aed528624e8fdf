//! The engine as the page holds it: where a model comes from, getting its bytes (with
//! progress), parsing them, and uploading them to a fresh GPU device.

use super::web::{self, FetchError};
use crate::gpu::Gpu;
use crate::gpu::model::{GpuModel, MAX_CHUNK, ModelOptions};
use crate::model::{LoadedModel, ModelFiles};
use web_sys::AbortSignal;

/// The default model, served by `scripts/run.sh` from the page's own origin.
pub const DEFAULT_MODEL_URL: &str = "models/SmolLM2-135M-Instruct.Q4_1.gguf";

/// Tokens of context the page allocates a KV cache for (SmolLM2: 47 MB at 2048 in f16), as
/// the `lantern` tool does: [`crate::defaults::CONTEXT`].
pub const CONTEXT: usize = crate::defaults::CONTEXT;

/// Positions whose attention the page can show (SmolLM2: 30 layers × 9 heads × 256² floats,
/// 71 MB of GPU memory).
pub const CAPTURE: usize = 256;

/// Where a model's bytes come from.
#[derive(Clone)]
pub enum Source {
    /// A `.gguf` file, or a folder holding a Hugging Face checkpoint's files.
    Url(String),
    /// Files the user picked or dropped: one `.gguf`, or a checkpoint's files.
    Files(Vec<web_sys::File>),
    /// A model kept in this browser's storage (see store.rs), by its key.
    Stored { key: String, name: String },
}

impl Source {
    /// What the user typed: a URL or path (`.gguf` file or model folder), or a Hugging Face
    /// model id such as `openai-community/gpt2`.
    pub fn from_input(text: &str) -> Result<Self, String> {
        let text = text.trim().trim_end_matches('/');
        if text.is_empty() {
            return Err("type a URL or a Hugging Face model id".into());
        }
        let is_id = text.split('/').count() == 2
            && !text.contains(':')
            && !text.starts_with('.')
            && !text.ends_with(".gguf");
        if is_id {
            return Ok(Source::Url(format!(
                "https://huggingface.co/{text}/resolve/main"
            )));
        }
        Ok(Source::Url(text.to_string()))
    }

    /// What makes two loads the same model: the URL, or the files' names and sizes.
    pub fn identity(&self) -> String {
        match self {
            Source::Url(url) => url.clone(),
            Source::Files(files) => {
                let mut parts: Vec<String> = files
                    .iter()
                    .map(|f| format!("{}:{}", f.name(), f.size()))
                    .collect();
                parts.sort();
                format!("file:{}", parts.join(","))
            }
            Source::Stored { key, .. } => format!("stored:{key}"),
        }
    }

    /// A short name for the status line.
    pub fn name(&self) -> String {
        match self {
            Source::Stored { name, .. } => name.clone(),
            Source::Url(url) => {
                let url = url.trim_end_matches("/resolve/main");
                let url = url.trim_start_matches("https://huggingface.co/");
                if url.ends_with(".gguf") {
                    url.rsplit('/').next().unwrap_or(url).to_string()
                } else {
                    url.to_string()
                }
            }
            Source::Files(files) => files
                .iter()
                .find(|f| f.name().ends_with(".gguf") || f.name().ends_with(".safetensors"))
                .or(files.first())
                .map_or_else(String::new, |f| f.name()),
        }
    }
}

/// A model's files in memory, before parsing.
pub enum Download {
    Gguf { name: String, bytes: Vec<u8> },
    Folder(Folder),
}

impl Download {
    /// Its files by name, as they were read (to store them).
    pub fn files(&self) -> Vec<(&str, &[u8])> {
        match self {
            Download::Gguf { name, bytes } => vec![(name.as_str(), bytes.as_slice())],
            Download::Folder(f) => {
                let text = [
                    ("config.json", &f.config_json),
                    ("tokenizer.json", &f.tokenizer_json),
                    ("vocab.json", &f.vocab_json),
                    ("merges.txt", &f.merges_txt),
                    ("tokenizer_config.json", &f.tokenizer_config_json),
                    ("generation_config.json", &f.generation_config_json),
                ];
                let mut out: Vec<(&str, &[u8])> = text
                    .into_iter()
                    .filter_map(|(n, t)| t.as_deref().map(|t| (n, t.as_bytes())))
                    .collect();
                if let Some(st) = &f.safetensors {
                    out.push(("model.safetensors", st));
                }
                out
            }
        }
    }

    /// The files of [`Download::files`] back: one `.gguf`, or a checkpoint's files.
    pub fn from_files(files: Vec<(String, Vec<u8>)>) -> Result<Self, String> {
        if let [(name, _)] = files.as_slice()
            && name.ends_with(".gguf")
        {
            let (name, bytes) = files.into_iter().next().expect("one file");
            return Ok(Download::Gguf { name, bytes });
        }
        let mut folder = Folder::default();
        for (name, bytes) in files {
            folder.put(&name, bytes)?;
        }
        Ok(Download::Folder(folder))
    }
}

/// The files of a Hugging Face checkpoint (see [`ModelFiles`]).
#[derive(Default)]
pub struct Folder {
    config_json: Option<String>,
    safetensors: Option<Vec<u8>>,
    tokenizer_json: Option<String>,
    vocab_json: Option<String>,
    merges_txt: Option<String>,
    tokenizer_config_json: Option<String>,
    generation_config_json: Option<String>,
}

impl Folder {
    /// Files by name; anything else is ignored. Returns whether the name was one of them.
    fn put(&mut self, name: &str, bytes: Vec<u8>) -> Result<bool, String> {
        let text = |b: Vec<u8>| String::from_utf8(b).map_err(|_| format!("{name}: not UTF-8 text"));
        match name {
            "config.json" => self.config_json = Some(text(bytes)?),
            "model.safetensors" => self.safetensors = Some(bytes),
            "tokenizer.json" => self.tokenizer_json = Some(text(bytes)?),
            "vocab.json" => self.vocab_json = Some(text(bytes)?),
            "merges.txt" => self.merges_txt = Some(text(bytes)?),
            "tokenizer_config.json" => self.tokenizer_config_json = Some(text(bytes)?),
            "generation_config.json" => self.generation_config_json = Some(text(bytes)?),
            _ => return Ok(false),
        }
        Ok(true)
    }

    fn parse(&self) -> crate::Result<LoadedModel> {
        let missing = |file: &str| crate::LanternError::Config {
            file: file.into(),
            reason: "missing: pick a .gguf file, or config.json + model.safetensors + \
                     tokenizer.json together"
                .into(),
        };
        LoadedModel::from_files(&ModelFiles {
            config_json: self
                .config_json
                .as_deref()
                .ok_or_else(|| missing("config.json"))?,
            safetensors: self
                .safetensors
                .as_deref()
                .ok_or_else(|| missing("model.safetensors"))?,
            tokenizer_json: self.tokenizer_json.as_deref(),
            vocab_json: self.vocab_json.as_deref(),
            merges_txt: self.merges_txt.as_deref(),
            tokenizer_config_json: self.tokenizer_config_json.as_deref(),
            generation_config_json: self.generation_config_json.as_deref(),
        })
    }
}

/// Bytes done and in all (if known) of one loading phase.
#[derive(Clone, Debug, PartialEq)]
pub struct Progress {
    /// "Downloading config.json", "Uploading to the GPU", …
    pub phase: String,
    pub done: u64,
    pub total: Option<u64>,
}

/// Files of a checkpoint folder, fetched in this order; the optional ones may be absent.
const FOLDER_FILES: [(&str, bool); 7] = [
    ("config.json", true),
    ("tokenizer.json", false),
    ("vocab.json", false),
    ("merges.txt", false),
    ("tokenizer_config.json", false),
    ("generation_config.json", false),
    ("model.safetensors", true),
];

/// Gets the model's bytes. `Err(None)` means the user cancelled.
pub async fn download(
    source: &Source,
    abort: &AbortSignal,
    progress: &dyn Fn(Progress),
) -> Result<Download, Option<String>> {
    match source {
        Source::Url(url) if url.ends_with(".gguf") => {
            let bytes = fetch(url, abort, progress, true).await?.unwrap_or_default();
            Ok(Download::Gguf {
                name: source.name(),
                bytes,
            })
        }
        Source::Url(base) => {
            let mut folder = Folder::default();
            for (file, required) in FOLDER_FILES {
                // GPT-2 style vocab.json + merges.txt only when there is no tokenizer.json.
                if matches!(file, "vocab.json" | "merges.txt") && folder.tokenizer_json.is_some() {
                    continue;
                }
                let url = format!("{base}/{file}");
                if let Some(bytes) = fetch(&url, abort, progress, required).await? {
                    folder.put(file, bytes)?;
                }
            }
            Ok(Download::Folder(folder))
        }
        Source::Files(files) => read_files(files, progress).await,
        Source::Stored { key, name } => {
            progress(Progress {
                phase: format!("Reading {name} from this browser's storage"),
                done: 0,
                total: None,
            });
            super::store::read(key).await.map_err(Some)
        }
    }
}

/// One file; `Ok(None)` when an optional one is absent (404).
async fn fetch(
    url: &str,
    abort: &AbortSignal,
    progress: &dyn Fn(Progress),
    required: bool,
) -> Result<Option<Vec<u8>>, Option<String>> {
    let file = url.rsplit('/').next().unwrap_or(url);
    let phase = format!("Downloading {file}");
    progress(Progress {
        phase: phase.clone(),
        done: 0,
        total: None,
    });
    let report = |done, total| {
        progress(Progress {
            phase: phase.clone(),
            done,
            total,
        })
    };
    match web::fetch_bytes(url, abort, report).await {
        Ok(bytes) => Ok(Some(bytes)),
        Err(FetchError::NotFound) if !required => Ok(None),
        Err(FetchError::NotFound) => Err(Some(format!("{url} was not found (HTTP 404)"))),
        Err(FetchError::Cancelled) => Err(None),
        Err(FetchError::Other(e)) => Err(Some(e)),
    }
}

async fn read_files(
    files: &[web_sys::File],
    progress: &dyn Fn(Progress),
) -> Result<Download, Option<String>> {
    if let Some(gguf) = files.iter().find(|f| f.name().ends_with(".gguf")) {
        progress(Progress {
            phase: format!("Reading {}", gguf.name()),
            done: 0,
            total: Some(gguf.size() as u64),
        });
        let bytes = web::read_file(gguf).await?;
        return Ok(Download::Gguf {
            name: gguf.name(),
            bytes,
        });
    }
    let mut folder = Folder::default();
    let mut known = 0;
    for f in files {
        progress(Progress {
            phase: format!("Reading {}", f.name()),
            done: 0,
            total: Some(f.size() as u64),
        });
        if folder.put(&f.name(), web::read_file(f).await?)? {
            known += 1;
        }
    }
    if known == 0 {
        let names: Vec<String> = files.iter().map(|f| f.name()).collect();
        return Err(Some(format!(
            "{}: not a model Lantern reads; pick a .gguf file, or a Hugging Face checkpoint's \
             config.json + model.safetensors + tokenizer.json",
            names.join(", ")
        )));
    }
    Ok(Download::Folder(folder))
}

/// Parses what was downloaded; every check of the loaders runs here, before the GPU.
pub fn parse(d: &Download) -> crate::Result<LoadedModel> {
    match d {
        Download::Gguf { name, bytes } => LoadedModel::from_gguf(bytes, name),
        Download::Folder(f) => f.parse(),
    }
}

/// A model on the GPU, with what the page shows about it.
pub struct Engine {
    pub gpu: Gpu,
    pub model: GpuModel,
    pub loaded: LoadedModel,
}

/// Opens a fresh device and uploads `loaded`, reporting bytes uploaded.
pub async fn upload(
    loaded: LoadedModel,
    progress: impl Fn(Progress) + Send + Sync + 'static,
) -> crate::Result<Engine> {
    let gpu = Gpu::new().await?;
    let total = loaded.weights.bytes() as u64;
    let report = move |done: u64| {
        progress(Progress {
            phase: "Uploading to the GPU".into(),
            done: done.min(total),
            total: Some(total),
        })
    };
    report(0);
    gpu.on_upload(report);
    let opts = ModelOptions {
        context: Some(CONTEXT),
        chunk: MAX_CHUNK,
        capture: CAPTURE,
        ..Default::default()
    };
    let mut model = GpuModel::new(&gpu, &loaded.weights, opts).await?;
    // Writing the probabilities costs a store per score; they are read only while the
    // attention view is open.
    model.set_capture(true);
    Ok(Engine { gpu, model, loaded })
}
