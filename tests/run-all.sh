#!/bin/sh
# make test: every suite, then one closing line with the totals.
#   tests/run-all.sh OUTPUT
# Each suite prints "NAME: N passed, M failed" as its last summary line.
set -u
OUTPUT=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
# go tool pprof needs a home and a cache even in a bare CI environment.
export HOME="${HOME:-/root}"
mkdir -p "$OUTPUT/gocache"
export GOCACHE="${GOCACHE:-$(cd "$OUTPUT" && pwd)/gocache}"
log=$(mktemp)
trap 'rm -f "$log"' EXIT

run() {
	"$@" 2>&1 | tee -a "$log"
}

run make -s -C "$here" OUTPUT="$OUTPUT" unit
run "$here/tests/check-units.sh" "$OUTPUT"
run "$here/tests/e2e/run.sh" "$OUTPUT"

passed=0
failed=0
suites=0
for s in unit units e2e; do
	line=$(grep -E "^$s: [0-9]+ passed, [0-9]+ failed" "$log" | tail -1)
	if [ -z "$line" ]; then
		echo "suite $s printed no summary: counted as failed"
		failed=$((failed + 1))
		continue
	fi
	p=$(echo "$line" | sed -E 's/^[a-z0-9]+: ([0-9]+) passed, ([0-9]+) failed.*/\1/')
	f=$(echo "$line" | sed -E 's/^[a-z0-9]+: ([0-9]+) passed, ([0-9]+) failed.*/\2/')
	passed=$((passed + p))
	failed=$((failed + f))
	suites=$((suites + 1))
done
echo
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
