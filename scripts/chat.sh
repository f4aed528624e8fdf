#!/usr/bin/env bash
# Chats with the default model in the terminal (native engine on Vulkan). Extra arguments go
# to `lantern chat` (e.g. --temperature 0).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
./scripts/fetch-model.sh
cargo build --release --bin lantern
exec ./target/release/lantern chat --model models/SmolLM2-135M-Instruct.Q4_1.gguf "$@"
