#!/bin/sh
# bench/heap: see run.py and bench/README.md. Needs bpftrace and heaptrack
# (Debian packages) as peers, and the programs whose slowdown it measures
# (perl, python3, sqlite3, gcc, xz, gzip, sort); installs missing ones (as root).
set -eu
OUT=${1:-build}
for p in bpftrace:bpftrace heaptrack:heaptrack sqlite3:sqlite3 xz:xz-utils gzip:gzip \
	sort:coreutils perl:perl gcc:gcc /usr/bin/python3:python3; do
	command -v ${p%%:*} >/dev/null 2>&1 || {
		DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${p#*:} >/dev/null ||
		{ apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ${p#*:} >/dev/null; }
	}
done
exec python3 "$(dirname "$0")/run.py" "$OUT" --rounds "${ROUNDS:-3}"
