#!/usr/bin/env bash
# Turns the default SmolLM2-135M-Instruct file (Q4_1) into the GGUF types users download —
# Q4_K_M, Q5_K_M, Q6_K, Q8_0 and F16 — with llama.cpp's own llama-quantize
# (--allow-requantize; built once by scripts/build-llama-quantize.sh), as
# models/SmolLM2-135M-Instruct.<TYPE>.gguf. Their golden data (tests/data/smollm2_<type>.json)
# come from scripts/make_smollm2_golden.py. Does nothing for files already there.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/fetch-model.sh
SRC=models/SmolLM2-135M-Instruct.Q4_1.gguf
TYPES=("$@")
[ ${#TYPES[@]} -gt 0 ] || TYPES=(Q4_K_M Q5_K_M Q6_K Q8_0 F16)
missing=()
for t in "${TYPES[@]}"; do
    [ -f "models/SmolLM2-135M-Instruct.$t.gguf" ] || missing+=("$t")
done
[ ${#missing[@]} -gt 0 ] || exit 0
QUANTIZE=$(./scripts/build-llama-quantize.sh)
for t in "${missing[@]}"; do
    out="models/SmolLM2-135M-Instruct.$t.gguf"
    "$QUANTIZE" --allow-requantize "$SRC" "$out.tmp" "$t" "$(nproc)" > "$out.log" 2>&1 || {
        echo "make-quantized: llama-quantize failed for $t (see $out.log)" >&2
        exit 1
    }
    mv "$out.tmp" "$out"
    echo "make-quantized: $out"
done
