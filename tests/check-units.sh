#!/bin/sh
# Check the systemd units with systemd-analyze verify, after installing
# them (and the binaries they name) into a temporary root.
set -eu
OUTPUT=${1:-build}
here=$(cd "$(dirname "$0")/.." && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

make -s -C "$here" OUTPUT="$OUTPUT" install DESTDIR="$tmp" PREFIX=/usr/local >/dev/null
unitdir="$tmp/lib/systemd/system"
# verify resolves ExecStart on the real root: point it at the staged binary.
sed -i "s|^ExecStart=/usr/local/sbin/profd|ExecStart=$tmp/usr/local/sbin/profd|" \
	"$unitdir/profd.service"
out=$(SYSTEMD_LOG_LEVEL=notice systemd-analyze verify --man=no \
	"$unitdir/profd.socket" "$unitdir/profd.service" 2>&1) || {
	echo "$out"
	echo "units: 0 passed, 1 failed, 0 skipped"
	exit 1
}
# verify exits 0 on some warnings: treat any output about our units as failure.
if printf '%s\n' "$out" | grep -q 'profd\.'; then
	printf '%s\n' "$out"
	echo "units: 0 passed, 1 failed, 0 skipped"
	exit 1
fi
echo "units: 1 passed, 0 failed, 0 skipped"
