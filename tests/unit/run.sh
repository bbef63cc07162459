#!/bin/sh
# Run unit test binaries and summarise.
#   tests/unit/run.sh OUTPUT test_bin...
# Each binary's output goes to OUTPUT/tests/unit/NAME.log and is shown when it
# fails. Prints PASS/FAIL per binary, then "unit: N passed, M failed"; exits
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
for t in "$@"; do
	name=$(basename "$t")
	log=$LOGDIR/$name.log
	# shellcheck disable=SC2086
	if $TIMEOUT "$t" >"$log" 2>&1; then
		echo "PASS $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name"
		sed 's/^/    /' "$log"
		failed=$((failed + 1))
	fi
done

echo "unit: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
