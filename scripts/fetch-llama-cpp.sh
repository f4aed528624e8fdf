#!/usr/bin/env bash
# Fetches llama.cpp's source (an independent implementation: its quantizer, tokenizer and
# test vocabularies) from inside the PyPI sdist llama-cpp-python 0.3.36 — the route to
# llama.cpp from this network — once, into ~/.cache/lantern/llama.cpp-0.3.36/src, and prints
# that folder.
set -euo pipefail
VERSION=0.3.36
CACHE="${LANTERN_CACHE:-$HOME/.cache/lantern}/llama.cpp-$VERSION"
if [ ! -d "$CACHE/src" ]; then
    mkdir -p "$CACHE"
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    echo "fetch-llama-cpp: downloading llama-cpp-python==$VERSION (sdist, 77 MB)…" >&2
    python3 -m pip download --quiet --no-deps --no-binary llama-cpp-python \
        --disable-pip-version-check "llama-cpp-python==$VERSION" -d "$tmp" >&2
    tar -xzf "$tmp"/llama_cpp_python-$VERSION.tar.gz -C "$tmp"
    mv "$tmp/llama_cpp_python-$VERSION/vendor/llama.cpp" "$CACHE/src"
fi
echo "$CACHE/src"
