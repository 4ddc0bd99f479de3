#!/usr/bin/env bash
# Runs every fuzz target (or those named) for at least SECONDS_EACH CPU
# seconds (default 300) each, on the stable toolchain: cargo-fuzz with
# `--sanitizer none` (the sanitizers need nightly; libFuzzer's coverage
# guidance works without them, and safe Rust needs no ASan to catch its
# bugs), optimised (`-O`) with debug assertions and overflow checks kept
# (`-a`): a panic, an overflow, an out-of-memory or a slow input is what
# libFuzzer reports. Prints each target's executions, CPU seconds and
# coverage. Installs cargo-fuzz when missing. Exits non-zero on any crash,
# panic, timeout (an input over 5 s) or out-of-memory (over 2 GiB).
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${SECONDS_EACH:-300}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clerk-fuzz-target}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
command -v /usr/bin/time >/dev/null || apt-get install -y time
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(token json claims extraction routes webhook)

cargo fuzz build --sanitizer none -O -a
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    cpu=0 runs=0 round=0
    # A busy machine gives the fuzzer less than its wall time: run again,
    # on the corpus so far, until the CPU time is reached.
    while [ "$cpu" -lt "$SECONDS_EACH" ]; do
        round=$((round + 1))
        left=$((SECONDS_EACH - cpu + 5))
        /usr/bin/time -o "logs/$t.time" -f '%U %S' \
            cargo fuzz run --sanitizer none -O -a "$t" "corpus/$t" "seeds/$t" -- \
            -max_total_time="$left" -timeout=5 -rss_limit_mb=2048 -max_len=16384 \
            -print_final_stats=1 > "logs/$t.$round.log" 2>&1 \
            || { echo "FAILED: $t (see fuzz/logs/$t.$round.log)"; tail -30 "logs/$t.$round.log"; exit 1; }
        cpu=$((cpu + $(awk '{printf "%d", $1+$2}' "logs/$t.time")))
        n=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.$round.log" | grep -o '[0-9]*$' || echo 0)
        runs=$((runs + n))
    done
    cov=$(grep -ho 'cov: [0-9]*' logs/"$t".*.log | tail -1 || true)
    ft=$(grep -ho 'ft: [0-9]*' logs/"$t".*.log | tail -1 || true)
    corpus=$(ls "corpus/$t" | wc -l)
    echo "$t: $runs executions in $cpu CPU-s ($round runs), ${cov:-cov: ?}, ${ft:-ft: ?}, corpus $corpus, 0 crashes/panics/timeouts"
done
