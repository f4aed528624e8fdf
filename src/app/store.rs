//! Models kept in the browser (OPFS, through `web/storage.js`) so that a model loaded once
//! loads again with no network: what is stored, reading it back (size and SHA-256 checked),
//! storing after a load (quota checked first), deleting.

use super::engine::{Download, Source};
use super::web::{from_js, js_error, to_js};
use serde::Deserialize;
use wasm_bindgen::prelude::*;

#[wasm_bindgen(module = "/web/storage.js")]
extern "C" {
    #[wasm_bindgen(catch, js_name = estimate)]
    async fn js_estimate() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = persist)]
    async fn js_persist() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = storeModel)]
    async fn js_store(
        key: &str,
        meta: JsValue,
        names: js_sys::Array,
        files: js_sys::Array,
    ) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = listModels)]
    async fn js_list() -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = readModel)]
    async fn js_read(key: &str) -> Result<JsValue, JsValue>;
    #[wasm_bindgen(catch, js_name = deleteModel)]
    async fn js_delete(key: &str) -> Result<JsValue, JsValue>;
}

/// A model in the browser's storage (its `meta.json`).
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct StoredModel {
    pub key: String,
    pub name: String,
    /// Where it came from: a URL, or "file:" and the files' names and sizes.
    pub source: String,
    pub bytes: u64,
    /// When it was stored (ms since the epoch).
    pub stored: f64,
}

/// The site's storage use and allowance, in bytes.
#[derive(Clone, Debug, PartialEq, Deserialize)]
pub struct Estimate {
    pub usage: f64,
    pub quota: f64,
    pub persisted: bool,
}

/// The storage directory's name for a source: FNV-1a of its identity, in hex.
pub fn key_of(source: &Source) -> String {
    let h = source
        .identity()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
            (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
        });
    format!("{h:016x}")
}

pub async fn list() -> Result<Vec<StoredModel>, String> {
    from_js(&js_list().await.map_err(js_error)?)
}

pub async fn estimate() -> Result<Estimate, String> {
    from_js(&js_estimate().await.map_err(js_error)?)
}

/// Asks for persistent storage (the browser may refuse; the answer is in [`estimate`]).
pub async fn persist() {
    let _ = js_persist().await;
}

pub async fn delete(key: &str) -> Result<(), String> {
    js_delete(key).await.map_err(js_error)?;
    Ok(())
}

/// The stored files of `key`, checked against their sizes and hashes.
pub async fn read(key: &str) -> Result<Download, String> {
    let r = js_read(key).await.map_err(js_error)?;
    let get = |field: &str| {
        js_sys::Reflect::get(&r, &field.into())
            .map(|v| js_sys::Array::from(&v))
            .map_err(js_error)
    };
    let (names, files) = (get("names")?, get("files")?);
    let files = names
        .iter()
        .zip(files.iter())
        .map(|(n, f)| {
            let name = n.as_string().unwrap_or_default();
            (name, js_sys::Uint8Array::new(&f).to_vec())
        })
        .collect();
    Download::from_files(files)
}

/// Stores what was loaded from `source` (quota checked first; nothing half-written stays).
pub async fn store(source: &Source, d: &Download) -> Result<StoredModel, String> {
    let (names, files) = (js_sys::Array::new(), js_sys::Array::new());
    for (name, bytes) in d.files() {
        names.push(&name.into());
        files.push(&js_sys::Uint8Array::from(bytes));
    }
    let meta = to_js(&serde_json::json!({ "name": source.name(), "source": source.identity() }))?;
    let stored = js_store(&key_of(source), meta, names, files)
        .await
        .map_err(js_error)?;
    from_js(&stored)
}
