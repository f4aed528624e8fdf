#!/usr/bin/env bash
# Sets up, fetches the default model (SmolLM2-135M-Instruct), builds the page and serves it
# on http://127.0.0.1:8080 with the model on the same origin. Open that address in a browser
# with WebGPU. (`./scripts/chat.sh` chats in the terminal instead.)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/setup.sh
./scripts/fetch-model.sh
echo "Lantern: building the page, then serving it on http://127.0.0.1:8080"
exec trunk serve --release --no-autoreload "$@"
