#!/usr/bin/env python3
"""bench/continuous: what continuous mode costs (issue 13). One run; read
the ratios, not single numbers (the machine is shared).

Both cores busy with a mix of six binaries, each its own process: split
(C, -O1, frame pointers), nofp chain (C, -O2, no frame pointers), churn
(C++ -O2, STL), gohot (Go), deep.py (CPython 60 calls deep), sysloop (C,
system calls: kernel stacks). Then, one after the other, SECONDS each:

  profd-19-all  profd --continuous yes at 19 Hz, 10 s intervals (spooled,
             not pushed): every process of the machine, the mix's and
             whatever else runs (on a shared machine: others' builds, whose
             short-lived compilers are each captured and symbolized)
  profd-19   the same with --continuous-include cgroup:/profd-bench.slice:
             the mix alone (it and the fixed work below run in that cgroup;
             the machine's other processes are sampled and dropped)
  profd-99   profd-19 at 99 Hz
  profd-19-fp  profd-19 with --continuous-fp yes (frame pointers: no stack
             copies, no DWARF unwinding)
  base       nothing profiling (the workload slowdown's baseline)
  perf-19    perf record -a -g --call-graph dwarf -F 19 over the same time,
             then perf script (what it takes to get stacks out of it)
  procs-N    profd-19 (the cgroup too) with N copies of split (N = 10, 100, 500, at nice 19
             so that they do not starve profd) instead of the mix: how the
             cost grows with the number of processes

Measured after a 12 s warm-up (the first interval: every process captured,
its binaries' DWARF loaded; that CPU is reported apart): profd's CPU
(utime + stime of the whole daemon, as % of one core), its peak RSS (VmHWM: BPF ring buffer pages, symbol caches, every
tracked process's maps), samples, CPU µs per sample, intervals' bytes (the
gzip pprof of each service per interval, from the spool) and services per
interval; for perf, record's and script's CPU (rusage) and perf.data size.

Workload slowdown: during each measured window a fixed piece of work (a
CPython loop, ~0.3 s of CPU) runs again and again beside the mix; its CPU
time per run (rusage: what sampling interrupts and BPF cost it is charged
there), median over the window, against the same with nothing profiling
(base). CPU time, not wall time, so other users of a shared machine do not
count — cache sharing with them still adds noise (a few %).

usage: run.py OUTPUT [--seconds S]
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import test_cpu as cpu  # noqa: E402

SECONDS = 30
WARMUP = 12     # one 10 s interval closed first
CGROUP = None   # <cgroup2>/profd-bench.slice/mix.service, when there is one
INCLUDE = ("--continuous-include", "cgroup:/profd-bench.slice")


def setup_cgroup():
    global CGROUP
    with open("/proc/mounts") as f:
        for line in f:
            fl = line.split()
            if len(fl) > 2 and fl[2] == "cgroup2":
                CGROUP = os.path.join(fl[1], "profd-bench.slice", "mix.service")
                os.makedirs(CGROUP, exist_ok=True)
                return


def into_cgroup():
    """preexec_fn: the child joins the mix's cgroup."""
    if CGROUP:
        with open(os.path.join(CGROUP, "cgroup.procs"), "w") as f:
            f.write(str(os.getpid()))


def remove_cgroup():
    if CGROUP:
        for d in (CGROUP, os.path.dirname(CGROUP)):
            try:
                os.rmdir(d)
            except OSError:
                pass


def proc_cpu(pid):
    with open("/proc/%d/stat" % pid) as f:
        fl = f.read().rsplit(")", 1)[1].split()
    return (int(fl[11]) + int(fl[12])) / os.sysconf("SC_CLK_TCK")


def hwm_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0


def metric(text, name):
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


class Mix:
    def __init__(self, e2e, n_split=0):
        self.procs = []
        t = 3600
        if n_split:
            cmds = [[os.path.join(e2e, "split"), str(t)] for _ in range(n_split)]
        else:
            cmds = [[os.path.join(e2e, "split"), str(t)],
                    [os.path.join(e2e, "nofp"), str(t), "chain"],
                    [os.path.join(e2e, "churn"), str(t)],
                    [os.path.join(e2e, "gohot"), str(t)],
                    ["/usr/bin/python3", os.path.join(ROOT, "tests", "e2e", "workloads", "deep.py"), str(t)],
                    [os.path.join(e2e, "sysloop"), str(t)]]
        if n_split:
            # So many busy processes would starve profd (2 cores): they
            # run niced, as batch work does.
            cmds = [["nice", "-n", "19"] + c for c in cmds]
        # The copies share one session: with sched_autogroup each session
        # is a scheduling group of its own, and 500 sessions would leave
        # profd 1/501 of the CPU whatever the nice level.
        for c in cmds:
            self.procs.append(subprocess.Popen(c, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                               start_new_session=not n_split, preexec_fn=into_cgroup))
        self.group = not n_split
        time.sleep(1)

    def stop(self):
        for p in self.procs:
            try:
                if self.group:
                    os.killpg(p.pid, signal.SIGKILL)
                else:
                    p.kill()
            except ProcessLookupError:
                pass
        for p in self.procs:
            p.wait()


WORK = ["/usr/bin/python3", "-c", "x = 0\nfor i in range(3000000): x += i"]


class Work:
    """The fixed work, run in a loop from a thread: CPU seconds per run."""

    def __init__(self):
        import threading
        self.runs, self.stop_ev = [], threading.Event()
        self.th = threading.Thread(target=self.loop)
        self.th.start()

    def loop(self):
        while not self.stop_ev.is_set():
            p = subprocess.Popen(WORK, preexec_fn=into_cgroup)
            _, _, ru = os.wait4(p.pid, 0)
            self.runs.append(ru.ru_utime + ru.ru_stime)

    def stop(self):
        self.stop_ev.set()
        self.th.join()
        r = sorted(self.runs)
        return r[len(r) // 2] if r else 0.0


def run_base(seconds):
    w = Work()
    time.sleep(seconds)
    return {"name": "base", "work_s": w.stop()}


def run_profd(out, name, hz, seconds, mix, extra=()):
    tmp = tempfile.mkdtemp(prefix="profd-bench-cont-")
    spool = os.path.join(tmp, "spool")
    conf = os.path.join(tmp, "empty.conf")
    open(conf, "w").close()
    os.chmod(conf, 0o600)
    sock = os.path.join(tmp, "p.sock")
    log = open(os.path.join(tmp, "log"), "wb")
    p = subprocess.Popen([os.path.join(out, "profd"), "--socket", sock, "--config", conf,
                          "--continuous", "yes", "--continuous-hz", str(hz), "--continuous-interval", "10s",
                          "--spool-dir", spool] + list(extra), stdout=log, stderr=subprocess.STDOUT)
    try:
        for _ in range(100):
            if os.path.exists(sock):
                break
            time.sleep(0.1)
        # Warm-up: the first interval captures every process and loads
        # its binaries' DWARF (reported apart); then the steady state.
        w0 = time.monotonic()
        time.sleep(WARMUP)
        c0, t0 = proc_cpu(p.pid), time.monotonic()
        warm_s = c0
        m0 = cpu.http_get(sock, "/metrics").text()
        w = Work() if mix.group else None
        time.sleep(seconds)
        c1, t1 = proc_cpu(p.pid), time.monotonic()
        work_s = w.stop() if w else 0.0
        m1 = cpu.http_get(sock, "/metrics").text()
        hwm = hwm_mb(p.pid)
        samples = metric(m1, "profd_continuous_samples_total") - metric(m0, "profd_continuous_samples_total")
        intervals = metric(m1, "profd_continuous_intervals_closed_total")
        tracked = metric(m1, "profd_continuous_processes_tracked")
        sizes = [os.path.getsize(os.path.join(spool, f)) for f in os.listdir(spool) if f.endswith(".iv")]
        ends = {f.split("-")[0] for f in os.listdir(spool) if f.endswith(".iv")}
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(30)
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)
    cpu_s = c1 - c0
    per_iv = sum(sizes) / max(1, len(ends))
    return {"name": name, "cpu_pct": 100 * cpu_s / (t1 - t0), "hwm_mb": hwm, "samples": samples,
            "us_per_sample": 1e6 * cpu_s / samples if samples else 0, "cpu_s": cpu_s,
            "bytes_per_interval": per_iv, "services_per_interval": len(sizes) / max(1, len(ends)),
            "intervals": intervals, "tracked": tracked, "warm_s": warm_s, "warm_wall": t0 - w0,
            "work_s": work_s}


def run_perf(hz, seconds):
    tmp = tempfile.mkdtemp(prefix="perf-bench-cont-")
    data = os.path.join(tmp, "perf.data")
    try:
        t0 = time.monotonic()
        p = subprocess.Popen(["perf", "record", "-a", "-g", "--call-graph", "dwarf", "-F", str(hz),
                              "-o", data], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(seconds)
        p.send_signal(signal.SIGINT)
        _, _, ru = os.wait4(p.pid, 0)
        rec = ru.ru_utime + ru.ru_stime
        t1 = time.monotonic()
        size = os.path.getsize(data)
        s = subprocess.Popen(["perf", "script", "-i", data], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
        nsamples = 0
        for line in s.stdout:
            if line and not line[:1].isspace() and line.strip():
                nsamples += 1
        _, _, ru = os.wait4(s.pid, 0)
        script = ru.ru_utime + ru.ru_stime
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {"name": "perf-%d" % hz, "record_pct": 100 * rec / (t1 - t0), "record_s": rec,
            "script_s": script, "cpu_s": rec + script, "samples": nsamples, "data_mb": size / 2**20,
            "us_per_sample": 1e6 * (rec + script) / nsamples if nsamples else 0}


def main():
    global SECONDS
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    if "--seconds" in sys.argv:
        SECONDS = int(sys.argv[sys.argv.index("--seconds") + 1])
    e2e = os.path.join(out, "e2e")
    rows = []
    load0 = open("/proc/loadavg").read().strip()
    setup_cgroup()
    inc = INCLUDE if CGROUP else ()
    mix = Mix(e2e)
    try:
        base = run_base(SECONDS)
        rows.append(run_profd(out, "profd-19-all", 19, SECONDS, mix))
        rows.append(run_profd(out, "profd-19", 19, SECONDS, mix, inc))
        rows.append(run_profd(out, "profd-99", 99, SECONDS, mix, inc))
        rows.append(run_profd(out, "profd-19-fp", 19, SECONDS, mix, inc + ("--continuous-fp", "yes")))
        base2 = run_base(SECONDS)
        perf = run_perf(19, SECONDS)
    finally:
        mix.stop()
    try:
        for n in (10, 100, 500):
            mix = Mix(e2e, n_split=n)
            try:
                rows.append(run_profd(out, "procs-%d" % n, 19, max(12, SECONDS // 2), mix, inc))
            finally:
                mix.stop()
    finally:
        remove_cgroup()
    b = (base["work_s"] + base2["work_s"]) / 2
    print("| run | profd % of a core | peak RSS MB | samples | CPU µs/sample | bytes/interval | services/interval | tracked | warm-up CPU s | work CPU vs base |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print("| %s | %.2f%% | %.1f | %d | %.0f | %.0f | %.1f | %d | %.2f | %s |" % (
            r["name"], r["cpu_pct"], r["hwm_mb"], r["samples"], r["us_per_sample"],
            r["bytes_per_interval"], r["services_per_interval"], r["tracked"], r["warm_s"],
            "%+.1f%%" % (100 * (r["work_s"] / b - 1)) if r["work_s"] and b else "-"))
    print()
    print("work (fixed CPython loop) CPU per run with nothing profiling: %.3f s before, %.3f s after the profd runs"
          % (base["work_s"], base2["work_s"]))
    print()
    print("perf-19: record %.2f%% of a core (%.2f s), script %.2f s, %d samples, %.1f MB perf.data, "
          "%.0f µs/sample (record + script)" % (perf["record_pct"], perf["record_s"], perf["script_s"],
                                                 perf["samples"], perf["data_mb"], perf["us_per_sample"]))
    p19 = rows[1]
    print("profd-19 CPU / perf-19 CPU (record + script) over the same %d s: %.2f (profd-19-all: %.2f; perf"
          " records every process)" % (SECONDS, p19["cpu_s"] / perf["cpu_s"] if perf["cpu_s"] else 0,
                                       rows[0]["cpu_s"] / perf["cpu_s"] if perf["cpu_s"] else 0))
    print("load average at the start: %s; at the end: %s" % (load0, open("/proc/loadavg").read().strip()))


if __name__ == "__main__":
    main()
