#!/usr/bin/env python3
"""Heap-tracking benchmark for profd (see bench/README.md).

Measures, in one run and as ratios (this machine is noisy):
  1. cost per malloc+free pair: untracked, profd at the default sampling,
     profd tracking every allocation, a bpftrace script doing equivalent
     tracking, and heaptrack (LD_PRELOAD);
  2. slowdown of realistic allocation-heavy programs (a perl script, and
     Debian's python3, sqlite3, gcc's cc1, xz, gzip, sort on generated
     inputs) while tracked at the default sampling and exactly, with each
     program's allocator call rate;
  3. memory: kernel memory per live-table entry, profd's RSS with a full
     live table.
usage: run.py OUTPUT [--rounds N]   (OUTPUT: the build directory with profd)
"""
import json, os, random, re, signal, statistics, subprocess, sys, tempfile, time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
from benchlib import req  # noqa: E402


def rss_kb(pid):
    out = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in ("VmRSS", "VmHWM"):
                out[k] = int(v.split()[0])
    return out


def start_alloc(binary, n, prefix=()):
    p = subprocess.Popen(list(prefix) + [binary, str(n)], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    seen = []
    while True:  # heaptrack prints its own banner first
        line = p.stdout.readline()
        seen.append(line)
        if line.strip() == "ready" or not line or len(seen) > 50:
            break
    assert line.strip() == "ready", seen
    return p


def finish_alloc(p):
    p.stdin.write("go\n")
    p.stdin.flush()
    out = p.stdout.read()
    p.wait()
    m = re.search(r"ns_per_pair ([0-9.]+)", out)
    return float(m.group(1))


# How each profd mode starts tracking (the query after pid=).
QUERY = {"profd-default": "", "profd-exact": "&sample_bytes=1",
         "profd-default-nosession": "", "profd-exact-nosession": "&sample_bytes=1",
         "profd-inproc": "&mode=inproc", "profd-inproc-exact": "&mode=inproc&sample_bytes=1"}


def case(mode, binary, socks, out):
    n = {"none": 5_000_000, "profd-default": 1_000_000,
         "profd-inproc": 5_000_000, "profd-inproc-exact": 1_000_000,
         "profd-exact": 1_000_000, "profd-default-nosession": 1_000_000,
         "profd-exact-nosession": 1_000_000, "bpftrace": 200_000,
         "heaptrack": 2_000_000}[mode]
    sock = socks[1] if mode.endswith("nosession") else socks[0]
    bt = None
    if mode == "heaptrack":
        p = start_alloc(binary, n, ["heaptrack", "-o", os.path.join(out, "ht")])
    else:
        p = start_alloc(binary, n)
    try:
        if mode in QUERY:
            st, body = req(sock, "POST", f"/v1/heap/start?pid={p.pid}{QUERY[mode]}")
            assert st == 200, body
        elif mode == "bpftrace":
            bt = subprocess.Popen(["bpftrace", os.path.join(HERE, "memleak.bt"), str(p.pid)],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            seen = []
            while True:
                line = bt.stdout.readline()
                seen.append(line)
                if "Attaching" in line or not line or len(seen) > 20:
                    break
            assert "Attaching" in line, seen
            time.sleep(2.0)  # probes attach after the banner
        ns = finish_alloc(p)
    finally:
        if p.poll() is None:
            p.kill()
        if bt:
            bt.send_signal(signal.SIGINT)
            try:
                bt.wait(timeout=20)
            except subprocess.TimeoutExpired:
                bt.kill()
        if mode.startswith("profd"):
            req(sock, "POST", f"/v1/heap/stop?pid={p.pid}")
    return ns


PERL = r'''
<STDIN>;
my @keep; my %h;
for my $i (1 .. 400_000) {
    my $s = "x" x (($i % 200) + 16);
    push @keep, [$s, $i];
    $h{$i % 5000} = { k => $s };
    shift @keep if @keep > 2000;
}
print "done\n";
'''


def perl_case(mode, sock):
    p = subprocess.Popen(["perl", "-e", PERL], stdin=subprocess.PIPE,
                         stdout=subprocess.PIPE, text=True)
    time.sleep(0.3)
    try:
        if mode != "none":
            st, body = req(sock, "POST", f"/v1/heap/start?pid={p.pid}{QUERY[mode]}")
            assert st == 200, body
        t0 = time.monotonic()
        p.stdin.write("go\n")
        p.stdin.flush()
        p.stdout.read()
        p.wait()
        return time.monotonic() - t0
    finally:
        if p.poll() is None:
            p.kill()


def perl_count(counter, out):
    """Allocator calls of one untracked perl run (count.so)."""
    f = os.path.join(out, "count.txt")
    p = subprocess.run(["perl", "-e", PERL], input="go\n", stdout=subprocess.DEVNULL, text=True,
                       env=dict(os.environ, LD_PRELOAD=counter, HEAPBENCH_COUNT=f))
    assert p.returncode == 0
    return read_count(f)


# Realistic programs from Debian on generated inputs, each sized to ~0.5-1 s
# untracked. The python3 workload, run by Debian's /usr/bin/python3 (not
# whichever python3 comes first in PATH):
PYWORK = r"""
import json
recs = [{"id": i, "name": "user%d" % i, "email": "user%d@example.com" % i,
         "tags": ["t%d" % (i % 7), "g%d" % (i % 13)], "score": i * 0.5,
         "active": i % 3 == 0} for i in range(100000)]
text = json.dumps(recs)
back = json.loads(text)
index = {}
for r in back:
    for t in r["tags"]:
        index.setdefault(t, []).append(r["id"])
words = {}
for r in back:
    for w in r["email"].split("@") + r["name"].split("r"):
        words[w] = words.get(w, 0) + 1
print(len(text), len(index), len(words))
"""

WORDS = ["alpha", "beta", "gamma", "delta", "error", "warn", "info", "request", "user",
         "session", "timeout", "db", "cache", "GET", "POST", "/api/v1/items", "/login",
         "200", "404", "500"]


def make_programs(out, out_root):
    """Write the inputs; return (name, workload, argv, stdin, fresh, reps):
    fresh is a file removed before each run, reps the runs timed together."""
    rnd = random.Random(42)
    text = os.path.join(out, "log.txt")  # 300k log-like lines, 16 MB
    with open(text, "w") as f:
        for _ in range(300_000):
            f.write("%08x %s %s %s %d %s\n" % (
                rnd.getrandbits(32), rnd.choice(WORDS), rnd.choice(WORDS), rnd.choice(WORDS),
                rnd.randint(0, 99999), " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 6)))))
    small = os.path.join(out, "log-2m.txt")
    with open(text, "rb") as f, open(small, "wb") as g:
        g.write(f.read(2_000_000))
    sql = os.path.join(out, "insert.sql")
    with open(sql, "w") as f:
        f.write("PRAGMA synchronous=OFF;\nPRAGMA journal_mode=MEMORY;\n"
                "CREATE TABLE t(id INTEGER PRIMARY KEY, name TEXT, tag TEXT, score REAL);\nBEGIN;\n")
        for i in range(100_000):
            f.write("INSERT INTO t(name,tag,score) VALUES('user%d','%s',%f);\n"
                    % (i, rnd.choice(WORDS), rnd.random() * 100))
        f.write("COMMIT;\nCREATE INDEX t_tag ON t(tag);\n"
                "SELECT tag, count(*), avg(score) FROM t GROUP BY tag ORDER BY 2 DESC LIMIT 3;\n")
    py = os.path.join(out, "work.py")
    with open(py, "w") as f:
        f.write(PYWORK)
    # gcc -O2 spends its time in cc1, a child: run cc1 itself on a repo file.
    src = os.path.join(out, "profctl.i")
    subprocess.check_call(["gcc", "-E", "-std=gnu11", "-D_GNU_SOURCE",
                           "-I" + os.path.join(HERE, "../../common"),
                           "-I" + os.path.join(out_root, "gen"),
                           os.path.join(HERE, "../../client/profctl.c"), "-o", src])
    cc1 = subprocess.check_output(["gcc", "-print-prog-name=cc1"], text=True).strip()
    python = "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else "python3"
    db = os.path.join(out, "t.db")
    return [
        ("python3", "JSON dumps+loads of 100k records, dict index", [python, py], None, None, 1),
        ("sqlite3", "100k INSERT statements in one transaction, an index, a GROUP BY",
         ["sqlite3", db], sql, db, 1),
        ("cc1", "gcc's compiler proper, -O2 -g, on client/profctl.c (20k lines preprocessed), ×3",
         [cc1, "-quiet", "-O2", "-g", src, "-o", "/dev/null"], None, None, 3),
        ("xz", "xz -6 of 2 MB of log text", ["xz", "-6", "-c", small], None, None, 1),
        ("gzip", "gzip -6 of 16 MB of log text", ["gzip", "-6", "-c", text], None, None, 1),
        ("sort", "sort of 16 MB (300k lines) of log text, ×3", ["sort", text], None, None, 3),
    ]


def prog_case(prog, mode, sock, pauser):
    """Seconds from SIGCONT to exit, summed over the program's reps. Each run
    stops itself before main (pause.so), gets tracked by PID, is continued."""
    name, _, argv, stdin, fresh, reps = prog
    total = 0.0
    for _ in range(reps):
        if fresh and os.path.exists(fresh):
            os.unlink(fresh)
        with open(stdin or os.devnull) as fin:
            p = subprocess.Popen(argv, stdin=fin, stdout=subprocess.DEVNULL,
                                 env=dict(os.environ, LD_PRELOAD=pauser))
        try:
            _, st = os.waitpid(p.pid, os.WUNTRACED)
            assert os.WIFSTOPPED(st), (name, st)
            if mode != "none":
                code, body = req(sock, "POST", f"/v1/heap/start?pid={p.pid}{QUERY[mode]}")
                assert code == 200, body
            t0 = time.monotonic()
            os.kill(p.pid, signal.SIGCONT)
            p.wait()
            total += time.monotonic() - t0
            assert p.returncode == 0, (name, p.returncode)
        finally:
            if p.poll() is None:
                p.kill()
                p.wait()
    return total


def read_count(path):
    with open(path) as f:
        w = f.read().split()
    os.unlink(path)
    return int(w[1]), int(w[3])


def prog_count(prog, counter, out):
    """Allocator calls (allocs, frees) of one untracked run, counted by an
    LD_PRELOAD interposer (count.so) at a few ns per call."""
    name, _, argv, stdin, fresh, _ = prog
    if fresh and os.path.exists(fresh):
        os.unlink(fresh)
    f = os.path.join(out, "count.txt")
    with open(stdin or os.devnull) as fin:
        p = subprocess.run(argv, stdin=fin, stdout=subprocess.DEVNULL,
                           env=dict(os.environ, LD_PRELOAD=counter, HEAPBENCH_COUNT=f))
    assert p.returncode == 0, (name, p.returncode)
    return read_count(f)


FILL = r'''
#include <stdio.h>
#include <stdlib.h>
int main(int argc, char **argv) {
    long n = atol(argv[1]), i; char l[8];
    void **v = malloc(n * sizeof(void *));
    setvbuf(stdout, NULL, _IONBF, 0);
    printf("ready\n"); if (!fgets(l, 8, stdin)) return 1;
    for (i = 0; i < n; i++) v[i] = malloc(32);
    printf("done\n"); fgets(l, 8, stdin); return 0;
}
'''


def main():
    out_root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else "build")
    rounds = 3
    if "--rounds" in sys.argv:
        rounds = int(sys.argv[sys.argv.index("--rounds") + 1])
    out = os.path.join(out_root, "bench", "heap")
    os.makedirs(out, exist_ok=True)
    binary = os.path.join(out, "alloc")
    subprocess.check_call(["gcc", "-O2", "-g", "-fno-omit-frame-pointer",
                           os.path.join(HERE, "alloc.c"), "-o", binary])
    fill_src = os.path.join(out, "fill.c")
    with open(fill_src, "w") as f:
        f.write(FILL)
    fill = os.path.join(out, "fill")
    subprocess.check_call(["gcc", "-O1", fill_src, "-o", fill])
    hooks = {}
    for h in ("pause", "count"):
        hooks[h] = os.path.join(out, h + ".so")
        subprocess.check_call(["gcc", "-O2", "-shared", "-fPIC", os.path.join(HERE, h + ".c"),
                               "-o", hooks[h]])
    programs = make_programs(out, out_root)

    tmp = tempfile.mkdtemp(prefix="profd-bench-")
    sock = os.path.join(tmp, "p.sock")
    sock2 = os.path.join(tmp, "nosession.sock")
    log = open(os.path.join(out, "profd.log"), "w")
    d = subprocess.Popen([os.path.join(out_root, "profd"), "--socket", sock],
                         stderr=log)
    # A second daemon with uprobe sessions off: uprobe + uretprobe pairs.
    d2 = subprocess.Popen([os.path.join(out_root, "profd"), "--socket", sock2],
                          stderr=log, env=dict(os.environ, PROFD_NO_UPROBE_SESSIONS="1"))
    socks = (sock, sock2)
    try:
        for _ in range(100):
            if os.path.exists(sock) and os.path.exists(sock2):
                break
            time.sleep(0.05)
        modes = ["none", "profd-default", "profd-exact", "profd-default-nosession",
                 "profd-exact-nosession", "profd-inproc", "profd-inproc-exact", "bpftrace", "heaptrack"]
        res = {m: [] for m in modes}
        for r in range(rounds):
            for m in modes:
                res[m].append(case(m, binary, socks, out))
        med = {m: statistics.median(v) for m, v in res.items()}
        base = med["none"]
        lines = ["## Cost per malloc+free pair (alloc.c, sizes 64..320)", "",
                 "| mode | ns/pair (median of %d) | all runs | added over untracked | vs bpftrace |" % rounds,
                 "|---|---|---|---|---|"]
        for m in modes:
            add = med[m] - base
            vs = (add / (med["bpftrace"] - base)) if m != "none" else 0
            lines.append("| %s | %.0f | %s | %s | %s |" % (
                m, med[m], " ".join("%.0f" % x for x in res[m]),
                "-" if m == "none" else "%.0f ns" % add,
                "-" if m == "none" else "%.2f×" % vs))

        pm = ["none", "profd-default", "profd-exact", "profd-inproc"]
        pres = {m: [] for m in pm}
        for r in range(rounds):
            for m in pm:
                pres[m].append(perl_case(m, sock))
        pmed = {m: statistics.median(v) for m, v in pres.items()}
        lines += ["", "## Slowdown of a perl script (400k hash/array inserts)", "",
                  "| mode | seconds (median) | all runs | slowdown |", "|---|---|---|---|"]
        for m in pm:
            lines.append("| %s | %.2f | %s | %.2f× |" % (
                m, pmed[m], " ".join("%.2f" % x for x in pres[m]), pmed[m] / pmed["none"]))

        # The Debian programs, interleaved round by round like the perl case.
        gres = {(g[0], m): [] for g in programs for m in pm}
        for r in range(rounds):
            for g in programs:
                for m in pm:
                    gres[(g[0], m)].append(prog_case(g, m, sock, hooks["pause"]))
        calls = {g[0]: prog_count(g, hooks["count"], out) for g in programs}
        calls["perl"] = perl_count(hooks["count"], out)
        rows = [("perl", "the script above (400k hash/array inserts)", pmed, pres, 1)]
        for g in programs:
            rows.append((g[0], g[1], {m: statistics.median(gres[(g[0], m)]) for m in pm},
                         {m: gres[(g[0], m)] for m in pm}, g[5]))
        rate = {r[0]: sum(calls[r[0]]) * r[4] / r[2]["none"] for r in rows}
        rows.sort(key=lambda r: -rate[r[0]])
        lines += ["", "## Slowdown of allocation-heavy programs (goal < 2× at the default sampling)", "",
                  "Seconds are medians of %d rounds (×N: N runs timed together); "
                  "slowdowns are ratios of medians from this run. Allocator calls are "
                  "counted in one untracked run (count.so), per second of untracked time." % rounds, "",
                  "| program | workload | untracked s | default s | slowdown | exact s | slowdown exact "
                  "| inproc s | slowdown inproc "
                  "| allocs/s | frees/s | added µs per call (default) | < 2× (uprobe, inproc) |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
        for name, what, med, allr, reps in rows:
            a, fr = calls[name]
            n = (a + fr) * reps
            sd = med["profd-default"] / med["none"]
            si = med["profd-inproc"] / med["none"]
            lines.append("| %s | %s | %.2f | %.2f | %.2f× | %.2f | %.2f× | %.2f | %.2f× | %s | %s | %s | %s, %s |" % (
                name, what, med["none"], med["profd-default"], sd, med["profd-exact"],
                med["profd-exact"] / med["none"], med["profd-inproc"], si,
                "{:,.0f}".format(a * reps / med["none"]),
                "{:,.0f}".format(fr * reps / med["none"]),
                "%.2f" % ((med["profd-default"] - med["none"]) * 1e6 / n) if n >= 100_000 else "-",
                "yes" if sd < 2 else "**no**", "yes" if si < 2 else "**no**"))
        lines += ["", "| program | untracked, all runs | default, all runs | exact, all runs | inproc, all runs "
                  "| allocs, frees per run |",
                  "|---|---|---|---|---|---|"]
        for name, what, med, allr, reps in rows:
            lines.append("| %s | %s | %s | %s | %s | %d, %d |" % (
                name, " ".join("%.2f" % x for x in allr["none"]),
                " ".join("%.2f" % x for x in allr["profd-default"]),
                " ".join("%.2f" % x for x in allr["profd-exact"]),
                " ".join("%.2f" % x for x in allr["profd-inproc"]), calls[name][0], calls[name][1]))

        # Memory: fill the live table (default 262144 entries) and pull.
        rss0 = rss_kb(d.pid)
        p = subprocess.Popen([fill, "400000"], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "ready"
        st, body = req(sock, "POST", f"/v1/heap/start?pid={p.pid}&sample_bytes=1")
        assert st == 200, body
        p.stdin.write("go\n")
        p.stdin.flush()
        p.stdout.readline()
        st, prof = req(sock, "GET", f"/debug/pprof/heap?pid={p.pid}")
        status = json.loads(req(sock, "GET", "/v1/status")[1])
        rss1 = rss_kb(d.pid)
        req(sock, "POST", f"/v1/heap/stop?pid={p.pid}")
        p.kill()
        p.wait()
        maps = subprocess.run(["bpftool", "-j", "map", "show"], capture_output=True, text=True)
        live = [m for m in json.loads(maps.stdout) if m.get("name") == "live"]
        per_entry = (live[-1]["bytes_memlock"] / live[-1]["max_entries"]) if live else 0
        lines += ["", "## Memory", "",
                  "- live table: %d entries max, %.0f bytes of kernel memory per entry (bpftool memlock / max_entries)"
                  % (live[-1]["max_entries"] if live else 0, per_entry),
                  "- a process with 400000 live blocks tracked exactly: table full, %d blocks reported dropped (status heap.dropped_live_full), snapshot %d bytes gzip"
                  % (status["heap"]["dropped_live_full"], len(prof)),
                  "- profd RSS before: %d KiB; after the full-table snapshot: %d KiB (peak %d KiB)"
                  % (rss0["VmRSS"], rss1["VmRSS"], rss1["VmHWM"])]
        text = "\n".join(lines) + "\n"
        print(text)
        with open(os.path.join(out, "heap-results.md"), "w") as f:
            f.write(text)
    finally:
        for x in (d, d2):
            x.send_signal(signal.SIGTERM)
            x.wait(timeout=10)
        log.close()


if __name__ == "__main__":
    main()
