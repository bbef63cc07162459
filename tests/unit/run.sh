#!/bin/sh
# Run unit test binaries and summarise.
#   tests/unit/run.sh OUTPUT test_bin...
# Each binary's output goes to OUTPUT/tests/unit/NAME.log and is shown when it
# fails. Prints PASS/FAIL/SKIP per binary (a binary that exits 77 was skipped:
# its last line says why), then "unit: N passed, M failed, K skipped"; exits
# non-zero when any failed.
set -u

if [ $# -lt 1 ]; then
	echo "usage: $0 OUTPUT test_bin..." >&2
	exit 2
fi
OUTPUT=$1
shift
LOGDIR=$OUTPUT/tests/unit
mkdir -p "$LOGDIR"

# A hung test fails instead of hanging the suite (when timeout(1) exists).
TIMEOUT=
if command -v timeout >/dev/null 2>&1; then
	TIMEOUT="timeout ${UNIT_TIMEOUT:-120}"
fi

passed=0
failed=0
skipped=0
for t in "$@"; do
	name=$(basename "$t")
	log=$LOGDIR/$name.log
	rc=0
	# shellcheck disable=SC2086
	$TIMEOUT "$t" >"$log" 2>&1 || rc=$?
	case $rc in
	0)
		echo "PASS $name"
		passed=$((passed + 1))
		;;
	77)
		echo "SKIP $name: $(tail -n 1 "$log" | sed 's/^SKIP: //')"
		skipped=$((skipped + 1))
		;;
	*)
		echo "FAIL $name (exit $rc)"
		sed 's/^/    /' "$log"
		failed=$((failed + 1))
		;;
	esac
done

echo "unit: $passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ]
