#!/usr/bin/env bash
# The speed figures on whatever Vulkan GPU this machine has, in one run of a few minutes:
# `lantern bench --json --roofline --profile` for SmolLM2-135M-Instruct (Q4_1) decoding at
# about 128 and about 2,048 cached tokens, and for a checkpoint of GPT-2 small's shape with
# random weights (scripts/make_gpt2_small.py). Prints one JSON line per run, then a summary.
#   ./scripts/bench-gpu.sh            # sets up (Rust toolchain assumed), builds, runs
#   BENCH_OUT=DIR ./scripts/bench-gpu.sh   # also writes each run's JSON into DIR
# A run whose model does not fit the adapter says so and the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
command -v vulkaninfo >/dev/null 2>&1 && vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverName|apiVersion" | head -6

./scripts/fetch-model.sh || exit 1
[ -f models/gpt2-small-random/model.safetensors ] || python3 scripts/make_gpt2_small.py || exit 1
cargo build --release --bin lantern || exit 1
LANTERN=target/release/lantern
SMOL=models/SmolLM2-135M-Instruct.Q4_1.gguf
out="${BENCH_OUT:-}"
[ -n "$out" ] && mkdir -p "$out"

run() {
    local name=$1; shift
    echo "== $name: lantern bench $*" >&2
    local json
    if json=$("$LANTERN" bench --json --roofline --profile "$@"); then
        echo "$json"
        [ -n "$out" ] && echo "$json" > "$out/$name.json"
        python3 - "$name" "$json" <<'PY'
import json, sys
name, d = sys.argv[1], json.loads(sys.argv[2])
r = d.get("roofline", {})
print(f"{name}: {d['adapter']}: prefill {d['prefill_tokens_per_s']:.1f} tok/s, decode "
      f"{d['decode_tokens_per_s']:.1f} tok/s ({d['dispatches_per_token']:.0f} dispatches, "
      f"{d['submits_per_token']:.0f} submit, {d['readback_bytes_per_token']:.0f} bytes read back per token); "
      f"roofline {r.get('read_bytes_per_s', 0) / 1e9:.0f} GB/s, {r.get('fma_per_s', 0) / 1e9:.0f} G FMA/s: "
      f"decode at {100 * r.get('decode_fraction_of_roofline', 0):.1f}% of it", file=sys.stderr)
top = d.get("profile", {}).get("decode_per_token", [])[:4]
for row in top:
    print(f"    {row['ms']:8.3f} ms {100 * row['share']:5.1f}%  {row['kernel']}", file=sys.stderr)
PY
    else
        echo "$name: failed (see above)" >&2
    fi
}

run smollm2-ctx128 --model "$SMOL" --prompt-tokens 96 --gen-tokens 32 --context 2048
run smollm2-ctx2048 --model "$SMOL" --prompt-tokens 2000 --gen-tokens 32 --context 2048
run smollm2-ctx128-greedy --model "$SMOL" --prompt-tokens 96 --gen-tokens 32 --temperature 0
run gpt2-small-ctx128 --model models/gpt2-small-random --prompt-tokens 96 --gen-tokens 32 --context 1024
run gpt2-small-ctx1000 --model models/gpt2-small-random --prompt-tokens 960 --gen-tokens 32 --context 1024
