#!/usr/bin/env python3
"""Writes tests/data/vocab_golden.json: llama.cpp's own tokenizer (scripts/llama_golden.cpp) on
the committed corpora — tests/data/tokenizer_corpus.json (whitespace runs, digits, CJK, emoji,
special-token text) and every line of tests/data/tokenizer_corpus.txt — for each real
vocabulary: those of scripts/fetch-vocabs.sh (Llama 3, Qwen 2, Llama 2's SentencePiece,
GPT-2) and Gemma 3's (scripts/fetch-gemma.sh).

    ./scripts/fetch-vocabs.sh && ./scripts/fetch-gemma.sh && python3 scripts/make_vocab_golden.py
"""
import json
import os
import subprocess

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VOCABS = {name: os.path.join(ROOT, "models", "vocab", f"ggml-vocab-{name}.gguf")
          for name in ["llama-bpe", "qwen2", "llama-spm", "gpt-2"]}
VOCABS["gemma3"] = os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")


def lines():
    text = open(os.path.join(ROOT, "tests", "data", "tokenizer_corpus.txt"), encoding="utf-8").read()
    return [s.replace("\\r", "\r") for s in text.split("\n")]


def main():
    tool = subprocess.check_output([os.path.join(ROOT, "scripts", "build-llama-golden.sh")], text=True).strip()
    corpus = json.load(open(os.path.join(ROOT, "tests", "data", "tokenizer_corpus.json")))["texts"]
    txt = lines()
    out = {"corpus": {}, "corpus_txt": {}}
    for name, model in VOCABS.items():
        def tokenize(texts):
            inp = "".join(t.encode().hex() + "\n" for t in texts)
            res = subprocess.run([tool, model, "tokenize"], input=inp, capture_output=True, text=True, check=True)
            return res.stdout.split("\n")[: len(texts)]
        out["corpus"][name] = [[int(x) for x in l.split()] for l in tokenize(corpus)]
        out["corpus_txt"][name] = tokenize(txt)  # ids as text, one line per corpus line
        print(name, "done")
    path = os.path.join(ROOT, "tests", "data", "vocab_golden.json")
    json.dump({"made_by": "scripts/make_vocab_golden.py (llama.cpp's tokenizer)", **out}, open(path, "w"))
    print(path, os.path.getsize(path), "bytes")


if __name__ == "__main__":
    main()
