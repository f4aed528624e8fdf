#!/usr/bin/env python3
"""Writes tests/data/quant_blocks.json: blocks in ggml's Q8_0, Q4_0 and Q4_1 formats and their
values as dequantized by an independent implementation, the `gguf` Python package (from
llama.cpp). Lantern's CPU dequantization must reproduce these values exactly.

    pip install numpy==2.4.6 gguf==0.19.0
    python3 scripts/make_quant_blocks.py [path/to/SmolLM2-135M-Instruct.Q4_1.gguf]

Blocks come from seeded random data with planted outliers (quantized by gguf), and, when the
SmolLM2 file is given, a few real blocks of its Q8_0 and Q4_1 tensors.
"""
import json
import os
import sys

import numpy as np
from gguf import GGMLQuantizationType as T, GGUFReader, quants

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "quant_blocks.json")


def case(name, qtype, raw):
    raw = np.ascontiguousarray(raw, dtype=np.uint8).reshape(1, -1)
    values = quants.dequantize(raw, qtype).reshape(-1).astype(np.float32)
    return {"name": name, "format": qtype.name, "bytes": raw.tobytes().hex(),
            "values": [float(v) for v in values]}


def main():
    rng = np.random.default_rng(7)
    cases = []
    for qtype in (T.Q8_0, T.Q4_0, T.Q4_1):
        data = rng.standard_normal((1, 32 * 6)).astype(np.float32)
        data[0, 5] = 40.0    # outliers set the scale of their block
        data[0, 70] = -55.0
        data[0, 100:132] = 0.0  # an all-zero block
        data[0, 140:172] = 3.0  # a constant block
        cases.append(case(f"random {qtype.name}", qtype, quants.quantize(data, qtype)))
    if len(sys.argv) > 1:
        reader = GGUFReader(sys.argv[1])
        for t in reader.tensors:
            if t.name in ("token_embd.weight", "blk.0.attn_q.weight"):
                qtype = t.tensor_type
                size = quants.GGML_QUANT_SIZES[qtype][1]
                flat = np.asarray(t.data).reshape(-1)
                cases.append(case(f"SmolLM2 {t.name}", qtype, flat[: 8 * size]))
    with open(OUT, "w") as f:
        json.dump({"made_by": "scripts/make_quant_blocks.py (gguf 0.19.0)", "cases": cases}, f)
    print(f"{OUT}: {len(cases)} cases")


if __name__ == "__main__":
    main()
