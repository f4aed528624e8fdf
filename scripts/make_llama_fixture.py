#!/usr/bin/env python3
"""Writes a small Llama checkpoint in the exact Hugging Face layout (config.json,
model.safetensors, tokenizer.json, tokenizer_config.json with a ChatML template) and golden
outputs from an independent numpy forward pass (float64, rotate_half RoPE, grouped-query
attention), tokenized by Hugging Face `tokenizers` with SmolLM's Digits + ByteLevel
pre-tokenizer.

    pip install numpy==2.4.6 tokenizers==0.22.1
    python3 scripts/make_llama_fixture.py        # writes tests/fixtures/llama-tiny-f16/

The golden file has the same format as the GPT-2 fixtures', so the same tests run on it.
"""
import json
import os

import numpy as np
from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

from make_gpt2_fixtures import NEW_TOKENS, MIN_MARGIN, cut_vocabulary, round_to, write_safetensors

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "fixtures", "llama-tiny-f16")
SPEC = dict(seed=5, merges=300, hidden=48, heads=3, kv_heads=1, layers=2, ff=80, max_pos=64, theta=10000.0,
            eps=1e-5, dtype="F16")
SPECIALS = ["<|im_start|>", "<|im_end|>"]
TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + "
            "'<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
PROMPTS = ["The 3 quick brown foxes jump over 12 lazy dogs.", "<|im_start|>user\nHi there!<|im_end|>\n<|im_start|>assistant\n"]


def weights(vocab_size):
    rng = np.random.default_rng(SPEC["seed"])
    c, hs = SPEC["hidden"], SPEC["hidden"] // SPEC["heads"]
    q, kv, f = SPEC["heads"] * hs, SPEC["kv_heads"] * hs, SPEC["ff"]

    def rand(*shape, std=0.2, mean=0.0):
        return round_to(mean + std * rng.standard_normal(shape), SPEC["dtype"])

    w = {"model.embed_tokens.weight": rand(vocab_size, c, std=1.0)}
    for i in range(SPEC["layers"]):
        p = f"model.layers.{i}."
        w[p + "input_layernorm.weight"] = rand(c, std=0.1, mean=1.0)
        w[p + "self_attn.q_proj.weight"] = rand(q, c, std=0.3)
        w[p + "self_attn.k_proj.weight"] = rand(kv, c, std=0.3)
        w[p + "self_attn.v_proj.weight"] = rand(kv, c)
        w[p + "self_attn.o_proj.weight"] = rand(c, q)
        w[p + "post_attention_layernorm.weight"] = rand(c, std=0.1, mean=1.0)
        w[p + "mlp.gate_proj.weight"] = rand(f, c, std=0.3)
        w[p + "mlp.up_proj.weight"] = rand(f, c, std=0.3)
        w[p + "mlp.down_proj.weight"] = rand(c, f)
    w["model.norm.weight"] = rand(c, std=0.1, mean=1.0)
    w["lm_head.weight"] = rand(vocab_size, c, std=0.5)
    return w


def rms_norm(x, g):
    return x / np.sqrt((x * x).mean(-1, keepdims=True) + SPEC["eps"]) * g


def rotate_half(x):
    h = x.shape[-1] // 2
    return np.concatenate([-x[..., h:], x[..., :h]], axis=-1)


def forward(w, ids):
    W = {k: v.astype(np.float64) for k, v in w.items()}
    t, nh, nkv = len(ids), SPEC["heads"], SPEC["kv_heads"]
    hs = SPEC["hidden"] // nh
    x = W["model.embed_tokens.weight"][ids]
    inv_freq = 1.0 / (SPEC["theta"] ** (np.arange(0, hs, 2) / hs))
    ang = np.outer(np.arange(t), inv_freq)
    cos, sin = np.cos(np.concatenate([ang, ang], -1)), np.sin(np.concatenate([ang, ang], -1))
    mask = np.tril(np.ones((t, t), dtype=bool))
    for i in range(SPEC["layers"]):
        p = f"model.layers.{i}."
        a = rms_norm(x, W[p + "input_layernorm.weight"])
        q = (a @ W[p + "self_attn.q_proj.weight"].T).reshape(t, nh, hs).transpose(1, 0, 2)
        k = (a @ W[p + "self_attn.k_proj.weight"].T).reshape(t, nkv, hs).transpose(1, 0, 2)
        v = (a @ W[p + "self_attn.v_proj.weight"].T).reshape(t, nkv, hs).transpose(1, 0, 2)
        q, k = q * cos + rotate_half(q) * sin, k * cos + rotate_half(k) * sin
        k, v = np.repeat(k, nh // nkv, axis=0), np.repeat(v, nh // nkv, axis=0)
        s = np.where(mask, q @ k.transpose(0, 2, 1) / np.sqrt(hs), -np.inf)
        s = np.exp(s - s.max(-1, keepdims=True))
        s /= s.sum(-1, keepdims=True)
        x = x + (s @ v).transpose(1, 0, 2).reshape(t, nh * hs) @ W[p + "self_attn.o_proj.weight"].T
        m = rms_norm(x, W[p + "post_attention_layernorm.weight"])
        g, u = m @ W[p + "mlp.gate_proj.weight"].T, m @ W[p + "mlp.up_proj.weight"].T
        x = x + (g / (1 + np.exp(-g)) * u) @ W[p + "mlp.down_proj.weight"].T
    return rms_norm(x, W["model.norm.weight"]) @ W["lm_head.weight"].T


def main():
    os.makedirs(OUT, exist_ok=True)
    vocab, merges = cut_vocabulary(SPEC["merges"])  # bytes, merges, <|endoftext|>
    for s in SPECIALS:
        vocab[s] = len(vocab)
    eos = vocab["<|im_end|>"]
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges]))
    tok.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True),
                                                 pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in ["<|endoftext|>"] + SPECIALS])
    tok.save(os.path.join(OUT, "tokenizer.json"))
    json.dump({"chat_template": TEMPLATE, "bos_token": "<|im_start|>", "eos_token": "<|im_end|>"},
              open(os.path.join(OUT, "tokenizer_config.json"), "w"), indent=1)
    json.dump({"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_act": "silu",
               "vocab_size": len(vocab), "hidden_size": SPEC["hidden"], "intermediate_size": SPEC["ff"],
               "num_hidden_layers": SPEC["layers"], "num_attention_heads": SPEC["heads"],
               "num_key_value_heads": SPEC["kv_heads"], "max_position_embeddings": SPEC["max_pos"],
               "rms_norm_eps": SPEC["eps"], "rope_theta": SPEC["theta"], "tie_word_embeddings": False,
               "bos_token_id": vocab["<|im_start|>"], "eos_token_id": eos, "torch_dtype": "float16"},
              open(os.path.join(OUT, "config.json"), "w"), indent=1)
    w = weights(len(vocab))
    write_safetensors(os.path.join(OUT, "model.safetensors"), [(k, v, SPEC["dtype"]) for k, v in w.items()])

    stops = {eos, vocab["<|endoftext|>"]}
    cases = []
    for prompt in PROMPTS:
        ids = tok.encode(prompt).ids
        seq, greedy = list(ids), []
        for _ in range(NEW_TOKENS):
            logits = forward(w, seq)[-1]
            top2 = np.sort(logits)[-2:]
            assert top2[1] - top2[0] > MIN_MARGIN, f"near-tie {top2}; change the seed"
            nxt = int(np.argmax(logits))
            if nxt in stops:
                break
            greedy.append(nxt)
            seq.append(nxt)
        full = ids + greedy[:-1]
        logits = forward(w, full)
        positions = sorted({0, len(ids) // 2, len(ids) - 1, len(full) - 1})
        cases.append({"prompt": prompt, "prompt_ids": ids, "greedy_ids": greedy,
                      "logits": [{"position": q, "values": [round(float(v), 6) for v in logits[q]]} for q in positions]})
        print(f"{prompt!r}: {len(ids)} ids, greedy {greedy}")
    json.dump({"format": "lantern-golden", "version": 1, "made_by": "scripts/make_llama_fixture.py",
               "vocab_size": len(vocab), "cases": cases}, open(os.path.join(OUT, "golden.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
