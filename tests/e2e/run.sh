#!/bin/sh
# End-to-end tests: build the workloads, then run the Python tests (CPU and
# heap, test_cpu.py and test_heap.py, through run_all.py) against
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
$CC -O1 -fno-inline $NOOPT -o "$E/execer" "$W/execer.c"
$CC -O1 -fno-inline $NOOPT -o "$E/sysloop" "$W/sysloop.c"
$CC -O1 -fno-inline $NOOPT -pthread -o "$E/threads" "$W/threads.c"
$CC -O1 -fno-inline $NOOPT -pthread -o "$E/pool" "$W/pool.c"
$CC -O1 -fno-inline $NOOPT -shared -fPIC -Wl,--build-id -o "$E/libhot.so" "$W/libhot.c"
$CC -O1 -fno-inline $NOOPT -o "$E/uselib" "$W/uselib.c" -ldl
# Preloaded into profd: reports an fd closed twice (test_locks.FdHygiene).
$CC -O1 -g -shared -fPIC -o "$E/closecheck.so" "$W/closecheck.c" -ldl
$CC -O2 $NOOPT -o "$E/inline" "$W/inline.c"
# Heap workloads: -fno-builtin so that GCC keeps every malloc/free pair.
$CC -O1 -fno-inline -fno-builtin $NOOPT -pthread -o "$E/heapwl" "$W/heapwl.c"
$CC -O1 -fno-inline -fno-builtin $NOOPT -pthread -fno-pie -no-pie -o "$E/heapwl-nopie" "$W/heapwl.c"
$CC -O1 $NOOPT -pthread -o "$E/epwait" "$W/epwait.c"
$CC -O1 -fno-inline $NOOPT -pthread -o "$E/waits" "$W/waits.c"
# The same, as another program (its own build ID) for a waits to execute.
$CC -O1 -fno-inline $NOOPT -pthread -DWAITS_EXEC -o "$E/waits-exec" "$W/waits.c"
$CC -O1 -fno-inline -fno-builtin $NOOPT -shared -fPIC -o "$E/libheapplug.so" "$W/heapplug.c"
${CXX:-g++} -O1 -fno-inline $NOOPT -o "$E/heapcpp" "$W/heapcpp.cc"
# C++ -O2 -g (PIE, DWARF 5, no frame pointers): the STL's deep inline chains.
${CXX:-g++} -O2 -g -I$W -o "$E/churn" "$W/churn.cc"
# PLT stubs, and a stripped copy of split (no .symtab, no DWARF).
$CC -O2 -g -fno-builtin -I$W -o "$E/plt" "$W/plt.c"
strip -o "$E/split.stripped" "$E/split"
# Stripped, its debug info only where the debuginfod test's server finds it
# (test_symbols.py): not beside it, not in /usr/lib/debug.
mkdir -p "$E/debuginfod-files"
$CC -O2 -g -I$W -o "$E/libcwork.full" "$W/libcwork.c"
objcopy --only-keep-debug "$E/libcwork.full" "$E/debuginfod-files/libcwork.dbg"
strip --strip-all -o "$E/libcwork" "$E/libcwork.full"
rm -f "$E/libcwork.full"
# Two more copies whose debug files dwz compresses together, as Debian's
# -dbgsym packages are: what they share (three_way's abstract instance)
# moves to an alternate file, named by a path that does not exist.
for v in 2 3; do
	$CC -O2 -g -I$W -DVARIANT=$v -o "$E/libcwork$v.full" "$W/libcwork.c"
	objcopy --only-keep-debug "$E/libcwork$v.full" "$E/debuginfod-files/libcwork$v.dbg"
	strip --strip-all -o "$E/libcwork$v" "$E/libcwork$v.full"
	rm -f "$E/libcwork$v.full"
done
dwz -m "$E/debuginfod-files/libcwork.dwz" -M /nonexistent/profd-e2e.dwz \
	"$E/debuginfod-files/libcwork2.dbg" "$E/debuginfod-files/libcwork3.dbg"
# Machine code in anonymous memory, named by a jitdump file it writes.
$CC -O1 $NOOPT -o "$E/jitwl" "$W/jitwl.c"
# No frame pointers anywhere: what DWARF unwinding is for.
$CC -O2 -g -fomit-frame-pointer -fno-optimize-sibling-calls -pthread -o "$E/nofp" "$W/nofp.c"
$CC -O2 -g -fomit-frame-pointer -fno-optimize-sibling-calls -fno-builtin -pthread -o "$E/heapnofp" "$W/heapnofp.c"

mkdir -p "$E/gocache" "$E/gopath"
(cd "$W" && GOCACHE="$E/gocache" GOPATH="$E/gopath" GO111MODULE=off GOFLAGS= \
	go build -o "$E/gohot" gohot.go)

[ -n "${E2E_BUILD_ONLY:-}" ] && exit 0
# One runner for test_cpu.py and test_heap.py: one closing "e2e: N passed, M failed".
exec python3 "$HERE/run_all.py" --output "$OUTPUT" --src "$HERE" "$@"
