#!/bin/sh
# bench/symbols: see run.py and bench/README.md.
set -eu
exec python3 "$(dirname "$0")/run.py" "${1:-build}" --rounds "${ROUNDS:-3}" --seconds "${SECONDS_WINDOW:-4}"
