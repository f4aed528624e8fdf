#!/usr/bin/env python3
"""Writes the seed corpora and dictionaries of the fuzz targets (fuzz/) from the committed
test fixtures: small valid files of each kind, in the layouts fuzz/src/lib.rs reads.

- gguf: each GGUF fixture (Llama 3, Qwen 2, Qwen 3, Gemma 3, GPT-2: their real tokenizers
  and chat templates) cut to one layer, its tensors rewritten in every format whose blocks
  fit their rows; a SentencePiece vocabulary on the Llama body; one file holding a tensor of
  every format (the K-quants' 256-weight rows are wider than the fixtures' models).
- safetensors: each Hugging Face fixture cut to one layer and 256 tokens (the target's
  tokenizer), in F32, F16 and BF16.
- tokenizer: every tokenizer.json and vocab.json + merges.txt of the fixtures, each with
  texts from tests/data/tokenizer_corpus.json.
- chat_template: the fixtures' templates, Lantern's fallback, with a conversation.
- markdown: answers in Markdown (every construct the page renders, raw HTML, bad links).
- gguf_roundtrip: a few structured inputs (arbitrary bytes: any seed will do).

Weights are bytes below 0x40 in every position: finite in every format, so the loaders get
past their NaN checks. Standard library only:

    python3 scripts/make_fuzz_corpus.py     # writes fuzz/seeds/<target>/, fuzz/dicts/
"""
import json
import os
import random
import re
import shutil
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "tests", "fixtures")
SEEDS = os.path.join(ROOT, "fuzz", "seeds")
DICTS = os.path.join(ROOT, "fuzz", "dicts")

# ggml type id → (weights per block, bytes per block), as src/model/quant.rs reads them.
FORMATS = {"F32": (0, 1, 4), "F16": (1, 1, 2), "BF16": (30, 1, 2), "Q8_0": (8, 32, 34),
           "Q4_0": (2, 32, 18), "Q4_1": (3, 32, 20), "Q5_0": (6, 32, 22), "Q5_1": (7, 32, 24),
           "Q2_K": (10, 256, 84), "Q3_K": (11, 256, 110), "Q4_K": (12, 256, 144),
           "Q5_K": (13, 256, 176), "Q6_K": (14, 256, 210)}
BY_ID = {ty: name for name, (ty, _, _) in FORMATS.items()}
rng = random.Random(14)


def safe_bytes(n):
    """Bytes that decode to finite values in any format (no f16/f32 exponent all ones)."""
    return bytes(rng.randrange(0x40) for _ in range(n))


# --- GGUF, read and written with the standard library -------------------------------------

SCALARS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q",
           12: "<d"}


class Reader:
    def __init__(self, b):
        self.b, self.pos = b, 0

    def take(self, fmt):
        v = struct.unpack_from(fmt, self.b, self.pos)[0]
        self.pos += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.take("<Q")
        s = self.b[self.pos:self.pos + n].decode("utf-8")
        self.pos += n
        return s

    def value(self, ty):
        if ty == 8:
            return self.string()
        if ty == 9:
            elem, n = self.take("<I"), self.take("<Q")
            return (elem, [self.value(elem) for _ in range(n)])
        return self.take(SCALARS[ty])


def read_gguf(path):
    b = open(path, "rb").read()
    r = Reader(b)
    assert r.b[:4] == b"GGUF"
    r.pos = 4
    _version, n_tensors, n_kv = r.take("<I"), r.take("<Q"), r.take("<Q")
    meta = {}
    for _ in range(n_kv):
        key = r.string()
        ty = r.take("<I")
        meta[key] = (ty, r.value(ty))
    infos = []
    for _ in range(n_tensors):
        name = r.string()
        dims = [r.take("<Q") for _ in range(r.take("<I"))]
        ty, _offset = r.take("<I"), r.take("<Q")
        infos.append((name, dims, BY_ID[ty]))
    return meta, infos


def write_value(out, ty, v):
    if ty == 8:
        s = v.encode("utf-8")
        out += struct.pack("<Q", len(s)) + s
    elif ty == 9:
        elem, items = v
        out += struct.pack("<IQ", elem, len(items))
        for item in items:
            write_value(out, elem, item)
    else:
        out += struct.pack(SCALARS[ty], v)


def write_gguf(path, meta, tensors):
    """tensors: (name, dims, format name, bytes)."""
    out = bytearray(b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(meta)))
    for key, (ty, v) in meta.items():
        write_value(out, 8, key)
        out += struct.pack("<I", ty)
        write_value(out, ty, v)
    offset = 0
    for name, dims, fmt, data in tensors:
        write_value(out, 8, name)
        out += struct.pack("<I", len(dims)) + b"".join(struct.pack("<Q", d) for d in dims)
        out += struct.pack("<IQ", FORMATS[fmt][0], offset)
        offset = (offset + len(data) + 31) // 32 * 32
    for _name, _dims, _fmt, data in tensors:
        out += bytes(-len(out) % 32) + data
    with open(path, "wb") as f:
        f.write(out)


def tensor_bytes(dims, fmt):
    _, block, size = FORMATS[fmt]
    n = 1
    for d in dims:
        n *= d
    return safe_bytes(n // block * size)


def one_layer(meta, infos):
    """The model cut to its first block."""
    arch = meta["general.architecture"][1]
    meta = dict(meta)
    ty, _ = meta[f"{arch}.block_count"]
    meta[f"{arch}.block_count"] = (ty, 1)
    return meta, [t for t in infos if not re.match(r"blk\.[1-9]", t[0])]


def gguf_seeds(out):
    names = []
    for fixture in sorted(os.listdir(FIXTURES)):
        path = os.path.join(FIXTURES, fixture, "model.gguf")
        if not os.path.exists(path):
            continue
        meta, infos = one_layer(*read_gguf(path))
        names += list(meta) + [t[0] for t in infos]
        for fmt in ["F32", "F16", "BF16", "Q8_0", "Q4_0", "Q4_1", "Q5_0", "Q5_1"]:
            block = FORMATS[fmt][1]
            tensors = []
            for name, dims, _ in infos:
                # Matrices in the format where their rows are whole blocks; norms in F32.
                f = fmt if len(dims) == 2 and dims[0] % block == 0 else "F32"
                tensors.append((name, dims, f, tensor_bytes(dims, f)))
            write_gguf(os.path.join(out, f"{fixture}-{fmt}.gguf"), meta, tensors)
        if fixture == "llama3-tiny":
            write_gguf(os.path.join(out, "spm-llama.gguf"), *spm_model(meta, infos))
    zoo = [(f"t.{fmt}", [FORMATS[fmt][1] * 2, 2], fmt, tensor_bytes([FORMATS[fmt][1] * 2, 2], fmt))
           for fmt in FORMATS]
    write_gguf(os.path.join(out, "every-format.gguf"), {"general.architecture": (8, "llama")}, zoo)
    return names


def spm_model(meta, infos):
    """The Llama body with a SentencePiece vocabulary: byte pieces, ▁ words, scores."""
    pieces = ["<unk>", "<s>", "</s>"] + [f"<0x{b:02X}>" for b in range(256)]
    words = ["▁", "e", "t", "a", "▁t", "he", "▁the", "▁a", "in", "▁in", "is", "▁is", "日", "本"]
    pieces += words
    meta = {k: v for k, v in meta.items() if not k.startswith("tokenizer.ggml.")}
    meta.update({
        "tokenizer.ggml.model": (8, "llama"),
        "tokenizer.ggml.tokens": (9, (8, pieces)),
        "tokenizer.ggml.scores": (9, (6, [0.0] * 259 + [-float(i) for i in range(len(words))])),
        "tokenizer.ggml.token_type": (9, (5, [2, 3, 3] + [6] * 256 + [1] * len(words))),
        "tokenizer.ggml.bos_token_id": (4, 1),
        "tokenizer.ggml.eos_token_id": (4, 2),
        "tokenizer.ggml.unknown_token_id": (4, 0),
    })
    meta.pop("tokenizer.chat_template", None)
    tensors = []
    for name, dims, _ in infos:
        if name in ("token_embd.weight", "output.weight"):
            dims = [dims[0], len(pieces)]
        tensors.append((name, dims, "F32", tensor_bytes(dims, "F32")))
    return meta, tensors


# --- safetensors --------------------------------------------------------------------------

def safetensors_seeds(out):
    names = []
    for fixture in sorted(os.listdir(FIXTURES)):
        path = os.path.join(FIXTURES, fixture, "model.safetensors")
        if not os.path.exists(path):
            continue
        config = json.load(open(os.path.join(FIXTURES, fixture, "config.json")))
        b = open(path, "rb").read()
        header = json.loads(b[8:8 + struct.unpack("<Q", b[:8])[0]])
        header.pop("__metadata__", None)
        vocab = config["vocab_size"]
        layers_key = "n_layer" if "n_layer" in config else "num_hidden_layers"
        config[layers_key], config["vocab_size"] = 1, 256
        # Its special ids cut with it: an id past the vocabulary is refused at load.
        for key in ("bos_token_id", "eos_token_id"):
            if isinstance(config.get(key), int) and config[key] >= 256:
                config[key] = 255
        keep = {n: i for n, i in header.items() if not re.search(r"(^|\.)(h|layers)\.[1-9]", n)}
        names += list(keep) + list(config)
        for dtype, size in [("F32", 4), ("F16", 2), ("BF16", 2)]:
            head, data = {}, bytearray()
            for name, info in sorted(keep.items()):
                shape = [256 if d == vocab else d for d in info["shape"]]
                n = size
                for d in shape:
                    n *= d
                head[name] = {"dtype": dtype, "shape": shape, "data_offsets": [len(data), len(data) + n]}
                data += safe_bytes(n)
            h = json.dumps(head).encode()
            h += b" " * (-len(h) % 8)
            st = struct.pack("<Q", len(h)) + h + data
            cfg = json.dumps(config).encode()
            with open(os.path.join(out, f"{fixture}-{dtype}.bin"), "wb") as f:
                f.write(struct.pack("<H", len(cfg)) + cfg + st)
    return names


# --- tokenizers and templates ------------------------------------------------------------

def texts():
    corpus = json.load(open(os.path.join(ROOT, "tests", "data", "tokenizer_corpus.json")))
    items = corpus["texts"] if isinstance(corpus, dict) else corpus
    return [t if isinstance(t, str) else t.get("text", "") for t in items]


def tokenizer_seeds(out):
    sample = texts()
    n = 0
    for fixture in sorted(os.listdir(FIXTURES)):
        d = os.path.join(FIXTURES, fixture)
        files = []
        if os.path.exists(os.path.join(d, "tokenizer.json")):
            files.append(b"\x00" + open(os.path.join(d, "tokenizer.json"), "rb").read())
        if os.path.exists(os.path.join(d, "vocab.json")):
            files.append(b"\x01" + open(os.path.join(d, "vocab.json"), "rb").read() + b"\x00"
                         + open(os.path.join(d, "merges.txt"), "rb").read())
        for i, f in enumerate(files):
            for j in range(0, len(sample), 11):
                with open(os.path.join(out, f"{fixture}-{i}-{j}.bin"), "wb") as o:
                    o.write(f + b"\x00" + sample[j].encode())
                n += 1
    return n


def templates():
    found = []
    for fixture in sorted(os.listdir(FIXTURES)):
        path = os.path.join(FIXTURES, fixture, "model.gguf")
        if os.path.exists(path):
            t = read_gguf(path)[0].get("tokenizer.chat_template")
            if t:
                found.append((fixture, t[1]))
        path = os.path.join(FIXTURES, fixture, "tokenizer_config.json")
        if os.path.exists(path):
            t = json.load(open(path)).get("chat_template")
            if isinstance(t, str):
                found.append((fixture + "-hf", t))
    src = open(os.path.join(ROOT, "src", "model", "chat.rs")).read()
    fallback = re.search(r'FALLBACK_TEMPLATE: &str = "(.*?)";', src, re.S).group(1)
    fallback = fallback.replace("\\\n", "").replace('\\"', '"').replace("\\\\", "\\")
    found.append(("fallback", fallback))
    found.append(("loop", "{% for m in messages %}{{ m.role }}{% for c in m.content %}{{ c }}{% endfor %}{% endfor %}"))
    found.append(("macro", "{% macro r(n) %}{% if n %}{{ r(n - 1) }}{% endif %}{% endmacro %}{{ r(3) }}"))
    return found


def chat_seeds(out):
    conversation = ["You are a helpful assistant.", "What is the capital of France?", "Paris.",
                    "And of Italy? <img src=x onerror=alert(1)> {{ 7*7 }}"]
    found = templates()
    for name, t in found:
        with open(os.path.join(out, f"{name}.bin"), "wb") as f:
            f.write("\x00".join([t] + conversation).encode())
    return [t for _, t in found]


def markdown_seeds(out):
    docs = [
        "Hello **bold** and *em* with `code`.\n\n- one\n- two\n\n1. first\n2. second\n",
        "| a | b |\n|:--|--:|\n| 1 | 2 |\n",
        "```rust\nfn main() {}\n```\n\n```\nunclosed",
        "> quote\n>\n> more\n\n---\n\n# Title\n\n## Sub\n",
        "<img src=x onerror=alert(1)> <script>alert(2)</script>\n\n<div onclick=\"x()\">block</div>",
        "[ok](https://example.com) [js](javascript:alert(1)) ![img](https://x/p.png) <https://auto.link>",
        "- [x] done\n- [ ] todo\n\n~~strike~~ a^sup^ ~sub~ [^1]\n\n[^1]: note",
        "    indented code\n\n*a **b *c* d** e*\n\\*escaped\\*",
    ]
    for i, d in enumerate(docs):
        with open(os.path.join(out, f"doc-{i}.md"), "w") as f:
            f.write(d)
    return docs


def roundtrip_seeds(out):
    for i in range(8):
        with open(os.path.join(out, f"random-{i}.bin"), "wb") as f:
            f.write(bytes(rng.randrange(256) for _ in range(64 << i)))


# --- dictionaries --------------------------------------------------------------------------

def write_dict(name, words):
    seen = sorted({w for w in words if 0 < len(w) <= 64})
    with open(os.path.join(DICTS, f"{name}.dict"), "w") as f:
        for w in seen:
            esc = "".join(c if 32 <= ord(c) < 127 and c not in '"\\' else
                          "".join(f"\\x{b:02X}" for b in (c.encode("latin-1") if ord(c) < 256 else c.encode())) for c in w)
            f.write(f'"{esc}"\n')


def main():
    shutil.rmtree(SEEDS, ignore_errors=True)
    os.makedirs(DICTS, exist_ok=True)
    dirs = {t: os.path.join(SEEDS, t) for t in ["gguf", "safetensors", "tokenizer", "chat_template",
                                                 "gguf_roundtrip", "markdown"]}
    for d in dirs.values():
        os.makedirs(d)
    gguf_names = gguf_seeds(dirs["gguf"])
    st_names = safetensors_seeds(dirs["safetensors"])
    n_tok = tokenizer_seeds(dirs["tokenizer"])
    chat = chat_seeds(dirs["chat_template"])
    roundtrip_seeds(dirs["gguf_roundtrip"])
    markdown_seeds(dirs["markdown"])
    write_dict("markdown", ["**", "*", "_", "`", "```", "~~~", "~~", "[", "](", ")", "![", "<", ">", "|", "|---|",
                            "- ", "1. ", "# ", "> ", "\n\n", "    ", "[^", "]:", "- [x] ", "http://", "https://",
                            "javascript:", "<img ", "<script>", "&amp;", "&#x3c;", "\\"])
    write_dict("gguf", gguf_names + ["GGUF", "\x03\x00\x00\x00", "general.alignment", "tokenizer.ggml.pre",
                                     "tokenizer.ggml.model", "llama-bpe", "qwen2", "gpt2", "llama", "gemma3",
                                     "qwen3", "\xff\xff\xff\xff\xff\xff\xff\xff", "\x00\x7c", "\x00\xfe"])
    write_dict("safetensors", st_names + ['"dtype"', '"shape"', '"data_offsets"', '"F32"', '"F16"', '"BF16"',
                                          '"I8"', '"__metadata__"', '"model_type"', '"architectures"',
                                          '"llama"', '"qwen2"', '"qwen3"', '"gpt2"', '"tie_word_embeddings"',
                                          '"rope_scaling"', '"llama3"', "\x00\x00\x80\x7f"])
    write_dict("tokenizer", ['"model"', '"vocab"', '"merges"', '"added_tokens"', '"pre_tokenizer"',
                             '"ByteLevel"', '"Split"', '"Digits"', '"Sequence"', '"pretokenizers"',
                             '"individual_digits"', '"use_regex"', '"Regex"', '"pattern"', '"type"',
                             '"BPE"', '"content"', '"id"', "#version", "\u0120", "\u010a", "<|endoftext|>",
                             "<|im_start|>", "'s", "'ll", " \n", "\r\n", "123", "\u00e9"])
    jinja = ["{%", "%}", "{{", "}}", "{#", "#}", "{%-", "-%}", "for ", "endfor", "if ", "elif", "else", "endif",
             "set ", "macro", "endmacro", "call", "filter", "recursive", "loop.", "messages", "message",
             "['content']", "['role']", "add_generation_prompt", "bos_token", "eos_token", "raise_exception(",
             "strftime_now(", "namespace(", "range(", "|length", "|trim", "|tojson", "|join", "~", "*", "**",
             " in ", " is ", "not ", ".split(", ".startswith(", "[::-1]", "loop.index0", "caller()"]
    write_dict("chat_template", jinja + [w for t in chat for w in re.findall(r"[A-Za-z_]{3,}", t)])
    sizes = {t: len(os.listdir(d)) for t, d in dirs.items()}
    print(f"seed corpora in fuzz/seeds: {sizes} ({n_tok} tokenizer seeds); dictionaries in fuzz/dicts")


if __name__ == "__main__":
    main()
