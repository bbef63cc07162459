#!/bin/sh
# The fresh-machine check: the README's two commands, the first time, on a
# minimal Debian 12 root that has only git and make.
#
#   tests/fresh/run.sh [REV]        (as root; REV defaults to HEAD)
#
# Builds the root with mmdebstrap (--variant=minbase, plus git and make),
# clones the committed tree at REV into it (what is not committed is not
# there: a green run cannot lean on a file left in the work tree), mounts
# what a real machine has (/proc, /sys with the kernel's bpffs, tracefs and
# BTF, /dev, a tmpfs /run) and runs `make demo`, then `make test`, inside
# with chroot. Fails when either fails; prints how long each step took.
#
# It leaves the host untouched: the mounts are private to a mount namespace
# of its own (unshare -m), so nothing propagates back and a killed run
# leaves no mount behind; the root is removed at the end
# (FRESH_KEEP=1 keeps it, for a look). 4-6 minutes here: the root
# ~20 s, make demo ~1 min (most of it apt), make test 3-5 min.
#
# The systemd suite (tests/systemd, a booted container) is skipped inside
# with its reason, PROFD_SKIP_SYSTEMD: it needs a root of its own and is run
# by `make test` on the machine itself, right before this check in .ci/run.
set -eu

here=$(cd "$(dirname "$0")/../.." && pwd)
rev=${1:-HEAD}
# Resolved now: a commit made while the root is being built is not tested.
commit=$(git -C "$here" rev-parse --verify "$rev^{commit}") || {
	echo "fresh: $rev is not a commit of $here" >&2
	exit 2
}
suite=${FRESH_SUITE:-bookworm}

if [ "$(id -u)" != 0 ]; then
	echo "fresh: needs root (mmdebstrap, mounts, chroot)" >&2
	exit 2
fi
# The check's own tool, not the project's: installed here if missing.
if ! command -v mmdebstrap >/dev/null 2>&1; then
	echo "fresh: installing mmdebstrap"
	DEBIAN_FRONTEND=noninteractive apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends mmdebstrap >/dev/null
fi

# Enter a private mount namespace once; everything below runs in it.
if [ -z "${FRESH_IN_NS:-}" ]; then
	FRESH_IN_NS=1 exec unshare -m --propagation private "$0" "$commit"
fi

work=$(mktemp -d /var/tmp/profd-fresh.XXXXXX)
root=$work/root
cleanup() {
	rc=$?
	# Children of the chroot (a daemon a failed test left) would keep
	# the mounts busy: end them first.
	for p in /proc/[0-9]*; do
		[ "$(readlink "$p/root" 2>/dev/null)" = "$root" ] && kill -9 "${p#/proc/}" 2>/dev/null
	done
	umount -R -l "$root" 2>/dev/null || true
	if [ -n "${FRESH_KEEP:-}" ]; then
		echo "fresh: root kept in $root"
	else
		rm -rf "$work"
	fi
	exit $rc
}
trap cleanup EXIT
trap 'exit 130' INT TERM

t_all=$(date +%s)
step() {
	# step NAME CMD...: run, time, and stop the check on failure.
	name=$1
	shift
	t0=$(date +%s)
	echo "fresh: == $name"
	if "$@"; then
		echo "fresh: $name ok in $(( $(date +%s) - t0 )) s"
	else
		rc=$?
		echo "fresh: $name FAILED (exit $rc) after $(( $(date +%s) - t0 )) s"
		echo "fresh: FAILED"
		exit 1
	fi
}

in_root() {
	# A login-like environment: what a user on the fresh machine has.
	chroot "$root" /usr/bin/env -i HOME=/root TERM=dumb LANG=C.UTF-8 \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		sh -c "cd /root/profd && $1"
}

make_root() {
	mmdebstrap --quiet --variant=minbase --include=git,make "$suite" "$root" &&
	# What a real machine has and a minbase tarball does not.
	printf '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n' >"$root/etc/hosts" &&
	cp /etc/resolv.conf "$root/etc/resolv.conf" &&
	# / is a mount point on a real machine (unshare -m needs one to make
	# private); a plain directory under chroot is not.
	mount --bind "$root" "$root" &&
	mount -t proc proc "$root/proc" &&
	mount --rbind /sys "$root/sys" &&
	mount --rbind /dev "$root/dev" &&
	mount -t tmpfs -o mode=0755 tmpfs "$root/run"
}

clone_tree() {
	# A clone, as a user makes one; only what REV commits.
	git clone -q --no-hardlinks "$here" "$root/root/profd" &&
	git -C "$root/root/profd" checkout -q --detach "$commit" &&
	echo "fresh: tree at $(git -C "$root/root/profd" log -1 --format='%h %s')"
}

step "mmdebstrap --variant=minbase $suite + git, make" make_root
step "clone $rev" clone_tree
step "make demo" in_root "make demo"
step "make test" in_root "PROFD_SKIP_SYSTEMD='run by make test on the machine itself (.ci/run), not inside the fresh root' make test"
echo "fresh: passed in $(( $(date +%s) - t_all )) s"
