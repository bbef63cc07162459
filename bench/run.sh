#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Run every benchmark under bench/ (see bench/README.md).
#
#   bench/run.sh OUTPUT      OUTPUT is the build directory (make bench: build)
#
# Each benchmark writes OUTPUT/bench/<name>-results.md; this script prints
# them and fails if any benchmark failed. Benchmarks measure ratios against a
# peer or a baseline in the same run; they are not pass/fail timing tests.
set -uo pipefail

OUT=${1:?usage: bench/run.sh OUTPUT}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCHES=(cpu heap unwind stack symbols locks offcpu continuous stacks)
failed=()

for b in "${BENCHES[@]}"; do
	echo "=== bench/$b" >&2
	if ! "$HERE/$b/run.sh" "$OUT"; then
		failed+=("$b")
	fi
done
if ((${#failed[@]})); then
	echo "bench: failed: ${failed[*]}" >&2
	exit 1
fi
echo "bench: results in $OUT/bench/*-results.md" >&2
