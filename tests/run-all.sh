#!/bin/sh
# make test: every suite, then one closing line with the totals.
#   tests/run-all.sh OUTPUT
# Each suite prints "NAME: N passed, M failed, K skipped" as its last
# summary line, and one "SKIP what: why" line for each thing it skipped.
# A suite that prints no summary counts as one failure. A skip is neither a
# pass nor a failure: it is counted and its reason shown in the totals.
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

t0=$(date +%s)
run make -s -C "$here" OUTPUT="$OUTPUT" unit
run "$here/tests/check-units.sh" "$OUTPUT"
run "$here/tests/check-tree.sh"
run "$here/tests/e2e/run.sh" "$OUTPUT"
if [ -n "${PROFD_SKIP_SYSTEMD:-}" ]; then
	run printf 'SKIP systemd: %s\nsystemd: 0 passed, 0 failed, 1 skipped\n' "$PROFD_SKIP_SYSTEMD"
else
	run "$here/tests/systemd/run.sh" "$OUTPUT"
fi

passed=0
failed=0
skipped=0
for s in unit units tree e2e systemd; do
	line=$(grep -E "^$s: [0-9]+ passed, [0-9]+ failed" "$log" | tail -1)
	if [ -z "$line" ]; then
		echo "suite $s printed no summary: counted as failed"
		failed=$((failed + 1))
		continue
	fi
	p=$(echo "$line" | sed -E 's/^[a-z0-9]+: ([0-9]+) passed.*/\1/')
	f=$(echo "$line" | sed -E 's/^[a-z0-9]+: [0-9]+ passed, ([0-9]+) failed.*/\1/')
	k=$(echo "$line" | sed -nE 's/^.*, ([0-9]+) skipped.*/\1/p')
	passed=$((passed + p))
	failed=$((failed + f))
	skipped=$((skipped + ${k:-0}))
done
echo
grep -E '^SKIP ' "$log" | sed 's/^/  /'
echo "time: $(( $(date +%s) - t0 )) s"
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
