#!/usr/bin/env bash
# Sets up what the tests need and runs all of them: formatting, lints (native and wasm32),
# the wasm32 build of the engine, and `cargo test` (kernels, golden models, tokenizer, CLI)
# on whatever GPU wgpu finds (Mesa's lavapipe on a machine without one).
# REQUIRE_GPU=1 makes a missing GPU adapter a failure instead of a skip, REQUIRE_MODEL=1 a
# missing model file.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The default model (SmolLM2-135M-Instruct), for its golden tests.
./scripts/fetch-model.sh

step() { echo; echo "== $*"; }
step "cargo fmt --check";          cargo fmt --check
step "clippy (native)";            cargo clippy --all-targets -- -D warnings
step "clippy (wasm32)";            cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings
step "build the engine for wasm32"; cargo build --target wasm32-unknown-unknown --lib
step "cargo test";                 cargo test
