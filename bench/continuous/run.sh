#!/bin/sh
# bench/continuous: see run.py and bench/README.md.
set -eu
OUT=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
# The workloads are the e2e tests' (split, nofp, churn, gohot, sysloop).
[ -x "$OUT/e2e/gohot" ] || E2E_BUILD_ONLY=1 "$HERE/../../tests/e2e/run.sh" "$OUT" >&2
mkdir -p "$OUT/bench"
python3 -u "$HERE/run.py" "$OUT" --seconds "${SECONDS_WINDOW:-30}" | tee "$OUT/bench/continuous-results.md"
