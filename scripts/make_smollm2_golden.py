#!/usr/bin/env python3
"""Writes tests/data/smollm2_golden.json: what an independent implementation computes for the
real SmolLM2-135M-Instruct Q4_1 GGUF file, for Lantern's tests to compare against; given a
type (Q4_K_M, Q6_K, F16, …), the same for models/SmolLM2-135M-Instruct.<TYPE>.gguf (made by
scripts/make-quantized.sh) into tests/data/smollm2_<type>.json.

    pip install numpy==2.4.6 gguf==0.19.0 tokenizers==0.22.1 jinja2
    ./scripts/fetch-model.sh && python3 scripts/make_smollm2_golden.py [TYPE]

Independent of Lantern's code at every step:
- weights: read and dequantized by the `gguf` package (llama.cpp's own Python reader);
- tokens: Hugging Face `tokenizers` built from the GGUF vocabulary and merges, with SmolLM's
  pre-tokenizer (Digits(individual) + ByteLevel);
- chat prompts: rendered by Python's jinja2 from the GGUF's chat template;
- forward pass: numpy, float64 activations, written the Hugging Face way: Q and K rows are
  un-permuted back from llama.cpp's layout and RoPE uses rotate_half.
"""
import json
import os
import sys

import jinja2
import numpy as np
from gguf import GGUFReader, quants
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TYPE = sys.argv[1] if len(sys.argv) > 1 else None
MODEL = os.path.join(ROOT, "models", f"SmolLM2-135M-Instruct.{TYPE or 'Q4_1'}.gguf")
OUT = os.path.join(ROOT, "tests", "data", f"smollm2_{TYPE.lower()}.json" if TYPE else "smollm2_golden.json")
SYSTEM = "You are a helpful assistant. Answer briefly and accurately."  # Lantern's default
TOP = 40

PROMPTS = [
    {"kind": "plain", "text": "The capital of France is", "new": 8},
    {"kind": "plain", "text": "def fibonacci(n):\n    \"\"\"Return the n-th Fibonacci number.\"\"\"\n", "new": 8},
    {"kind": "chat", "text": "What is the capital of France?", "new": 10},
]


def field(r, key):
    return r.fields[key].contents()


def load():
    r = GGUFReader(MODEL)
    w = {}
    for t in r.tensors:
        a = quants.dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32)
        w[t.name] = a.reshape([int(d) for d in reversed(t.shape)]) if a.ndim > 1 or len(t.shape) > 1 else a
    cfg = {
        "n_layer": field(r, "llama.block_count"),
        "n_head": field(r, "llama.attention.head_count"),
        "n_kv": field(r, "llama.attention.head_count_kv"),
        "eps": field(r, "llama.attention.layer_norm_rms_epsilon"),
        "theta": field(r, "llama.rope.freq_base"),
    }
    return r, w, cfg


def tokenizer(r):
    tokens = field(r, "tokenizer.ggml.tokens")
    types = field(r, "tokenizer.ggml.token_type")
    merges = [tuple(m.split(" ", 1)) for m in field(r, "tokenizer.ggml.merges")]
    vocab = {t: i for i, t in enumerate(tokens)}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == 3])
    return tok


def unpermute(w, n_head):
    """Undo llama.cpp's convert_hf_to_gguf permute of Q/K rows: back to Hugging Face's layout."""
    return w.reshape(n_head, w.shape[0] // n_head // 2, 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def rms_norm(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def forward(w, cfg, ids):
    t = len(ids)
    nh, nkv = cfg["n_head"], cfg["n_kv"]
    x = w["token_embd.weight"][ids].astype(np.float64)
    hs = x.shape[1] // nh
    inv_freq = 1.0 / (cfg["theta"] ** (np.arange(0, hs, 2) / hs))
    ang = np.outer(np.arange(t), inv_freq)
    cos, sin = np.cos(np.concatenate([ang, ang], -1)), np.sin(np.concatenate([ang, ang], -1))
    mask = np.tril(np.ones((t, t), dtype=bool))
    for i in range(cfg["n_layer"]):
        p = f"blk.{i}."
        a = rms_norm(x, w[p + "attn_norm.weight"], cfg["eps"])
        q = a @ unpermute(w[p + "attn_q.weight"], nh).T
        k = a @ unpermute(w[p + "attn_k.weight"], nkv).T
        v = a @ w[p + "attn_v.weight"].T
        q = q.reshape(t, nh, hs).transpose(1, 0, 2)
        k = k.reshape(t, nkv, hs).transpose(1, 0, 2)
        v = v.reshape(t, nkv, hs).transpose(1, 0, 2)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, nh // nkv, axis=0)
        v = np.repeat(v, nh // nkv, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hs)
        s = np.where(mask, s, -np.inf)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        y = (s @ v).transpose(1, 0, 2).reshape(t, nh * hs)
        x = x + y @ w[p + "attn_output.weight"].T
        m = rms_norm(x, w[p + "ffn_norm.weight"], cfg["eps"])
        g = m @ w[p + "ffn_gate.weight"].T
        u = m @ w[p + "ffn_up.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ w[p + "ffn_down.weight"].T
    x = rms_norm(x, w["output_norm.weight"], cfg["eps"])
    head = w.get("output.weight", w["token_embd.weight"])
    return x @ head.T


def main():
    r, w, cfg = load()
    tok = tokenizer(r)
    template = jinja2.Environment().from_string(field(r, "tokenizer.chat_template"))
    eos = int(field(r, "tokenizer.ggml.eos_token_id"))
    stops = {eos, tok.token_to_id("<|endoftext|>")}
    cases = []
    for p in PROMPTS:
        if p["kind"] == "chat":
            text = template.render(messages=[{"role": "system", "content": SYSTEM}, {"role": "user", "content": p["text"]}],
                                   add_generation_prompt=True)
        else:
            text = p["text"]
        ids = tok.encode(text).ids
        seq = list(ids)
        greedy, margins = [], []
        for _ in range(p["new"]):
            logits = forward(w, cfg, seq)[-1]
            top2 = np.sort(logits)[-2:]
            nxt = int(np.argmax(logits))
            if nxt in stops:
                break
            greedy.append(nxt)
            margins.append(float(top2[1] - top2[0]))
            seq.append(nxt)
        logits = forward(w, cfg, seq)
        positions = sorted({0, len(ids) // 2, len(ids) - 1, len(seq) - 1})
        at = []
        for q in positions:
            order = np.argsort(-logits[q])[:TOP]
            at.append({"position": q, "top_ids": [int(i) for i in order],
                       "top_logits": [round(float(logits[q][i]), 5) for i in order]})
        cases.append({"kind": p["kind"], "text": p["text"], "rendered": text, "prompt_ids": ids, "greedy_ids": greedy,
                      "greedy_text": tok.decode(greedy), "greedy_margins": [round(m, 4) for m in margins], "logits": at})
        print(f"{p['kind']} {p['text']!r}: {len(ids)} ids, greedy {tok.decode(greedy)!r}, min margin {min(margins):.3f}")
    tricky = ["x  2", "12345 apples", "  leading spaces", "tabs\tand\nnewlines\n\n", "Ünïcödé 東京 👋🏽", "<|im_start|>user\nhi<|im_end|>",
              "don't stop", "3.14159", "a  b   c    d"]
    tokens = [{"text": s, "ids": tok.encode(s).ids} for s in tricky]
    json.dump({"made_by": "scripts/make_smollm2_golden.py", "model": os.path.basename(MODEL), "system_prompt": SYSTEM,
               "cases": cases, "tokenizer": tokens}, open(OUT, "w"), indent=1)
    print(OUT)


if __name__ == "__main__":
    main()
