#!/usr/bin/env bash
# Fuzzes every parser of untrusted input (fuzz/: GGUF, safetensors, tokenizers, chat
# templates, a GGUF write/read round trip) under libFuzzer with AddressSanitizer, two
# targets at a time (two cores), each for SECONDS (default 600), from the seed corpus
# (scripts/make_fuzz_corpus.py: fuzz/seeds/) and what earlier runs found (fuzz/corpus/,
# kept between runs, git-ignored). Prints each target's executions, coverage and result, then
# "N passed, N failed"; exits non-zero on any crash, leak, timeout or out-of-memory, whose
# input libFuzzer leaves in fuzz/artifacts/<target>/. A crash becomes a test: commit the
# input under tests/data/fuzz/ and add it to tests/fuzz_regressions.rs.
#
#   scripts/fuzz.sh [SECONDS] [TARGET...]     # CI: scripts/fuzz.sh 60
set -euo pipefail
cd "$(dirname "$0")/.."
SECONDS_PER_TARGET="${1:-600}"
shift || true
TARGETS=("$@")
[ ${#TARGETS[@]} -gt 0 ] || TARGETS=(gguf safetensors tokenizer chat_template gguf_roundtrip markdown)

command -v cargo-fuzz >/dev/null 2>&1 || cargo install cargo-fuzz --locked --version 0.13.2
python3 scripts/make_fuzz_corpus.py
# The seeds must load all the way (fuzz/tests/seeds.rs), or fuzzing starts at the door.
(cd fuzz && cargo test --release --quiet)
# cargo fuzz needs nightly flags for the sanitizer; RUSTC_BOOTSTRAP lets stable take them.
export RUSTC_BOOTSTRAP=1
(cd fuzz && cargo fuzz build)

LOGS=fuzz/logs
rm -rf "$LOGS" && mkdir -p "$LOGS"
run() {
    local t=$1
    local dict=()
    [ -f "fuzz/dicts/$t.dict" ] && dict=(-dict="dicts/$t.dict")
    # -timeout: one input taking 10 s is a hang; -rss_limit_mb: an allocation a file
    # cannot justify is a crash (inputs are at most a few hundred KB).
    mkdir -p "fuzz/corpus/$t"
    (cd fuzz && cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECONDS_PER_TARGET" -timeout=10 -rss_limit_mb=2048 \
        "${dict[@]}" -print_final_stats=1) >"$LOGS/$t.log" 2>&1
}
passed=0 failed=0
summary() {
    local t=$1 rc=$2 log="$LOGS/$1.log"
    local runs cov
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo "?")
    cov=$(grep -oE '#[0-9]+.*cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+' || echo "cov: ?")
    if [ "$rc" = 0 ]; then
        passed=$((passed + 1))
        echo "fuzz $t: ok, ${SECONDS_PER_TARGET} s, $runs executions, $cov, 0 crashes"
    else
        failed=$((failed + 1))
        echo "fuzz $t: FAILED (exit $rc) after $runs executions; input in fuzz/artifacts/$t/:"
        grep -E 'ERROR|panicked|SUMMARY|Test unit written' "$log" | head -8 | sed 's/^/    /'
    fi
}
# Two at a time: the machine has two cores.
i=0
while [ $i -lt ${#TARGETS[@]} ]; do
    a=${TARGETS[$i]} b=${TARGETS[$((i + 1))]:-}
    rc_a=0 rc_b=0
    run "$a" & pid_a=$!
    if [ -n "$b" ]; then run "$b" & pid_b=$!; fi
    wait "$pid_a" || rc_a=$?
    if [ -n "$b" ]; then wait "$pid_b" || rc_b=$?; fi
    summary "$a" "$rc_a"
    [ -n "$b" ] && summary "$b" "$rc_b"
    i=$((i + 2))
done
echo "fuzz: $passed passed, $failed failed"
[ "$failed" = 0 ]
