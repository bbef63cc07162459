#!/bin/sh
# bench/stack: see run.py and bench/README.md.
set -eu
exec python3 "$(dirname "$0")/run.py" "${1:-build}" --rounds "${ROUNDS:-3}" --seconds "${SECONDS_WINDOW:-5}" \
	${BEFORE:+--before "$BEFORE"}
