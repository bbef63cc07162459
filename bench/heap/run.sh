#!/bin/sh
# bench/heap: see run.py and bench/README.md. Needs bpftrace and heaptrack
# (Debian packages) as peers; installs them when missing (as root).
set -eu
OUT=${1:-build}
for p in bpftrace heaptrack; do
	command -v $p >/dev/null 2>&1 || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $p >/dev/null
done
exec python3 "$(dirname "$0")/run.py" "$OUT" --rounds "${ROUNDS:-3}"
