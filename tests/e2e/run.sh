#!/bin/sh
# End-to-end tests: build the workloads, then run the Python tests against
# $OUTPUT/profd and $OUTPUT/profctl. Needs root (BPF), gcc, go, curl, setpriv.
#   tests/e2e/run.sh [OUTPUT]            (OUTPUT defaults to build)
#   E2E_ONLY=split,inline tests/e2e/run.sh build   run a subset (test name substrings)
set -eu

OUTPUT=${1:-build}
[ $# -gt 0 ] && shift
HERE=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$OUTPUT/e2e"
OUTPUT=$(cd "$OUTPUT" && pwd)
W=$HERE/workloads
E=$OUTPUT/e2e
CC=${CC:-gcc}

NOOPT="-g -fno-omit-frame-pointer -fno-optimize-sibling-calls -I$W"
echo "  E2E      building workloads into $E"
$CC -O1 -fno-inline $NOOPT -o "$E/split" "$W/split.c"
$CC -O1 -fno-inline $NOOPT -o "$E/exiter" "$W/exiter.c"
$CC -O1 -fno-inline $NOOPT -o "$E/sysloop" "$W/sysloop.c"
$CC -O1 -fno-inline $NOOPT -pthread -o "$E/threads" "$W/threads.c"
$CC -O1 -fno-inline $NOOPT -shared -fPIC -Wl,--build-id -o "$E/libhot.so" "$W/libhot.c"
$CC -O1 -fno-inline $NOOPT -o "$E/uselib" "$W/uselib.c" -ldl
$CC -O2 $NOOPT -o "$E/inline" "$W/inline.c"

mkdir -p "$E/gocache" "$E/gopath"
(cd "$W" && GOCACHE="$E/gocache" GOPATH="$E/gopath" GO111MODULE=off GOFLAGS= \
	go build -o "$E/gohot" gohot.go)

[ -n "${E2E_BUILD_ONLY:-}" ] && exit 0
exec python3 "$HERE/test_cpu.py" --output "$OUTPUT" --src "$HERE" "$@"
