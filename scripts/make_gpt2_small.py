#!/usr/bin/env python3
"""Writes a checkpoint of GPT-2 small's shape (124M parameters: 12 layers, width 768, 12
heads, 50,257 tokens, 1,024 positions) in the Hugging Face layout, with random f16 weights,
for benchmarks (scripts/bench-gpu.sh): the speed of a GPT-2 without downloading one. Its
tokenizer is GPT-2's own (tests/data/gpt2). Standard library only; deterministic.

    python3 scripts/make_gpt2_small.py [DIR]     # default: models/gpt2-small-random/
"""
import json
import os
import random
import shutil
import struct
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
C, LAYERS, HEADS, VOCAB, POSITIONS = 768, 12, 12, 50257, 1024

# The high byte of each f16 keeps its sign and mantissa bits and gets exponent 8: random
# values of magnitude 2^-7 .. 2^-6, small enough that nothing overflows.
HIGH = bytes((b & 0x83) | 0x20 for b in range(256))


def random_f16(rng, n):
    data = bytearray(rng.randbytes(2 * n))
    data[1::2] = data[1::2].translate(HIGH)
    return bytes(data)


def constant_f16(value, n):
    return struct.pack("<e", value) * n


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(ROOT, "models", "gpt2-small-random")
    os.makedirs(out, exist_ok=True)
    rng = random.Random(124)
    tensors = [("transformer.wte.weight", [VOCAB, C], random_f16(rng, VOCAB * C)),
               ("transformer.wpe.weight", [POSITIONS, C], random_f16(rng, POSITIONS * C))]
    for i in range(LAYERS):
        h = f"transformer.h.{i}."
        # Conv1D weights are [in, out], as in OpenAI's GPT-2.
        for name, shape in [("attn.c_attn", [C, 3 * C]), ("attn.c_proj", [C, C]),
                            ("mlp.c_fc", [C, 4 * C]), ("mlp.c_proj", [4 * C, C])]:
            tensors.append((h + name + ".weight", shape, random_f16(rng, shape[0] * shape[1])))
            tensors.append((h + name + ".bias", [shape[1]], constant_f16(0.0, shape[1])))
        for ln in ["ln_1", "ln_2"]:
            tensors.append((h + ln + ".weight", [C], constant_f16(1.0, C)))
            tensors.append((h + ln + ".bias", [C], constant_f16(0.0, C)))
    tensors.append(("transformer.ln_f.weight", [C], constant_f16(1.0, C)))
    tensors.append(("transformer.ln_f.bias", [C], constant_f16(0.0, C)))

    header, offset = {}, 0
    for name, shape, blob in tensors:
        header[name] = {"dtype": "F16", "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        offset += len(blob)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    with open(os.path.join(out, "model.safetensors"), "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for _, _, blob in tensors:
            f.write(blob)
    config = {"architectures": ["GPT2LMHeadModel"], "model_type": "gpt2",
              "activation_function": "gelu_new", "vocab_size": VOCAB, "n_positions": POSITIONS,
              "n_ctx": POSITIONS, "n_embd": C, "n_layer": LAYERS, "n_head": HEADS, "n_inner": None,
              "layer_norm_epsilon": 1e-5, "bos_token_id": 50256, "eos_token_id": 50256,
              "tie_word_embeddings": True, "torch_dtype": "float16"}
    with open(os.path.join(out, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    for name in ["vocab.json", "merges.txt"]:
        shutil.copy(os.path.join(ROOT, "tests", "data", "gpt2", name), os.path.join(out, name))
    print(f"make_gpt2_small: {out} ({offset / 1e6:.0f} MB of f16 weights)")


if __name__ == "__main__":
    main()
