#!/usr/bin/env bash
# Builds llama.cpp's `llama-quantize` (an independent quantizer, for the K-quant test files)
# from the llama.cpp source of scripts/fetch-llama-cpp.sh, once, into
# ~/.cache/lantern/llama.cpp-0.3.36, and prints the tool's path. CMake comes from PyPI when
# the machine has none. GGML_NATIVE=OFF: the native build crashed in its AMX path on this
# machine's CPU. Takes minutes on 2 cores the first time; nothing after.
set -euo pipefail
VERSION=0.3.36
CACHE="${LANTERN_CACHE:-$HOME/.cache/lantern}/llama.cpp-$VERSION"
BIN="$CACHE/build/bin/llama-quantize"
if [ -x "$BIN" ]; then
    echo "$BIN"
    exit 0
fi
mkdir -p "$CACHE"
if ! command -v cmake >/dev/null; then
    python3 -m pip install --quiet --disable-pip-version-check cmake >&2
fi
"$(dirname "$0")/fetch-llama-cpp.sh" >/dev/null
echo "build-llama-quantize: building llama-quantize (minutes on 2 cores)…" >&2
cmake -S "$CACHE/src" -B "$CACHE/build" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=OFF \
    -DLLAMA_CURL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DBUILD_SHARED_LIBS=OFF >&2
cmake --build "$CACHE/build" --target llama-quantize -j "$(nproc)" >&2
echo "$BIN"
