#!/bin/sh
# Run libFuzzer targets for a bounded time each (make fuzz).
#   tests/fuzz/run.sh FUZZ_DIR SECONDS TARGET...
# FUZZ_DIR holds the built targets (FUZZ_DIR/TARGET) and seeds generated at
# build time (FUZZ_DIR/seeds/TARGET: ELF files, which git must not hold).
# Each target starts from its seeds in the tree (tests/fuzz/corpus/TARGET)
# and those, and keeps what it finds in FUZZ_DIR/corpus/TARGET for the next
# run. A crash, leak, timeout (> FUZZ_TIMEOUT s for one input, default 20)
# or out-of-memory (> FUZZ_RSS_MB, default 2048) fails the target; its
# reproducer is kept in FUZZ_DIR/crashes/TARGET/ (run the target on it).
# SECONDS 0: run each seed once and stop (the regression check).
# FUZZ_JOBS=N runs N targets at once. Prints one line per target and
# "fuzz: N passed, M failed, 0 skipped".
set -u

if [ $# -lt 2 ]; then
	echo "usage: $0 FUZZ_DIR SECONDS TARGET..." >&2
	exit 2
fi
dir=$(cd "$1" && pwd)
secs=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
timeout=${FUZZ_TIMEOUT:-20}
rss=${FUZZ_RSS_MB:-2048}
# Reports must stop the target; leaks are checked (LeakSanitizer), but for
# the known ones in libraries that lsan.supp names.
asan_opts="${ASAN_OPTIONS:+$ASAN_OPTIONS:}abort_on_error=1:detect_leaks=1"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}print_stacktrace=1:halt_on_error=1"
export LSAN_OPTIONS="${LSAN_OPTIONS:+$LSAN_OPTIONS:}suppressions=$here/lsan.supp:print_suppressions=0"

passed=0
failed=0
t0=$(date +%s)
# One target; its lines go to $dir/$t.result (targets may run at once).
fuzz_one() {
	t=$1
	bin=$dir/$t
	log=$dir/$t.log
	crashes=$dir/crashes/$t
	work=$dir/corpus/$t
	mkdir -p "$crashes" "$work"
	seeds=
	for d in "$here/corpus/$t" "$dir/seeds/$t"; do
		[ -d "$d" ] && seeds="$seeds $d"
	done
	dict=
	[ -f "$here/$t.dict" ] && dict="-dict=$here/$t.dict"
	# Allocations made inside libdw (no frame pointers) are traced with
	# the slow unwinder, so that lsan.supp can name the function.
	case $t in
	fuzz_elf) export ASAN_OPTIONS="$asan_opts:fast_unwind_on_malloc=0" ;;
	*) export ASAN_OPTIONS="$asan_opts" ;;
	esac
	rc=0
	if [ "$secs" -eq 0 ]; then
		# Every seed once, as a reproducer is run.
		# shellcheck disable=SC2086
		files=$(find $seeds -type f 2>/dev/null | sort)
		# shellcheck disable=SC2086
		"$bin" -timeout="$timeout" -rss_limit_mb="$rss" \
			-artifact_prefix="$crashes/" $files >"$log" 2>&1 || rc=$?
		runs=$(echo "$files" | grep -c .)
		what="$runs seeds replayed"
	else
		# shellcheck disable=SC2086
		"$bin" -max_total_time="$secs" -timeout="$timeout" \
			-rss_limit_mb="$rss" -print_final_stats=1 \
			-artifact_prefix="$crashes/" $dict "$work" $seeds \
			>"$log" 2>&1 || rc=$?
		runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
		cov=$(grep -E '^#[0-9]+' "$log" | tail -1 | sed -nE 's/.*cov: ([0-9]+).*corp: ([0-9]+).*/cov \1, corpus \2/p')
		what="${runs:-?} executions in $secs s (${rate:-?}/s; ${cov:-no coverage line})"
	fi
	# The input that failed: written out by libFuzzer, or (replaying)
	# the seed it was running.
	new=$(sed -n 's/.*Test unit written to //p' "$log" | sort -u)
	[ "$rc" -ne 0 ] && [ -z "$new" ] && new=$(sed -n 's/^Running: //p' "$log" | tail -n 1)
	if [ "$rc" -eq 0 ] && [ -z "$new" ]; then
		echo "PASS $t: $what"
	else
		echo "FAIL $t (exit $rc): $what"
		grep -E 'ERROR: |runtime error:|SUMMARY:|Test unit written to|DEATH|ALARM|out-of-memory' "$log" | head -n 8 | sed 's/^/    /'
		for f in $new; do
			echo "    reproducer: $f  (run: $bin $f)"
		done
		echo "    log: $log"
	fi
}

# FUZZ_JOBS targets at a time (default 1): each is one process on one core,
# so CI runs two at once on two cores and takes half the time.
jobs=${FUZZ_JOBS:-1}
set -- "$@"
while [ $# -gt 0 ]; do
	n=0
	batch=
	while [ $# -gt 0 ] && [ "$n" -lt "$jobs" ]; do
		fuzz_one "$1" >"$dir/$1.result" 2>&1 &
		batch="$batch $1"
		n=$((n + 1))
		shift
	done
	wait
	for t in $batch; do
		cat "$dir/$t.result"
		if grep -q "^PASS $t:" "$dir/$t.result"; then
			passed=$((passed + 1))
		else
			failed=$((failed + 1))
		fi
	done
done
echo "fuzz: time $(( $(date +%s) - t0 )) s"
echo "fuzz: $passed passed, $failed failed, 0 skipped"
[ "$failed" -eq 0 ]
