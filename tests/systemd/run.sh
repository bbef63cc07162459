#!/bin/bash
# The systemd units for real: boot systemd (systemd-nspawn --boot) on a
# minimal Debian root, install profd into it with `make install DESTDIR=`,
# and check, with workloads whose truth is known, that profd works as the
# units run it: socket activation, the sandbox in force (seccomp filter,
# UMask= without effect on the socket), CPU and heap profiles through it
# (in-process heap mode, binaries read through /proc/PID/root, kernel
# frames named from kallsyms), restart, stop while a window is open (503),
# re-activation through the kept socket, --listen on loopback through a
# drop-in (and IPAddressDeny= dropping a non-loopback client), and no
# seccomp kill or EPERM in profd's journal over the whole run.
#
#   tests/systemd/run.sh [OUTPUT]          (OUTPUT defaults to build)
#
# Prints "PASS name", "FAIL name: why" or "SKIP name: why" per check,
# "# ..." lines with timings and notes, and last exactly
#   systemd: N passed, M failed, K skipped
# Exits 1 if any check failed. Where this machine cannot run it (not root,
# no systemd-nspawn or mmdebstrap, no way to Debian's archive, no boot) it
# prints one "SKIP systemd: why" and "systemd: 0 passed, 0 failed, 1
# skipped" and exits 0.
#
# The root tarball is cached in $PROFD_SYSTEMD_CACHE (/var/tmp/profd-systemd),
# keyed by its package list; the first run builds it with mmdebstrap
# (~1 min). Profiles, their -raw dumps, logs and the journal are kept in
# $OUTPUT/systemd/artifacts/. See tests/systemd/README.md.
set -u

SUITE=bookworm
BUDGET=570	# seconds for the whole test; every wait is cut to fit
CPU_SECONDS=4
CPU_HZ=199
T_START=$SECONDS

SRC=$(cd "$(dirname "$0")/../.." && pwd)
HERE=$SRC/tests/systemd
OUTPUT=${1:-build}
ART=''	# $OUTPUT/systemd/artifacts, once we know we can run
CACHE=${PROFD_SYSTEMD_CACHE:-/var/tmp/profd-systemd}
MACHINE=profd-test-$$
CT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
SHARE=/var/lib/profd-test	# inside the container; $ROOT$SHARE on the host

RUNDIR='' ROOT='' NSPAWN_PID='' LEADER='' PROFD_PID='' HEAP_FD='' INPROC_FD='' SUMMARY_DONE=''
BG_PIDS=()
PASSED=0 FAILED=0 SKIPPED=0

# ---------------------------------------------------------------------------
# reporting

pass() { echo "PASS $1"; PASSED=$((PASSED + 1)); }
fail() { echo "FAIL $1: $2"; FAILED=$((FAILED + 1)); }
skip() { echo "SKIP $1: $2"; SKIPPED=$((SKIPPED + 1)); }
# Notes wait until the container has booted: a machine that cannot run
# the test prints its SKIP line and the summary only (all notes are also
# in $ART/notes.txt).
NOTES_HELD=1
note() {
	[ -n "$ART" ] && echo "# $*" >>"$ART/notes.txt"
	[ -n "$NOTES_HELD" ] || echo "# $*"
}
release_notes() {
	[ -n "$NOTES_HELD" ] || return 0
	NOTES_HELD=
	cat "$ART/notes.txt" 2>/dev/null
}

# Lines "PASS x" / "FAIL x: why" from check.py, counted like ours.
report() {
	local line
	while IFS= read -r line; do
		case $line in
		"PASS "*) pass "${line#PASS }" ;;
		"FAIL "*)
			line=${line#FAIL }
			fail "${line%%: *}" "${line#*: }"
			;;
		*) note "$line" ;;
		esac
	done
}

summary() {
	[ -n "$SUMMARY_DONE" ] && return
	SUMMARY_DONE=1
	echo "systemd: $PASSED passed, $FAILED failed, $SKIPPED skipped"
}

# One SKIP for the whole test: the machine cannot run it.
skip_all() {
	echo "SKIP systemd: $1"
	PASSED=0 FAILED=0 SKIPPED=1
	summary
	exit 0
}

# The test cannot go on: what ran is reported, the rest is not counted.
abort() {
	release_notes
	fail "$1" "$2"
	stop_container
	summary
	exit 1
}

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.1f", b - a }'; }
timed() { note "time $1: $(since "$2") s"; }

# Seconds left of the budget, at most $1 (at least 1).
bound() {
	local left=$((BUDGET - (SECONDS - T_START)))
	[ "$left" -lt "$1" ] || left=$1
	[ "$left" -ge 1 ] || left=1
	echo "$left"
}

# ---------------------------------------------------------------------------
# cleanup: runs on every exit, also after Ctrl-C

alive() {	# a live (not zombie) process
	local st
	st=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 1
	[ -n "$st" ] && [ "$st" != Z ]
}

wait_gone() {	# pid, tenths of a second
	local i=0
	while alive "$1" && [ "$i" -lt "$2" ]; do
		sleep 0.1
		i=$((i + 1))
	done
	! alive "$1"
}

# Orderly first: nspawn turns SIGTERM into a shutdown of the container's
# systemd (SIGRTMIN+3). Then SIGKILL to the container's init (which takes
# every process of its PID namespace with it) and to nspawn.
stop_container() {
	local t
	[ -n "$NSPAWN_PID" ] || return 0
	if alive "$NSPAWN_PID"; then
		t=$(now)
		kill -TERM "$NSPAWN_PID" 2>/dev/null
		if ! wait_gone "$NSPAWN_PID" 200; then
			note "container did not stop within 20 s: killed"
			[ -n "$LEADER" ] && kill -KILL "$LEADER" 2>/dev/null
			kill -KILL "$NSPAWN_PID" 2>/dev/null
			wait_gone "$NSPAWN_PID" 50
		fi
		[ -z "$SUMMARY_DONE" ] && timed "container shutdown" "$t"
	fi
	wait "$NSPAWN_PID" 2>/dev/null
	NSPAWN_PID=
	# nspawn's per-machine directory on the host (normally removed by it).
	rmdir "/run/systemd/nspawn/propagate/$MACHINE/incoming" \
		"/run/systemd/nspawn/propagate/$MACHINE" 2>/dev/null
	return 0
}

cleanup() {
	local p
	trap - INT TERM
	[ -n "$HEAP_FD" ] && exec {HEAP_FD}>&-
	[ -n "$INPROC_FD" ] && exec {INPROC_FD}>&-
	for p in "${BG_PIDS[@]}"; do
		kill "$p" 2>/dev/null
	done
	stop_container
	# Never cross into a mount: the root is ours, whatever was mounted is not.
	[ -n "$RUNDIR" ] && rm -rf --one-file-system "$RUNDIR"
	return 0
}

on_signal() {
	trap - INT TERM
	# The trap may run inside a redirected command: back to the real output.
	exec 1>&"$STDOUT_FD" 2>&"$STDERR_FD"
	fail interrupted "signal $1 after $((SECONDS - T_START)) s"
	stop_container
	summary
	exit 130
}

exec {STDOUT_FD}>&1 {STDERR_FD}>&2
trap cleanup EXIT
trap 'on_signal INT' INT
trap 'on_signal TERM' TERM

# ---------------------------------------------------------------------------
# the container

# ct SECONDS CMD...: CMD in the container (its init's namespaces), with a
# clean environment, bounded.
ct() {
	local t
	t=$(bound "$1")
	shift
	timeout --foreground -k 5 "$t" nsenter -t "$LEADER" -m -u -i -n -p -C -- \
		env -i PATH="$CT_PATH" LANG=C.UTF-8 "$@"
}

# ctnet SECONDS CMD...: one of this machine's programs (curl, go, ip,
# python3) in the container's network namespace only, bounded.
ctnet() {
	local t
	t=$(bound "$1")
	shift
	timeout --foreground -k 5 "$t" nsenter -t "$LEADER" -n -- "$@"
}

unit_prop() {	# unit property
	ct 15 systemctl show -P "$2" "$1" 2>/dev/null
}

wait_line() {	# file line seconds
	local i=0 n=$(($(bound "$3") * 10))
	while [ "$i" -lt "$n" ]; do
		grep -qxF "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# start_wl NAME [systemd-run options] -- CMD...: a transient service in
# the container, stdout to $SHARE/NAME.out; prints its MainPID.
start_wl() {
	local name=$1 opts=() pid
	shift
	while [ "$1" != -- ]; do
		opts+=("$1")
		shift
	done
	shift
	ct 20 systemd-run -q --collect --unit="profd-test-$name" \
		-p StandardOutput="truncate:$SHARE/$name.out" -p StandardError=journal \
		"${opts[@]}" -- "$@" || return 1
	pid=$(unit_prop "profd-test-$name.service" MainPID)
	[ -n "$pid" ] && [ "$pid" != 0 ] || return 1
	echo "$pid"
}

stop_wl() {
	ct 20 systemctl stop "profd-test-$1.service" 2>/dev/null
}

cpu_ticks() {	# utime + stime of a pid in the container
	ct 10 cat "/proc/$1/stat" 2>/dev/null | sed 's/.*) //' | awk '{ print $12 + $13 }'
}

profd_pid() {
	PROFD_PID=$(unit_prop profd.service MainPID)
}

profctl() {	# profctl ARGS... inside the container, output into a log
	local log=$1
	shift
	ct 60 profctl "$@" >"$ART/$log" 2>&1
}

check() {	# check.py args; its lines are counted
	report < <(python3 "$HERE/check.py" "$@" 2>>"$ART/check.err")
}

# ---------------------------------------------------------------------------
# can this machine run it?

[ "$(id -u)" = 0 ] || skip_all "not root (systemd-nspawn and profd's BPF need root)"
for c in systemd-nspawn nsenter setsid timeout flock tar gcc python3 go pgrep; do
	command -v "$c" >/dev/null 2>&1 ||
		skip_all "no $c on this machine$([ "$c" = systemd-nspawn ] && echo " (apt-get install systemd-container)")"
done
[ -r /sys/kernel/btf/vmlinux ] || skip_all "no /sys/kernel/btf/vmlinux (kernel without BTF)"
[ -n "${EPOCHREALTIME:-}" ] || skip_all "bash without EPOCHREALTIME (bash 5 needed)"

mkdir -p "$OUTPUT/systemd" || exit 1
OUTPUT=$(cd "$OUTPUT" && pwd)
ART=$OUTPUT/systemd/artifacts
rm -rf "$ART"
mkdir -p "$ART" "$CACHE" || exit 1
export HOME=${HOME:-/root}
export GOCACHE=${GOCACHE:-$OUTPUT/gocache}
export PPROF_TMPDIR=$ART

# ---------------------------------------------------------------------------
# the root: minbase + systemd + profd's runtime libraries, cached by that list

# Packages of the libraries profd, profctl and the agent link against
# (their NEEDED entries, through dpkg); the known list if dpkg cannot say.
runtime_packages() {
	local bins=("$OUTPUT/profd" "$OUTPUT/profctl" "$OUTPUT/libprofd_heap.so") so path pkgs=()
	for so in $(readelf -d "${bins[@]}" 2>/dev/null | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | sort -u); do
		path=$(ldd "${bins[@]}" 2>/dev/null | awk -v s="$so" '$1 == s { print $3; exit }')
		pkgs+=("$(dpkg -S "$path" "/usr$path" 2>/dev/null | sed -n '1s/:.*//p')")
	done
	printf '%s\n' "${pkgs[@]}" libbpf1 libelf1 libdw1 libprotobuf-c1 libmicrohttpd12 \
		libcurl4 zlib1g libsystemd0 | sed '/^$/d' | sort -u
}

t=$(now)
timeout --foreground -k 10 "$(bound 300)" make -s -C "$SRC" OUTPUT="$OUTPUT" all >"$ART/make.log" 2>&1 ||
	abort build "make all failed: see $ART/make.log"
PKGS="systemd systemd-sysv dbus $(runtime_packages | tr '\n' ' ')"
PKGS=${PKGS% }
KEY=$(printf '%s minbase %s\n' "$SUITE" "$PKGS" | sha256sum | cut -c1-16)
TAR=$CACHE/root-$SUITE-$KEY.tar
note "root packages: $PKGS"

exec {LOCK_FD}>"$CACHE/.lock"
flock -w "$(bound 300)" "$LOCK_FD" || skip_all "$CACHE is locked by another run"
if [ -s "$TAR" ]; then
	note "root: cached $TAR"
else
	command -v mmdebstrap >/dev/null 2>&1 || skip_all "no mmdebstrap (apt-get install mmdebstrap)"
	url=http://deb.debian.org/debian/dists/$SUITE/InRelease
	python3 -c 'import sys, urllib.request; urllib.request.urlopen(sys.argv[1], timeout=15)' "$url" \
		>/dev/null 2>&1 || skip_all "no network to Debian's archive ($url)"
	note "root: building $TAR with mmdebstrap"
	part=$CACHE/partial-$KEY.tar
	if ! timeout --foreground -k 10 "$(bound 300)" mmdebstrap --variant=minbase --format=tar \
		--include="$(echo "$PKGS" | tr ' ' ,)" "$SUITE" "$part" >"$ART/mmdebstrap.log" 2>&1; then
		rm -f "$part"
		abort root "mmdebstrap failed: $(tail -1 "$ART/mmdebstrap.log")"
	fi
	mv "$part" "$TAR"
	# Older package lists' roots are of no further use.
	find "$CACHE" -maxdepth 1 -name "root-*.tar" ! -path "$TAR" -delete
fi
# Run directories of runs that were killed outright (SIGKILL: no cleanup),
# named run.PID.*, unless a container still runs on one.
for d in "$CACHE"/run.*; do
	[ -d "$d" ] || continue
	p=${d#"$CACHE"/run.}
	p=${p%%.*}
	kill -0 "$p" 2>/dev/null && continue
	busy=
	for r in /proc/[0-9]*/root; do
		case $(readlink "$r" 2>/dev/null) in "$d"/*) busy=1 && break ;; esac
	done
	if [ -n "$busy" ]; then
		note "$d: left by a killed run, a container still runs there: left alone"
	else
		rm -rf --one-file-system "$d"
	fi
done
exec {LOCK_FD}>&-
timed root "$t"

# ---------------------------------------------------------------------------
# unpack, install, workloads

t=$(now)
# Not under $OUTPUT: the Makefile includes every *.d found there, and a
# Debian root has /etc/rc2.d and friends.
RUNDIR=$(mktemp -d "$CACHE/run.$$.XXXXXX") || exit 1
ROOT=$RUNDIR/root
if ! mkdir "$ROOT" || ! tar -C "$ROOT" -xf "$TAR"; then
	abort root "cannot unpack $TAR"
fi
timed unpack "$t"

t=$(now)
if make -s -C "$SRC" OUTPUT="$OUTPUT" install DESTDIR="$ROOT" PREFIX=/usr/local \
	>"$ART/install.log" 2>&1 &&
	grep -qx 'ExecStart=/usr/local/sbin/profd' "$ROOT/lib/systemd/system/profd.service" &&
	[ -x "$ROOT/usr/local/sbin/profd" ] && [ -x "$ROOT/usr/local/bin/profctl" ] &&
	[ -f "$ROOT/usr/local/lib/profd/libprofd_heap.so" ] &&
	[ -f "$ROOT/lib/systemd/system/profd.socket" ]; then
	:	# reported once the container has booted
else
	abort install "make install DESTDIR=$ROOT PREFIX=/usr/local: see $ART/install.log"
fi
timed install "$t"

# Built as tests/e2e/run.sh builds them. split runs from the container's
# /tmp, which profd (PrivateTmp=) does not see: only /proc/PID/root does.
t=$(now)
W=$SRC/tests/e2e/workloads
WL=$RUNDIR/wl
CC=${CC:-gcc}
NOOPT=(-g -fno-omit-frame-pointer -fno-optimize-sibling-calls "-I$W")
if ! mkdir -p "$WL" "$ROOT/opt/profd-wl" "$ROOT$SHARE" ||
	! $CC -O1 -fno-inline "${NOOPT[@]}" -o "$WL/split" "$W/split.c" 2>"$ART/workloads.log" ||
	! $CC -O1 -fno-inline "${NOOPT[@]}" -o "$ROOT/opt/profd-wl/sysloop" "$W/sysloop.c" 2>>"$ART/workloads.log" ||
	! $CC -O1 -fno-inline -fno-builtin "${NOOPT[@]}" -pthread -o "$ROOT/opt/profd-wl/heapwl" "$W/heapwl.c" 2>>"$ART/workloads.log" ||
	! mkfifo "$ROOT$SHARE/heap.in" "$ROOT$SHARE/inproc.in" 2>>"$ART/workloads.log"; then
	abort workloads "cannot build the workloads: see $ART/workloads.log"
fi
timed workloads "$t"

# ---------------------------------------------------------------------------
# boot

t=$(now)
# --register=no: no machined needed. --keep-unit where PID 1 is not systemd
# (no bus to ask for a scope). SYSTEMD_SECCOMP=0: nspawn would otherwise put
# every process of the container under a seccomp filter, and profd refuses
# in-process heap mode in such processes; the filter below then only
# matters where that variable is not honoured. The units' own seccomp
# settings (SystemCallFilter=, MemoryDenyWriteExecute=...) are applied by
# the container's systemd as on any machine.
nspawn_args=(--boot --register=no -D "$ROOT" -M "$MACHINE" --capability=all
	--system-call-filter='bpf perf_event_open ptrace' --bind-ro=/sys/kernel/btf
	--private-network --console=passive)
[ -d /run/systemd/system ] || nspawn_args+=(--keep-unit)
SYSTEMD_SECCOMP=0 setsid systemd-nspawn "${nspawn_args[@]}" </dev/null >"$ART/nspawn.log" 2>&1 &
NSPAWN_PID=$!

# The container's init: nspawn's child that is PID 1 in its namespace.
i=0
while [ -z "$LEADER" ] && [ "$i" -lt 200 ] && alive "$NSPAWN_PID"; do
	for c in $(pgrep -P "$NSPAWN_PID"); do
		[ "$(awk '/^NSpid:/ { print $NF }' "/proc/$c/status" 2>/dev/null)" = 1 ] && LEADER=$c
	done
	[ -n "$LEADER" ] || sleep 0.1
	i=$((i + 1))
done
# Its most telling line: the first error (not the closing "Container ...
# failed with error code N."), else the last line.
nspawn_said() {
	{
		grep -iE 'fail|error|cannot|denied' "$ART/nspawn.log" | grep -v 'failed with error code'
		tail -1 "$ART/nspawn.log"
	} 2>/dev/null | head -1
}
if [ -z "$LEADER" ]; then
	alive "$NSPAWN_PID" && why="no container init within 20 s" || why="systemd-nspawn exited"
	msg=$(nspawn_said)
	stop_container
	skip_all "nspawn cannot boot: $why${msg:+ ($msg)}"
fi

state=
end=$((SECONDS + $(bound 90)))
while [ "$SECONDS" -lt "$end" ] && alive "$LEADER"; do
	state=$(ct 10 systemctl is-system-running 2>/dev/null)
	case $state in running | degraded) break ;; esac
	sleep 0.2
done
case $state in
running | degraded) ;;
*)
	msg=$(nspawn_said)
	stop_container
	skip_all "nspawn cannot boot: state '${state:-none}' after $(since "$t") s${msg:+ ($msg)}"
	;;
esac
release_notes
pass install
pass boot
[ "$state" = degraded ] && note "degraded: $(ct 10 systemctl --failed --plain --no-legend | awk '{ print $1 }' | tr '\n' ' ')"
timed boot "$t"

# ---------------------------------------------------------------------------
# socket activation

t=$(now)
why=
if ! ct 30 systemctl enable --now profd.socket >"$ART/enable.log" 2>&1; then
	why="systemctl enable --now profd.socket failed: $(tail -1 "$ART/enable.log")"
elif [ "$(unit_prop profd.socket ActiveState)" != active ]; then
	why="profd.socket is $(unit_prop profd.socket ActiveState)"
elif [ "$(unit_prop profd.service ActiveState)" != inactive ]; then
	why="profd.service is $(unit_prop profd.service ActiveState) before any request"
elif ! profctl status.json status --json; then
	why="profctl status failed: $(tail -1 "$ART/status.json")"
elif ! grep -q '"version"' "$ART/status.json"; then
	why="no version in /v1/status: $(head -c 200 "$ART/status.json")"
elif [ "$(unit_prop profd.service ActiveState)" != active ]; then
	why="profd.service is $(unit_prop profd.service ActiveState) after a request"
elif [ "$(unit_prop profd.service StatusText)" != serving ]; then
	why="status '$(unit_prop profd.service StatusText)', not 'serving'"
fi
if [ -z "$why" ]; then pass socket_activation; else fail socket_activation "$why"; fi
profd_pid
timed "socket activation" "$t"

# ---------------------------------------------------------------------------
# the unit's sandbox is in force (else the checks below prove little), and
# its UMask=0077 leaves the socket, which systemd creates, as profd.socket
# says: 0666 in a 0755 /run/profd, usable by any user

t=$(now)
why=
st=$(ct 10 cat "/proc/$PROFD_PID/status" 2>/dev/null)
status_field() { echo "$st" | awk -v f="$1:" '$1 == f { print $2 }'; }
if [ -z "$st" ]; then
	why="cannot read profd's (pid '$PROFD_PID') status"
elif [ "$(status_field Seccomp)" != 2 ]; then
	why="profd has no seccomp filter (Seccomp: $(status_field Seccomp)): SystemCallFilter= not applied"
elif [ "$(status_field NoNewPrivs)" != 1 ]; then
	why="NoNewPrivs: $(status_field NoNewPrivs)"
elif [ "$(status_field Umask)" != 0077 ]; then
	why="profd's umask is $(status_field Umask), not 0077 (UMask=)"
elif [ -z "$(unit_prop profd.service IPAddressDeny)" ]; then
	why="profd.service has no IPAddressDeny="
fi
if [ -z "$why" ]; then pass unit_sandbox; else fail unit_sandbox "$why"; fi

why=
mode=$(ct 10 stat -c %a /run/profd/profd.sock 2>/dev/null)
dmode=$(ct 10 stat -c %a /run/profd 2>/dev/null)
if [ "$mode" != 666 ]; then
	why="/run/profd/profd.sock has mode '$mode', not 666 (SocketMode= in profd.socket)"
elif [ "$dmode" != 755 ]; then
	why="/run/profd has mode '$dmode', not 755"
elif ! ct 30 setpriv --reuid=65534 --regid=65534 --clear-groups profctl status --json \
	>"$ART/status-nobody.json" 2>&1; then
	why="profctl status as uid 65534: $(tail -1 "$ART/status-nobody.json")"
elif ! grep -q '"version"' "$ART/status-nobody.json"; then
	why="no version in /v1/status as uid 65534: $(head -c 200 "$ART/status-nobody.json")"
fi
if [ -z "$why" ]; then pass socket_mode_umask; else fail socket_mode_umask "$why"; fi

# under the unit's filter, the threads a request goes through have their
# short scheduler slice (daemon/slice.h: sched_setattr() allowed back):
# the event loop (main thread) and libmicrohttpd's, in
# /proc/PID/task/TID/sched's se.slice (Linux 6.12 and later take a slice
# from sched_setattr()).
why=
kv=$(uname -r | awk -F. '{ printf "%d", $1 * 1000 + $2 }')
slices=$(ct 10 sh -c 'for t in /proc/$1/task/*; do echo "$(cat "$t/comm") $(awk "\$1 == \"se.slice\" { print \$3 }" "$t/sched")"; done' sh "$PROFD_PID" 2>/dev/null)
listen=$(echo "$slices" | awk '$1 == "MHD-listen" { print $2; exit }')
first=$(echo "$slices" | awk 'NR == 1 { print $2 }')
if [ "$kv" -lt 6012 ]; then
	skip short_slice "kernel $(uname -r): a slice from sched_setattr() needs 6.12"
elif [ -z "$listen" ]; then
	skip short_slice "no se.slice for MHD-listen in /proc/$PROFD_PID/task/*/sched (CONFIG_SCHED_DEBUG off?): $(echo $slices | head -c 200)"
else
	if [ "$listen" != 100000 ]; then
		why="libmicrohttpd's thread has a slice of '$listen' ns, not 100000 (sched_setattr() refused?)"
	elif [ "$first" != 100000 ]; then
		why="the event loop (main thread) has a slice of '$first' ns, not 100000"
	fi
	if [ -z "$why" ]; then pass short_slice; else fail short_slice "$why"; fi
	note "slices: $(echo $slices)"
fi
timed sandbox "$t"

# ---------------------------------------------------------------------------
# CPU: split (hot_a:hot_b 75:25) from /tmp, through /proc/PID/root

t=$(now)
ct 10 mkdir -p /tmp/profd-wl &&
	ct 10 sh -c 'cat > /tmp/profd-wl/split && chmod 755 /tmp/profd-wl/split' <"$WL/split"
SPLIT=$(start_wl split -- /tmp/profd-wl/split 300)
if [ -z "$SPLIT" ] || ! wait_line "$ROOT$SHARE/split.out" "split ready" 10; then
	for c in cpu_samples cpu_split cpu_stacks cpu_proc_root; do
		fail "$c" "split did not start in the container"
	done
else
	# Does profd's mount namespace see the executable at its path?
	hidden=yes
	ct 10 nsenter -t "$PROFD_PID" -m test -e /tmp/profd-wl/split && hidden=no
	c0=$(cpu_ticks "$SPLIT")
	profctl cpu.txt cpu --pid "$SPLIT" --seconds "$CPU_SECONDS" --hz "$CPU_HZ" -o "$SHARE/cpu.pb.gz"
	c1=$(cpu_ticks "$SPLIT")
	cp "$ROOT$SHARE/cpu.pb.gz" "$ART/" 2>/dev/null
	cpu_s=$(awk -v a="${c0:-0}" -v b="${c1:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN { print (b - a) / hz }')
	check cpu "$ART/cpu.pb.gz" --pid "$SPLIT" --hz "$CPU_HZ" --cpu-s "$cpu_s" \
		--exe /tmp/profd-wl/split --exe-hidden "$hidden"
fi
timed "cpu profile" "$t"

# ---------------------------------------------------------------------------
# kernel frames: sysloop (read() of /dev/zero), --kernel

t=$(now)
# profd must read addresses in /proc/kallsyms: the file visible in its
# mount namespace, and CAP_SYSLOG unless kptr_restrict=0 and
# perf_event_paranoid<=1.
why=
kptr=$(cat /proc/sys/kernel/kptr_restrict 2>/dev/null || echo 1)
paranoid=$(cat /proc/sys/kernel/perf_event_paranoid 2>/dev/null || echo 2)
capeff=$(ct 10 awk '/^CapEff:/ { print $2 }' "/proc/$PROFD_PID/status")
first=$(ct 10 nsenter -t "$PROFD_PID" -m head -1 /proc/kallsyms 2>&1)
if [ -z "$capeff" ]; then
	why="cannot read profd's (pid '$PROFD_PID') status"
elif ! echo "$first" | grep -qE '^[0-9a-f]+ '; then
	why="/proc/kallsyms is empty or unreadable in profd's mount namespace${first:+ ($first)}: ProtectKernelTunables= hides it"
elif echo "$first" | grep -qE '^0+ '; then
	why="/proc/kallsyms shows zero addresses (kptr_restrict=$kptr)"
elif [ "$kptr" -ge 1 ] || [ "$paranoid" -gt 1 ]; then
	# CAP_SYSLOG is bit 34.
	[ $(((0x$capeff >> 34) & 1)) = 1 ] ||
		why="profd lacks CAP_SYSLOG (CapEff $capeff; ProtectKernelLogs= drops it), which kptr_restrict=$kptr, perf_event_paranoid=$paranoid require"
fi
if [ -z "$why" ]; then pass kallsyms_access; else fail kallsyms_access "$why"; fi

SYSLOOP=$(start_wl sysloop -- /opt/profd-wl/sysloop 120)
if [ -z "$SYSLOOP" ] || ! wait_line "$ROOT$SHARE/sysloop.out" "sysloop ready" 10; then
	fail cpu_kernel "sysloop did not start in the container"
else
	profctl kernel.txt cpu --pid "$SYSLOOP" --seconds 3 --kernel -o "$SHARE/kernel.pb.gz"
	cp "$ROOT$SHARE/kernel.pb.gz" "$ART/" 2>/dev/null
	check kernel "$ART/kernel.pb.gz" --pid "$SYSLOOP"
fi
stop_wl sysloop
timed "kernel profile" "$t"

# ---------------------------------------------------------------------------
# heap: heapwl "basic", every allocation tracked (sample_bytes=1)

# heap_case NAME FD_VAR START_ARGS...: start heapwl with stdin from
# $SHARE/NAME.in, start tracking, run "basic", pull, check.
heap_case() {
	local name=$1 fdvar=$2 pid fd
	shift 2
	local start=${name}_start truth=${name}_truth
	[ "$name" = heap ] && start=heap_start truth=heap_truth
	pid=$(start_wl "$name" -p StandardInput="file:$SHARE/$name.in" -- /opt/profd-wl/heapwl 240)
	# Opened read-write: no wait for the reader, and heapwl sees EOF only
	# when this script closes it.
	exec {fd}<>"$ROOT$SHARE/$name.in"
	printf -v "$fdvar" %s "$fd"
	if [ -z "$pid" ] || ! wait_line "$ROOT$SHARE/$name.out" "heapwl ready" 10; then
		fail "$start" "heapwl did not start in the container"
		skip "$truth" "no workload"
		return
	fi
	if [ "$name" = inproc ]; then
		local sc
		sc=$(ct 10 awk '/^Seccomp:/ { print $2 }' "/proc/$pid/status")
		if [ "$sc" != 0 ]; then
			skip "$start" "heapwl runs under a seccomp filter (Seccomp: $sc; nspawn's own?), which in-process mode refuses"
			skip "$truth" "not started"
			return
		fi
	fi
	if ! profctl "$name-start.txt" heap start --pid "$pid" --sample-bytes 1 "$@"; then
		fail "$start" "profctl heap start${*:+ $*}: $(tail -1 "$ART/$name-start.txt")"
		skip "$truth" "tracking did not start"
		return
	fi
	if [ "$name" = inproc ] && ! ct 10 grep -q /libprofd_heap.so "/proc/$pid/maps"; then
		fail "$start" "started, but libprofd_heap.so is not mapped in heapwl"
	else
		pass "$start"
	fi
	echo basic >&"$fd"
	if ! wait_line "$ROOT$SHARE/$name.out" "done basic" 30; then
		fail "$truth" "heapwl did not finish 'basic'"
	else
		profctl "$name.txt" heap --pid "$pid" -o "$SHARE/$name.pb.gz"
		cp "$ROOT$SHARE/$name.pb.gz" "$ART/" 2>/dev/null
		check heap "$ART/$name.pb.gz" --pid "$pid" --name "$truth"
	fi
	profctl "$name-stop.txt" heap stop --pid "$pid"
}

t=$(now)
heap_case heap HEAP_FD
timed "heap (uprobes)" "$t"
t=$(now)
heap_case inproc INPROC_FD --inproc
timed "heap (in-process)" "$t"
exec {HEAP_FD}>&- {INPROC_FD}>&-
HEAP_FD='' INPROC_FD=''

# ---------------------------------------------------------------------------
# restart, stop during a window, re-activation

t=$(now)
old=$PROFD_PID
why=
if ! ct 30 systemctl restart profd.service >"$ART/restart.log" 2>&1; then
	why="systemctl restart profd failed: $(tail -1 "$ART/restart.log")"
else
	profd_pid
	if [ "$(unit_prop profd.service ActiveState)" != active ]; then
		why="profd.service is $(unit_prop profd.service ActiveState) after restart"
	elif [ -z "$PROFD_PID" ] || [ "$PROFD_PID" = 0 ] || [ "$PROFD_PID" = "$old" ]; then
		why="MainPID '$PROFD_PID' after restart (was $old)"
	elif [ "$(unit_prop profd.service StatusText)" != serving ]; then
		why="status '$(unit_prop profd.service StatusText)' after restart"
	elif ! profctl restart-status.json status --json; then
		why="profctl status after restart: $(tail -1 "$ART/restart-status.json")"
	fi
fi
if [ -z "$why" ]; then pass restart; else fail restart "$why"; fi
timed restart "$t"

# A 10 s window of split is open when profd is told to stop: profd answers
# it 503 "profd is shutting down" (profctl prints the body; curl from the
# host, through the container's socket, sees the code), and the socket
# stays, so the next request starts profd again.
t=$(now)
why=
if [ -n "$SPLIT" ] && ! ct 10 test -d "/proc/$SPLIT"; then
	note "split (pid $SPLIT) has exited early (see journal.txt); another one for this check"
	SPLIT=$(start_wl split2 -- /tmp/profd-wl/split 120)
	wait_line "$ROOT$SHARE/split2.out" "split ready" 10 || SPLIT=
fi
if [ -z "$SPLIT" ]; then
	why="split is not running"
else
	(ct 40 profctl cpu --pid "$SPLIT" --seconds 10 -o "$SHARE/stopped.pb.gz" >"$ART/stop-profctl.txt" 2>&1
		echo "exit $?" >>"$ART/stop-profctl.txt") &
	BG_PIDS+=($!)
	curl_pid=
	if command -v curl >/dev/null 2>&1; then
		timeout 40 curl -s -o "$ART/stop-curl.txt" -w '%{http_code}' \
			--unix-socket "/proc/$LEADER/root/run/profd/profd.sock" \
			"http://localhost/debug/pprof/profile?pid=$SPLIT&seconds=10" >"$ART/stop-curl.code" 2>&1 &
		curl_pid=$!
		BG_PIDS+=("$curl_pid")
	fi
	want=1
	[ -n "$curl_pid" ] && want=2
	i=0
	active=0
	while [ "$i" -lt 50 ]; do
		active=$(ct 10 profctl status --json 2>/dev/null | sed -n 's/.*"sessions_active":\([0-9]*\).*/\1/p')
		[ "${active:-0}" -ge "$want" ] && break
		sleep 0.1
		i=$((i + 1))
	done
	ts=$(now)
	ct 30 systemctl stop profd.service >"$ART/stop.log" 2>&1
	stop_s=$(since "$ts")
	wait "${BG_PIDS[@]}" 2>/dev/null
	BG_PIDS=()
	if [ "${active:-0}" -lt "$want" ]; then
		why="only ${active:-0} of $want windows open before the stop"
	elif ! grep -qx 'profctl: profd is shutting down' "$ART/stop-profctl.txt" ||
		! grep -qx 'exit 1' "$ART/stop-profctl.txt"; then
		why="profctl during the stop: $(tr '\n' ' ' <"$ART/stop-profctl.txt")"
	elif [ -n "$curl_pid" ] && [ "$(cat "$ART/stop-curl.code")" != 503 ]; then
		why="HTTP $(cat "$ART/stop-curl.code") during the stop, not 503: $(head -c 200 "$ART/stop-curl.txt")"
	elif [ -n "$curl_pid" ] && ! grep -q 'shutting down' "$ART/stop-curl.txt"; then
		why="503 without 'shutting down': $(head -c 200 "$ART/stop-curl.txt")"
	elif [ "$(unit_prop profd.service ActiveState)" != inactive ]; then
		why="profd.service is $(unit_prop profd.service ActiveState) after stop"
	elif [ "$(unit_prop profd.service Result)" != success ]; then
		why="profd.service result '$(unit_prop profd.service Result)' after stop"
	elif awk -v s="$stop_s" 'BEGIN { exit !(s > 5) }'; then
		why="systemctl stop took $stop_s s"
	fi
fi
if [ -z "$why" ]; then pass stop_during_window_503; else fail stop_during_window_503 "$why"; fi
note "stop with a window open took ${stop_s:-?} s"
timed "stop" "$t"

t=$(now)
why=
if [ "$(unit_prop profd.socket ActiveState)" != active ]; then
	why="profd.socket is $(unit_prop profd.socket ActiveState) after profd stopped"
elif ! ct 10 test -S /run/profd/profd.sock; then
	why="/run/profd/profd.sock is gone after profd stopped"
elif ! profctl reactivate.json status --json; then
	why="profctl status after stop: $(tail -1 "$ART/reactivate.json")"
else
	old=$PROFD_PID
	profd_pid
	if [ "$(unit_prop profd.service ActiveState)" != active ]; then
		why="profd.service is $(unit_prop profd.service ActiveState) after a request"
	elif [ "$PROFD_PID" = "$old" ] || [ "$PROFD_PID" = 0 ]; then
		why="MainPID '$PROFD_PID' (was $old): not a new profd"
	elif [ "$(unit_prop profd.service StatusText)" != serving ]; then
		why="status '$(unit_prop profd.service StatusText)'"
	fi
fi
if [ -z "$why" ]; then pass reactivation; else fail reactivation "$why"; fi
timed reactivation "$t"

# ---------------------------------------------------------------------------
# --listen through a drop-in, under IPAddressDeny=any + IPAddressAllow=
# localhost: go tool pprof gets a profile over loopback TCP, and a
# connection to the same port from a non-loopback address is dropped.
# The clients are this machine's curl, go and python3 in the container's
# network namespace (private: the address added to its loopback stays
# there).

LISTEN_HOST=127.0.0.1 LISTEN_PORT=6060 CONTROL_PORT=6061 FOREIGN=10.213.0.1
LISTEN=$LISTEN_HOST:$LISTEN_PORT
t=$(now)
why=
dropin=$ROOT/etc/systemd/system/profd.service.d
if ! command -v curl >/dev/null 2>&1; then
	skip listen_loopback "no curl on this machine"
	skip listen_non_loopback_refused "no curl on this machine"
else
	mkdir -p "$dropin" &&
		printf '[Service]\nExecStart=\nExecStart=/usr/local/sbin/profd --listen %s\n' "$LISTEN" \
			>"$dropin/listen.conf"
	if ! ct 30 systemctl daemon-reload >"$ART/listen-restart.log" 2>&1 ||
		! ct 30 systemctl restart profd.service >>"$ART/listen-restart.log" 2>&1; then
		why="systemctl restart profd with listen.conf failed: $(tail -1 "$ART/listen-restart.log")"
	else
		profd_pid
		code=$(ctnet 20 curl -s -o "$ART/listen-status.json" -w '%{http_code}' "http://$LISTEN/v1/status")
		if [ "$(unit_prop profd.service ActiveState)" != active ]; then
			why="profd.service is $(unit_prop profd.service ActiveState) with listen.conf"
		elif ! unit_prop profd.service ExecStart | grep -q -- "--listen $LISTEN"; then
			why="ExecStart is not the drop-in's: $(unit_prop profd.service ExecStart)"
		elif [ "$code" != 200 ]; then
			why="GET http://$LISTEN/v1/status from the container's loopback: HTTP '$code'"
		elif ! grep -q '"version"' "$ART/listen-status.json"; then
			why="no version in /v1/status over TCP: $(head -c 200 "$ART/listen-status.json")"
		fi
	fi
	if [ -z "$why" ]; then
		# As a user would: go tool pprof URL, 2 s of split (of profd
		# itself if split is gone).
		target=$SPLIT
		[ -n "$target" ] && ct 10 test -d "/proc/$target" || target=$PROFD_PID
		if ! ctnet 60 go tool pprof -seconds 2 -proto -output "$ART/listen.pb.gz" \
			"http://$LISTEN/debug/pprof/profile?pid=$target&hz=$CPU_HZ" >"$ART/listen-pprof.log" 2>&1; then
			why="go tool pprof http://$LISTEN/debug/pprof/profile?pid=$target failed: $(tail -1 "$ART/listen-pprof.log")"
		fi
	fi
	listening=
	if [ -z "$why" ]; then
		listening=1
		check listen "$ART/listen.pb.gz" --pid "$target" --hz "$CPU_HZ"
	else
		fail listen_loopback "$why"
	fi

	# From $FOREIGN, an address of the container's own (on its lo), to
	# profd's loopback port. The kernel takes such a connection, as the
	# control listener (python3, outside any unit) shows; profd's cgroup
	# filter must drop it. Where systemd cannot attach the filter (no
	# cgroup v2 hierarchy) it says so once in the journal: SKIP.
	why='' skipwhy=''
	control=
	if [ -z "$listening" ]; then
		skipwhy="profd does not serve $LISTEN (listen_loopback)"
	elif ! command -v ip >/dev/null 2>&1; then
		skipwhy="no ip (iproute2) on this machine to add an address in the container"
	elif ! ctnet 10 ip addr add "$FOREIGN/32" dev lo >"$ART/listen-ip.log" 2>&1; then
		skipwhy="cannot add $FOREIGN to the container's lo: $(tail -1 "$ART/listen-ip.log")"
	else
		mkdir -p "$RUNDIR/www"
		# Not through ctnet(): in the background that is a subshell,
		# and killing it would leave the server to its 60 s timeout
		# (holding the suite's output open). timeout passes the
		# signal on; nsenter without --pid execs python3.
		timeout --foreground -k 5 "$(bound 60)" nsenter -t "$LEADER" -n -- \
			python3 -m http.server --bind "$LISTEN_HOST" --directory "$RUNDIR/www" "$CONTROL_PORT" \
			>"$ART/listen-control.log" 2>&1 &
		control=$!
		BG_PIDS+=("$control")
		i=0
		while [ "$i" -lt 50 ] &&
			[ "$(ctnet 5 curl -s -o /dev/null -w '%{http_code}' "http://$LISTEN_HOST:$CONTROL_PORT/")" != 200 ]; do
			sleep 0.1
			i=$((i + 1))
		done
		code=$(ctnet 10 curl -s -o /dev/null -m 3 --interface "$FOREIGN" -w '%{http_code}' \
			"http://$LISTEN_HOST:$CONTROL_PORT/")
		if [ "$code" != 200 ]; then
			skipwhy="no connection from $FOREIGN to $LISTEN_HOST can be made here, even without a filter (control listener: HTTP '$code')"
		else
			code=$(ctnet 10 curl -s -o "$ART/listen-foreign.txt" -m 3 --interface "$FOREIGN" \
				-w '%{http_code}' "http://$LISTEN/v1/status")
			again=$(ctnet 10 curl -s -o /dev/null -m 3 -w '%{http_code}' "http://$LISTEN/v1/status")
			if [ "$code" = 000 ] && [ "$again" = 200 ]; then
				note "from $FOREIGN to $LISTEN: no answer within 3 s (dropped); from loopback: HTTP 200"
			elif [ "$code" = 000 ]; then
				why="no answer from $FOREIGN, but none from loopback either (HTTP '$again')"
			elif warn=$(ct 10 journalctl -b --no-pager -o cat | grep -m1 'unit configures an IP firewall, but'); then
				skipwhy="systemd cannot enforce IPAddressDeny= here (\"$warn\"): profd served $FOREIGN (HTTP $code)"
			else
				why="a connection from $FOREIGN got HTTP $code from profd: IPAddressDeny=any not enforced"
			fi
		fi
		kill "$control" 2>/dev/null
		wait "$control" 2>/dev/null
	fi
	if [ -n "$skipwhy" ]; then
		skip listen_non_loopback_refused "$skipwhy"
	elif [ -z "$why" ]; then
		pass listen_non_loopback_refused
	else
		fail listen_non_loopback_refused "$why"
	fi
fi
timed listen "$t"

# ---------------------------------------------------------------------------
# the whole run: no call refused by the unit's seccomp filter killed profd
# (no SIGSYS, no core dump, no automatic restart), none that profd logged
# failed with EPERM (what the filter answers), and profd still serves.

t=$(now)
why=
ct 20 journalctl -b --no-pager -o short-monotonic -u profd.service >"$ART/journal-profd.txt" 2>&1
killed=$(grep -m1 -E 'SIGSYS|status=31/SYS|code=dumped|core-dump|dumped core|Bad system call' "$ART/journal-profd.txt")
eperm=$(grep -m1 -E 'profd\[[0-9]+\]: .*(Operation not permitted|EPERM)' "$ART/journal-profd.txt")
if [ -n "$killed" ]; then
	why="the journal says: $killed"
elif [ -n "$eperm" ]; then
	why="profd logged EPERM, as the seccomp filter answers a denied call: $eperm"
elif [ "$(unit_prop profd.service NRestarts)" != 0 ]; then
	why="profd.service was restarted automatically $(unit_prop profd.service NRestarts) times (see journal-profd.txt)"
elif ! profctl final-status.json status --json; then
	why="profctl status at the end: $(tail -1 "$ART/final-status.json")"
elif [ "$(unit_prop profd.service ActiveState)" != active ] ||
	[ "$(unit_prop profd.service StatusText)" != serving ]; then
	why="profd.service is $(unit_prop profd.service ActiveState), '$(unit_prop profd.service StatusText)' at the end"
fi
if [ -z "$why" ]; then pass seccomp_no_kill; else fail seccomp_no_kill "$why"; fi
timed "seccomp_no_kill" "$t"

# ---------------------------------------------------------------------------
# notes for later: the unit's exposure, the journal

score=$(ct 30 systemd-analyze security --no-pager profd.service 2>/dev/null |
	sed -n 's/.*Overall exposure level for profd.service: *\([0-9.]* [A-Z]*\).*/\1/p')
note "systemd-analyze security profd.service: ${score:-unknown}"
ct 20 journalctl --no-pager -o short-monotonic -u profd.service -u profd.socket -u "profd-test-*" >"$ART/journal.txt" 2>&1
stop_wl split
stop_wl split2

stop_container
note "time total: $((SECONDS - T_START)) s (artifacts: $ART)"
summary
[ "$FAILED" -eq 0 ]
