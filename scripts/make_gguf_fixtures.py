#!/usr/bin/env python3
"""Writes small random GGUF models of the architectures users bring — Qwen 2 (q/k/v biases),
Qwen 3 (per-head q/k norms), Llama 3 (RoPE frequency factors), Gemma 3 (a sliding window
shorter than the prompts) and GPT-2 as llama.cpp writes it — with the `gguf` package, into
tests/fixtures/<name>/model.gguf, and golden outputs from llama.cpp (an independent
implementation: scripts/llama_golden.cpp, its tokenizer, its logits at every position with an
f32 KV cache, its greedy tokens) into tests/fixtures/<name>/golden.json, in the format of the
other fixtures, so the same tests run on them. Weights are f32, so that llama.cpp computes in
f32 too; the GPT-2's are Q8_0 (a quantized GPT-2 from GGUF). GPT-2's logits come from the numpy GPT-2 of make_gpt2_fixtures.py instead (llama.cpp's
CPU GELU reads an f16 table: 0.5 % off), checked against llama.cpp's greedy tokens. Each model carries a real chat template (from llama.cpp's models/templates), and
chat.json holds what Python's jinja2 renders from it, for the template test. The Qwen models are also written as
Hugging Face checkpoints of the same weights (tests/fixtures/<name>-hf: config.json,
model.safetensors, a tokenizer.json with the Split pre-tokenizer Qwen's own files have, made
by Hugging Face `tokenizers`), with the same golden data.

    pip install numpy==2.4.6 gguf==0.19.0 jinja2
    python3 scripts/make_gguf_fixtures.py
"""
import datetime
import json
import os
import subprocess

import jinja2
import numpy as np
from gguf import GGMLQuantizationType, GGUFWriter, quants

import make_gpt2_fixtures
from make_gpt2_fixtures import EOT, NEW_TOKENS, MIN_MARGIN, cut_vocabulary, write_safetensors
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LLAMA_SRC = subprocess.check_output([os.path.join(ROOT, "scripts", "fetch-llama-cpp.sh")], text=True).strip()

FIXTURES = [
    dict(name="qwen2-tiny", arch="qwen2", seed=21, merges=300, c=64, heads=4, kv=2, hs=16, layers=2, ff=96,
         ctx=128, theta=1e6, pre="qwen2", template="Qwen-Qwen2.5-7B-Instruct.jinja",
         specials=["<|im_start|>", "<|im_end|>"], eos="<|im_end|>", bos=None),
    dict(name="qwen3-tiny", arch="qwen3", seed=12, merges=300, c=64, heads=4, kv=1, hs=32, layers=2, ff=80,
         ctx=128, theta=1e6, pre="qwen2", template="Qwen-Qwen3-0.6B.jinja",
         specials=["<|im_start|>", "<|im_end|>", "<think>", "</think>"], eos="<|im_end|>", bos=None),
    dict(name="llama3-tiny", arch="llama", seed=13, merges=350, c=48, heads=3, kv=1, hs=16, layers=2, ff=64,
         ctx=128, theta=5e5, pre="llama-bpe", template="meta-llama-Llama-3.2-3B-Instruct.jinja",
         specials=["<|begin_of_text|>", "<|start_header_id|>", "<|end_header_id|>", "<|eot_id|>"],
         eos="<|eot_id|>", bos="<|begin_of_text|>"),
    dict(name="gemma3-tiny", arch="gemma3", seed=14, merges=300, c=64, heads=2, kv=1, hs=32, layers=3, ff=96,
         ctx=128, theta=1e6, window=5, pattern=3, pre="gpt-2", template="google-gemma-2-2b-it.jinja",
         specials=["<bos>", "<eos>", "<start_of_turn>", "<end_of_turn>"], eos="<eos>", bos="<bos>"),
    # Its matrices and embedding in Q8_0, as a quantized GPT-2 GGUF holds them.
    dict(name="gpt2-gguf", arch="gpt2", seed=15, merges=300, c=64, heads=4, layers=2, ff=192, ctx=64,
         pre="gpt-2", template=None, specials=[], eos=EOT, bos=None, quant="Q8_0"),
]

PROMPTS = [
    "The 3 quick brown foxes jump over 12 lazy dogs.",
    "Hello, world! It's 2026.\n\nNew paragraph   with  spaces",
]
CONVERSATION = [
    {"role": "system", "content": "You are a helpful assistant."},
    {"role": "user", "content": "What is the capital of France?"},
    {"role": "assistant", "content": "Paris."},
    {"role": "user", "content": "And of Italy?"},
]
DATE = datetime.date(2026, 12, 2)  # strftime_now() for the golden rendering


def tool():
    return subprocess.check_output([os.path.join(ROOT, "scripts", "build-llama-golden.sh")], text=True).strip()


def llama(model, mode, lines):
    out = subprocess.run([tool(), model] + mode, input="".join(l + "\n" for l in lines), capture_output=True,
                         text=True, check=True).stdout
    return [l for l in out.split("\n")]


def tensors(s, vocab_size, rng):
    """name → f32 array [rows, cols] (or [n]), as llama.cpp names them."""
    c, ff = s["c"], s["ff"]

    def rand(*shape, std=0.2, mean=0.0):
        return (mean + std * rng.standard_normal(shape)).astype(np.float32)

    # Gemma scales its (tied) embeddings by √C: smaller ones keep the tokens from echoing.
    t = {"token_embd.weight": rand(vocab_size, c, std=0.15 if s["arch"] == "gemma3" else 1.0)}
    if s["arch"] == "gpt2":
        t["position_embd.weight"] = rand(s["ctx"], c, std=0.1)
        for i in range(s["layers"]):
            p = f"blk.{i}."
            t[p + "attn_norm.weight"], t[p + "attn_norm.bias"] = rand(c, std=0.1, mean=1.0), rand(c, std=0.05)
            t[p + "attn_qkv.weight"], t[p + "attn_qkv.bias"] = rand(3 * c, c, std=0.3), rand(3 * c, std=0.05)
            t[p + "attn_output.weight"], t[p + "attn_output.bias"] = rand(c, c), rand(c, std=0.05)
            t[p + "ffn_norm.weight"], t[p + "ffn_norm.bias"] = rand(c, std=0.1, mean=1.0), rand(c, std=0.05)
            t[p + "ffn_up.weight"], t[p + "ffn_up.bias"] = rand(ff, c, std=0.3), rand(ff, std=0.05)
            t[p + "ffn_down.weight"], t[p + "ffn_down.bias"] = rand(c, ff), rand(c, std=0.05)
        t["output_norm.weight"], t["output_norm.bias"] = rand(c, std=0.1, mean=1.0), rand(c, std=0.05)
        return t
    hs, q, kv = s["hs"], s["heads"] * s["hs"], s["kv"] * s["hs"]
    for i in range(s["layers"]):
        p = f"blk.{i}."
        t[p + "attn_norm.weight"] = rand(c, std=0.1, mean=1.0)
        t[p + "attn_q.weight"] = rand(q, c, std=0.3)
        t[p + "attn_k.weight"] = rand(kv, c, std=0.3)
        t[p + "attn_v.weight"] = rand(kv, c)
        if s["arch"] == "qwen2":
            t[p + "attn_q.bias"], t[p + "attn_k.bias"], t[p + "attn_v.bias"] = rand(q), rand(kv), rand(kv)
        if s["arch"] in ("qwen3", "gemma3"):
            t[p + "attn_q_norm.weight"] = rand(hs, std=0.1, mean=1.0)
            t[p + "attn_k_norm.weight"] = rand(hs, std=0.1, mean=1.0)
        t[p + "attn_output.weight"] = rand(c, q)
        t[p + "ffn_norm.weight"] = rand(c, std=0.1, mean=1.0)
        t[p + "ffn_gate.weight"] = rand(ff, c, std=0.3)
        t[p + "ffn_up.weight"] = rand(ff, c, std=0.3)
        t[p + "ffn_down.weight"] = rand(c, ff)
        if s["arch"] == "gemma3":
            t[p + "post_attention_norm.weight"] = rand(c, std=0.1, mean=1.0)
            t[p + "post_ffw_norm.weight"] = rand(c, std=0.1, mean=1.0)
    t["output_norm.weight"] = rand(c, std=0.1, mean=1.0)
    if s["arch"] == "llama":
        # Llama 3's frequency factors: long wavelengths slowed, as its converter writes them.
        t["rope_freqs.weight"] = np.linspace(1.0, 8.0, hs // 2).astype(np.float32)
    if s["arch"] != "gemma3":
        t["output.weight"] = rand(vocab_size, c, std=0.5)
    return t


def gpt2_numpy_logits(s, t, ids):
    """Logits [T, V] of the GGUF GPT-2 `t` by make_gpt2_fixtures.forward (Conv1D layout)."""
    w = {"wte.weight": t["token_embd.weight"], "wpe.weight": t["position_embd.weight"],
         "ln_f.weight": t["output_norm.weight"], "ln_f.bias": t["output_norm.bias"]}
    names = {"attn_norm": "ln_1", "ffn_norm": "ln_2", "attn_qkv": "attn.c_attn", "attn_output": "attn.c_proj",
             "ffn_up": "mlp.c_fc", "ffn_down": "mlp.c_proj"}
    for i in range(s["layers"]):
        for g, h in names.items():
            weight = t[f"blk.{i}.{g}.weight"]
            w[f"h.{i}.{h}.weight"] = weight if weight.ndim == 1 else weight.T
            w[f"h.{i}.{h}.bias"] = t[f"blk.{i}.{g}.bias"]
    spec = {"n_embd": s["c"], "n_head": s["heads"], "n_layer": s["layers"]}
    return make_gpt2_fixtures.forward(w, spec, ids)


QWEN2_PATTERN = r"""(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"""
HF_NAMES = {"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
            "attn_v": "self_attn.v_proj", "attn_q_norm": "self_attn.q_norm", "attn_k_norm": "self_attn.k_norm",
            "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm", "ffn_gate": "mlp.gate_proj",
            "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}


def write_hf(s, out, t, vocab, merges, template):
    """The same Qwen model as a Hugging Face checkpoint (Qwen's GGUF keeps HF's q/k order)."""
    os.makedirs(out, exist_ok=True)
    w = []
    for name, arr in t.items():
        if name.startswith("blk."):
            _, i, part, kind = name.split(".")
            hf = f"model.layers.{i}.{HF_NAMES[part]}.{kind}"
        else:
            hf = {"token_embd.weight": "model.embed_tokens.weight", "output_norm.weight": "model.norm.weight",
                  "output.weight": "lm_head.weight"}[name]
        w.append((hf, arr, "F32"))
    write_safetensors(os.path.join(out, "model.safetensors"), w)
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[tuple(m.split(" ")) for m in merges]))
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(QWEN2_PATTERN), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens([AddedToken(x, special=True, normalized=False) for x in [EOT] + s["specials"]])
    tok.save(os.path.join(out, "tokenizer.json"))
    json.dump({"chat_template": template, "eos_token": s["eos"], "bos_token": None},
              open(os.path.join(out, "tokenizer_config.json"), "w"), indent=1)
    json.dump({"architectures": [f"{s['arch'].capitalize()}ForCausalLM"], "model_type": s["arch"],
               "hidden_act": "silu", "vocab_size": len(vocab), "hidden_size": s["c"], "intermediate_size": s["ff"],
               "num_hidden_layers": s["layers"], "num_attention_heads": s["heads"],
               "num_key_value_heads": s["kv"], "head_dim": s["hs"], "max_position_embeddings": s["ctx"],
               "rms_norm_eps": 1e-6, "rope_theta": s["theta"], "tie_word_embeddings": False,
               "use_sliding_window": False, "eos_token_id": vocab[s["eos"]], "torch_dtype": "float32"},
              open(os.path.join(out, "config.json"), "w"), indent=1)


def write(s, path, tokens, types, merges, template):
    w = GGUFWriter(path, s["arch"])
    a = s["arch"]
    w.add_name(s["name"])
    w.add_context_length(s["ctx"])
    w.add_embedding_length(s["c"])
    w.add_block_count(s["layers"])
    w.add_feed_forward_length(s["ff"])
    w.add_head_count(s["heads"])
    if a == "gpt2":
        w.add_layer_norm_eps(1e-5)
    else:
        w.add_head_count_kv(s["kv"])
        w.add_layer_norm_rms_eps(1e-6)
        w.add_rope_freq_base(s["theta"])
        w.add_key_length(s["hs"])
        w.add_value_length(s["hs"])
        if a == "llama":
            w.add_rope_dimension_count(s["hs"])
    if a == "gemma3":
        w.add_sliding_window(s["window"])
        w.add_uint32(f"{a}.attention.sliding_window_pattern", s["pattern"])
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre(s["pre"])
    w.add_token_list(tokens)
    w.add_token_types(types)
    w.add_token_merges(merges)
    w.add_eos_token_id(tokens.index(s["eos"]))
    if s["bos"]:
        w.add_bos_token_id(tokens.index(s["bos"]))
    w.add_add_bos_token(s["bos"] is not None)
    if template:
        w.add_chat_template(template)
    rng = np.random.default_rng(s["seed"])
    t = tensors(s, len(tokens), rng)
    for name, arr in t.items():
        if s.get("quant") and arr.ndim == 2 and name != "position_embd.weight":
            # Stored quantized; the reference computes with the values the blocks hold.
            ty = GGMLQuantizationType[s["quant"]]
            blocks = quants.quantize(arr, ty)
            t[name] = quants.dequantize(blocks, ty).reshape(arr.shape)
            w.add_tensor(name, blocks, raw_shape=blocks.shape, raw_dtype=ty)
        else:
            w.add_tensor(name, arr)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return t


def main():
    for s in FIXTURES:
        out = os.path.join(ROOT, "tests", "fixtures", s["name"])
        os.makedirs(out, exist_ok=True)
        vocab, merges = cut_vocabulary(s["merges"])  # bytes, merges, <|endoftext|>
        for t in s["specials"]:
            vocab[t] = len(vocab)
        tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
        types = [3 if t == EOT or t in s["specials"] else 1 for t in tokens]
        template = None
        if s["template"]:
            template = open(os.path.join(LLAMA_SRC, "models", "templates", s["template"])).read()
        model = os.path.join(out, "model.gguf")
        t = write(s, model, tokens, types, merges, template)

        bos = [tokens.index(s["bos"])] if s["bos"] else []
        prompt_ids = [bos + [int(x) for x in l.split()] for l in
                      llama(model, ["tokenize"], [p.encode().hex() for p in PROMPTS])[: len(PROMPTS)]]
        stops = {tokens.index(s["eos"]), vocab[EOT]}
        cases = []
        for prompt, ids in zip(PROMPTS, prompt_ids):
            greedy = [int(x) for x in llama(model, ["greedy", str(NEW_TOKENS)], [" ".join(map(str, ids))])[0].split()]
            if any(g in stops for g in greedy):
                greedy = greedy[: min(greedy.index(g) for g in stops if g in greedy)]
            full = ids + greedy[:-1]
            if s["arch"] == "gpt2":
                logits = gpt2_numpy_logits(s, t, full)
            else:
                rows = llama(model, ["logits"], [" ".join(map(str, full))])[: len(full)]
                logits = np.array([[float(v) for v in r.split()] for r in rows])
            # The greedy tokens again from the logits, with their margins.
            for n, g in enumerate(greedy):
                row = logits[len(ids) - 1 + n]
                top2 = np.sort(row)[-2:]
                assert int(np.argmax(row)) == g, f"{s['name']}: llama.cpp's greedy and the logits disagree"
                assert top2[1] - top2[0] > MIN_MARGIN, f"{s['name']}: near-tie {top2}; change the seed"
            positions = sorted({0, len(ids) // 2, len(ids) - 1, len(full) - 1})
            cases.append({"prompt": prompt, "prompt_ids": ids, "greedy_ids": greedy,
                          "logits": [{"position": q, "values": [round(float(v), 6) for v in logits[q]]}
                                     for q in positions]})
            print(f"{s['name']} {prompt[:30]!r}: {len(ids)} ids, greedy {greedy}")
        golden = {"format": "lantern-golden", "version": 1, "made_by": "scripts/make_gguf_fixtures.py (llama.cpp)",
                  "vocab_size": len(tokens), "cases": cases}
        json.dump(golden, open(os.path.join(out, "golden.json"), "w"), indent=1)
        if s["arch"] in ("qwen2", "qwen3"):
            hf = out + "-hf"
            write_hf(s, hf, t, vocab, merges, template)
            json.dump(golden, open(os.path.join(hf, "golden.json"), "w"), indent=1)
            # Hugging Face's tokenizer and llama.cpp's agree on the prompts.
            hf_tok = Tokenizer.from_file(os.path.join(hf, "tokenizer.json"))
            for case in cases:
                assert hf_tok.encode(case["prompt"]).ids == case["prompt_ids"], s["name"]
        if template:
            env = jinja2.Environment(trim_blocks=False, lstrip_blocks=False)

            def raise_exception(message):
                raise jinja2.TemplateError(message)
            env.globals["raise_exception"] = raise_exception
            env.globals["strftime_now"] = lambda f: DATE.strftime(f)
            render = lambda m: env.from_string(template).render(
                messages=m, add_generation_prompt=True, bos_token=s["bos"] or "", eos_token=s["eos"])
            try:
                render(CONVERSATION)
                messages, refuses_system = CONVERSATION, None
            except jinja2.TemplateError as e:  # Gemma's: "System role not supported"
                messages, refuses_system = CONVERSATION[1:], str(e)
            now = int(datetime.datetime(DATE.year, DATE.month, DATE.day, tzinfo=datetime.timezone.utc).timestamp())
            chat = {"now": now, "messages": messages, "rendered": render(messages), "refuses_system": refuses_system}
            for d in [out] + ([out + "-hf"] if s["arch"] in ("qwen2", "qwen3") else []):
                json.dump(chat, open(os.path.join(d, "chat.json"), "w"), indent=1)


if __name__ == "__main__":
    main()
