#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Stack interning (daemon/stacks.c, via aggregate.c and heap_stacks.c):
# ns per call, BASE (default main) against the working tree, interleaved
# runs in one go; the ratio is what to read (bench/README.md).
#
#   bench/stacks/run.sh OUTPUT [BASE]
set -euo pipefail

OUT=${1:?usage: bench/stacks/run.sh OUTPUT [BASE]}
BASE=${2:-main}
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
TOP=$(cd "$HERE/../.." && pwd)
D="$OUT/bench/stacks"
RUNS=${RUNS:-5}
ROUNDS=${ROUNDS:-6}
[ -n "${QUICK:-}" ] && RUNS=1 ROUNDS=1
mkdir -p "$D/base"
D=$(cd "$D" && pwd)

# The base's pure files, as they were.
for f in aggregate.c aggregate.h heap_stacks.c heap_stacks.h strtab.c strtab.h stacks.c stacks.h; do
	git -C "$TOP" show "$BASE:daemon/$f" > "$D/base/$f" 2>/dev/null || rm -f "$D/base/$f"
done
extra=()
[ -f "$D/base/stacks.c" ] && extra+=("$D/base/stacks.c")
def=()
grep -q 'struct aggregate \*aggregate__new' "$D/base/aggregate.h" && def+=(-DAGG_NEW_PTR)
gcc -O2 -g "${def[@]}" -DLABEL='"base"' -I"$D/base" -I"$TOP/include" -o "$D/base/bench" \
	"$HERE/bench.c" "$D/base/aggregate.c" "$D/base/heap_stacks.c" "$D/base/strtab.c" "${extra[@]}"
gcc -O2 -g -DLABEL='"tree"' -I"$TOP/daemon" -I"$TOP/include" -o "$D/bench" \
	"$HERE/bench.c" "$TOP/daemon/aggregate.c" "$TOP/daemon/heap_stacks.c" \
	"$TOP/daemon/strtab.c" "$TOP/daemon/stacks.c"

: > "$D/raw.txt"
for ((i = 0; i < RUNS; i++)); do
	"$D/base/bench" "$ROUNDS" >> "$D/raw.txt"
	"$D/bench" "$ROUNDS" >> "$D/raw.txt"
done
python3 - "$D/raw.txt" "$BASE" > "$OUT/bench/stacks-results.md" <<'PY'
import sys, statistics as st
rows = {}
for l in open(sys.argv[1]):
    w = l.split()
    rows.setdefault(w[0], []).append((float(w[2]), float(w[5])))
def med(k, i): return st.median(r[i] for r in rows[k])
print("# stacks: interning, %s vs the tree (median of %d runs, ns per call)\n" % (sys.argv[2], len(rows["tree"])))
print("| call | %s | tree | ratio |" % sys.argv[2])
print("|---|---|---|---|")
for i, name in enumerate(("aggregate__add", "heap_stacks__intern")):
    b, t = med("base", i), med("tree", i)
    print("| %s | %.1f | %.1f | %.2f |" % (name, b, t, t / b))
PY
cat "$OUT/bench/stacks-results.md"
