#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# CPU-profiling benchmark: profd against an unprofiled baseline and against
# `perf record -F 99 -g`, all in the same run. See bench/README.md.
#
#   bench/cpu/run.sh [OUTPUT]          OUTPUT defaults to build; needs OUTPUT/profd
#
# Writes OUTPUT/bench/cpu-results.md (and raw logs under OUTPUT/bench/cpu/).
# Needs root (profd and perf), perf, curl, taskset, gcc, bash >= 5.
#
# Knobs (environment):
#   ROUNDS=7        goal 1: interleaved rounds per mode
#   WORK_SECONDS=2  goal 1: CPU seconds of work per run (ITERS calibrated to it)
#   ITERS=          goal 1: fixed iteration count instead of calibrating
#   WINDOW=10       goal 2: seconds per overhead window
#   LAT_ROUNDS=5    goal 3: profd windows per target (the first one is cold)
#   PERF_ROUNDS=3   goal 3: perf record+report windows per target and variant
#   LAT_SECONDS=2   goal 3: window length
#   WORK_CPU=1      CPU the target runs on
#   PROF_CPU=0      CPU profd, perf and curl run on
#   QUICK=1         tiny settings, to smoke-test the script (numbers meaningless)
set -euo pipefail

OUT=${1:-build}
[[ $OUT = /* ]] || OUT=$PWD/$OUT
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
PROFD=$OUT/profd
BDIR=$OUT/bench
LOGS=$BDIR/cpu
RESULTS=$BDIR/cpu-results.md

if [[ ${QUICK:-0} = 1 ]]; then
	: "${ROUNDS:=2}" "${WORK_SECONDS:=0.5}" "${WINDOW:=2}" "${LAT_ROUNDS:=2}"
	: "${PERF_ROUNDS:=1}" "${LAT_SECONDS:=1}"
fi
ROUNDS=${ROUNDS:-7}
WORK_SECONDS=${WORK_SECONDS:-2}
WINDOW=${WINDOW:-10}
LAT_ROUNDS=${LAT_ROUNDS:-5}
PERF_ROUNDS=${PERF_ROUNDS:-3}
LAT_SECONDS=${LAT_SECONDS:-2}
WORK_CPU=${WORK_CPU:-1}
PROF_CPU=${PROF_CPU:-0}
HZ=99

die() { echo "bench/cpu: $*" >&2; exit 1; }
log() { echo "bench/cpu: $*" >&2; }

(( BASH_VERSINFO[0] >= 5 )) || die "needs bash >= 5 (EPOCHREALTIME)"
[[ $(id -u) = 0 ]] || die "needs root (profd and perf record on other processes)"
[[ -x $PROFD ]] || die "$PROFD not found: run make first"
for t in perf curl taskset gcc awk; do
	command -v $t >/dev/null || die "$t not installed"
done
PY=$(command -v python3 || true)
[[ -x /usr/bin/python3 ]] && PY=/usr/bin/python3
[[ -n $PY ]] || die "python3 not installed (the large-binary target)"

mkdir -p "$BDIR" "$LOGS"
TMP=$(mktemp -d /tmp/profd-bench.XXXXXX)
SOCK=$TMP/p.sock
PIDS=()
PROFD_PID=

cleanup() {
	local p
	for p in "${PIDS[@]}" $PROFD_PID; do
		kill "$p" 2>/dev/null || true
	done
	for p in "${PIDS[@]}" $PROFD_PID; do
		wait "$p" 2>/dev/null || true
	done
	exec 7>&- 8<&- 2>/dev/null || true
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

track() { PIDS+=("$1"); }
untrack() {
	local p keep=()
	for p in "${PIDS[@]}"; do [[ $p = "$1" ]] || keep+=("$p"); done
	PIDS=("${keep[@]}")
}
stop() {	# stop PID [SIG]: kill, reap, forget
	kill -"${2:-TERM}" "$1" 2>/dev/null || true
	wait "$1" 2>/dev/null || true
	untrack "$1"
}

# ---- small numeric helpers (awk; bash has no floats) ----
calc() { awk "BEGIN { printf \"%.6f\", $* }"; }
# stats v1 v2 ...  ->  "median min max"
stats() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 }
		END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2;
		      printf "%.6f %.6f %.6f", m, v[1], v[NR] }'
}
med() { stats "$@" | awk '{ print $1 }'; }
pct() { awk -v x="$1" 'BEGIN { printf "%+.2f%%", x * 100 }'; }
ms() { awk -v x="$1" 'BEGIN { printf "%.1f", x * 1000 }'; }
TCK=$(getconf CLK_TCK)
cpu_s() {	# utime+stime in seconds
	[[ -r /proc/$1/stat ]] || die "pid $1 is gone (profd killed from outside? see $LOGS/profd.log)"
	awk -v t="$TCK" '{ print ($14 + $15) / t }' "/proc/$1/stat"
}
vm_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# ---- profd ----
api() { curl -sf --max-time 5 --unix-socket "$SOCK" "http://x$1"; }
profd_alive() {
	[[ -n $PROFD_PID ]] && kill -0 "$PROFD_PID" 2>/dev/null ||
		die "profd exited mid-run (killed from outside? see $LOGS/profd.log)"
}
jnum() { sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"; }

# The daemon runs from a private copy named pdbench: the same binary, but a
# stray `pkill profd` / `killall profd` elsewhere on a shared machine (seen
# while writing this) does not end a five-minute run.
start_profd() {
	rm -f "$SOCK"
	cp "$PROFD" "$TMP/pdbench"
	taskset -c "$PROF_CPU" "$TMP/pdbench" --socket "$SOCK" 2>>"$LOGS/profd.log" &
	PROFD_PID=$!
	local i
	for i in $(seq 100); do
		api /v1/status >/dev/null 2>&1 && return 0
		kill -0 "$PROFD_PID" 2>/dev/null || die "profd exited; see $LOGS/profd.log"
		sleep 0.05
	done
	die "profd did not answer on $SOCK"
}
stop_profd() {
	[[ -n $PROFD_PID ]] || return 0
	kill "$PROFD_PID" 2>/dev/null || true
	wait "$PROFD_PID" 2>/dev/null || true
	PROFD_PID=
}
# Wait until profd has an active session; prints that session's elapsed_ms.
wait_session() {
	local i s
	for i in $(seq 500); do
		s=$(api /v1/status 2>/dev/null || true)
		if [[ $s == *'"sessions":[{'* ]]; then
			jnum elapsed_ms <<<"$s"
			return 0
		fi
		sleep 0.01
	done
	die "profd session did not start (see $LOGS/profd.log)"
}

# ---- targets ----
WL=$BDIR/workload
build() {
	log "building $WL"
	gcc -O2 -g -fno-omit-frame-pointer -Wall -Wextra "$SRC/workload.c" -o "$WL"
}
# start_workload ITERS OUTFILE: starts it pinned and blocked; sets WPID
start_workload() {
	: >"$2"
	taskset -c "$WORK_CPU" "$WL" "$1" >"$2" &
	WPID=$!
	track "$WPID"
	local i
	for i in $(seq 500); do
		grep -q '^ready' "$2" 2>/dev/null && return 0
		sleep 0.01
	done
	die "workload did not start"
}
PYLOOP='
def f(n):
    return sum(i * i for i in range(n))
def g():
    while True:
        f(1000)
g()'
# start_target KIND: a busy process on WORK_CPU, not waiting; sets TPID
start_target() {
	case $1 in
	c)	taskset -c "$WORK_CPU" "$WL" -n 0 >/dev/null & ;;
	python)	taskset -c "$WORK_CPU" "$PY" -c "$PYLOOP" & ;;
	idle)	taskset -c "$WORK_CPU" sleep 100000 & ;;
	esac
	TPID=$!
	track "$TPID"
	sleep 0.5	# let the interpreter finish loading
}

# =====================================================================
# Goal 1: slowdown of a CPU-bound workload under profiling
# =====================================================================
# g1_run MODE -> RES="wall_s cpu_s samples"
g1_run() {
	local mode=$1 out=$TMP/w.out wall cpu samples=0 m0 m1 cpid ppid a
	profd_alive
	start_workload "$ITERS" "$out"
	case $mode in
	profd)
		m0=$(api /v1/status | jnum samples_matched)
		# A window far longer than the run; closed by disconnecting.
		taskset -c "$PROF_CPU" curl -s --unix-socket "$SOCK" -o /dev/null \
			"http://x/debug/pprof/profile?pid=$WPID&seconds=600&hz=$HZ" &
		cpid=$!
		track "$cpid"
		wait_session >/dev/null
		;;
	perf)
		rm -f "$TMP/ctl" "$TMP/ack" "$TMP/g1.data"
		mkfifo "$TMP/ctl" "$TMP/ack"
		# Start disabled, enable through the control fifo and wait for
		# the ack: then the events are on, exactly as for profd.
		taskset -c "$PROF_CPU" perf record -q -D -1 \
			--control "fifo:$TMP/ctl,$TMP/ack" -F $HZ -g -p "$WPID" \
			-o "$TMP/g1.data" 2>>"$LOGS/perf.log" &
		ppid=$!
		track "$ppid"
		exec 7>"$TMP/ctl" 8<"$TMP/ack"
		echo enable >&7
		read -r -t 10 -u 8 a || die "perf record did not ack enable"
		;;
	esac
	sleep 0.2	# same settle time in every mode
	kill -USR1 "$WPID"
	wait "$WPID" || die "workload failed"
	untrack "$WPID"
	read -r wall cpu _ < <(tail -n 1 "$out")
	[[ $wall =~ ^[0-9]+$ && $cpu =~ ^[0-9]+$ ]] || die "bad workload output: $(tail -n 1 "$out")"
	case $mode in
	profd)
		sleep 0.1	# let the last samples drain before counting
		m1=$(api /v1/status | jnum samples_matched)
		samples=$((m1 - m0))
		stop "$cpid"
		;;
	perf)
		# perf exits when its target does; give it 10 s.
		for a in $(seq 1000); do
			kill -0 "$ppid" 2>/dev/null || break
			sleep 0.01
		done
		stop "$ppid" INT
		exec 7>&- 8<&-
		samples=$(perf report -i "$TMP/g1.data" --stdio 2>/dev/null |
			  sed -n 's/^# Samples: \([0-9]*\).*/\1/p' | head -1)
		;;
	esac
	RES="$(calc "$wall / 1e9") $(calc "$cpu / 1e9") ${samples:-0}"
}

goal1() {
	local r i m order res
	declare -gA G1_WALL G1_CPU G1_SAMP
	local modes=(base profd perf)
	if [[ -z ${ITERS:-} ]]; then
		local out=$TMP/w.out wall cpu
		start_workload 100000 "$out"
		kill -USR1 "$WPID"; wait "$WPID"; untrack "$WPID"
		read -r wall cpu _ < <(tail -n 1 "$out")
		ITERS=$(awk -v c="$cpu" -v s="$WORK_SECONDS" 'BEGIN { printf "%.0f", 100000 * s * 1e9 / c }')
		[[ $ITERS =~ ^[0-9]+$ ]] || die "calibration failed: $(tail -n 1 "$out")"
	fi
	log "goal 1: $ROUNDS rounds x {${modes[*]}}, $ITERS iterations each"
	echo "round mode wall_s cpu_s samples" >"$LOGS/goal1.txt"
	for r in $(seq "$ROUNDS"); do
		# Rotate the order each round so no mode always runs first.
		for i in 0 1 2; do
			m=${modes[$(((i + r) % 3))]}
			g1_run "$m"
			echo "$r $m $RES" >>"$LOGS/goal1.txt"
			read -r G1_WALL[$m,$r] G1_CPU[$m,$r] G1_SAMP[$m,$r] <<<"$RES"
			log "  round $r $m: wall ${G1_WALL[$m,$r]}s cpu ${G1_CPU[$m,$r]}s samples ${G1_SAMP[$m,$r]}"
		done
	done
}

g1_vals() {	# g1_vals MODE KIND: that mode's values, one per round
	local r
	local -n arr=G1_$2
	for r in $(seq "$ROUNDS"); do echo "${arr[$1,$r]}"; done
}
# ratio lines for goal 1: per-round paired ratio (mode/base - 1), summarized
g1_row() {
	local m=$1 kind=$2 r v=() vals=() s
	local -n arr=G1_$kind
	for r in $(seq "$ROUNDS"); do
		vals+=("${arr[$m,$r]}")
		v+=("$(calc "${arr[$m,$r]} / ${arr[base,$r]} - 1")")
	done
	s=$(stats "${v[@]}")
	read -r med lo hi <<<"$s"
	printf '| %s | %s | %.3f | %s | %s … %s |\n' "$m" "$kind" "$(med "${vals[@]}")" \
		"$(pct "$med")" "$(pct "$lo")" "$(pct "$hi")"
}

# =====================================================================
# Goal 2: profiler's own CPU and memory per profiled second
# =====================================================================
# g2_profd KIND HZ -> RES="cpu_pct rss_kb hwm_kb elapsed_s"
g2_profd() {
	local kind=$1 hz=$2 c0 c1 t0 t1
	start_target "$kind"
	c0=$(cpu_s "$PROFD_PID"); t0=$EPOCHREALTIME
	taskset -c "$PROF_CPU" curl -sf --unix-socket "$SOCK" -o "$TMP/g2.pb.gz" \
		"http://x/debug/pprof/profile?pid=$TPID&seconds=$WINDOW&hz=$hz" ||
		{ profd_alive; die "profd request failed"; }
	t1=$EPOCHREALTIME; c1=$(cpu_s "$PROFD_PID")
	cp "$TMP/g2.pb.gz" "$LOGS/goal2-$kind-$hz.pb.gz"
	stop "$TPID"
	RES="$(calc "($c1 - $c0) / $WINDOW * 100") $(vm_kb "$PROFD_PID" VmRSS) $(vm_kb "$PROFD_PID" VmHWM) $(calc "$t1 - $t0")"
}
# g2_perf KIND HZ -> RES="record_cpu_pct report_cpu_pct"
g2_perf() {
	local kind=$1 hz=$2 TIMEFORMAT='%U %S'
	start_target "$kind"
	{ time taskset -c "$PROF_CPU" perf record -q -F "$hz" -g -p "$TPID" \
		-o "$TMP/g2.data" -- sleep "$WINDOW" 2>>"$LOGS/perf.log" ; } 2>"$TMP/rec.time"
	stop "$TPID"
	{ time taskset -c "$PROF_CPU" perf report -i "$TMP/g2.data" --stdio \
		>"$LOGS/goal2-$kind-$hz.perf.txt" 2>>"$LOGS/perf.log" ; } 2>"$TMP/rep.time"
	RES="$(awk -v w="$WINDOW" '{ printf "%.6f", ($1 + $2) / w * 100 }' "$TMP/rec.time") $(awk -v w="$WINDOW" '{ printf "%.6f", ($1 + $2) / w * 100 }' "$TMP/rep.time")"
}

goal2() {
	local c0 c1
	log "goal 2: profiler CPU over ${WINDOW}s windows"
	G2_RSS0=$(vm_kb "$PROFD_PID" VmRSS)
	c0=$(cpu_s "$PROFD_PID"); sleep "$WINDOW"; c1=$(cpu_s "$PROFD_PID")
	G2_IDLE=$(calc "($c1 - $c0) / $WINDOW * 100")
	log "  profd idle: $G2_IDLE% of a core"
	echo "what cpu_pct rss_kb hwm_kb" >"$LOGS/goal2.txt"
	local k h
	for k in c python; do
		g2_profd $k $HZ
		echo "profd-$k-$HZ $RES" >>"$LOGS/goal2.txt"
		read -r G2_P[$k] G2_RSS[$k] G2_HWM[$k] _ <<<"$RES"
		log "  profd $k ${HZ}Hz: ${G2_P[$k]}% of a core, RSS ${G2_RSS[$k]} kB"
		g2_perf $k $HZ
		echo "perf-$k-$HZ $RES" >>"$LOGS/goal2.txt"
		read -r G2_R[$k] G2_RR[$k] <<<"$RES"
		log "  perf  $k ${HZ}Hz: record ${G2_R[$k]}% + report ${G2_RR[$k]}%"
	done
	g2_profd python 999
	echo "profd-python-999 $RES" >>"$LOGS/goal2.txt"
	read -r G2_P999 G2_RSS999 G2_HWM999 _ <<<"$RES"
	log "  profd python 999Hz: $G2_P999% of a core"
	g2_perf python 999
	echo "perf-python-999 $RES" >>"$LOGS/goal2.txt"
	read -r G2_R999 G2_RR999 <<<"$RES"
	log "  perf  python 999Hz: record $G2_R999% + report $G2_RR999%"
}

# =====================================================================
# Goal 3: window end -> symbolized profile on disk
# =====================================================================
# Window end of a profd answer, in CLOCK_REALTIME seconds: the profile's own
# time_nanos + duration_nanos (fields 9 and 10 of perftools.profiles.Profile),
# stamped by profd when the session started.
pprof_window_end() {
	"$PY" - "$1" <<'PYEOF'
import gzip, sys
b = gzip.open(sys.argv[1]).read()
i, f = 0, {}
def varint():
    global i
    r = s = 0
    while True:
        c = b[i]; i += 1; r |= (c & 0x7f) << s; s += 7
        if c < 0x80:
            return r
while i < len(b):
    k = varint(); fn, wt = k >> 3, k & 7
    if wt == 0: f[fn] = varint()
    elif wt == 2: n = varint(); i += n
    elif wt == 1: i += 8
    elif wt == 5: i += 4
    else: sys.exit("bad wire type")
print("%d.%09d" % divmod(f[9] + f[10], 10**9))
PYEOF
}
# g3_profd PID -> RES="setup_s post_s client_s bytes"
#   setup: request sent -> window start; post: window end -> file written
#   (both from profd's own timestamps in the profile, against the same clock);
#   client: curl's time_total - seconds.
g3_profd() {
	local pid=$1 t0 t1 we
	profd_alive
	t0=$EPOCHREALTIME
	taskset -c "$PROF_CPU" curl -sf --unix-socket "$SOCK" -o "$TMP/g3.pb.gz" \
		-w '%{time_total}\n' \
		"http://x/debug/pprof/profile?pid=$pid&seconds=$LAT_SECONDS&hz=$HZ" \
		>"$TMP/curl.out" || { profd_alive; die "profd request failed"; }
	t1=$EPOCHREALTIME
	we=$(pprof_window_end "$TMP/g3.pb.gz")
	RES="$(calc "$we - $LAT_SECONDS - $t0") $(calc "$t1 - $we") $(calc "$(cat "$TMP/curl.out") - $LAT_SECONDS") $(stat -c %s "$TMP/g3.pb.gz")"
}
# g3_perf PID VARIANT -> RES="shutdown_s report_s"
g3_perf() {
	local pid=$1 opt=() t1 we
	[[ $2 = nobpf ]] && opt=(--no-bpf-event)
	rm -f "$TMP/we"
	taskset -c "$PROF_CPU" perf record -q "${opt[@]}" -F $HZ -g -p "$pid" \
		-o "$TMP/g3.data" -- \
		bash -c "sleep $LAT_SECONDS; echo \$EPOCHREALTIME >$TMP/we" \
		2>>"$LOGS/perf.log"
	t1=$EPOCHREALTIME
	we=$(cat "$TMP/we")
	local t2=$EPOCHREALTIME
	taskset -c "$PROF_CPU" perf report -i "$TMP/g3.data" --stdio >/dev/null 2>>"$LOGS/perf.log"
	RES="$(calc "$t1 - $we") $(calc "$EPOCHREALTIME - $t2")"
}

goal3() {
	local k r res
	log "goal 3: window end -> profile, ${LAT_SECONDS}s windows, fresh profd (first round cold)"
	stop_profd
	start_profd
	echo "target tool round a b c d" >"$LOGS/goal3.txt"
	for k in c python idle; do
		start_target "$k"
		for r in $(seq "$LAT_ROUNDS"); do
			g3_profd "$TPID"
			echo "$k profd $r $RES" >>"$LOGS/goal3.txt"
			read -r G3_SETUP[$k,$r] G3_POST[$k,$r] G3_CLI[$k,$r] _ <<<"$RES"
			log "  profd $k round $r: setup $(ms "${G3_SETUP[$k,$r]}") ms, after window $(ms "${G3_POST[$k,$r]}") ms"
		done
		for r in $(seq "$PERF_ROUNDS"); do
			for v in default nobpf; do
				g3_perf "$TPID" $v
				echo "$k perf-$v $r $RES" >>"$LOGS/goal3.txt"
				read -r G3_PSD[$k,$v,$r] G3_PRP[$k,$v,$r] <<<"$RES"
				log "  perf($v) $k round $r: shutdown $(ms "${G3_PSD[$k,$v,$r]}") ms, report $(ms "${G3_PRP[$k,$v,$r]}") ms"
			done
		done
		stop "$TPID"
	done
}

# =====================================================================
report() {
	local k v r a=() b=() c=() d=() e=() warm cold pd pn
	{
	echo "# profd CPU benchmark results"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -r), $(nproc) CPUs ($(awk -F': ' '/model name/ { print $2; exit }' /proc/cpuinfo)), load before start: $LOAD0"
	echo "Target on CPU $WORK_CPU, profd/perf/curl on CPU $PROF_CPU; ${HZ} Hz unless noted; $(perf version)."
	echo
	echo "## 1. Slowdown of a CPU-bound workload ($ITERS iterations, $ROUNDS interleaved rounds)"
	echo
	echo "Ratio = per-round (profiled / unprofiled) − 1, median and range over rounds. cpu = the"
	echo "workload's own CPU time (includes the sampling interrupts on its CPU, excludes time other"
	echo "processes took), wall = its elapsed time."
	echo
	echo "| mode | metric | median s | slowdown (median) | range |"
	echo "|---|---|---|---|---|"
	for v in CPU WALL; do
		printf '| base | %s | %.3f | — | — |\n' "$v" "$(med $(g1_vals base "$v"))"
		g1_row profd "$v"
		g1_row perf "$v"
	done
	a=(); b=()
	for r in $(seq "$ROUNDS"); do a+=("${G1_SAMP[profd,$r]}"); b+=("${G1_SAMP[perf,$r]}"); done
	echo
	printf 'Samples per run (median): profd %.0f, perf %.0f (expect ≈ %d × cpu s).\n' \
		"$(med "${a[@]}")" "$(med "${b[@]}")" $HZ
	echo
	echo "## 2. Profiler cost per profiled second (${WINDOW} s windows, busy target)"
	echo
	echo "% of one core = profiler CPU time (user+sys) during the window, including building the"
	echo "answer, / window length. perf = \`perf record -F N -g -p PID -- sleep W\` + \`perf report --stdio\`."
	echo
	echo "| target | Hz | profd % core | perf record % | + perf report % | profd / perf | profd RSS after (HWM) |"
	echo "|---|---|---|---|---|---|---|"
	printf '| idle (no session) | — | %.2f | | | | %d kB |\n' "$G2_IDLE" "$G2_RSS0"
	for k in c python; do
		printf '| %s | %d | %.2f | %.2f | %.2f | %.2f | %d kB (%d kB) |\n' "$k" $HZ \
			"${G2_P[$k]}" "${G2_R[$k]}" "${G2_RR[$k]}" \
			"$(calc "${G2_P[$k]} / (${G2_R[$k]} + ${G2_RR[$k]} + 1e-9)")" \
			"${G2_RSS[$k]}" "${G2_HWM[$k]}"
	done
	printf '| python | 999 | %.2f | %.2f | %.2f | %.2f | %d kB (%d kB) |\n' \
		"$G2_P999" "$G2_R999" "$G2_RR999" \
		"$(calc "$G2_P999 / ($G2_R999 + $G2_RR999 + 1e-9)")" "$G2_RSS999" "$G2_HWM999"
	echo
	echo "## 3. Window end → symbolized profile (${LAT_SECONDS} s windows)"
	echo
	echo "profd: from the window's end (time_nanos + duration_nanos in the profile) to curl having"
	echo "written the pprof file. Round 1 is cold (fresh profd: binaries and debug info loaded"
	echo "then, before the window opens — shown as setup). perf: from \`sleep\`'s end to perf record's"
	echo "exit, plus \`perf report --stdio\` wall time; \`default\` and \`--no-bpf-event\` (without"
	echo "the BPF side-band thread, whose 1 s poll perf joins at exit)."
	echo
	echo "perf's times swing with the machine's load; the ratio is taken against the *best* --no-bpf-event"
	echo "round (the conservative choice for profd)."
	echo
	echo "| target | profd setup cold / warm ms | profd after window cold / warm (range) ms | perf shutdown+report ms, default, median | --no-bpf-event, median / best | profd warm / perf no-bpf best |"
	echo "|---|---|---|---|---|---|"
	for k in c python idle; do
		a=(); b=(); c=(); d=()
		for r in $(seq 2 "$LAT_ROUNDS"); do a+=("${G3_POST[$k,$r]}"); b+=("${G3_SETUP[$k,$r]}"); done
		for r in $(seq "$PERF_ROUNDS"); do
			c+=("$(calc "${G3_PSD[$k,default,$r]} + ${G3_PRP[$k,default,$r]}")")
			d+=("$(calc "${G3_PSD[$k,nobpf,$r]} + ${G3_PRP[$k,nobpf,$r]}")")
		done
		read -r warm lo hi <<<"$(stats "${a[@]}")"
		pd=$(med "${c[@]}"); pn=$(med "${d[@]}")
		local pb; pb=$(stats "${d[@]}" | awk '{ print $2 }')
		printf '| %s | %s / %s | %s / %s (%s … %s) | %s (sd %s + rep %s) | %s / %s | %.2f |\n' "$k" \
			"$(ms "${G3_SETUP[$k,1]}")" "$(ms "$(med "${b[@]}")")" \
			"$(ms "${G3_POST[$k,1]}")" "$(ms "$warm")" "$(ms "$lo")" "$(ms "$hi")" \
			"$(ms "$pd")" \
			"$(ms "$(med $(for r in $(seq "$PERF_ROUNDS"); do echo "${G3_PSD[$k,default,$r]}"; done))")" \
			"$(ms "$(med $(for r in $(seq "$PERF_ROUNDS"); do echo "${G3_PRP[$k,default,$r]}"; done))")" \
			"$(ms "$pn")" "$(ms "$pb")" "$(calc "$warm / $pb")"
	done
	echo
	echo "Raw numbers: $LOGS/goal{1,2,3}.txt; profd log: $LOGS/profd.log."
	} >"$RESULTS"
}

LOAD0=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$LOGS/profd.log"; : >"$LOGS/perf.log"
declare -A G2_P G2_RSS G2_HWM G2_R G2_RR G3_SETUP G3_POST G3_CLI G3_PSD G3_PRP
T_START=$EPOCHREALTIME
build
start_profd
goal1
goal2
goal3
stop_profd
report
cat "$RESULTS"
log "done in $(awk -v a="$T_START" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.0f", b - a }') s; results in $RESULTS"
