#!/usr/bin/env bash
# Builds scripts/llama_golden.cpp (llama.cpp's tokenizer and greedy decoding, for the golden
# scripts) against the llama.cpp that scripts/build-llama-quantize.sh builds, once, and prints
# the tool's path.
set -euo pipefail
HERE="$(cd "$(dirname "$0")" && pwd)"
QUANTIZE="$("$HERE/build-llama-quantize.sh")"
CACHE="$(dirname "$(dirname "$(dirname "$QUANTIZE")")")"
BIN="$CACHE/build/bin/llama-golden"
if [ -x "$BIN" ] && [ "$BIN" -nt "$HERE/llama_golden.cpp" ]; then
    echo "$BIN"
    exit 0
fi
B="$CACHE/build"
g++ -O2 -std=c++17 -I "$CACHE/src/include" -I "$CACHE/src/ggml/include" \
    "$HERE/llama_golden.cpp" -o "$BIN" \
    "$B/src/libllama.a" "$B/ggml/src/libggml.a" "$B/ggml/src/libggml-cpu.a" \
    "$B/ggml/src/libggml-base.a" -fopenmp -lpthread -ldl
echo "$BIN"
