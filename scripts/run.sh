#!/usr/bin/env bash
# Sets up, fetches the default model (SmolLM2-135M-Instruct), builds, and starts a chat with
# it in the terminal. Extra arguments go to `lantern chat` (e.g. --temperature 0).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
./scripts/fetch-model.sh
cargo build --release
exec ./target/release/lantern chat --model models/SmolLM2-135M-Instruct.Q4_1.gguf "$@"
