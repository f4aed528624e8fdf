//! The page (Leptos, client-side rendered). A token's way to the screen: the prompt box
//! ([`generate`] or [`chat`]) starts a task that borrows the [`engine::Engine`], runs
//! [`crate::generate::Generation`] one GPU pass per token, and appends each complete piece
//! of text to a signal that the output element shows. Between tokens the task awaits the
//! GPU's 4-byte read-back, so the page stays free for input (and Stop) meanwhile.

mod attention;
mod chat;
mod device;
mod engine;
mod generate;
mod grid;
mod history;
mod lens;
mod loader;
mod markdown;
mod predictions;
mod store;
mod viz;
mod web;

use engine::{Engine, Progress, Source};
use leptos::prelude::*;
use std::cell::RefCell;
use std::rc::Rc;

/// Mounts the page, or the explanation of why it cannot run.
pub fn start() {
    console_error_panic_hook::set_once();
    mount_to_body(App);
}

/// What the device panel shows; filled when a model is uploaded.
#[derive(Clone, Debug, Default)]
pub struct DeviceInfo {
    pub adapter: String,
    pub kind: String,
    pub limits: Vec<(&'static str, String)>,
    pub features: Vec<(&'static str, String)>,
    /// The largest buffer and binding the device allows, in bytes.
    pub max_buffer: u64,
    pub max_binding: u64,
    pub model_bytes: u64,
    pub kv_cache_bytes: u64,
    pub context: usize,
    /// What the loaded model is: "Gemma 3", its tokenizer, whether it is a base model.
    pub architecture: String,
    pub tokenizer: String,
    pub base_model: bool,
}

/// Sampling settings, as the inputs hold them. A loaded model brings its own sampling
/// defaults ([`crate::defaults::sampling`], as `lantern` uses them).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub sample: crate::cpu::SampleParams,
    pub max_tokens: usize,
    pub seed: u64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            sample: crate::defaults::OTHER,
            max_tokens: crate::defaults::MAX_TOKENS_CHAT,
            seed: 0,
        }
    }
}

impl Settings {
    pub fn options(&self) -> crate::generate::GenerateOptions {
        crate::generate::GenerateOptions {
            max_tokens: self.max_tokens,
            sample: self.sample,
            seed: self.seed,
        }
    }
}

/// The state every component shares (all handles are `Copy`).
#[derive(Clone, Copy)]
pub struct AppState {
    /// The loaded model; borrowed by one task at a time (loading or generating).
    engine: StoredValue<Rc<RefCell<Option<Engine>>>, LocalStorage>,
    /// Where the model came from, to load it again after a lost device.
    source: StoredValue<Option<Source>, LocalStorage>,
    /// Cancels a download in progress.
    abort: StoredValue<Option<web_sys::AbortController>, LocalStorage>,
    /// The `model-status` line; ends with "ready" when a model is loaded.
    pub status: RwSignal<String>,
    pub progress: RwSignal<Option<Progress>>,
    pub loading: RwSignal<bool>,
    /// A task is generating text.
    pub busy: RwSignal<bool>,
    /// Asks the generating task to stop after the token in flight.
    pub stop: RwSignal<bool>,
    pub error: RwSignal<Option<String>>,
    /// Why the GPU device was lost, while it is.
    pub lost: RwSignal<Option<String>>,
    /// Why WebGPU cannot run here, if it cannot.
    pub no_webgpu: RwSignal<Option<String>>,
    pub device: RwSignal<Option<DeviceInfo>>,
    /// The conversation (messages and what the KV cache holds of them).
    pub chat: StoredValue<Rc<RefCell<crate::chat::Chat>>, LocalStorage>,
    /// The conversation as shown, kept through model reloads.
    pub chat_log: RwSignal<Vec<chat::Line>>,
    /// Where it is saved (None until its first message), its title if the user set one,
    /// when it began; and the saved conversations.
    pub chat_id: RwSignal<Option<String>>,
    pub chat_title: RwSignal<Option<String>>,
    pub chat_created: StoredValue<Option<f64>>,
    pub chats: RwSignal<Vec<history::Summary>>,
    /// "Inside the model": open or not, its tab, the model's (layers, heads).
    pub viz_open: RwSignal<bool>,
    pub viz_tab: RwSignal<viz::Tab>,
    pub shape: RwSignal<(usize, usize)>,
    /// The attention view: its layer, the heads switched on, what it shows.
    pub viz_layer: RwSignal<usize>,
    pub viz_heads: RwSignal<Vec<bool>>,
    pub attention: RwSignal<Option<attention::Attn>>,
    /// Every layer × head.
    pub grid: RwSignal<Option<grid::Grid>>,
    /// The tokens the cache holds (then the one sampled after them), each generated one
    /// with the candidates it was drawn from; and the one picked to show them.
    pub preds: RwSignal<Vec<predictions::Pred>>,
    pub viz_pick: RwSignal<Option<usize>>,
    /// The logit lens: its position (None: the latest) and what it shows.
    pub lens_pos: RwSignal<Option<usize>>,
    pub lens: RwSignal<Option<lens::LensView>>,
    /// The models kept in this browser, its storage use, and the last word on storing.
    pub stored: RwSignal<Vec<store::StoredModel>>,
    pub estimate: RwSignal<Option<store::Estimate>>,
    pub storage_note: RwSignal<Option<String>>,
    /// The browser says it has no network.
    pub offline: RwSignal<bool>,
    /// Tokens and speed of the generation running or last run.
    pub speed: RwSignal<String>,
    pub settings: RwSignal<Settings>,
    /// Where the sampling defaults came from ("SmolLM2's model card: …"); changes when a
    /// model loads, which sets the inputs again.
    pub settings_source: RwSignal<String>,
    /// The model whose defaults the settings took last.
    defaults_of: StoredValue<Option<String>>,
    /// The page's own reactive owner (it lives as long as the page): the chat's lines are
    /// made under it, so that a line made in a handler of a line being replaced (Regenerate,
    /// Edit) is not dropped with that line.
    pub root: StoredValue<Owner>,
    /// The conversation's system prompt (saved with it).
    pub chat_system: RwSignal<String>,
    /// Tokens of the conversation as the model reads it, once counted, and the context.
    pub chat_tokens: RwSignal<Option<(usize, usize)>>,
}

impl AppState {
    fn new() -> Self {
        Self {
            engine: StoredValue::new_local(Rc::new(RefCell::new(None))),
            source: StoredValue::new_local(None),
            abort: StoredValue::new_local(None),
            status: RwSignal::new("No model loaded".into()),
            progress: RwSignal::new(None),
            loading: RwSignal::new(false),
            busy: RwSignal::new(false),
            stop: RwSignal::new(false),
            error: RwSignal::new(None),
            lost: RwSignal::new(None),
            no_webgpu: RwSignal::new(None),
            device: RwSignal::new(None),
            speed: RwSignal::new(String::new()),
            viz_open: RwSignal::new(false),
            viz_tab: RwSignal::new(viz::Tab::Attention),
            shape: RwSignal::new((0, 0)),
            viz_layer: RwSignal::new(0),
            viz_heads: RwSignal::new(Vec::new()),
            attention: RwSignal::new(None),
            grid: RwSignal::new(None),
            preds: RwSignal::new(Vec::new()),
            viz_pick: RwSignal::new(None),
            lens_pos: RwSignal::new(None),
            lens: RwSignal::new(None),
            chat: StoredValue::new_local(Rc::new(RefCell::new(crate::chat::Chat::new(
                crate::chat::DEFAULT_SYSTEM_PROMPT,
            )))),
            chat_log: RwSignal::new(Vec::new()),
            chat_id: RwSignal::new(None),
            chat_title: RwSignal::new(None),
            chat_created: StoredValue::new(None),
            chats: RwSignal::new(Vec::new()),
            settings: RwSignal::new(Settings::default()),
            settings_source: RwSignal::new(String::new()),
            defaults_of: StoredValue::new(None),
            root: StoredValue::new(Owner::current().expect("made inside the app")),
            chat_system: RwSignal::new(crate::defaults::SYSTEM_PROMPT.to_string()),
            chat_tokens: RwSignal::new(None),
            stored: RwSignal::new(Vec::new()),
            estimate: RwSignal::new(None),
            storage_note: RwSignal::new(None),
            offline: RwSignal::new(!web::is_online()),
        }
    }

    /// Reads the list of stored models and the storage estimate again.
    pub async fn refresh_stored(self) {
        match store::list().await {
            Ok(list) => self.stored.set(list),
            Err(e) => self.fail(format!("cannot read this browser's storage: {e}")),
        }
        self.estimate.set(store::estimate().await.ok());
    }

    /// Gets the model's bytes: from this browser's storage when it holds them (checked), else
    /// from the source (the network, the user's files). Returns whether they came from storage.
    async fn bytes(
        self,
        source: &Source,
        abort: &web_sys::AbortSignal,
        progress: &dyn Fn(Progress),
    ) -> Result<(engine::Download, bool), Option<String>> {
        let name = source.name();
        // The stored copy's key: the one picked from the list, or this source's if stored.
        let key = match source {
            Source::Stored { key, .. } => Some(key.clone()),
            _ => Some(store::key_of(source))
                .filter(|k| self.stored.get_untracked().iter().any(|m| &m.key == k)),
        };
        if let Some(key) = key {
            let stored = Source::Stored {
                key: key.clone(),
                name: name.clone(),
            };
            match engine::download(&stored, abort, progress).await {
                Ok(d) => return Ok((d, true)),
                Err(None) => return Err(None),
                Err(Some(e)) => {
                    let _ = store::delete(&key).await;
                    self.refresh_stored().await;
                    let what = format!(
                        "The stored copy of {name} could not be used ({e}); it was removed"
                    );
                    if matches!(source, Source::Stored { .. }) {
                        return Err(Some(format!("{what}. Load it again from its file or URL.")));
                    }
                    self.storage_note
                        .set(Some(format!("{what} and is downloaded again.")));
                }
            }
        }
        if matches!(source, Source::Url(_)) && !web::is_online() {
            return Err(Some(format!(
                "You are offline, and {name} is not stored in this browser. Connect to the \
                 network once to download it, or pick a model file from your disk."
            )));
        }
        Ok((engine::download(source, abort, progress).await?, false))
    }

    /// Keeps what was loaded from `source` in this browser's storage, in the background.
    fn keep(self, source: Source, d: engine::Download) {
        leptos::task::spawn_local(async move {
            let name = source.name();
            self.storage_note.set(Some(format!(
                "Keeping {name} in this browser for offline use…"
            )));
            store::persist().await;
            let stored = store::store(&source, &d).await;
            // The list first, so that the note never says "stored" before the list shows it.
            self.refresh_stored().await;
            match stored {
                Ok(m) => self.storage_note.set(Some(format!(
                    "{name} is stored in this browser ({}): it loads with no network.",
                    device::megabytes(m.bytes)
                ))),
                Err(e) => {
                    self.storage_note.set(None);
                    self.fail(e);
                }
            }
        });
    }

    /// The engine cell, to borrow for the length of one task.
    pub fn engine(&self) -> Rc<RefCell<Option<Engine>>> {
        self.engine.get_value()
    }

    /// The loaded model's name ("" when none).
    pub fn model_name(&self) -> String {
        self.source
            .with_value(|s| s.as_ref().map(Source::name))
            .unwrap_or_default()
    }

    pub fn ready(&self) -> bool {
        !self.loading.get() && self.lost.get().is_none() && self.status.get().ends_with("ready")
    }

    pub fn fail(&self, message: impl Into<String>) {
        self.error.set(Some(message.into()));
    }

    /// Loads a model from `source`: bytes (with progress), parse, then upload to a fresh
    /// device. The model in use stays until the new one has parsed without error.
    pub fn load(self, source: Source) {
        if self.loading.get_untracked() || self.busy.get_untracked() {
            return;
        }
        let Ok(abort) = web_sys::AbortController::new() else {
            return self.fail("this browser cannot cancel downloads (no AbortController)");
        };
        self.abort.set_value(Some(abort.clone()));
        self.loading.set(true);
        self.error.set(None);
        let before = self.status.get_untracked();
        leptos::task::spawn_local(async move {
            let name = source.name();
            let outcome = self.load_task(&source, &abort.signal()).await;
            // A failed or cancelled load leaves the model in use (if any) as it was.
            let has_model = self.engine().borrow().is_some();
            let restore = |what: String| if has_model { before.clone() } else { what };
            match outcome {
                Ok(()) => {
                    self.source.set_value(Some(source));
                    self.lost.set(None);
                    self.status.set(format!("{name} · ready"));
                }
                Err(None) => self
                    .status
                    .set(restore(format!("Loading {name} was cancelled"))),
                Err(Some(e)) => {
                    self.fail(e);
                    self.status.set(restore("No model loaded".into()));
                }
            }
            self.progress.set(None);
            self.loading.set(false);
            self.abort.set_value(None);
        });
    }

    /// `Err(None)`: cancelled.
    async fn load_task(
        self,
        source: &Source,
        abort: &web_sys::AbortSignal,
    ) -> Result<(), Option<String>> {
        let name = source.name();
        self.status.set(format!("Loading {name}…"));
        let progress = move |p: Progress| self.progress.set(Some(p));
        let (download, from_store) = self.bytes(source, abort, &progress).await?;
        self.progress.set(Some(Progress {
            phase: "Reading the checkpoint".into(),
            done: 0,
            total: None,
        }));
        web::yield_now().await;
        let loaded = engine::parse(&download).map_err(|e| Some(e.to_string()))?;
        if abort.aborted() {
            return Err(None);
        }
        // Free the old model's GPU memory before the new one takes its own.
        let cell = self.engine();
        cell.borrow_mut().take();
        self.device.set(None);
        let engine = engine::upload(loaded, progress)
            .await
            .map_err(|e| Some(self.explain_gpu_error(e)))?;
        if abort.aborted() {
            return Err(None);
        }
        self.watch_device(&engine);
        self.chat.get_value().borrow_mut().cache_lost();
        let w = &engine.loaded.weights;
        self.shape.set((w.n_layer(), w.n_head()));
        self.viz_layer.set(0);
        self.viz_heads.set(vec![true; w.n_head()]);
        self.attention.set(None);
        self.grid.set(None);
        self.preds.set(Vec::new());
        self.viz_pick.set(None);
        self.lens_pos.set(None);
        self.lens.set(None);
        self.device.set(Some(device::describe(&engine).await));
        // A new model brings its sampling defaults; the same one loaded again (after a lost
        // device) keeps what the user set.
        if self.defaults_of.get_value().as_deref() != Some(name.as_str()) {
            let (sample, from) = crate::defaults::sampling(&engine.loaded);
            self.settings.update(|s| s.sample = sample);
            self.settings_source.set(from);
            self.defaults_of.set_value(Some(name.clone()));
        }
        *cell.borrow_mut() = Some(engine);
        chat::count_tokens(self);
        if from_store {
            self.storage_note.set(Some(format!(
                "{name} was loaded from this browser's storage."
            )));
        } else {
            self.keep(source.clone(), download);
        }
        Ok(())
    }

    /// A GPU error, or the page that says WebGPU is unavailable when there is no adapter.
    fn explain_gpu_error(&self, e: crate::LanternError) -> String {
        if let crate::LanternError::NoAdapter(_) = &e {
            self.no_webgpu
                .set(Some("the browser has WebGPU but offers no adapter".into()));
        }
        e.to_string()
    }

    /// Shows a lost device (but not one we dropped ourselves) and offers a reload.
    fn watch_device(self, engine: &Engine) {
        let (lost, error) = (self.lost, self.error);
        engine
            .gpu
            .device
            .set_device_lost_callback(move |reason, message| {
                if reason != wgpu::DeviceLostReason::Destroyed {
                    // The loss is the news: a GPU error it caused just before is not.
                    error.set(None);
                    lost.set(Some(if message.is_empty() {
                        format!("{reason:?}")
                    } else {
                        message
                    }));
                }
            });
    }

    /// Loads the last model again (after a lost device); the text on screen stays.
    pub fn reload(self) {
        if let Some(source) = self.source.get_value() {
            self.engine().borrow_mut().take();
            self.load(source);
        }
    }

    pub fn cancel_load(&self) {
        if let Some(a) = self.abort.get_value() {
            a.abort();
        }
    }
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Generate,
    Chat,
}

#[component]
fn App() -> impl IntoView {
    let state = AppState::new();
    provide_context(state);
    if !web::has_webgpu() {
        state.no_webgpu.set(Some(
            "this browser does not expose WebGPU (navigator.gpu is missing)".into(),
        ));
    } else {
        web::on_online_change(move |online| state.offline.set(!online));
        // Ask for an adapter before downloading anything.
        leptos::task::spawn_local(async move {
            history::restore_latest(state).await;
            state.refresh_stored().await;
            if web::adapter_info().await.is_none() {
                state.no_webgpu.set(Some(
                    "the browser has WebGPU but offers no adapter (WebGPU may be turned off, \
                     or the GPU blocklisted)"
                        .into(),
                ));
            } else {
                state.load(Source::Url(engine::DEFAULT_MODEL_URL.into()));
            }
        });
    }
    let mode = RwSignal::new(Mode::Chat);
    let tab = move |m: Mode, label: &'static str, id: &'static str| {
        view! {
            <button class="tab" class:active=move || mode.get() == m data-testid=id
                on:click=move |_| mode.set(m)>{label}</button>
        }
    };
    view! {
        <Show when=move || state.no_webgpu.get().is_none() fallback=move || view! { <NoWebGpu/> }>
            <header>
                <h1>"Lantern"</h1>
                <span class="status" data-testid="model-status">{move || state.status.get()}</span>
                <Show when=move || state.offline.get()>
                    <span class="offline" data-testid="offline-status" title="The browser reports no network">
                        {move || {
                            let names: Vec<String> = state.stored.get().into_iter().map(|m| m.name).collect();
                            if names.is_empty() {
                                "Offline: no model is stored in this browser".to_string()
                            } else {
                                format!("Offline: available here: {}", names.join(", "))
                            }
                        }}
                    </span>
                </Show>
            </header>
            <main>
                <section class="work">
                    <ErrorBanner/>
                    <LostBanner/>
                    <nav class="tabs">
                        {tab(Mode::Chat, "Chat", "mode-chat")}
                        {tab(Mode::Generate, "Generate", "mode-generate")}
                        // One Stop and one speed line serve both modes.
                        <generate::StopButton/>
                        <span class="speed" data-testid="tokens-per-second">
                            {move || state.speed.get()}
                        </span>
                    </nav>
                    // Both stay mounted, so switching keeps their text.
                    <div class:hidden=move || mode.get() != Mode::Chat><chat::ChatPanel/></div>
                    <div class:hidden=move || mode.get() != Mode::Generate>
                        <generate::GeneratePanel/>
                    </div>
                    <viz::VizPanel/>
                </section>
                <aside>
                    <history::ChatList/>
                    <loader::ModelPanel/>
                    <loader::StoredModels/>
                    <generate::SettingsPanel/>
                    <device::DevicePanel/>
                </aside>
            </main>
        </Show>
    }
}

#[component]
fn ErrorBanner() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <Show when=move || state.error.get().is_some()>
            <div class="banner error" role="alert">
                <span data-testid="error">{move || state.error.get().unwrap_or_default()}</span>
                <button on:click=move |_| state.error.set(None)>"Dismiss"</button>
            </div>
        </Show>
    }
}

#[component]
fn LostBanner() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <Show when=move || state.lost.get().is_some()>
            <div class="banner error" role="alert" data-testid="device-lost">
                "The GPU device was lost ("{move || state.lost.get().unwrap_or_default()}
                "). The text on this page is kept; reload the model to go on."
                <button data-testid="reload-model" on:click=move |_| state.reload()>
                    "Reload model"
                </button>
            </div>
        </Show>
    }
}

/// Instead of a blank page: why Lantern cannot run here, and what to do.
#[component]
fn NoWebGpu() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <div class="no-webgpu" data-testid="no-webgpu">
            <h1>"Lantern needs WebGPU"</h1>
            <p>"Lantern runs a language model on your GPU, in this page, with WebGPU. \
                It cannot start here: "{move || state.no_webgpu.get().unwrap_or_default()}"."</p>
            <ul>
                <li>"Use a recent Chrome or Edge (113 or later) on Windows, macOS or ChromeOS, \
                     or Chrome 144+ on Linux; Safari 26 and Firefox 141+ (Windows) also work."</li>
                <li>"On Linux, or if your GPU is blocklisted, open chrome://flags, enable \
                     “Unsafe WebGPU Support” (#enable-unsafe-webgpu), and restart the browser."</li>
                <li>"Check that hardware acceleration is on (chrome://settings/system) and \
                     see what chrome://gpu says about WebGPU."</li>
            </ul>
            <p>"Nothing was downloaded and nothing left your machine."</p>
        </div>
    }
}
