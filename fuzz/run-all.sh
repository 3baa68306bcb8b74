#!/usr/bin/env bash
# Runs every fuzz target in turn, one at a time, for 10 million executions or
# 10 minutes, whichever comes first, then minimises its corpus. Logs go to logs/.
#
#   fuzz/run-all.sh [target...]
#
# Needs cargo-fuzz (`cargo install cargo-fuzz --locked`) and a nightly toolchain for the
# address sanitizer; see README.md for the stable-toolchain variant.
set -euo pipefail
cd "$(dirname "$0")"
FUZZ=${FUZZ:-cargo +nightly fuzz}
RUNS=${RUNS:-10000000}
SECONDS_PER_TARGET=${SECONDS_PER_TARGET:-600}
mkdir -p logs
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <($FUZZ list)
fi
for t in "${targets[@]}"; do
    echo "== $t"
    # -malloc_limit_mb=2: inputs are at most 4 KiB, so a single allocation of 2 MiB
    # or more is an amplification an attacker could use, and counts as a crash.
    $FUZZ run -O "$t" -- -runs="$RUNS" -max_total_time="$SECONDS_PER_TARGET" \
        -malloc_limit_mb=2 -print_final_stats=1 >"logs/$t.log" 2>&1 || {
        echo "$t: finding, see logs/$t.log and artifacts/$t/"
        continue
    }
    grep -E "stat::number_of_executed_units|Done [0-9]+ runs" "logs/$t.log" | tail -2
    $FUZZ cmin -O "$t" >"logs/$t.cmin.log" 2>&1
done
