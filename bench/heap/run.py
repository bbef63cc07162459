#!/usr/bin/env python3
"""Heap-tracking benchmark for profd (see bench/README.md).

Measures, in one run and as ratios (this machine is noisy):
  1. cost per malloc+free pair: untracked, profd at the default sampling,
     profd tracking every allocation, a bpftrace script doing equivalent
     tracking, and heaptrack (LD_PRELOAD);
  2. slowdown of a realistic allocation-heavy program (a perl script) while
     tracked at the default sampling and exactly;
  3. memory: kernel memory per live-table entry, profd's RSS with a full
     live table.
usage: run.py OUTPUT [--rounds N]
"""
import json, os, re, signal, socket, statistics, subprocess, sys, tempfile, time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout=120):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def req(sock, method, url):
    c = UnixConn(sock)
    c.request(method, url)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


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


def case(mode, binary, socks, out):
    n = {"none": 5_000_000, "profd-default": 1_000_000,
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
        if mode.startswith("profd-default"):
            st, body = req(sock, "POST", f"/v1/heap/start?pid={p.pid}")
            assert st == 200, body
        elif mode.startswith("profd-exact"):
            st, body = req(sock, "POST", f"/v1/heap/start?pid={p.pid}&sample_bytes=1")
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
            q = "" if mode == "profd-default" else "&sample_bytes=1"
            st, body = req(sock, "POST", f"/v1/heap/start?pid={p.pid}{q}")
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
                 "profd-exact-nosession", "bpftrace", "heaptrack"]
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

        pm = ["none", "profd-default", "profd-exact"]
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
