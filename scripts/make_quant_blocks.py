#!/usr/bin/env python3
"""Writes tests/data/quant_blocks.json: blocks in every ggml format Lantern reads and their
values as dequantized by an independent implementation, the `gguf` Python package (from
llama.cpp). Lantern's CPU dequantization must reproduce these values exactly.

    pip install numpy==2.4.6 gguf==0.19.0
    python3 scripts/make_quant_blocks.py [SmolLM2-135M-Instruct.Q4_1.gguf] [gemma-3-270m-q4_k_m.gguf]

Per format: random blocks (any bytes are a valid block; the f16 scales set to chosen values:
zero, negative, subnormal, large), blocks of all-minimum and all-maximum quants, and for the
32-weight formats blocks quantized by gguf from data with planted outliers. From the real
files given: a few blocks of each of their quantized types (Q8_0, Q4_1 in SmolLM2; Q8_0,
Q5_0, Q4_K, Q6_K in Gemma 3), and blocks of theirs whose scales are subnormal f16.
"""
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFReader, quants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "quant_blocks.json")

# Byte offsets of each format's f16 scales in a block (d, and dmin or m).
SCALES = {
    T.Q8_0: [0], T.Q4_0: [0], T.Q4_1: [0, 2], T.Q5_0: [0], T.Q5_1: [0, 2],
    T.Q2_K: [80, 82], T.Q3_K: [108], T.Q4_K: [0, 2], T.Q5_K: [0, 2], T.Q6_K: [208],
}
# Values for the scales: zero, negative, subnormal (below 6.1e-5), ordinary, large.
SCALE_VALUES = [0.0, -0.0123, 3.0e-6, -4.0e-7, 0.031, 1.5, -2.0, 0.0007, 600.0]


def case(name, qtype, raw):
    raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(1, -1)
    values = quants.dequantize(raw, qtype).reshape(-1).astype(np.float32)
    assert np.all(np.isfinite(values)), name
    return {"name": name, "format": qtype.name, "bytes": raw.tobytes().hex(),
            "values": [float(v) for v in values]}


def with_scales(blocks, qtype, rng):
    """Random bytes with every f16 scale set to one of SCALE_VALUES."""
    for b in range(blocks.shape[0]):
        for off in SCALES[qtype]:
            v = np.float16(SCALE_VALUES[rng.integers(len(SCALE_VALUES))])
            blocks[b, off:off + 2] = np.frombuffer(v.tobytes(), dtype=np.uint8)
    return blocks


def synthetic(rng):
    cases = []
    for qtype in SCALES:
        _, size = quants.GGML_QUANT_SIZES[qtype]
        blocks = rng.integers(0, 256, size=(6, size), dtype=np.uint8)
        cases.append(case(f"random {qtype.name}", qtype, with_scales(blocks, qtype, rng)))
        for name, byte in (("all-min", 0x00), ("all-max", 0xFF)):
            blocks = np.full((2, size), byte, dtype=np.uint8)
            cases.append(case(f"{name} {qtype.name}", qtype, with_scales(blocks, qtype, rng)))
    for qtype in (T.Q8_0, T.Q4_0, T.Q4_1, T.Q5_0, T.Q5_1):
        data = rng.standard_normal((1, 32 * 6)).astype(np.float32)
        data[0, 5] = 40.0    # outliers set the scale of their block
        data[0, 70] = -55.0
        data[0, 100:132] = 0.0  # an all-zero block
        data[0, 140:172] = 3.0  # a constant block
        cases.append(case(f"quantized {qtype.name}", qtype, quants.quantize(data, qtype)))
    for qtype, dtype in ((T.F16, np.float16), (T.BF16, None)):
        data = (rng.standard_normal(64) * 3).astype(np.float32)
        data[:4] = [0.0, -0.0, 1e-6, 65000.0]
        raw = data.astype(dtype).view(np.uint8) if dtype else quants.quantize(data, qtype)
        cases.append(case(f"random {qtype.name}", qtype, raw))
    return cases


def from_file(path, label):
    cases = []
    reader = GGUFReader(path)
    seen = set()
    for t in reader.tensors:
        qtype = t.tensor_type
        if qtype not in SCALES or qtype in seen:
            continue
        seen.add(qtype)
        _, size = quants.GGML_QUANT_SIZES[qtype]
        blocks = np.asarray(t.data).reshape(-1, size)
        cases.append(case(f"{label} {t.name}", qtype, blocks[:4]))
        # Blocks whose first scale (d) is a subnormal f16, when the tensor has some.
        off = SCALES[qtype][0]
        d = blocks[:, off:off + 2].copy().view(np.float16).reshape(-1)
        sub = np.nonzero((d != 0) & (np.abs(d.astype(np.float32)) < 6.1e-5))[0][:4]
        if len(sub):
            cases.append(case(f"{label} {t.name} subnormal scales", qtype, blocks[sub]))
    return cases


def main():
    rng = np.random.default_rng(7)
    cases = synthetic(rng)
    for path in sys.argv[1:]:
        cases += from_file(path, os.path.basename(path).split(".")[0].split("-q")[0])
    with open(OUT, "w") as f:
        json.dump({"made_by": "scripts/make_quant_blocks.py (gguf 0.19.0)", "cases": cases}, f)
    print(f"{OUT}: {len(cases)} cases")
    for c in cases:
        print(f"  {c['format']:5} {c['name']} ({len(c['values'])} values)")


if __name__ == "__main__":
    main()
