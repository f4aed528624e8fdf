#!/usr/bin/env python3
"""Writes small GPT-2 checkpoints in the exact Hugging Face layout, and golden outputs for
them made by an independent forward pass (numpy, float64) and an independent tokenizer
(tiktoken, given the fixture's vocabulary).

    pip install numpy==2.4.6 tiktoken==0.14.0
    python3 scripts/make_gpt2_fixtures.py        # writes tests/fixtures/gpt2-*/

Each fixture's vocabulary is GPT-2's own, cut to its first 256 + N tokens (the bytes and the
first N merges) plus <|endoftext|>, so the real merge rules are exercised at a tiny size.
Weights come from a seeded generator, are rounded to the stored dtype, and the golden pass
uses the rounded values. Greedy tokens are checked to win by a clear margin, so that a
correct implementation in f32 cannot pick a different one.
"""
import json
import os
import struct

import numpy as np
import tiktoken

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GPT2_DIR = os.path.join(ROOT, "tests", "data", "gpt2")
OUT_DIR = os.path.join(ROOT, "tests", "fixtures")
GPT2_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
EOT = "<|endoftext|>"
NEW_TOKENS = 12
MIN_MARGIN = 0.005 # logits of the greedy token over the runner-up

FIXTURES = [
    # A round width, f32, `transformer.` prefix, tokenizer.json (merges as "a b"), tied lm_head,
    # the legacy `attn.bias` buffers.
    dict(name="gpt2-tiny-f32", seed=1, merges=400, n_embd=64, n_head=4, n_layer=2, n_positions=64,
         n_inner=None, dtype="F32", prefix="transformer.", tokenizer="json-strings", lm_head=False,
         legacy="attn.bias"),
    # A non-power-of-two width (48, head size 16), f16, no prefix, vocab.json + merges.txt, an
    # explicit lm_head.weight, `attn.masked_bias`.
    dict(name="gpt2-odd-f16", seed=2, merges=300, n_embd=48, n_head=3, n_layer=3, n_positions=80,
         n_inner=None, dtype="F16", prefix="", tokenizer="vocab-merges", lm_head=True,
         legacy="attn.masked_bias"),
    # bf16, width 80 (5 heads of 16), an MLP of 200 (not 4x), tokenizer.json with merges as pairs.
    dict(name="gpt2-wide-bf16", seed=3, merges=500, n_embd=80, n_head=5, n_layer=2, n_positions=96,
         n_inner=200, dtype="BF16", prefix="transformer.", tokenizer="json-pairs", lm_head=False,
         legacy=None),
]

PROMPTS = [
    "The quick brown fox jumps over the lazy dog.",
    "Hello, world! It's 2026 and we're testing 12345 tokens.\n\n<|endoftext|> déjà vu",
]


def bytes_to_unicode():
    bs = list(range(33, 127)) + list(range(161, 173)) + list(range(174, 256))
    cs = bs[:]
    n = 0
    for b in range(256):
        if b not in bs:
            bs.append(b)
            cs.append(256 + n)
            n += 1
    return dict(zip(bs, map(chr, cs)))


def cut_vocabulary(n_merges):
    full = json.load(open(os.path.join(GPT2_DIR, "vocab.json"), encoding="utf-8"))
    lines = open(os.path.join(GPT2_DIR, "merges.txt"), encoding="utf-8").read().split("\n")
    merges = [l for l in lines[1:] if l][:n_merges]
    keep = 256 + n_merges
    vocab = {t: i for t, i in full.items() if i < keep}
    assert len(vocab) == keep
    vocab[EOT] = keep
    return vocab, merges


def tiktoken_encoding(vocab):
    byte_of = {c: b for b, c in bytes_to_unicode().items()}
    ranks = {bytes(byte_of[ch] for ch in t): i for t, i in vocab.items() if t != EOT}
    return tiktoken.Encoding(name="fixture", pat_str=GPT2_PATTERN, mergeable_ranks=ranks,
                             special_tokens={EOT: vocab[EOT]})


def round_to(x, dtype):
    x = x.astype(np.float32)
    if dtype == "F32":
        return x
    if dtype == "F16":
        return x.astype(np.float16).astype(np.float32)
    # bf16: round to nearest even on the top 16 bits.
    bits = x.view(np.uint32).astype(np.uint64)
    bits = ((bits + 0x7FFF + ((bits >> 16) & 1)) >> 16) << 16
    return bits.astype(np.uint32).view(np.float32)


def to_bytes(x, dtype):
    if dtype == "F32":
        return x.astype("<f4").tobytes()
    if dtype == "F16":
        return x.astype("<f2").tobytes()
    return (x.astype(np.float32).view(np.uint32) >> 16).astype("<u2").tobytes()


def write_safetensors(path, tensors):
    """tensors: list of (name, array already rounded, dtype)."""
    header, blobs, offset = {}, [], 0
    for name, arr, dtype in tensors:
        blob = to_bytes(arr, dtype)
        header[name] = {"dtype": dtype, "shape": list(arr.shape), "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)


def make_weights(spec, vocab_size):
    rng = np.random.default_rng(spec["seed"])
    c, p, dt = spec["n_embd"], spec["n_positions"], spec["dtype"]
    f = spec["n_inner"] or 4 * c

    def rand(*shape, std=0.2, mean=0.0):
        return round_to(mean + std * rng.standard_normal(shape), dt)

    w = {"wte.weight": rand(vocab_size, c, std=0.5), "wpe.weight": rand(p, c, std=0.1)}
    for i in range(spec["n_layer"]):
        h = f"h.{i}."
        w[h + "ln_1.weight"] = rand(c, std=0.1, mean=1.0)
        w[h + "ln_1.bias"] = rand(c, std=0.05)
        # Conv1D weights are stored [in, out].
        w[h + "attn.c_attn.weight"] = rand(c, 3 * c, std=0.3)
        w[h + "attn.c_attn.bias"] = rand(3 * c, std=0.05)
        w[h + "attn.c_proj.weight"] = rand(c, c)
        w[h + "attn.c_proj.bias"] = rand(c, std=0.05)
        w[h + "ln_2.weight"] = rand(c, std=0.1, mean=1.0)
        w[h + "ln_2.bias"] = rand(c, std=0.05)
        w[h + "mlp.c_fc.weight"] = rand(c, f)
        w[h + "mlp.c_fc.bias"] = rand(f, std=0.05)
        w[h + "mlp.c_proj.weight"] = rand(f, c, std=0.1)
        w[h + "mlp.c_proj.bias"] = rand(c, std=0.05)
    w["ln_f.weight"] = rand(c, std=0.1, mean=1.0)
    w["ln_f.bias"] = rand(c, std=0.05)
    if spec["lm_head"]:
        w["lm_head.weight"] = rand(vocab_size, c, std=0.5)
    return w


def layer_norm(x, g, b, eps=1e-5):
    mu = x.mean(-1, keepdims=True)
    var = ((x - mu) ** 2).mean(-1, keepdims=True)
    return (x - mu) / np.sqrt(var + eps) * g + b


def gelu(x):
    return 0.5 * x * (1 + np.tanh(np.sqrt(2 / np.pi) * (x + 0.044715 * x ** 3)))


def forward(w, spec, ids):
    """Logits [T, V] in float64, written from the GPT-2 paper's equations."""
    W = {k: v.astype(np.float64) for k, v in w.items()}
    c, nh = spec["n_embd"], spec["n_head"]
    hs = c // nh
    t = len(ids)
    x = W["wte.weight"][ids] + W["wpe.weight"][:t]
    mask = np.tril(np.ones((t, t), dtype=bool))
    for i in range(spec["n_layer"]):
        h = f"h.{i}."
        a = layer_norm(x, W[h + "ln_1.weight"], W[h + "ln_1.bias"])
        qkv = a @ W[h + "attn.c_attn.weight"] + W[h + "attn.c_attn.bias"]
        q, k, v = np.split(qkv, 3, axis=-1)
        q = q.reshape(t, nh, hs).transpose(1, 0, 2)
        k = k.reshape(t, nh, hs).transpose(1, 0, 2)
        v = v.reshape(t, nh, hs).transpose(1, 0, 2)
        s = q @ k.transpose(0, 2, 1) / np.sqrt(hs)
        s = np.where(mask, s, -np.inf)
        s = np.exp(s - s.max(-1, keepdims=True))
        s = s / s.sum(-1, keepdims=True)
        y = (s @ v).transpose(1, 0, 2).reshape(t, c)
        x = x + y @ W[h + "attn.c_proj.weight"] + W[h + "attn.c_proj.bias"]
        m = layer_norm(x, W[h + "ln_2.weight"], W[h + "ln_2.bias"])
        m = gelu(m @ W[h + "mlp.c_fc.weight"] + W[h + "mlp.c_fc.bias"])
        x = x + m @ W[h + "mlp.c_proj.weight"] + W[h + "mlp.c_proj.bias"]
    x = layer_norm(x, W["ln_f.weight"], W["ln_f.bias"])
    head = W["lm_head.weight"] if "lm_head.weight" in W else W["wte.weight"]
    return x @ head.T


def greedy(w, spec, prompt_ids, eot):
    ids = list(prompt_ids)
    out = []
    for _ in range(min(NEW_TOKENS, spec["n_positions"] - len(ids))):
        logits = forward(w, spec, ids)[-1]
        top2 = np.sort(logits)[-2:]
        assert top2[1] - top2[0] > MIN_MARGIN, f"{spec['name']}: near-tie {top2}; change the seed"
        nxt = int(np.argmax(logits))
        if nxt == eot:
            break
        out.append(nxt)
        ids.append(nxt)
    return out


def write_tokenizer(d, spec, vocab, merges):
    if spec["tokenizer"] == "vocab-merges":
        json.dump(vocab, open(os.path.join(d, "vocab.json"), "w", encoding="utf-8"), ensure_ascii=False)
        with open(os.path.join(d, "merges.txt"), "w", encoding="utf-8") as f:
            f.write("#version: 0.2\n" + "\n".join(merges) + "\n")
        return
    pairs = spec["tokenizer"] == "json-pairs"
    tok = {
        "version": "1.0",
        "added_tokens": [{"id": vocab[EOT], "content": EOT, "single_word": False, "lstrip": False,
                          "rstrip": False, "normalized": True, "special": True}],
        "normalizer": None,
        "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                          "use_regex": True},
        "post_processor": None,
        "decoder": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": True, "use_regex": True},
        "model": {"type": "BPE", "dropout": None, "unk_token": None, "continuing_subword_prefix": "",
                  "end_of_word_suffix": "", "fuse_unk": False, "byte_fallback": False,
                  "vocab": vocab,
                  "merges": [m.split(" ") for m in merges] if pairs else merges},
    }
    json.dump(tok, open(os.path.join(d, "tokenizer.json"), "w", encoding="utf-8"), ensure_ascii=False)


def make(spec):
    d = os.path.join(OUT_DIR, spec["name"])
    os.makedirs(d, exist_ok=True)
    vocab, merges = cut_vocabulary(spec["merges"])
    enc = tiktoken_encoding(vocab)
    w = make_weights(spec, len(vocab))

    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2", "activation_function": "gelu_new",
              "vocab_size": len(vocab), "n_positions": spec["n_positions"], "n_ctx": spec["n_positions"],
              "n_embd": spec["n_embd"], "n_layer": spec["n_layer"], "n_head": spec["n_head"],
              "n_inner": spec["n_inner"], "layer_norm_epsilon": 1e-5, "bos_token_id": vocab[EOT],
              "eos_token_id": vocab[EOT], "tie_word_embeddings": not spec["lm_head"],
              "torch_dtype": {"F32": "float32", "F16": "float16", "BF16": "bfloat16"}[spec["dtype"]]}
    json.dump(config, open(os.path.join(d, "config.json"), "w"), indent=2)
    write_tokenizer(d, spec, vocab, merges)

    tensors = []
    for name, arr in w.items():
        stored = name if name.startswith("lm_head") else spec["prefix"] + name
        tensors.append((stored, arr, spec["dtype"]))
    p = spec["n_positions"]
    for i in range(spec["n_layer"]):
        if spec["legacy"] == "attn.bias":
            tensors.append((f"{spec['prefix']}h.{i}.attn.bias",
                            np.tril(np.ones((p, p), dtype=np.float32)).reshape(1, 1, p, p), "F32"))
        elif spec["legacy"] == "attn.masked_bias":
            tensors.append((f"{spec['prefix']}h.{i}.attn.masked_bias", np.array(-1e4, dtype=np.float32), "F32"))
    write_safetensors(os.path.join(d, "model.safetensors"), tensors)

    cases = []
    for prompt in PROMPTS:
        prompt_ids = enc.encode(prompt, allowed_special="all")
        greedy_ids = greedy(w, spec, prompt_ids, vocab[EOT])
        seq = prompt_ids + greedy_ids[:-1]
        logits = forward(w, spec, seq)
        positions = sorted({0, len(prompt_ids) // 2, len(prompt_ids) - 1, len(seq) - 1})
        cases.append({"prompt": prompt, "prompt_ids": prompt_ids, "greedy_ids": greedy_ids,
                      "logits": [{"position": q, "values": [round(float(v), 6) for v in logits[q]]}
                                 for q in positions]})
    golden = {"format": "lantern-golden", "version": 1, "made_by": "scripts/make_gpt2_fixtures.py",
              "vocab_size": len(vocab), "cases": cases}
    json.dump(golden, open(os.path.join(d, "golden.json"), "w"), indent=1)
    print(f"{spec['name']}: vocab {len(vocab)}, prompts {[len(c['prompt_ids']) for c in cases]} tokens, "
          f"greedy {[c['greedy_ids'] for c in cases]}")


if __name__ == "__main__":
    for s in FIXTURES:
        make(s)
