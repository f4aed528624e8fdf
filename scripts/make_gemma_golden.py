#!/usr/bin/env python3
"""Writes tests/data/gemma3_golden.json: what independent implementations compute for the real
Gemma 3 270M Q4_K_M GGUF file (scripts/fetch-gemma.sh), for Lantern's tests to compare against.

    pip install numpy==2.4.6 gguf==0.19.0
    ./scripts/fetch-gemma.sh && python3 scripts/make_gemma_golden.py

Independent of Lantern's code at every step:
- tokens: llama.cpp's own tokenizer (scripts/llama_golden.cpp, built by
  scripts/build-llama-golden.sh), on the prompts and on tests/data/tokenizer_corpus.json;
- weights: read and dequantized by the `gguf` package (llama.cpp's own Python reader);
- forward pass: numpy, float64 activations, written from Gemma 3's definition (the gemma_pytorch
  and Hugging Face model: embeddings · √C, per-head q/k RMS norms, norms before and after
  attention and the MLP, GeGLU with the tanh GELU, RoPE on halves with base 10,000 on the
  sliding-window layers (5 of every 6, window 512) and 1,000,000 on the global ones, q · k
  scaled by 1/√head_size);
- and the greedy tokens checked against llama.cpp's own greedy decoding of the same file (which
  quantizes activations, so only up to a near-tie).
"""
import json
import os
import subprocess
import sys

import numpy as np
from gguf import GGUFReader, quants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
MODEL = os.path.join(ROOT, "models", "gemma-3-270m-q4_k_m.gguf")
OUT = os.path.join(ROOT, "tests", "data", "gemma3_golden.json")
CORPUS = os.path.join(ROOT, "tests", "data", "tokenizer_corpus.json")
TOP = 40
NEAR_TIE = 0.05

# A prompt longer than the 512-token window, so that the local layers' window is exercised.
LONG = " ".join(f"Item {i}: the {['red', 'green', 'blue', 'black'][i % 4]} box holds {i * 7 % 13} stones." for i in range(50))
PROMPTS = [
    {"text": "The capital of France is", "new": 8},
    {"text": "def fibonacci(n):\n", "new": 8},
    {"text": "Once upon a time, in a small village,", "new": 8},
    {"text": "日本の首都は", "new": 8},
    {"text": "1, 2, 3, 4, 5,", "new": 8},
    {"text": LONG + " Item 50: the", "new": 4},
]


def field(r, key):
    return r.fields[key].contents()


def golden_tool():
    return subprocess.check_output([os.path.join(ROOT, "scripts", "build-llama-golden.sh")], text=True).strip()


def llama_tokenize(tool, texts):
    inp = "".join(t.encode().hex() + "\n" for t in texts)
    out = subprocess.run([tool, MODEL, "tokenize"], input=inp, capture_output=True, text=True, check=True).stdout
    return [[int(x) for x in line.split()] for line in out.split("\n")[: len(texts)]]


def llama_greedy(tool, prompts, n):
    inp = "".join(" ".join(map(str, p)) + "\n" for p in prompts)
    out = subprocess.run([tool, MODEL, "greedy", str(n)], input=inp, capture_output=True, text=True, check=True).stdout
    return [[int(x) for x in line.split()] for line in out.strip().split("\n")]


def load():
    r = GGUFReader(MODEL)
    w = {}
    for t in r.tensors:
        a = quants.dequantize(np.asarray(t.data), t.tensor_type).astype(np.float32)
        w[t.name] = a.reshape([int(d) for d in reversed(t.shape)]) if len(t.shape) > 1 else a
    a = "gemma3"
    n_layer = field(r, f"{a}.block_count")
    cfg = {
        "n_layer": n_layer,
        "n_head": field(r, f"{a}.attention.head_count"),
        "n_kv": field(r, f"{a}.attention.head_count_kv"),
        "hs": field(r, f"{a}.attention.key_length"),
        "eps": field(r, f"{a}.attention.layer_norm_rms_epsilon"),
        "theta": field(r, f"{a}.rope.freq_base"),
        "theta_local": 10000.0,
        "window": field(r, f"{a}.attention.sliding_window"),
        "local": [i % 6 < 5 for i in range(n_layer)],
    }
    return r, w, cfg


def rms_norm(x, g, eps):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + eps) * g


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def gelu_tanh(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def rope(t, hs, theta):
    inv_freq = 1.0 / (theta ** (np.arange(0, hs, 2) / hs))
    ang = np.outer(np.arange(t), inv_freq)
    return np.cos(np.concatenate([ang, ang], -1)), np.sin(np.concatenate([ang, ang], -1))


def forward(w, cfg, ids, head_rows=None):
    """Logits of the rows `head_rows` (all by default) after the whole sequence `ids`."""
    t = len(ids)
    nh, nkv, hs, eps = cfg["n_head"], cfg["n_kv"], cfg["hs"], cfg["eps"]
    emb = w["token_embd.weight"]
    x = emb[ids].astype(np.float64) * np.sqrt(np.float32(emb.shape[1]))
    i_pos, j_pos = np.arange(t)[:, None], np.arange(t)[None, :]
    causal = j_pos <= i_pos
    windowed = causal & (i_pos - j_pos < cfg["window"])
    ropes = {False: rope(t, hs, cfg["theta"]), True: rope(t, hs, cfg["theta_local"])}
    for i in range(cfg["n_layer"]):
        p = f"blk.{i}."
        local = cfg["local"][i]
        cos, sin = ropes[local]
        a = rms_norm(x, w[p + "attn_norm.weight"], eps)
        q = (a @ w[p + "attn_q.weight"].T).reshape(t, nh, hs).transpose(1, 0, 2)
        k = (a @ w[p + "attn_k.weight"].T).reshape(t, nkv, hs).transpose(1, 0, 2)
        v = (a @ w[p + "attn_v.weight"].T).reshape(t, nkv, hs).transpose(1, 0, 2)
        q = rms_norm(q, w[p + "attn_q_norm.weight"], eps)
        k = rms_norm(k, w[p + "attn_k_norm.weight"], eps)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        k = np.repeat(k, nh // nkv, axis=0)
        v = np.repeat(v, nh // nkv, axis=0)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hs)
        s = np.where(windowed if local else causal, s, -np.inf)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        y = (s @ v).transpose(1, 0, 2).reshape(t, nh * hs) @ w[p + "attn_output.weight"].T
        x = x + rms_norm(y, w[p + "post_attention_norm.weight"], eps)
        m = rms_norm(x, w[p + "ffn_norm.weight"], eps)
        h = gelu_tanh(m @ w[p + "ffn_gate.weight"].T) * (m @ w[p + "ffn_up.weight"].T)
        x = x + rms_norm(h @ w[p + "ffn_down.weight"].T, w[p + "post_ffw_norm.weight"], eps)
    rows = x if head_rows is None else x[head_rows]
    rows = rms_norm(rows, w["output_norm.weight"], eps)
    head = w.get("output.weight", emb)
    return rows @ head.T.astype(np.float64)


def top(logits, q):
    order = np.argsort(-logits)[:TOP]
    return {"position": q, "top_ids": [int(i) for i in order], "top_logits": [round(float(logits[i]), 5) for i in order]}


def main():
    tool = golden_tool()
    r, w, cfg = load()
    bos = int(field(r, "tokenizer.ggml.bos_token_id"))
    eos = int(field(r, "tokenizer.ggml.eos_token_id"))
    stops = {eos, 106}  # <eos>, <end_of_turn>
    corpus = json.load(open(CORPUS))["texts"]
    corpus_ids = llama_tokenize(tool, corpus)
    prompt_ids = [[bos] + ids for ids in llama_tokenize(tool, [p["text"] for p in PROMPTS])]
    cases = []
    for p, ids in zip(PROMPTS, prompt_ids):
        seq = list(ids)
        greedy, margins, at = [], [], []
        for _ in range(p["new"]):
            logits = forward(w, cfg, seq, [len(seq) - 1])[0]
            top2 = np.sort(logits)[-2:]
            nxt = int(np.argmax(logits))
            at.append(top(logits, len(seq) - 1))
            if nxt in stops:
                break
            greedy.append(nxt)
            margins.append(float(top2[1] - top2[0]))
            seq.append(nxt)
        # Two positions inside the prompt too.
        inner = sorted({0, len(ids) // 2} - {len(ids) - 1})
        logits = forward(w, cfg, seq, inner)
        at = [top(logits[n], q) for n, q in enumerate(inner)] + at
        reference = llama_greedy(tool, [ids], len(greedy))[0]
        tie = next((n for n, m in enumerate(margins) if m < NEAR_TIE), len(greedy))
        agree = next((n for n, (a, b) in enumerate(zip(greedy, reference)) if a != b), len(greedy))
        print(f"{p['text'][-40:]!r}: {len(ids)} ids, greedy {greedy}, min margin {min(margins):.3f}, "
              f"llama.cpp agrees on {agree} of {len(greedy)} (first near-tie at {tie})")
        if agree < min(tie, len(greedy)) and margins[agree] > 0.5:
            sys.exit(f"numpy and llama.cpp disagree at step {agree} with a margin of {margins[agree]:.3f}: check the forward pass")
        cases.append({"kind": "plain", "text": p["text"], "rendered": p["text"], "prompt_ids": ids,
                      "greedy_ids": greedy, "greedy_margins": [round(m, 4) for m in margins],
                      "llama_cpp_greedy_ids": reference, "logits": at})
    json.dump({"made_by": "scripts/make_gemma_golden.py", "model": os.path.basename(MODEL), "system_prompt": "",
               "cases": cases, "tokenizer": [{"text": t, "ids": ids} for t, ids in zip(corpus, corpus_ids)]},
              open(OUT, "w"), indent=1, ensure_ascii=False)
    print(OUT)


if __name__ == "__main__":
    main()
