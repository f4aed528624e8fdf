#!/usr/bin/env python3
"""Writes tests/data/tokenizer_corpus.txt: several thousand varied lines on which Lantern's
tokenizer must equal tiktoken's r50k_base (GPT-2) exactly.

    python3 scripts/make_tokenizer_corpus.py

The lines mix: prose and code taken from CPython's own standard library sources (whatever
Python runs this; the committed file is the reference), numbers in many shapes, scripts
beyond Latin (CJK, Arabic, Hebrew, Devanagari, Thai, Cyrillic, Greek), emoji including
ZWJ sequences, skin tones and flags, combining marks, whitespace runs of every kind,
contractions in odd cases, and the special token <|endoftext|> inside text. Seeded, so the
same Python gives the same file.
"""
import os
import random
import sysconfig

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT = os.path.join(ROOT, "tests", "data", "tokenizer_corpus.txt")
rng = random.Random(20261128)

PIECES = [
    "Hello, world!", "It's", "it’s", "I'M", "we'LL", "they've", "she'd", "don't", "'s", "'tis",
    "rock 'n' roll", "O'Neill's", "y'all'd've",
    "東京は日本の首都です。", "我爱自然语言处理。", "한국어 텍스트도 있습니다.", "カタカナとひらがな",
    "مرحبا بالعالم", "اللغة العربية جميلة", "שלום עולם", "नमस्ते दुनिया", "สวัสดีชาวโลก",
    "Привет, мир!", "Γειά σου Κόσμε", "Ελληνικά", "Ça va? Déjà vu, naïve café, Zoë, façade",
    "straße ß ẞ", "İstanbul ıi", "ﬁ ﬂ ligatures", "e\u0301 a\u0308 o\u0302\u0323", "Å Å",
    "👋", "👨‍👩‍👧‍👦", "🏳️‍🌈", "👍🏽", "🇫🇷🇯🇵", "❤️", "🧑‍💻", "😀😃😄", "✨🚀", "☕️",
    "0", "7", "42", "3.14159", "-0.5", "1e-10", "1,000,000", "2026-11-28", "12:34:56", "0x1F",
    "+33 1 23 45 67 89", "#1", "v1.2.3", "100%", "$9.99", "€5", "½ ¾ ² ³", "Ⅻ", "٣٤٥", "१२३",
    "  ", "   ", "\t", "\t\t", " \t ", "\u00a0", "\u3000", "\u2003", "\u200b",
    "<|endoftext|>", "foo<|endoftext|>bar", "<|endoftext|><|endoftext|>", "<|endoftext", "|>",
    "fn main() {", "    println!(\"{}\", x);", "}", "def f(x):", "    return x ** 2",
    "if (a && b) || !c { return; }", "x += 1;", "// comment", "/* block */", "#include <stdio.h>",
    "<div class=\"a\">", "SELECT * FROM t WHERE id = 1;", "https://example.com/a?b=c&d=e#f",
    "user@example.com", "C:\\Program Files\\", "~/.config/", "$HOME", "@mention", "#hashtag",
    "...", "—", "–", "…", "“quoted”", "«guillemets»", "¿Qué?", "¡Hola!", "(parens)", "[brackets]",
]

WHITESPACE = [" ", "  ", "   ", "\t", " \t", "\u00a0", "\u3000", "", "", "", " "]


def stdlib_lines(limit):
    lib = sysconfig.get_paths()["stdlib"]
    names = sorted(n for n in os.listdir(lib) if n.endswith(".py"))
    lines = []
    for n in names:
        try:
            with open(os.path.join(lib, n), encoding="utf-8") as f:
                lines.extend(l.rstrip("\n") for l in f)
        except (UnicodeDecodeError, OSError):
            continue
    lines = [l for l in lines if l.strip()]
    return rng.sample(lines, min(limit, len(lines)))


def number():
    kind = rng.randrange(6)
    if kind == 0:
        return str(rng.randrange(10 ** rng.randrange(1, 12)))
    if kind == 1:
        return f"{rng.uniform(-1e6, 1e6):.{rng.randrange(0, 8)}f}"
    if kind == 2:
        return f"{rng.randrange(1, 9999):,}"
    if kind == 3:
        return f"{rng.random():.3e}"
    if kind == 4:
        return "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 30)))
    return f"{rng.randrange(2000, 2030)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"


def mixed_line():
    parts = []
    for _ in range(rng.randrange(1, 9)):
        r = rng.random()
        parts.append(rng.choice(PIECES) if r < 0.6 else number() if r < 0.8 else rng.choice(["a", "the", "word", "Mixed", "CAPS", "x"]))
        parts.append(rng.choice(WHITESPACE))
    return "".join(parts)


def main():
    lines = []
    lines += PIECES
    lines += stdlib_lines(2500)
    lines += [mixed_line() for _ in range(2500)]
    lines += [number() for _ in range(300)]
    # Whitespace runs before words, digits, punctuation, and at line ends.
    for ws in ["  ", "   ", "\t\t", " \t ", "    ", "\u00a0 ", "\u3000\u3000"]:
        for after in ["word", "42", "!", "日本", "👍", ""]:
            lines.append(f"a{ws}{after}")
            lines.append(f"{ws}{after}{ws}")
    rng.shuffle(lines)
    # Lines are read back split on "\n"; keep carriage returns and tabs inside lines only.
    lines = [l.replace("\n", " ").replace("\r", "\\r") for l in lines]
    with open(OUT, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    print(f"{OUT}: {len(lines)} lines")


if __name__ == "__main__":
    main()
