#!/bin/sh
# make demo: start profd on a private socket, run the demo workload,
# profile it for a few seconds with profctl and show the answer.
set -eu
OUTPUT=${1:-build}
SECONDS_=${DEMO_SECONDS:-5}
dir=$OUTPUT/demo
mkdir -p "$dir"
sock=$dir/profd.sock

# clang keeps frame pointers in leaf functions when asked; gcc 12 does not,
# and the frame-pointer walk would then skip each leaf's caller.
clang -O2 -g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer -o "$dir/demo" examples/demo.c

if [ "$(id -u)" != 0 ]; then
	echo "demo: profd needs root (BPF and perf events): run 'sudo make demo'" >&2
	exit 1
fi

pids=
cleanup() {
	# shellcheck disable=SC2086
	[ -n "$pids" ] && kill $pids 2>/dev/null || true
	wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

"$OUTPUT/profd" --socket "$sock" 2>"$dir/profd.log" &
pids="$!"
i=0
while [ ! -S "$sock" ]; do
	i=$((i + 1))
	if [ $i -gt 100 ]; then
		echo "demo: profd did not start; its log:" >&2
		cat "$dir/profd.log" >&2
		exit 1
	fi
	sleep 0.1
done

"$dir/demo" $((SECONDS_ + 5)) >/dev/null &
demo=$!
pids="$pids $demo"
echo "demo: profiling the demo workload (pid $demo) for ${SECONDS_}s..."
"$OUTPUT/profctl" --socket "$sock" cpu --pid "$demo" --seconds "$SECONDS_" \
	-o "$dir/cpu-demo.pb.gz"
echo
echo "Open it with:  go tool pprof -http=: $dir/cpu-demo.pb.gz"
echo "           or  go tool pprof -top $dir/cpu-demo.pb.gz"
