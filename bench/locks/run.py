#!/usr/bin/env python3
"""bench/locks: what a heap snapshot costs everyone else, before and after
a change, in one run (see bench/README.md).

For each daemon ("before": the old tree built from git, "after": this one),
round by round, interleaved:
  1. while heap snapshots of a 1M-entry live table are built back to back,
     the latency of GET /v1/status (polled every 10 ms) and of a 1 s CPU
     window's end (answer time - 1 s);
  2. profd CPU per CPU sample (a 5 s window at 999 Hz on a busy process);
  3. profd CPU per sampled allocation (DWARF mode, sample_bytes=4096).
usage: run.py --before PROFD --after PROFD --bin DIR --out FILE [--rounds N]
"""
import argparse, json, os, statistics, subprocess, sys, tempfile, threading, time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from benchlib import cpu_of, req  # noqa: E402

N_LIVE = 1_000_000
N_IDLE = 300  # idle polls per round (the snapshot rounds give ~400-500)


def status(sock):
    st, body = req(sock, "GET", "/v1/status")
    assert st == 200, body
    return json.loads(body)


def start_profd(binary, tmp, name):
    sock = os.path.join(tmp, name + ".sock")
    log = open(os.path.join(tmp, name + ".log"), "w")
    p = subprocess.Popen([binary, "--socket", sock, "--heap-max-live", str(1 << 21)],
                         stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        if os.path.exists(sock):
            try:
                status(sock)
                return p, sock
            except OSError:
                pass
        time.sleep(0.05)
    p.kill()
    raise RuntimeError(f"{binary} did not start")


def start(binary, *args):
    return subprocess.Popen([binary, *args], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True)


def pct(v, q):
    v = sorted(v)
    return v[min(len(v) - 1, int(q * len(v)))] if v else float("nan")


def contention(sock, bindir):
    hold = start(os.path.join(bindir, "hold"), "hold", str(N_LIVE))
    spin = start(os.path.join(bindir, "hold"), "spin")
    try:
        assert hold.stdout.readline().strip() == "ready"
        st, body = req(sock, "POST", f"/v1/heap/start?pid={hold.pid}&sample_bytes=1&unwind=fp")
        assert st == 200, body
        hold.stdin.write("go\n")
        hold.stdin.flush()
        assert hold.stdout.readline().strip() == "held"
        idle = []  # the same polls with no snapshot under way: the floor
        for _ in range(N_IDLE):
            t = time.monotonic()
            status(sock)
            idle.append(time.monotonic() - t)
            time.sleep(0.01)
        stop = threading.Event()
        in_snap = threading.Event()
        snaps, stat_lat = [], []

        def snapshots():
            while not stop.is_set():
                in_snap.set()
                t = time.monotonic()
                st, body = req(sock, "GET", f"/debug/pprof/heap?pid={hold.pid}")
                snaps.append(time.monotonic() - t)
                in_snap.clear()
                assert st == 200, body[:200]

        def poll_status():
            while not stop.is_set():
                if in_snap.is_set():
                    t = time.monotonic()
                    status(sock)
                    if in_snap.is_set():
                        stat_lat.append(time.monotonic() - t)
                time.sleep(0.01)

        th = [threading.Thread(target=snapshots), threading.Thread(target=poll_status)]
        for t in th:
            t.start()
        while not snaps:
            time.sleep(0.05)  # the first snapshot is under way
        win = []
        for _ in range(6):
            t = time.monotonic()
            st, body = req(sock, "GET", f"/debug/pprof/profile?pid={spin.pid}&seconds=1")
            assert st == 200, body[:200]
            win.append(time.monotonic() - t - 1.0)
        stop.set()
        for t in th:
            t.join()
        # Stop tracking before the process goes: its 1M live entries are
        # purged now, not while the next measurement runs.
        req(sock, "POST", f"/v1/heap/stop?pid={hold.pid}")
        return {"snap_s": statistics.median(snaps), "status": stat_lat, "window": win,
                "idle": idle}
    finally:
        for p in (hold, spin):
            p.kill()
            p.wait()


def cpu_per_sample(pid_profd, sock, bindir):
    spin = start(os.path.join(bindir, "hold"), "spin")
    try:
        time.sleep(0.2)
        s0, c0 = status(sock)["samples_matched"], cpu_of(pid_profd)
        st, body = req(sock, "GET", f"/debug/pprof/profile?pid={spin.pid}&seconds=5&hz=999")
        assert st == 200, body[:200]
        s1, c1 = status(sock)["samples_matched"], cpu_of(pid_profd)
        return c1 - c0, s1 - s0
    finally:
        spin.kill()
        spin.wait()


def cpu_per_alloc(pid_profd, sock, bindir):
    a = start(os.path.join(bindir, "alloc"), "3000000")
    try:
        assert a.stdout.readline().strip() == "ready"
        st, body = req(sock, "POST", f"/v1/heap/start?pid={a.pid}&sample_bytes=4096")
        assert st == 200, body
        e0, c0 = status(sock)["heap"]["dwarf_stacks"], cpu_of(pid_profd)
        a.stdin.write("go\n")
        a.stdin.flush()
        a.stdout.readline()
        time.sleep(0.5)  # the reader's last drain
        e1, c1 = status(sock)["heap"]["dwarf_stacks"], cpu_of(pid_profd)
        req(sock, "POST", f"/v1/heap/stop?pid={a.pid}")
        return c1 - c0, e1 - e0
    finally:
        a.kill()
        a.wait()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--before", required=True)
    ap.add_argument("--after", required=True)
    ap.add_argument("--before-rev", default="before")
    ap.add_argument("--after-rev", default="after")
    ap.add_argument("--bin", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--rounds", type=int, default=2)
    o = ap.parse_args()
    res = {"before": [], "after": []}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(o.rounds):
            order = ["before", "after"] if rnd % 2 == 0 else ["after", "before"]
            for name in order:
                p, sock = start_profd(getattr(o, name), tmp, f"{name}{rnd}")
                try:
                    # Costs first, on a fresh daemon; then the contention.
                    cs, ns = cpu_per_sample(p.pid, sock, o.bin)
                    ca, na = cpu_per_alloc(p.pid, sock, o.bin)
                    r = contention(sock, o.bin)
                    r.update(cpu_sample=cs, nsamples=ns, cpu_alloc=ca, nallocs=na,
                             load=os.getloadavg()[0])
                    res[name].append(r)
                    print(f"round {rnd} {name}: snapshot {r['snap_s']:.2f} s, status max "
                          f"{max(r['status'] or [0]) * 1e3:.1f} ms (idle max "
                          f"{max(r['idle']) * 1e3:.1f} ms), window end max "
                          f"{max(r['window']) * 1e3:.1f} ms; {cs:.2f} s CPU / {ns} samples, "
                          f"{ca:.2f} s CPU / {na} sampled allocations; load {r['load']:.1f}",
                          flush=True)
                finally:
                    p.terminate()
                    p.wait()

    def agg(name):
        rs = res[name]
        st = [x for r in rs for x in r["status"]]
        idle = [x for r in rs for x in r["idle"]]
        win = [x for r in rs for x in r["window"]]
        return {
            "snap": statistics.median(r["snap_s"] for r in rs),
            "st50": pct(st, 0.5) * 1e3, "st99": pct(st, 0.99) * 1e3,
            "stmax": max(st or [float("nan")]) * 1e3, "nst": len(st),
            "w50": pct(win, 0.5) * 1e3, "wmax": max(win) * 1e3,
            "i50": pct(idle, 0.5) * 1e3, "i90": pct(idle, 0.9) * 1e3,
            "i99": pct(idle, 0.99) * 1e3, "imax": max(idle) * 1e3,
            "st90": pct(st, 0.9) * 1e3,
            # During snapshots / the same daemons' idle polls: what a
            # snapshot adds, with the machine's own noise divided out.
            "r50": pct(st, 0.5) / pct(idle, 0.5), "r90": pct(st, 0.9) / pct(idle, 0.9),
            "r99": pct(st, 0.99) / pct(idle, 0.99),
            # Sums over the rounds: ticks are 10 ms.
            "cs": sum(r["cpu_sample"] for r in rs) / max(1, sum(r["nsamples"] for r in rs)) * 1e6,
            "ca": sum(r["cpu_alloc"] for r in rs) / max(1, sum(r["nallocs"] for r in rs)) * 1e6,
            "ns": sum(r["nsamples"] for r in rs), "na": sum(r["nallocs"] for r in rs),
        }
    b, a = agg("before"), agg("after")

    def row(label, key, fmt="{:.1f}"):
        ratio = a[key] / b[key] if b[key] else float("nan")
        return f"| {label} | {fmt.format(b[key])} | {fmt.format(a[key])} | {ratio:.2f} |"

    lines = [
        f"# bench/locks: before {o.before_rev}, after {o.after_rev}, {o.rounds} rounds (interleaved)",
        "",
        f"While heap snapshots of a {N_LIVE // 1000}k-entry live table (unwind=fp, "
        "64 stacks) are built back to back:",
        "",
        "| measure | before | after | after/before |",
        "|---|---|---|---|",
        row("snapshot time, median (s)", "snap", "{:.2f}"),
        row("/v1/status latency, no snapshot: p50 (ms)", "i50"),
        row("/v1/status latency, no snapshot: p90 (ms)", "i90"),
        row("/v1/status latency, no snapshot: p99 (ms)", "i99"),
        row("/v1/status latency, no snapshot: max (ms)", "imax"),
        row("/v1/status latency p50 (ms)", "st50"),
        row("/v1/status latency p90 (ms)", "st90"),
        row("/v1/status latency p99 (ms)", "st99"),
        row("/v1/status latency max (ms)", "stmax"),
        row("status during snapshots / idle, p50 (x)", "r50", "{:.2f}"),
        row("status during snapshots / idle, p90 (x)", "r90", "{:.2f}"),
        row("status during snapshots / idle, p99 (x)", "r99", "{:.2f}"),
        row("1 s CPU window: answer - 1 s, p50 (ms)", "w50"),
        row("1 s CPU window: answer - 1 s, max (ms)", "wmax"),
        row("profd CPU per CPU sample (us)", "cs", "{:.2f}"),
        row("profd CPU per sampled allocation (us)", "ca", "{:.2f}"),
        "",
        f"status polls during snapshots: before {b['nst']}, after {a['nst']}; "
        f"CPU samples: before {b['ns']}, after {a['ns']}; sampled allocations: "
        f"before {b['na']}, after {a['na']}. CPU from /proc/PID/stat (10 ms ticks). "
        "Load average (1 min) at each round's end: before "
        + ", ".join(f"{r['load']:.1f}" for r in res["before"]) + "; after "
        + ", ".join(f"{r['load']:.1f}" for r in res["after"]) + ".",
    ]
    with open(o.out, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
