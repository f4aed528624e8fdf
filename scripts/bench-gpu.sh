#!/usr/bin/env bash
# The speed figures on whatever Vulkan GPU this machine has, in one run of a few minutes:
# `lantern bench --json --roofline --profile` for SmolLM2-135M-Instruct (Q4_1) decoding at
# about 128 and about 2,048 cached tokens (and at 128 with the CPU adapters' kernel shapes,
# `--shapes cpu`, to compare), and for a checkpoint of GPT-2 small's shape with
# random weights (scripts/make_gpt2_small.py). Prints one JSON line per run, then a summary.
#   ./scripts/bench-gpu.sh            # sets up (Rust toolchain assumed), builds, runs
#   BENCH_OUT=DIR ./scripts/bench-gpu.sh   # also writes each run's JSON into DIR
# On a GPU machine with no network and no Rust (the device tool's), from a bundle that
# scripts/device-bundle.sh made here (.device/: the release tool and the Vulkan loader):
#   BENCH_OFFLINE=1 ./scripts/bench-gpu.sh
# which runs .device/lantern, installs the loader where the machine has none, and, where the
# real model is not in models/, benches one of its exact shape and tensor types with random
# weights (scripts/make_smollm2_random.py: the same bytes and multiply-adds per token).
# BENCH_QUICK=1: a few tokens per run (a smoke test of this script on a CPU adapter);
# LANTERN=PATH: that build of the tool; BENCH_SMOL=FILE: that SmolLM2 file.
# A run whose model does not fit the adapter says so and the others still run.
set -uo pipefail
cd "$(dirname "$0")/.."
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-$(mktemp -d)}"
offline="${BENCH_OFFLINE:-}"
quick="${BENCH_QUICK:-}"
REAL=models/SmolLM2-135M-Instruct.Q4_1.gguf
SHAPED=models/smollm2-shape-random.Q4_1.gguf
SMOL="${BENCH_SMOL:-}"

if [ -n "$offline" ]; then
    LANTERN="${LANTERN:-.device/lantern}"
    [ -f "$LANTERN" ] && [ ! -x "$LANTERN" ] && chmod +x "$LANTERN"  # a copy that lost its mode
    [ -x "$LANTERN" ] || { echo "bench-gpu: no $LANTERN: run scripts/device-bundle.sh on a machine with Rust first" >&2; exit 1; }
    # wgpu opens libvulkan.so.1 at run time; a bare machine may have the driver but not it.
    export PATH="$PATH:/usr/sbin:/sbin"  # ldconfig
    if command -v ldconfig >/dev/null && ! ldconfig -p | grep -q 'libvulkan\.so\.1' \
        && ls .device/debs/*.deb >/dev/null 2>&1; then
        echo "bench-gpu: installing the Vulkan loader from .device/debs" >&2
        for f in .device/debs/*.deb; do dpkg -x "$f" /; done
        ldconfig
    fi
    # NVIDIA's driver mounted where the loader does not look.
    nv=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
    [ -z "${VK_DRIVER_FILES:-}${VK_ICD_FILENAMES:-}" ] && [ -f "$nv" ] && export VK_DRIVER_FILES=$nv
    [ -z "$SMOL" ] && { [ -f "$REAL" ] && SMOL=$REAL || SMOL=$SHAPED; }
else
    ./scripts/fetch-model.sh || exit 1
    if [ -z "${LANTERN:-}" ]; then
        cargo build --release --bin lantern || exit 1
        LANTERN=target/release/lantern
    fi
    SMOL=${SMOL:-$REAL}
fi
[ "$SMOL" = "$SHAPED" ] && [ ! -f "$SHAPED" ] && { python3 scripts/make_smollm2_random.py "$SHAPED" || exit 1; }
command -v vulkaninfo >/dev/null 2>&1 && vulkaninfo --summary 2>/dev/null | grep -E "deviceName|driverName|apiVersion" | head -6
[ -f models/gpt2-small-random/model.safetensors ] || python3 scripts/make_gpt2_small.py || exit 1
echo "bench-gpu: $LANTERN, SmolLM2: $SMOL" >&2
out="${BENCH_OUT:-}"
[ -n "$out" ] && mkdir -p "$out"

failed=0
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
print(f"{name}: {d['adapter']} ({d.get('kernel_shapes', '?')} kernels): prefill {d['prefill_tokens_per_s']:.1f} tok/s, decode "
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
        failed=$((failed + 1))
    fi
}

# Prompt and generated tokens per run: a full run, or a smoke test's few.
n() { if [ -n "$quick" ]; then echo "$2"; else echo "$1"; fi; }
run smollm2-ctx128 --model "$SMOL" --prompt-tokens "$(n 96 8)" --gen-tokens "$(n 32 2)" --context 2048
run smollm2-ctx2048 --model "$SMOL" --prompt-tokens "$(n 2000 40)" --gen-tokens "$(n 32 2)" --context 2048
run smollm2-ctx128-greedy --model "$SMOL" --prompt-tokens "$(n 96 8)" --gen-tokens "$(n 32 2)" --temperature 0
# The CPU adapters' kernel shapes on this adapter, against its own (the first run).
run smollm2-ctx128-cpu-shapes --model "$SMOL" --prompt-tokens "$(n 96 8)" --gen-tokens "$(n 32 2)" --shapes cpu
run gpt2-small-ctx128 --model models/gpt2-small-random --prompt-tokens "$(n 96 8)" --gen-tokens "$(n 32 2)" --context 1024
run gpt2-small-ctx1000 --model models/gpt2-small-random --prompt-tokens "$(n 960 40)" --gen-tokens "$(n 32 2)" --context 1024
[ "$failed" = 0 ] || { echo "bench-gpu: $failed run(s) failed" >&2; exit 1; }
