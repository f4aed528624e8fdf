#!/usr/bin/env bash
# Installs what Lantern's build and tests need, skipping whatever is already there, so a
# second run costs seconds. Sourced by scripts/test.sh (and safe to run on its own).
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
    local missing=()
    for pkg in "$@"; do
        dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        echo "setup: apt-get install ${missing[*]}"
        as_root apt-get update -qq
        DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
    fi
}

# A GPU without a GPU: Mesa's lavapipe runs Vulkan (and so wgpu) on the CPU.
apt_install mesa-vulkan-drivers

# The engine must also build for the browser.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
    rustup target add wasm32-unknown-unknown
fi
for component in rustfmt clippy; do
    if ! rustup component list --installed | grep -q "^$component"; then
        rustup component add "$component"
    fi
done

# Mesa warns on every start without it.
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"

# The page: Trunk builds it offline with this machine's wasm-bindgen (the version the crate
# pins) and npm's wasm-opt (Debian's binaryen 108 makes modules that fail to load).
have_version() { command -v "$1" >/dev/null 2>&1 && "$1" --version 2>/dev/null | grep -q "$2"; }
if ! have_version trunk "trunk 0.21.14"; then
    echo "setup: cargo install trunk 0.21.14 (10-20 min on 2 cores, once)"
    cargo install --locked trunk@0.21.14
fi
if ! have_version wasm-bindgen "wasm-bindgen 0.2.130"; then
    echo "setup: cargo install wasm-bindgen-cli 0.2.130 (~6 min, once)"
    # Not --locked: its lockfile pins a crate version the registry here lacks.
    cargo install wasm-bindgen-cli@0.2.130
fi
# The fuzz targets (fuzz/, scripts/fuzz.sh): libFuzzer through cargo fuzz, on stable Rust.
if ! have_version cargo-fuzz "cargo-fuzz 0.13.2"; then
    echo "setup: cargo install cargo-fuzz 0.13.2 (~1 min, once)"
    cargo install --locked cargo-fuzz@0.13.2
fi
command -v npm >/dev/null 2>&1 || apt_install nodejs npm
if [ ! -x e2e/node_modules/.bin/wasm-opt ] || [ ! -d e2e/node_modules/playwright-core ] \
    || [ e2e/package-lock.json -nt e2e/node_modules/.package-lock.json ]; then
    (cd e2e && npm ci --no-audit --no-fund)
fi
export PATH="$PWD/e2e/node_modules/.bin:$HOME/.cargo/bin:$PATH"
export TRUNK_SKIP_VERSION_CHECK=true
# Trunk builds with --offline: every crate must be here first.
cargo fetch --quiet
