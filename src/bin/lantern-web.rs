//! The page's entry point: Trunk builds this binary for wasm32 (see `web/index.html`).

#[cfg(target_arch = "wasm32")]
fn main() {
    lantern::app::start();
}

#[cfg(not(target_arch = "wasm32"))]
fn main() {
    eprintln!("lantern-web is the browser app: build and serve it with `./scripts/run.sh`");
    std::process::exit(2);
}
