//! The browser APIs the page needs, wrapped once: fetch with progress and cancel, reading
//! local files, yielding to the event loop, the clock, the clipboard, and what WebGPU says
//! of itself.

use js_sys::{Promise, Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{AbortSignal, ReadableStreamDefaultReader, ReadableStreamReadResult, Response};

/// A JS exception or rejection as text, with its name where that says more than "Error"
/// (a DOMException's: "QuotaExceededError: …").
pub fn js_error(e: JsValue) -> String {
    e.dyn_ref::<js_sys::Error>()
        .map(|e| {
            let (name, message) = (String::from(e.name()), String::from(e.message()));
            match name.as_str() {
                "Error" | "TypeError" | "" => message,
                _ if message.starts_with(&name) => message,
                _ => format!("{name}: {message}"),
            }
        })
        .or_else(|| e.as_string())
        .unwrap_or_else(|| format!("{e:?}"))
}

fn window() -> web_sys::Window {
    web_sys::window().expect("the page has a window")
}

/// Milliseconds since the page opened.
pub fn now_ms() -> f64 {
    window().performance().map_or(0.0, |p| p.now())
}

/// Lets the browser run its event loop (paint, input) before going on.
pub async fn yield_now() {
    let promise = Promise::new(&mut |resolve, _| {
        let _ = window().set_timeout_with_callback_and_timeout_and_arguments_0(&resolve, 0);
    });
    let _ = JsFuture::from(promise).await;
}

/// Puts `text` on the clipboard (`navigator.clipboard.writeText`).
pub async fn copy_text(text: &str) -> Result<(), String> {
    let promise = window().navigator().clipboard().write_text(text);
    JsFuture::from(promise).await.map(|_| ()).map_err(js_error)
}

/// Why a fetch gave no bytes.
pub enum FetchError {
    /// The server answered 404: an optional file may be absent.
    NotFound,
    Cancelled,
    Other(String),
}

/// GETs `url` into memory, calling `progress(bytes so far, total if known)` per chunk.
pub async fn fetch_bytes(
    url: &str,
    abort: &AbortSignal,
    mut progress: impl FnMut(u64, Option<u64>),
) -> Result<Vec<u8>, FetchError> {
    let failed = |e: JsValue| {
        if abort.aborted() {
            FetchError::Cancelled
        } else {
            FetchError::Other(format!(
                "cannot download {url}: {} (check the address and your connection)",
                js_error(e)
            ))
        }
    };
    let init = web_sys::RequestInit::new();
    init.set_signal(Some(abort));
    let response: Response = JsFuture::from(window().fetch_with_str_and_init(url, &init))
        .await
        .map_err(failed)?
        .unchecked_into();
    if response.status() == 404 {
        return Err(FetchError::NotFound);
    }
    if !response.ok() {
        return Err(FetchError::Other(format!(
            "cannot download {url}: the server answered {} {}",
            response.status(),
            response.status_text()
        )));
    }
    let header = |name: &str| response.headers().get(name).ok().flatten();
    let total = header("content-length").and_then(|v| v.parse::<u64>().ok());
    // A link to a model's web page (Hugging Face's …/blob/… instead of …/resolve/…), or a
    // server's error page answered 200: HTML, never a model file.
    if header("content-type").is_some_and(|t| t.trim_start().starts_with("text/html")) {
        return Err(FetchError::Other(format!(
            "{url} is a web page (text/html), not the file itself: use the file's download \
             link (on Hugging Face, …/resolve/main/… rather than …/blob/main/…)"
        )));
    }
    let Some(body) = response.body() else {
        return Ok(Vec::new());
    };
    let reader: ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    // The length is the server's claim: reserve it only if this tab can have that much.
    let mut out = Vec::new();
    let _ = out.try_reserve_exact(total.unwrap_or(0).min(isize::MAX as u64) as usize);
    loop {
        let chunk: ReadableStreamReadResult = match JsFuture::from(reader.read()).await {
            Ok(chunk) => chunk.unchecked_into(),
            Err(_) if abort.aborted() => return Err(FetchError::Cancelled),
            Err(e) => return Err(stopped(url, out.len() as u64, total, &js_error(e))),
        };
        if chunk.get_done().unwrap_or(false) {
            break;
        }
        let bytes = Uint8Array::new(&chunk.get_value());
        let start = out.len();
        if out.try_reserve(bytes.length() as usize).is_err() {
            return Err(FetchError::Other(format!(
                "{url} is larger than this tab's memory allows ({} MB read so far)",
                start >> 20
            )));
        }
        out.resize(start + bytes.length() as usize, 0);
        bytes.copy_to(&mut out[start..]);
        progress(out.len() as u64, total);
    }
    // (A compressed answer's length counts the compressed bytes.)
    let compressed = header("content-encoding").is_some_and(|e| e != "identity");
    if !compressed && total.is_some_and(|t| (out.len() as u64) < t) {
        return Err(stopped(
            url,
            out.len() as u64,
            total,
            "the connection closed early",
        ));
    }
    Ok(out)
}

/// A download that broke off after `got` bytes.
fn stopped(url: &str, got: u64, total: Option<u64>, why: &str) -> FetchError {
    let of = total.map_or(String::new(), |t| format!(" of {t}"));
    FetchError::Other(format!(
        "the download of {url} stopped after {got}{of} bytes ({why}): nothing was kept; \
         check your connection and load it again"
    ))
}

/// The bytes of a file the user picked or dropped.
pub async fn read_file(file: &web_sys::File) -> Result<Vec<u8>, String> {
    let buffer = JsFuture::from(file.array_buffer())
        .await
        .map_err(|e| format!("cannot read {}: {}", file.name(), js_error(e)))?;
    Ok(Uint8Array::new(&buffer).to_vec())
}

/// Whether the browser exposes WebGPU at all (`navigator.gpu`).
pub fn has_webgpu() -> bool {
    Reflect::get(&window().navigator(), &"gpu".into()).is_ok_and(|gpu| !gpu.is_undefined())
}

/// The machine's memory in GB as the browser reports it (`navigator.deviceMemory`:
/// Chromium only, rounded and capped at 8), `None` where it does not.
pub fn device_memory_gb() -> Option<f64> {
    Reflect::get(&window().navigator(), &"deviceMemory".into())
        .ok()
        .and_then(|v| v.as_f64())
}

/// What the browser says of its default adapter, beyond what wgpu passes on.
pub struct AdapterInfo {
    pub vendor: String,
    pub architecture: String,
    pub fallback: bool,
    /// It offers the `subgroups` feature.
    pub subgroups: bool,
}

/// The browser's default adapter (`navigator.gpu.requestAdapter()`), `None` without one.
pub async fn adapter_info() -> Option<AdapterInfo> {
    let gpu = Reflect::get(&window().navigator(), &"gpu".into()).ok()?;
    let request: js_sys::Function = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()?
        .dyn_into()
        .ok()?;
    let adapter = JsFuture::from(Promise::from(request.call0(&gpu).ok()?))
        .await
        .ok()?;
    let info = Reflect::get(&adapter, &"info".into()).ok()?;
    let text = |key: &str| {
        Reflect::get(&info, &key.into())
            .ok()
            .and_then(|v| v.as_string())
            .unwrap_or_default()
    };
    let fallback = Reflect::get(&info, &"isFallbackAdapter".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false);
    // GPUSupportedFeatures is set-like, not a Set: call its own `has`.
    let subgroups = Reflect::get(&adapter, &"features".into())
        .ok()
        .and_then(|features| {
            let has: js_sys::Function = Reflect::get(&features, &"has".into())
                .ok()?
                .dyn_into()
                .ok()?;
            has.call1(&features, &"subgroups".into()).ok()?.as_bool()
        })
        .unwrap_or(false);
    Some(AdapterInfo {
        vendor: text("vendor"),
        architecture: text("architecture"),
        fallback,
        subgroups,
    })
}

/// Whether the browser says it has a network (`navigator.onLine`).
pub fn is_online() -> bool {
    window().navigator().on_line()
}

/// Calls `f(online)` whenever the browser goes offline or back online.
pub fn on_online_change(f: impl Fn(bool) + 'static) {
    let f = std::rc::Rc::new(f);
    for (event, online) in [("online", true), ("offline", false)] {
        let f = f.clone();
        let cb = wasm_bindgen::closure::Closure::<dyn Fn()>::new(move || f(online));
        let _ = window().add_event_listener_with_callback(event, cb.as_ref().unchecked_ref());
        cb.forget(); // for the page's lifetime
    }
}

/// Offers `text` as a file download named `name`, of type `mime`.
pub fn download(name: &str, mime: &str, text: &str) -> Result<(), JsValue> {
    let parts = js_sys::Array::of1(&text.into());
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let blob = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts)?;
    let url = web_sys::Url::create_object_url_with_blob(&blob)?;
    let a: web_sys::HtmlAnchorElement = window()
        .document()
        .ok_or("no document")?
        .create_element("a")?
        .unchecked_into();
    a.set_href(&url);
    a.set_download(name);
    a.click();
    web_sys::Url::revoke_object_url(&url)
}

/// A JS value (from `web/storage.js`) as a Rust type, through JSON.
pub fn from_js<T: serde::de::DeserializeOwned>(v: &JsValue) -> Result<T, String> {
    let text = js_sys::JSON::stringify(v).map_err(js_error)?;
    serde_json::from_str(&String::from(text)).map_err(|e| e.to_string())
}

/// A Rust value as a JS value, through JSON.
pub fn to_js<T: serde::Serialize>(v: &T) -> Result<JsValue, String> {
    let text = serde_json::to_string(v).map_err(|e| e.to_string())?;
    js_sys::JSON::parse(&text).map_err(js_error)
}
