#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/locks: the managers' locks, before and after a change, in one run
# (see bench/README.md). Builds the "before" tree from git in a temporary
# directory, then interleaves both daemons round by round.
#
#   bench/locks/run.sh OUTPUT        OUTPUT: the build directory ("after")
#   BEFORE=<rev>                     default: git merge-base HEAD main
#   ROUNDS=N                         default 2
set -euo pipefail

OUT=${1:?usage: bench/locks/run.sh OUTPUT}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
BEFORE=${BEFORE:-$(git -C "$TOP" merge-base HEAD main)}
RES=$OUT/bench/locks
mkdir -p "$RES"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "bench/locks: building the before tree ($BEFORE) in $tmp" >&2
git -C "$TOP" archive "$BEFORE" | tar -x -C "$tmp"
make -s -C "$tmp" OUTPUT="$tmp/build" -j"$(nproc)" all >"$RES/before-build.log" 2>&1
make -s -C "$TOP" OUTPUT="$OUT" all
gcc -O2 -g -fno-omit-frame-pointer -o "$RES/hold" "$HERE/hold.c"
gcc -O2 -g -fno-omit-frame-pointer -o "$RES/alloc" "$TOP/bench/heap/alloc.c"
python3 "$HERE/run.py" --before "$tmp/build/profd" --after "$OUT/profd" \
	--before-rev "$(git -C "$TOP" rev-parse --short "$BEFORE")" \
	--after-rev "$(git -C "$TOP" rev-parse --short HEAD)$(git -C "$TOP" diff --quiet HEAD || echo +)" \
	--bin "$RES" --rounds "${ROUNDS:-2}" --out "$OUT/bench/locks-results.md"
cat "$OUT/bench/locks-results.md"
