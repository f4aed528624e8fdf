#!/usr/bin/env bash
# Places the real tokenizer vocabularies llama.cpp ships for its own tokenizer tests
# (vocab-only GGUF files of Llama 3 "llama-bpe", Qwen 2 "qwen2", Llama 2's SentencePiece
# "llama-spm" and GPT-2, each with test texts `.inp` and the ids Hugging Face's tokenizer gave
# for them `.out`) in models/vocab/, from llama.cpp's source (scripts/fetch-llama-cpp.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
SRC="$(./scripts/fetch-llama-cpp.sh)/models"
mkdir -p models/vocab
for name in llama-bpe qwen2 llama-spm gpt-2; do
    for ext in gguf gguf.inp gguf.out; do
        cp -u "$SRC/ggml-vocab-$name.$ext" "models/vocab/ggml-vocab-$name.$ext"
    done
done
