#!/usr/bin/env python3
"""bench/unwind: DWARF unwinding against perf record --call-graph dwarf, on
code built -O2 -fomit-frame-pointer. One run, ratios (see bench/README.md).

  1. share of complete stacks (reaching main) — profd dwarf / fp, perf dwarf / fp
  2. slowdown of a fixed-work target at 99 Hz: none, profd dwarf, perf dwarf
  3. profiler CPU per sample: profd (daemon CPU over the window) against
     perf record + perf report (their CPU) for the same window
usage: run.py OUTPUT [--rounds N] [--seconds S]
"""
import json, os, re, resource, signal, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import pprofraw  # noqa: E402
sys.path.insert(0, os.path.dirname(HERE))
from benchlib import cpu_of, get, req  # noqa: E402,F401


def profd_window(sock, dpid, pid, seconds, unwind, out):
    c0 = cpu_of(dpid)
    st, body = get(sock, "/debug/pprof/profile?pid=%d&seconds=%d&hz=99&unwind=%s" % (pid, seconds, unwind))
    c1 = cpu_of(dpid)
    assert st == 200, body
    with open(out, "wb") as f:
        f.write(body)
    raw = subprocess.run(["go", "tool", "pprof", "-raw", out], capture_output=True, text=True, check=True).stdout
    p = pprofraw.parse_raw(raw)
    total = sum(s.values[0] for s in p.samples)
    ok = sum(s.values[0] for s in p.samples if "main" in s.functions() and "[truncated]" not in s.functions())
    return total, ok, c1 - c0


def perf_window(pid, seconds, mode, out):
    """perf record + perf script; returns samples, complete, perf CPU s."""
    cg = ["--call-graph", "dwarf"] if mode == "dwarf" else ["-g"]
    p = subprocess.Popen(["perf", "record", "-q", "-F", "99"] + cg + ["-p", str(pid), "-o", out,
                                                                    "--", "sleep", str(seconds)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, _, ru = os.wait4(p.pid, 0)
    rec_cpu = ru.ru_utime + ru.ru_stime
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    txt = subprocess.run(["perf", "script", "-i", out, "-F", "comm,ip,sym"], capture_output=True,
                         text=True).stdout
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    rep_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    blocks = [b for b in txt.split("\n\n") if b.strip()]
    total = len(blocks)
    ok = sum(1 for b in blocks if re.search(r"\smain\b", b))
    return total, ok, rec_cpu + rep_cpu


def main():
    out_root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    rounds = int(sys.argv[sys.argv.index("--rounds") + 1]) if "--rounds" in sys.argv else 3
    secs = int(sys.argv[sys.argv.index("--seconds") + 1]) if "--seconds" in sys.argv else 5
    out = os.path.join(out_root, "bench", "unwind")
    os.makedirs(out, exist_ok=True)
    nofp = os.path.join(out, "nofp")
    subprocess.check_call(["gcc", "-O2", "-g", "-fomit-frame-pointer", "-fno-optimize-sibling-calls",
                           "-pthread", os.path.join(ROOT, "tests/e2e/workloads/nofp.c"), "-o", nofp])
    wl = os.path.join(out, "workload-nofp")
    subprocess.check_call(["gcc", "-O2", "-g", "-fomit-frame-pointer", "-fno-optimize-sibling-calls",
                           os.path.join(ROOT, "bench/cpu/workload.c"), "-o", wl])
    tmp = tempfile.mkdtemp(prefix="profd-unwind-")
    sock = os.path.join(tmp, "p.sock")
    log = open(os.path.join(out, "profd.log"), "w")
    d = subprocess.Popen(["taskset", "-c", "0", os.path.join(out_root, "profd"), "--socket", sock], stderr=log)
    lines = []
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        # 1 + 3: completeness and CPU per sample
        res = {}
        for r in range(rounds):
            for wmode in ("chain", "qsort"):
                w = subprocess.Popen(["taskset", "-c", "1", nofp, str(secs * 6 + 30), wmode],
                                     stdout=subprocess.PIPE)
                w.stdout.readline()
                try:
                    for m in ("profd-dwarf", "profd-fp", "perf-dwarf", "perf-fp"):
                        f = os.path.join(out, "%s-%s.data" % (wmode, m))
                        if m.startswith("profd"):
                            t, ok, c = profd_window(sock, d.pid, w.pid, secs, m.split("-")[1], f + ".pb.gz")
                        else:
                            t, ok, c = perf_window(w.pid, secs, m.split("-")[1], f)
                        res.setdefault((wmode, m), []).append((t, ok, c))
                finally:
                    w.kill()
                    w.wait()
        lines += ["## Complete stacks and profiler CPU per sample (99 Hz, %d s windows, %d rounds)" % (secs, rounds), "",
                  "| workload | profiler | samples | reach main, untruncated | profiler CPU (ms) | CPU per sample (µs) |",
                  "|---|---|---|---|---|---|"]
        for (wmode, m), v in sorted(res.items()):
            t = sum(x[0] for x in v)
            ok = sum(x[1] for x in v)
            c = sum(x[2] for x in v)
            lines.append("| %s | %s | %d | %.1f%% | %.0f | %.0f |" % (wmode, m, t, 100.0 * ok / max(t, 1), c * 1000,
                                                                   c * 1e6 / max(t, 1)))
        # 2: slowdown of fixed work on CPU 1
        iters = os.environ.get("ITERS", "600000")  # ~2 CPU s here
        slow = {m: [] for m in ("none", "profd-dwarf", "perf-dwarf")}
        for r in range(rounds + 2):
            for m in slow:
                w = subprocess.Popen(["taskset", "-c", "1", wl, iters], stdout=subprocess.PIPE, text=True)
                w.stdout.readline()  # "ready PID"
                prof = None
                if m == "profd-dwarf":
                    import threading
                    th = threading.Thread(target=get, args=(sock, "/debug/pprof/profile?pid=%d&seconds=60&hz=99" % w.pid))
                    th.daemon = True
                    th.start()
                    time.sleep(0.3)
                elif m == "perf-dwarf":
                    prof = subprocess.Popen(["taskset", "-c", "0", "perf", "record", "-q", "-F", "99", "--call-graph",
                                             "dwarf", "-p", str(w.pid), "-o", os.path.join(out, "slow.data")],
                                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                    time.sleep(0.5)
                os.kill(w.pid, signal.SIGUSR1)
                res_line = w.stdout.readline().split()
                w.wait()
                if prof:
                    prof.send_signal(signal.SIGINT)
                    prof.wait()
                slow[m].append(int(res_line[1]) / 1e9)
        base = statistics.median(slow["none"])
        lines += ["", "## Slowdown of fixed work (target's CPU time, median of %d)" % (rounds + 2), "",
                  "| profiler | CPU s (median) | all | slowdown |", "|---|---|---|---|"]
        for m, v in slow.items():
            lines.append("| %s | %.3f | %s | %+.2f%% |" % (m, statistics.median(v), " ".join("%.3f" % x for x in v),
                                                          100 * (statistics.median(v) / base - 1)))
        text = "\n".join(lines) + "\n"
        print(text)
        with open(os.path.join(out_root, "bench", "unwind-results.md"), "w") as f:
            f.write(text)
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(timeout=20)


if __name__ == "__main__":
    main()
