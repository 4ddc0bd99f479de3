#!/usr/bin/env bash
# Runs every fuzz target (or those named) for SECONDS of CPU each (default
# 300), on the stable toolchain: cargo-fuzz with `--sanitizer none` (no
# nightly-only sanitizer; libFuzzer's coverage guidance still works, and
# Rust's own checks catch panics and overflows in debug assertions). Prints
# each target's executions, coverage and CPU seconds. Installs cargo-fuzz
# when missing. Exits non-zero on any crash, panic, timeout or leak.
set -euo pipefail
cd "$(dirname "$0")"
SECONDS_EACH="${SECONDS_EACH:-300}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/clerk-fuzz-target}"
command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz --locked
command -v /usr/bin/time >/dev/null || apt-get install -y time
targets=("$@")
[ ${#targets[@]} -eq 0 ] && targets=(token json claims extraction routes webhook)
cargo fuzz build --sanitizer none -O
mkdir -p logs
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t"
    # -timeout: any single input over 5 s is a failure (a hang).
    # One process, so the CPU time is the run time (a busy machine only
    # makes it last longer in wall time).
    /usr/bin/time -o "logs/$t.time" -f '%U %S' cargo fuzz run --sanitizer none -O "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$SECONDS_EACH" -timeout=5 -rss_limit_mb=2048 -print_final_stats=1 \
        > "logs/$t.log" 2>&1 || { echo "FAILED: $t (see fuzz/logs/$t.log)"; tail -30 "logs/$t.log"; exit 1; }
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || true)
    cov=$(grep -o 'cov: [0-9]*' "logs/$t.log" | tail -1 || true)
    ft=$(grep -o 'ft: [0-9]*' "logs/$t.log" | tail -1 || true)
    slowest=$(grep -o 'stat::slowest_unit_time_sec: *[0-9]*' "logs/$t.log" | grep -o '[0-9]*$' || true)
    cpu=$(awk '{printf "%.0f", $1+$2}' "logs/$t.time")
    echo "$t: ${runs:-?} executions in ${cpu} CPU-s, ${cov:-cov: ?}, ${ft:-ft: ?}, slowest input ${slowest:-?} s, 0 crashes"
done
