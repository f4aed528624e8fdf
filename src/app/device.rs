//! The device panel: which adapter runs the model, the limits that decide what fits, the
//! optional features, and the model's memory on the GPU.

use super::engine::Engine;
use super::{AppState, DeviceInfo, web};
use leptos::prelude::*;

/// Reads what the panel shows off a freshly loaded engine.
pub async fn describe(e: &Engine) -> DeviceInfo {
    let l = &e.gpu.limits;
    let js = web::adapter_info().await;
    let mut adapter = e.gpu.info.name.clone();
    if let Some(info) = &js {
        let extra: Vec<&str> = [info.vendor.as_str(), info.architecture.as_str()]
            .into_iter()
            .filter(|s| !s.is_empty())
            .collect();
        if !extra.is_empty() {
            adapter = format!("{adapter} {}", extra.join(" / "))
                .trim()
                .to_string();
        }
    }
    if adapter.is_empty() {
        adapter = "(the browser does not name it)".into();
    }
    let fallback =
        js.as_ref().is_some_and(|i| i.fallback) || e.gpu.info.device_type == wgpu::DeviceType::Cpu;
    let kind = if fallback {
        "software fallback adapter (runs on the CPU)"
    } else {
        "GPU"
    };
    let has = |f: wgpu::Features| {
        if e.gpu.adapter_features.contains(f) {
            "available, not used".to_string()
        } else {
            "not available".to_string()
        }
    };
    let subgroups = match e.gpu.subgroup_size {
        Some(sg) => format!("used: reductions in subgroups of {sg}"),
        // Offered, but its sizes vary or the load-time probe found them out of order
        // (gpu::Gpu::with_subgroups): the workgroup-tree reductions run.
        None if js.as_ref().is_some_and(|i| i.subgroups) => {
            "offered by the browser, not used: sizes vary or lanes out of order".to_string()
        }
        None => has(wgpu::Features::SUBGROUP),
    };
    DeviceInfo {
        adapter,
        kind: kind.into(),
        limits: vec![
            (
                "max storage buffer binding",
                mebibytes(l.max_storage_buffer_binding_size),
            ),
            ("max buffer size", mebibytes(l.max_buffer_size)),
            (
                "workgroup storage",
                format!("{} KiB", l.max_compute_workgroup_storage_size / 1024),
            ),
            (
                "invocations per workgroup",
                l.max_compute_invocations_per_workgroup.to_string(),
            ),
            (
                "workgroups per dimension",
                l.max_compute_workgroups_per_dimension.to_string(),
            ),
        ],
        features: vec![
            ("shader-f16", has(wgpu::Features::SHADER_F16)),
            ("subgroups", subgroups),
        ],
        max_buffer: l.max_buffer_size,
        max_binding: l.max_storage_buffer_binding_size,
        model_bytes: e.model.gpu_bytes,
        kv_cache_bytes: e.model.kv_cache_bytes,
        context: e.model.context,
        architecture: e.loaded.weights.architecture().to_string(),
        tokenizer: e.loaded.tokenizer.describe(),
        base_model: e.loaded.is_base_model(),
    }
}

/// "1024 MiB": these limits are powers of two.
fn mebibytes(bytes: u64) -> String {
    format!("{} MiB", bytes >> 20)
}

/// "98.4 MB"
pub fn megabytes(bytes: u64) -> String {
    format!("{:.1} MB", bytes as f64 / 1e6)
}

#[component]
pub fn DevicePanel() -> impl IntoView {
    let state = expect_context::<AppState>();
    view! {
        <details class="panel" open data-testid="device-panel">
            <summary>"Device"</summary>
            {move || match state.device.get() {
                None => view! { <p class="muted">"No device in use yet."</p> }.into_any(),
                Some(d) => view! {
                    <dl>
                        <dt>"Adapter"</dt><dd data-testid="device-adapter">{d.adapter}</dd>
                        <dt>"Type"</dt><dd>{d.kind}</dd>
                        {d.limits.into_iter().map(|(k, v)| view! {
                            <dt>{k}</dt><dd>{v}</dd>
                        }).collect_view()}
                        {d.features.into_iter().map(|(k, v)| view! {
                            <dt>{k}</dt><dd data-testid=format!("device-{k}")>{v}</dd>
                        }).collect_view()}
                        <dt>"Model on the GPU"</dt>
                        <dd data-testid="device-model-memory">
                            {megabytes(d.model_bytes)}" (KV cache "{megabytes(d.kv_cache_bytes)}
                            " for "{d.context}" tokens)"
                        </dd>
                    </dl>
                }.into_any(),
            }}
        </details>
    }
}
