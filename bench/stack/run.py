#!/usr/bin/env python3
"""bench/stack: deep stacks, before and after the stack copy follows the
stack (up to 64 KiB, bpf/cpu.bpf.c) instead of a fixed 16 KiB. One run,
ratios against the 'before' profd built from git in the same run.

Profilers (all at 99 Hz, DWARF unwinding, one window at a time, order
rotated each round):
  before     profd built from BEFORE (default 0ee9b40: fixed 16 KiB copy)
  after      this tree's profd (copy sized to the stack, <= 64 KiB)
  after-16k  this tree's profd --stack-bytes 16384 (same mechanism, the old
             limit: separates the copy's size from the way it is made)
Workloads (taskset CPU 1; profd on CPU 0):
  chain      nofp.c chain: shallow main-thread stack (~1 KiB used)
  threads    nofp.c threads: two threads, shallow stacks in thread mappings
  deep100    nofp.c deep100: 100 frames of 272 bytes (~27 KiB)
  python60   workloads/deep.py under /usr/bin/python3: 60 Python calls
             through map() (~250 native frames)
Measured per window: samples; whole stacks (outermost frame _start or
clone3/clone, no [truncated]); BPF program time per sample (the kernel's
bpf_stats: run_time_ns / run_cnt of profd's perf_event program, read from
/proc/PROFD/fdinfo; runs in the target's context); profd's own CPU per
sample and as % of a core (utime+stime over the window, draining,
unwinding, symbolizing and writing the profile).

usage: run.py OUTPUT [--rounds N] [--seconds S] [--before REV]
"""
import os, signal, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import pprofraw  # noqa: E402
sys.path.insert(0, os.path.dirname(HERE))
from benchlib import cpu_of, get, req  # noqa: E402,F401

HZ = 99
PERF_EVENT = 7  # BPF_PROG_TYPE_PERF_EVENT


def bpf_stats(pid):
    """(run_time_ns, run_cnt) summed over profd's perf_event programs."""
    seen, t, n = set(), 0, 0
    d = "/proc/%d/fdinfo" % pid
    for fd in os.listdir(d):
        try:
            with open(os.path.join(d, fd)) as f:
                kv = dict(l.split(":", 1) for l in f.read().splitlines() if ":" in l)
        except OSError:
            continue
        if kv.get("prog_type", "").strip() != str(PERF_EVENT):
            continue
        pid_ = kv.get("prog_id", "").strip()
        if pid_ in seen:
            continue
        seen.add(pid_)
        t += int(kv.get("run_time_ns", "0"))
        n += int(kv.get("run_cnt", "0"))
    return t, n


def build_before(rev, out):
    """profd of @rev, built once into out/before-REV (git archive + make)."""
    d = os.path.join(out, "before-%s" % rev)
    exe = os.path.join(d, "build", "profd")
    if os.path.exists(exe):
        return exe
    src = os.path.join(d, "src")
    os.makedirs(src, exist_ok=True)
    tar = subprocess.Popen(["git", "-C", ROOT, "archive", rev], stdout=subprocess.PIPE)
    subprocess.check_call(["tar", "-x", "-C", src], stdin=tar.stdout)
    if tar.wait():
        raise SystemExit("git archive %s failed" % rev)
    subprocess.check_call(["make", "-C", src, "-j2", "OUTPUT=" + os.path.join(d, "build"),
                           os.path.join(d, "build", "profd")], stdout=subprocess.DEVNULL)
    return exe


class Profd:
    def __init__(self, name, exe, args, out):
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="profd-stack-")
        self.sock = os.path.join(self.dir, "p.sock")
        self.log = open(os.path.join(out, "profd-%s.log" % name), "w")
        self.p = subprocess.Popen(["taskset", "-c", "0", exe, "--socket", self.sock] + args,
                                  stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(self.sock):
                return
            time.sleep(0.05)
        raise SystemExit("%s did not start (see its log)" % name)

    def window(self, pid, secs, path):
        c0, (t0, n0) = cpu_of(self.p.pid), bpf_stats(self.p.pid)
        st, body = get(self.sock, "/debug/pprof/profile?pid=%d&seconds=%d&hz=%d" % (pid, secs, HZ))
        c1, (t1, n1) = cpu_of(self.p.pid), bpf_stats(self.p.pid)
        if st != 200:
            raise SystemExit("%s: HTTP %d: %s" % (self.name, st, body[:300]))
        with open(path, "wb") as f:
            f.write(body)
        raw = subprocess.run(["go", "tool", "pprof", "-raw", path], capture_output=True, text=True,
                             check=True).stdout
        p = pprofraw.parse_raw(raw)
        total = sum(s.values[0] for s in p.samples)
        whole = sum(s.values[0] for s in p.samples
                    if s.functions() and s.functions()[-1] in ("_start", "__clone3", "__clone", "clone3", "clone")
                    and "[truncated]" not in s.functions())
        return dict(samples=total, whole=whole, cpu=c1 - c0, bpf_ns=t1 - t0, bpf_runs=n1 - n0)

    def stop(self):
        self.p.send_signal(signal.SIGTERM)
        self.p.wait(timeout=20)


def workload(kind, out, secs):
    nofp = os.path.join(out, "nofp")
    if kind == "python60":
        cmd = ["/usr/bin/python3", os.path.join(ROOT, "tests/e2e/workloads/deep.py"), str(secs), "60"]
    else:
        cmd = [nofp, str(secs), kind]
    w = subprocess.Popen(["taskset", "-c", "1"] + cmd, stdout=subprocess.PIPE)
    w.stdout.readline()
    return w


def main():
    a = sys.argv
    out_root = os.path.abspath(a[1] if len(a) > 1 and not a[1].startswith("-") else "build")
    rounds = int(a[a.index("--rounds") + 1]) if "--rounds" in a else 3
    secs = int(a[a.index("--seconds") + 1]) if "--seconds" in a else 5
    before = a[a.index("--before") + 1] if "--before" in a else "0ee9b40"
    out = os.path.join(out_root, "bench", "stack")
    os.makedirs(out, exist_ok=True)
    subprocess.check_call(["gcc", "-O2", "-g", "-fomit-frame-pointer", "-fno-optimize-sibling-calls", "-pthread",
                           os.path.join(ROOT, "tests/e2e/workloads/nofp.c"), "-o", os.path.join(out, "nofp")])
    old = build_before(before, out)
    with open("/proc/sys/kernel/bpf_stats_enabled") as f:
        stats_was = f.read().strip()
    with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
        f.write("1")
    modes = [("before", old, []), ("after", os.path.join(out_root, "profd"), []),
             ("after-16k", os.path.join(out_root, "profd"), ["--stack-bytes", "16384"])]
    daemons = {}
    res = {}
    kinds = ("chain", "threads", "deep100", "python60")
    try:
        for name, exe, args in modes:
            daemons[name] = Profd(name, exe, args, out)
        for r in range(rounds):
            for kind in kinds:
                w = workload(kind, out, secs * len(modes) + 30)
                try:
                    order = modes[r % len(modes):] + modes[:r % len(modes)]
                    for name, _, _ in order:
                        m = daemons[name].window(w.pid, secs, os.path.join(out, "%s-%s.pb.gz" % (kind, name)))
                        acc = res.setdefault((kind, name), dict(samples=0, whole=0, cpu=0, bpf_ns=0, bpf_runs=0))
                        for k, v in m.items():
                            acc[k] += v
                finally:
                    w.kill()
                    w.wait()
    finally:
        for d in daemons.values():
            d.stop()
        with open("/proc/sys/kernel/bpf_stats_enabled", "w") as f:
            f.write(stats_was)
    lines = ["## Deep stacks: before (%s, fixed 16 KiB) and after (sized to the stack, <= 64 KiB)" % before, "",
             "%d rounds of %d s windows per workload and profiler, %d Hz, DWARF unwinding." % (rounds, secs, HZ), "",
             "| workload | profd | samples | whole stacks | BPF µs/sample | × before | profd CPU µs/sample | × before"
             " | profd % of a core |",
             "|---|---|---|---|---|---|---|---|---|"]
    for kind in kinds:
        b = res[(kind, "before")]
        bb = b["bpf_ns"] / max(b["bpf_runs"], 1)
        bc = b["cpu"] / max(b["samples"], 1)
        for name, _, _ in modes:
            m = res[(kind, name)]
            per_bpf = m["bpf_ns"] / max(m["bpf_runs"], 1)
            per_cpu = m["cpu"] / max(m["samples"], 1)
            lines.append("| %s | %s | %d | %.1f%% | %.2f | %.2f | %.0f | %.2f | %.2f%% |" % (
                kind, name, m["samples"], 100.0 * m["whole"] / max(m["samples"], 1), per_bpf / 1000,
                per_bpf / bb if bb else 0, per_cpu * 1e6, per_cpu / bc if bc else 0,
                100.0 * m["cpu"] / (rounds * secs)))
    text = "\n".join(lines) + "\n"
    print(text)
    with open(os.path.join(out_root, "bench", "stack-results.md"), "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
