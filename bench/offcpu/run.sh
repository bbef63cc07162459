#!/bin/sh
# bench/offcpu: see run.py and bench/README.md.
set -eu
exec python3 "$(dirname "$0")/run.py" "${1:-build}" --rounds "${ROUNDS:-5}" --round-trips "${ROUND_TRIPS:-200000}"
