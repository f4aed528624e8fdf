#!/usr/bin/env python3
"""Writes a GGUF of SmolLM2-135M-Instruct's exact shape and tensor types (the default
model's Q4_1 file: 30 layers, width 576, 9 query and 3 key/value heads, 1,536 hidden, a
tied Q8_0 embedding of 49,152 tokens, Q4_1 matrices, f32 norms), with random weights, for
benchmarks on machines that cannot download the real one (scripts/bench-gpu.sh on a GPU
machine without a network): the same bytes read and multiply-adds done per token, so the
same speed. Its tokenizer is GPT-2's (tests/data/gpt2) cut to 49,152 tokens. Standard
library only; deterministic.

    python3 scripts/make_smollm2_random.py [FILE]   # default: models/smollm2-shape-random.Q4_1.gguf
"""
import json
import os
import random
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C, LAYERS, HEADS, KV_HEADS, FF, VOCAB, CONTEXT = 576, 30, 9, 3, 1536, 49152, 8192
HEAD = C // HEADS
F32, Q4_1, Q8_0 = 0, 3, 8
ALIGN = 32

# GGUF value types.
U32, I32, F32V, STRING, ARRAY = 4, 5, 6, 8, 9


def string(s):
    b = s.encode()
    return struct.pack("<Q", len(b)) + b


def value(kind, v):
    if kind == U32:
        return struct.pack("<I", v)
    if kind == I32:
        return struct.pack("<i", v)
    if kind == F32V:
        return struct.pack("<f", v)
    if kind == STRING:
        return string(v)
    elem, items = v
    return struct.pack("<IQ", elem, len(items)) + b"".join(value(elem, x) for x in items)


def blocks(rng, n, header, quants):
    """n blocks, each `header` then `quants` random bytes."""
    size = len(header) + quants
    buf = bytearray(n * size)
    for i, byte in enumerate(header):
        buf[i::size] = bytes([byte]) * n
    data = rng.randbytes(n * quants)
    for j in range(quants):
        buf[len(header) + j::size] = data[j::quants]
    return bytes(buf)


def q4_1(rng, rows, cols):
    # w = d·q + m, q in 0..15: values in [-0.016, 0.014], small enough that nothing overflows.
    return blocks(rng, rows * cols // 32, struct.pack("<ee", 0.002, -0.016), 16)


def q8_0(rng, rows, cols):
    return blocks(rng, rows * cols // 32, struct.pack("<e", 1.0 / 512), 32)


def ones(n):
    return struct.pack("<f", 1.0) * n


def tokenizer():
    """GPT-2's tokens with ids below VOCAB (the last one made <|endoftext|>), and the merges
    among them."""
    with open(os.path.join(ROOT, "tests", "data", "gpt2", "vocab.json"), encoding="utf-8") as f:
        vocab = json.load(f)
    tokens = [None] * VOCAB
    for t, i in vocab.items():
        if i < VOCAB:
            tokens[i] = t
    tokens[-1] = "<|endoftext|>"
    kept = set(tokens)
    merges = []
    with open(os.path.join(ROOT, "tests", "data", "gpt2", "merges.txt"), encoding="utf-8") as f:
        for line in f:
            if line.startswith("#version"):
                continue
            a, b = line.rstrip("\n").split(" ")
            if a in kept and b in kept and a + b in kept:
                merges.append(f"{a} {b}")
    types = [1] * (VOCAB - 1) + [3]
    return tokens, types, merges


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        ROOT, "models", "smollm2-shape-random.Q4_1.gguf")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    rng = random.Random(135)
    tokens, types, merges = tokenizer()
    meta = [
        ("general.architecture", STRING, "llama"),
        ("general.name", STRING, "SmolLM2-135M shape, random weights"),
        ("general.alignment", U32, ALIGN),
        ("llama.block_count", U32, LAYERS),
        ("llama.context_length", U32, CONTEXT),
        ("llama.embedding_length", U32, C),
        ("llama.feed_forward_length", U32, FF),
        ("llama.attention.head_count", U32, HEADS),
        ("llama.attention.head_count_kv", U32, KV_HEADS),
        ("llama.attention.layer_norm_rms_epsilon", F32V, 1e-5),
        ("llama.rope.freq_base", F32V, 100000.0),
        ("llama.rope.dimension_count", U32, HEAD),
        ("llama.vocab_size", U32, VOCAB),
        ("tokenizer.ggml.model", STRING, "gpt2"),
        ("tokenizer.ggml.pre", STRING, "gpt2"),
        ("tokenizer.ggml.tokens", ARRAY, (STRING, tokens)),
        ("tokenizer.ggml.token_type", ARRAY, (I32, types)),
        ("tokenizer.ggml.merges", ARRAY, (STRING, merges)),
        ("tokenizer.ggml.bos_token_id", U32, VOCAB - 1),
        ("tokenizer.ggml.eos_token_id", U32, VOCAB - 1),
    ]
    # (name, [columns, rows] as GGUF orders them, type, data); the order of the tensors is
    # free (the real file's differs; test.sh compares the sorted lists).
    tensors = [("token_embd.weight", [C, VOCAB], Q8_0, q8_0(rng, VOCAB, C))]
    kv = KV_HEADS * HEAD
    for i in range(LAYERS):
        b = f"blk.{i}."
        tensors += [
            (b + "attn_k.weight", [C, kv], Q4_1, q4_1(rng, kv, C)),
            (b + "attn_norm.weight", [C], F32, ones(C)),
            (b + "attn_output.weight", [C, C], Q4_1, q4_1(rng, C, C)),
            (b + "attn_q.weight", [C, C], Q4_1, q4_1(rng, C, C)),
            (b + "attn_v.weight", [C, kv], Q4_1, q4_1(rng, kv, C)),
            (b + "ffn_down.weight", [FF, C], Q4_1, q4_1(rng, C, FF)),
            (b + "ffn_gate.weight", [C, FF], Q4_1, q4_1(rng, FF, C)),
            (b + "ffn_norm.weight", [C], F32, ones(C)),
            (b + "ffn_up.weight", [C, FF], Q4_1, q4_1(rng, FF, C)),
        ]
    tensors.append(("output_norm.weight", [C], F32, ones(C)))

    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta))
    head += b"".join(string(k) + struct.pack("<I", t) + value(t, v) for k, t, v in meta)
    offset = 0
    for name, dims, kind, data in tensors:
        head += string(name) + struct.pack("<I", len(dims)) + struct.pack(f"<{len(dims)}Q", *dims)
        head += struct.pack("<IQ", kind, offset)
        offset += (len(data) + ALIGN - 1) // ALIGN * ALIGN
    with open(out, "wb") as f:
        f.write(head + b"\0" * (-len(head) % ALIGN))
        for _, _, _, data in tensors:
            f.write(data + b"\0" * (-len(data) % ALIGN))
    print(f"make_smollm2_random: {out} ({os.path.getsize(out) / 1e6:.1f} MB)")


if __name__ == "__main__":
    main()
