#!/usr/bin/env bash
# Sets up, builds, and runs Lantern's command-line tool: greedy generation on a small GPT-2
# checkpoint, then a benchmark.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
cargo build --release
MODEL="${MODEL:-tests/fixtures/gpt2-wide-bf16}"
./target/release/lantern generate --model "$MODEL" --prompt "${PROMPT:-The quick brown fox}" --max-tokens 24
./target/release/lantern bench --model "$MODEL"
