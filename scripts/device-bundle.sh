#!/usr/bin/env bash
# Makes .device/ (ignored by git): what `BENCH_OFFLINE=1 scripts/bench-gpu.sh` needs on an
# x86-64 Linux machine with a GPU but no network and no Rust (the device tool's machine):
# the release `lantern` tool, stripped, and the Vulkan loader (libvulkan1) as Debian
# packages for a machine that has the driver but not the loader. About 8 MB, within what
# the device tool carries (64 MiB). Then, with the device tool:
#   run(command: "BENCH_OFFLINE=1 BENCH_OUT=$OUT ./scripts/bench-gpu.sh", carry: [".device"])
# The models are made there (scripts/make_smollm2_random.py, scripts/make_gpt2_small.py).
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(uname -m)" = x86_64 ] || { echo "device-bundle: the tool must be built for x86-64; this is $(uname -m)" >&2; exit 1; }
cargo build --release --bin lantern
mkdir -p .device/debs
cp target/release/lantern .device/lantern
strip .device/lantern
# The loader's package (amd64) and nothing of this machine's apt state: lists in a folder of
# their own.
lists=$(mktemp -d)
trap 'rm -rf "$lists"' EXIT
mkdir -p "$lists/partial"
o=(-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 "-oDir::State::Lists=$lists")
if [ ! -f .device/debs/libvulkan1.deb ]; then
    apt-get "${o[@]}" update -qq
    (cd "$lists" && apt-get "${o[@]}" download libvulkan1 -qq)
    mv "$lists"/libvulkan1_*.deb .device/debs/libvulkan1.deb
fi
du -sh .device
echo "device-bundle: .device ready; on the GPU machine: BENCH_OFFLINE=1 ./scripts/bench-gpu.sh"
