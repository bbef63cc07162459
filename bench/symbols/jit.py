#!/usr/bin/env python3
"""bench/symbols/jit.py: what naming JIT code costs profd per sample,
against a baseline profd (another build: e.g. the commit before) in the
same run, windows interleaved.

Workloads (tests/e2e/workloads/jitwl.c, built by tests/e2e/run.sh into
OUTPUT/e2e): "perfmap-big 20000", machine code named by a perf map of
20002 lines (a large runtime's); and "none" with its code unnamed (JIT
code without a map); plus OUTPUT/e2e/split, ELF code only (what every
other process pays). Per window: profd CPU (user + system, from
/proc/PID/task/*/schedstat, the window and the profile's build;
threads that ended during it are missed), divided by the
samples in the profile: microseconds of profd CPU per sample.

usage: jit.py OUTPUT BASELINE_PROFD [--rounds N] [--seconds S]
"""
import argparse, os, statistics, subprocess, sys, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import run as sym  # noqa: E402  (Profd, cpu_of, get, pprofraw)

HZ = 999


class Profd(sym.Profd):
    def __init__(self, out, name, exe):
        sym.OUTPUT = os.path.dirname(exe)  # run.py starts OUTPUT/profd
        super().__init__(out, name)


def cpu_ns(pid):
    """profd's CPU time in ns: its threads' schedstat (clock ticks of
    /proc/PID/stat are 10 ms, a window's whole cost here)."""
    t = 0
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/schedstat" % (pid, tid)) as f:
                t += int(f.read().split()[0])
        except OSError:
            pass
    return t / 1e9


def window(d, pid, seconds, path):
    c0 = cpu_ns(d.pid)
    st, body = sym.get(d.sock, "/debug/pprof/profile?pid=%d&seconds=%d&hz=%d" % (pid, seconds, HZ))
    c1 = cpu_ns(d.pid)
    assert st == 200, body
    with open(path, "wb") as f:
        f.write(body)
    raw = sym.run(["go", "tool", "pprof", "-symbolize=none", "-raw", path], check=True).stdout
    prof = sym.pprofraw.parse_raw(raw)
    n = sum(s.values[0] for s in prof.samples)
    named = sum(s.values[0] for s in prof.samples
                if s.leaf() and s.leaf().function in ("jit_hot", "jit_cold"))
    return n, c1 - c0, named / n if n else 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("output")
    ap.add_argument("baseline")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    a = ap.parse_args()
    out = os.path.join(os.path.abspath(a.output), "bench", "symbols-jit")
    os.makedirs(out, exist_ok=True)
    e2e = os.path.join(os.path.abspath(a.output), "e2e")
    builds = {"baseline": os.path.abspath(a.baseline), "this": os.path.join(os.path.abspath(a.output), "profd")}
    loads = {"perfmap 20002 lines": [os.path.join(e2e, "jitwl"), "600", "perfmap-big", "20000"],
             "JIT code, no map": [os.path.join(e2e, "jitwl"), "600", "none"],
             "ELF only (split)": [os.path.join(e2e, "split"), "600"]}
    res = {(b, l): [] for b in builds for l in loads}
    for r in range(a.rounds):
        for l, cmd in loads.items():
            w = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
            w.stdout.readline()
            time.sleep(0.5)
            try:
                # Alternate which build goes first: the second window on
                # a workload is not the first's equal (caches, load).
                order = list(builds.items())
                for b, exe in (order if r % 2 == 0 else order[::-1]):
                    d = Profd(out, b, exe)
                    try:
                        res[(b, l)].append(window(d, w.pid, a.seconds, os.path.join(out, "%s-%d.pb.gz" % (b, r))))
                    finally:
                        d.stop()
            finally:
                w.kill()
                w.wait()
                try:
                    os.unlink("/tmp/perf-%d.map" % w.pid)
                except OSError:
                    pass
    load = open("/proc/loadavg").read().split()[:3]
    print("%d rounds of %d s windows at %d Hz per build and workload (median), load average %s"
          % (a.rounds, a.seconds, HZ, " ".join(load)))
    print()
    print("| workload | build | samples | profd CPU (ms) | us per sample | named (jit_hot/cold) | ratio to baseline |")
    print("|---|---|---|---|---|---|---|")
    for l in loads:
        base = None
        for b in builds:
            rs = res[(b, l)]
            n = statistics.median(x[0] for x in rs)
            cpu = statistics.median(x[1] for x in rs)
            us = statistics.median(1e6 * x[1] / x[0] for x in rs if x[0])
            named = statistics.median(x[2] for x in rs)
            if base is None:
                base = us
            print("| %s | %s | %d | %.1f | %.1f | %.2f | %.2f |" % (l, b, n, 1e3 * cpu, us, named, us / base if base else 0))


if __name__ == "__main__":
    main()
