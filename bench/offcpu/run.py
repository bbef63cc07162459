#!/usr/bin/env python3
"""bench/offcpu: what off-CPU profiling costs a context-switch-heavy
process, profd against bpftrace and perf in the same run (issue 14).

Workload: pingpong.c, two threads ping-ponging a byte over two pipes,
both pinned to CPU 1 (WORK_CPU): every round trip is two context
switches, as fast as the machine goes (~400k switches/s on the reference
VM). It waits for SIGUSR1 before its clock starts (attach is not timed)
and prints its wall and CPU time for ROUND_TRIPS round trips.

Modes (order rotated each round; profilers pinned to CPU 0):
  base            nothing attached
  profd-target    profd's block window on the workload (DWARF: regs + stack
                  copy at every switch-out, unwound in profd)
  profd-fp        the same with unwind=fp (frame-pointer walk in BPF)
  profd-other     profd's block window on another process (a sleeper): the
                  workload is a non-target, filtered out in BPF
  bpftrace-target offcpu.bt on the workload (sched_switch + ustack, the
                  classic bpftrace off-CPU script)
  bpftrace-other  offcpu.bt on the other process
  perf-target     perf record -e sched:sched_switch -g -p PID
Each mode's slowdown is its wall time / base's in the same round - 1;
the table shows the median and range over rounds. bpftrace and perf need
tracefs, which this machine may not mount: they run in a private mount
namespace that mounts it (unshare -m), leaving the host's mounts alone.

usage: run.py OUTPUT [--rounds N] [--round-trips N]
"""
import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
WORK_CPU, PROF_CPU = "1", "0"
MODES = ["base", "profd-target", "profd-fp", "profd-other", "bpftrace-target", "bpftrace-other",
         "perf-target"]


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout=300):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def status(sock):
    c = UnixConn(sock, 10)
    c.request("GET", "/v1/status")
    r = c.getresponse()
    return json.loads(r.read())


def tracefs_cmd(cmd):
    """cmd in a private mount namespace with tracefs mounted (unless the
    host has it mounted already)."""
    return ["unshare", "-m", "--propagation", "private", "sh", "-c",
            'mountpoint -q /sys/kernel/tracing || mount -t tracefs nodev /sys/kernel/tracing; '
            'exec "$@"', "sh"] + cmd


class Profiler:
    """One mode's profiler, attached to pid: start(), then stop()."""

    def __init__(self, mode, pid, other, sock, out):
        self.mode, self.pid, self.other, self.sock, self.out = mode, pid, other, sock, out
        self.proc = None

    def start(self):
        m = self.mode
        if m == "base":
            return
        target = self.other if m.endswith("-other") else self.pid
        if m.startswith("profd"):
            q = "pid=%d&seconds=120%s" % (target, "&unwind=fp" if m == "profd-fp" else "")
            before = status(self.sock).get("waits", {}).get("windows_active", 0)
            self.proc = subprocess.Popen(["taskset", "-c", PROF_CPU, "curl", "-s", "-o", "/dev/null",
                                          "--unix-socket", self.sock,
                                          "http://localhost/debug/pprof/block?" + q])
            deadline = time.monotonic() + 10
            while status(self.sock).get("waits", {}).get("windows_active", 0) <= before:
                if time.monotonic() > deadline:
                    raise SystemExit("profd: the window did not open")
                time.sleep(0.05)
            self.before = status(self.sock)["waits"]
        elif m.startswith("bpftrace"):
            self.proc = subprocess.Popen(tracefs_cmd(["taskset", "-c", PROF_CPU, "bpftrace",
                                                      os.path.join(HERE, "offcpu.bt"), str(target)]),
                                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            # (It warns first that it cannot raise RLIMIT_MEMLOCK: the
            # kernel charges BPF memory to the cgroup, no limit applies.)
            seen = []
            while True:
                line = self.proc.stdout.readline().decode()
                seen.append(line)
                if line.startswith("Attaching"):
                    break
                if not line:
                    raise SystemExit("bpftrace: %r" % "".join(seen))
        elif m == "perf-target":
            self.proc = subprocess.Popen(tracefs_cmd(["taskset", "-c", PROF_CPU, "perf", "record", "-q",
                                                      "-e", "sched:sched_switch", "-g", "-p", str(target),
                                                      "-o", os.path.join(self.out, "perf.data")]),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.5)
        time.sleep(0.3)

    def stop(self):
        """Detach; returns a note (what the profiler saw)."""
        note = ""
        if self.mode.startswith("profd") and self.proc:
            w = status(self.sock)["waits"]
            note = "begins %d (%d repeats) lost %d unwound %d" % (
                w["begins"] - self.before["begins"], w["repeats"] - self.before["repeats"],
                w["lost"] - self.before["lost"], w["unwound"] - self.before["unwound"])
        if self.proc:
            # SIGTERM: a shell that started us in the background may have
            # left SIGINT ignored, for us and our children.
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        return note


def run_once(exe, trips, mode, other, sock, out):
    w = subprocess.Popen(["taskset", "-c", WORK_CPU, exe, str(trips)], stdout=subprocess.PIPE)
    try:
        if w.stdout.readline().decode().strip() != "ready":
            raise SystemExit("pingpong did not start")
        p = Profiler(mode, w.pid, other, sock, out)
        p.start()
        try:
            w.send_signal(signal.SIGUSR1)
            line = w.stdout.readline().decode().split()
            w.wait(120)
        finally:
            note = p.stop()
        return float(line[0]), float(line[1]), note
    finally:
        if w.poll() is None:
            w.kill()
            w.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("output")
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--round-trips", type=int, default=200000)
    a = ap.parse_args()
    out_root = os.path.abspath(a.output)
    out = os.path.join(out_root, "bench", "offcpu")
    os.makedirs(out, exist_ok=True)
    exe = os.path.join(out, "pingpong")
    subprocess.run(["gcc", "-O2", "-g", "-pthread", "-o", exe, os.path.join(HERE, "pingpong.c")], check=True)
    tmp = tempfile.mkdtemp(prefix="profd-bench-offcpu-")
    sock = os.path.join(tmp, "profd.sock")
    log = open(os.path.join(out, "profd.log"), "wb")
    profd = subprocess.Popen(["taskset", "-c", PROF_CPU, os.path.join(out_root, "profd"), "--socket", sock],
                             stdout=log, stderr=subprocess.STDOUT)
    other = subprocess.Popen(["sleep", "100000"])
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        wall = {m: [] for m in MODES}
        ratio = {m: [] for m in MODES}
        notes = {m: [] for m in MODES}
        for r in range(a.rounds):
            order = MODES[r % len(MODES):] + MODES[:r % len(MODES)]
            got = {}
            for m in order:
                got[m], _, note = run_once(exe, a.round_trips, m, other.pid, sock, out)
                wall[m].append(got[m])
                if note:
                    notes[m].append(note)
                print("round %d %-16s %.3f s %s" % (r, m, got[m], note), file=sys.stderr, flush=True)
            for m in MODES:
                ratio[m].append(got[m] / got["base"] - 1)
        rev = subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True).stdout.strip()
        lines = ["# bench/offcpu results (commit %s, %s)" % (rev, time.strftime("%Y-%m-%d %H:%M")),
                 "",
                 "pingpong: %d round trips (2 context switches each) per run, both threads on CPU %s; "
                 "profilers on CPU %s; %d rounds, modes interleaved. Slowdown = wall / base's in the same "
                 "round - 1." % (a.round_trips, WORK_CPU, PROF_CPU, a.rounds),
                 "",
                 "| mode | wall median (s) | switches/s | slowdown median | range |",
                 "|---|---|---|---|---|"]
        for m in MODES:
            med = statistics.median(wall[m])
            rs = sorted(ratio[m])
            lines.append("| %s | %.3f | %.0fk | %+.1f%% | %+.1f%% .. %+.1f%% |"
                         % (m, med, 2 * a.round_trips / med / 1000, 100 * statistics.median(rs),
                            100 * rs[0], 100 * rs[-1]))
        lines += ["", "profd's view per target run (waits begun, of which repeats of the thread's "
                  "last stack / lost to a full ring buffer / DWARF-unwound):", ""]
        for m in ("profd-target", "profd-fp"):
            lines += ["- %s: %s" % (m, "; ".join(notes[m]))]
        text = "\n".join(lines) + "\n"
        with open(os.path.join(out_root, "bench", "offcpu-results.md"), "w") as f:
            f.write(text)
        print(text)
    finally:
        other.kill()
        other.wait()
        profd.send_signal(signal.SIGTERM)
        try:
            profd.wait(15)
        except subprocess.TimeoutExpired:
            profd.kill()
        log.close()


if __name__ == "__main__":
    main()
