#!/usr/bin/env python3
"""Writes tests/data/vocab_golden.json: llama.cpp's own tokenizer (scripts/llama_golden.cpp)
on the committed corpus tests/data/tokenizer_corpus.json, for each real vocabulary of
scripts/fetch-vocabs.sh (Llama 3, Qwen 2, Llama 2's SentencePiece, GPT-2).

    ./scripts/fetch-vocabs.sh && python3 scripts/make_vocab_golden.py
"""
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
NAMES = ["llama-bpe", "qwen2", "llama-spm", "gpt-2"]


def main():
    tool = subprocess.check_output([os.path.join(ROOT, "scripts", "build-llama-golden.sh")], text=True).strip()
    corpus = json.load(open(os.path.join(ROOT, "tests", "data", "tokenizer_corpus.json")))["texts"]
    inp = "".join(t.encode().hex() + "\n" for t in corpus)
    out = {}
    for name in NAMES:
        model = os.path.join(ROOT, "models", "vocab", f"ggml-vocab-{name}.gguf")
        lines = subprocess.run([tool, model, "tokenize"], input=inp, capture_output=True, text=True, check=True).stdout
        ids = [[int(x) for x in line.split()] for line in lines.split("\n")[: len(corpus)]]
        out[name] = [{"text": t, "ids": i} for t, i in zip(corpus, ids)]
        print(name, sum(len(i) for i in ids), "ids")
    path = os.path.join(ROOT, "tests", "data", "vocab_golden.json")
    json.dump({"made_by": "scripts/make_vocab_golden.py", "vocabularies": out}, open(path, "w"), indent=1, ensure_ascii=False)
    print(path)


if __name__ == "__main__":
    main()
