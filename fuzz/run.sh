#!/usr/bin/env bash
# Run secsh's fuzz targets for a bounded time each, one after another.
#
#   fuzz/run.sh SECONDS [TARGET...]     (default: every target)
#
# Needs cargo-fuzz (installed when missing). The stable toolchain builds
# the sanitizer instrumentation with RUSTC_BOOTSTRAP=1. Each target starts
# from its committed seeds (fuzz/seeds/TARGET) and the local corpus
# (fuzz/corpus/TARGET, not committed), and its regression inputs
# (fuzz/regressions/TARGET). Prints one line per target with the number of
# inputs executed; exits non-zero on the first crash, leaving the input
# under fuzz/artifacts/TARGET/ (copy it to fuzz/regressions/TARGET/ once
# the bug is fixed: tests/fuzz_replay.rs replays it under cargo test).
set -euo pipefail

secs=${1:?usage: fuzz/run.sh SECONDS [TARGET...]}
shift
cd "$(dirname "$0")"
export RUSTC_BOOTSTRAP=1
export PATH="$HOME/.cargo/bin:$PATH"

if ! cargo fuzz --version >/dev/null 2>&1; then
    echo "fuzz: installing cargo-fuzz"
    cargo install cargo-fuzz --locked --quiet
fi

if [ $# -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

cargo fuzz build -O >/dev/null
mkdir -p logs
status=0
for t in "${targets[@]}"; do
    mkdir -p "corpus/$t" "seeds/$t" "regressions/$t"
    log="logs/$t.log"
    start=$(date +%s)
    if cargo fuzz run -O "$t" "corpus/$t" "seeds/$t" "regressions/$t" -- \
        -max_total_time="$secs" -timeout=20 -rss_limit_mb=4096 -max_len=8192 \
        -print_final_stats=1 >"$log" 2>&1; then
        result="no crash"
    else
        result="FAILED (see fuzz/$log and fuzz/artifacts/$t/)"
        status=1
    fi
    execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
    printf '%-16s %10s execs in %4ss, %s, corpus %s: %s\n' "$t" "${execs:-?}" \
        "$(($(date +%s) - start))" "${cov:-cov: ?}" "$(find "corpus/$t" -type f | wc -l)" "$result"
    if [ $status -ne 0 ]; then
        grep -E 'panicked|ERROR: |SUMMARY' "$log" | head -5 || true
        break
    fi
done
exit $status
