#!/bin/sh
# The repository holds sources only: no built file (an ELF object or
# binary) is tracked by git. A stray binary in the tree is built on one
# machine, runs on no other, and hides what its source says.
#   tests/check-tree.sh        (from anywhere inside the checkout)
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
if ! git -C "$here" rev-parse --git-dir >/dev/null 2>&1; then
	echo "SKIP tree: $here is not a git checkout (an export has no index to check)"
	echo "tree: 0 passed, 0 failed, 1 skipped"
	exit 0
fi
elves=$(git -C "$here" ls-files -z | (cd "$here" && xargs -0 sh -c '
	for f; do
		[ -f "$f" ] || continue
		[ "$(head -c 4 "$f" | od -An -c | tr -d " ")" = "177ELF" ] && echo "$f"
	done' sh))
if [ -n "$elves" ]; then
	echo "FAIL tree: ELF files tracked by git (remove them; build into build/):"
	echo "$elves" | sed 's/^/    /'
	echo "tree: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
echo "PASS tree: no ELF file among $(git -C "$here" ls-files | wc -l) tracked files"
echo "tree: 1 passed, 0 failed, 0 skipped"
