#!/usr/bin/env python3
"""bench/symbols: what debug info fetched from debuginfod costs profd.

  1. symbolization cost and RSS with DWARF for libc, libm, libresolv and
     ld.so (libc6-dbg's files, served by Debian's debuginfod on loopback)
     against the same profd without it (their .dynsym only): profd CPU per
     window, window end -> answer, distinct locations, RSS; modes
     interleaved, ratios from the same run;
  2. 200 distinct shared libraries in one process, their DWARF fetched from
     the server, with small bounds (--symbol-cache-mb, --debuginfod-cache-mb):
     the bounds hold (cache bytes, on-disk bytes, RSS).

profd runs in a mount namespace with an empty /usr/lib/debug, so a
libc6-dbg installed on the machine does not count.
usage: run.py OUTPUT [--rounds N] [--seconds S]
"""
import argparse, glob, json, os, re, shutil, socket, statistics, subprocess, sys, time
import http.client

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(ROOT, "tests", "e2e"))
import pprofraw  # noqa: E402

HIDE_DEBUG = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
              "mount -t tmpfs -o mode=0755 profd-bench /usr/lib/debug && exec \"$@\"", "sh"]
HZ = 499
LIBS = ("libc.so.6", "libm.so.6", "libresolv.so.2", "ld-linux-x86-64.so.2")


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout=300):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def get(sock, url):
    c = UnixConn(sock)
    c.request("GET", url)
    r = c.getresponse()
    b = r.read()
    c.close()
    return r.status, b


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    return subprocess.run(cmd, **kw)


def cpu_of(pid):
    with open("/proc/%d/stat" % pid) as f:
        fl = f.read().rsplit(")", 1)[1].split()
    return (int(fl[11]) + int(fl[12])) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid):
    with open("/proc/%d/status" % pid) as f:
        m = re.search(r"VmRSS:\s+(\d+) kB", f.read())
    return int(m.group(1)) / 1024


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


class Profd:
    def __init__(self, out, name, *args):
        self.sock = os.path.join(out, name + ".sock")
        if os.path.exists(self.sock):
            os.unlink(self.sock)
        self.log = open(os.path.join(out, name + ".log"), "ab")
        self.proc = subprocess.Popen(HIDE_DEBUG + [os.path.join(OUTPUT, "profd"), "--socket", self.sock] + list(args),
                                     stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        for _ in range(200):
            if os.path.exists(self.sock):
                break
            time.sleep(0.05)
        time.sleep(0.2)
        self.pid = self.proc.pid  # unshare and sh exec profd: one process

    def status(self):
        st, b = get(self.sock, "/v1/status")
        assert st == 200, b
        return json.loads(b)

    def window(self, pid, seconds, path):
        c0 = cpu_of(self.pid)
        t0 = time.monotonic()
        st, body = get(self.sock, "/debug/pprof/profile?pid=%d&seconds=%d&hz=%d" % (pid, seconds, HZ))
        el = time.monotonic() - t0
        c1 = cpu_of(self.pid)
        assert st == 200, body
        with open(path, "wb") as f:
            f.write(body)
        raw = run(["go", "tool", "pprof", "-symbolize=none", "-raw", path], check=True).stdout
        return pprofraw.parse_raw(raw), el - seconds, c1 - c0

    def stop(self):
        os.killpg(self.proc.pid, 15)
        self.proc.wait(20)
        self.log.close()


def wait_fetched(d, n, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        st = d.status()["debuginfod"]
        if st["fetched"] + st["cache_hits"] >= n and not st["queued"] and not st["in_flight"]:
            return st
        time.sleep(0.2)
    return d.status()["debuginfod"]


def libc_dbg(work):
    """libc6-dbg extracted under work/srv; False when it cannot be had."""
    debs = os.path.join(work, "debs")
    os.makedirs(debs, exist_ok=True)
    ver = run(["dpkg-query", "-W", "-f=${Version}", "libc6"]).stdout.strip()
    have = glob.glob(os.path.join(debs, "libc6-dbg_*.deb"))
    if not have:
        run(["apt-get", "download", "libc6-dbg=%s" % ver], cwd=debs)
        have = glob.glob(os.path.join(debs, "libc6-dbg_*.deb"))
    if not have:
        return False
    return run(["dpkg", "-x", have[0], os.path.join(work, "srv", "libc6-dbg")]).returncode == 0


def build(work, nlibs):
    cc = os.environ.get("CC", "gcc")
    run([cc, "-O2", "-o", os.path.join(work, "symwork"), os.path.join(HERE, "symwork.c"), "-lm", "-lresolv"], check=True)
    run([cc, "-O2", "-o", os.path.join(work, "loader"), os.path.join(HERE, "loader.c"), "-ldl"], check=True)
    libs = os.path.join(work, "libs")
    os.makedirs(libs, exist_ok=True)
    os.makedirs(os.path.join(work, "srv", "libs"), exist_ok=True)
    obj = os.path.join(work, "lib.o")
    run([cc, "-O1", "-g", "-fPIC", "-c", "-o", obj, os.path.join(HERE, "lib.c")], check=True)
    for i in range(nlibs):
        so = os.path.join(libs, "lib%d.so" % i)
        run([cc, "-shared", "-o", so, obj, "-Wl,--build-id=0x%040x" % (0xb0000 + i)], check=True)
        run(["objcopy", "--only-keep-debug", so, os.path.join(work, "srv", "libs", "lib%d.dbg" % i)], check=True)
        run(["strip", "--strip-all", so], check=True)


def spawn_wait(cmd, line):
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, start_new_session=True)
    assert p.stdout.readline().decode().strip() == line
    return p


def lib_locations(prof, names):
    return sum(1 for loc in prof.locations.values()
               if prof.mapping_of(loc) and os.path.basename(prof.mapping_of(loc).file) in names)


def named_file_share(prof, names):
    tot = hit = 0
    for s in prof.samples:
        locs = s.locations()
        if not locs:
            continue
        m = prof.mapping_of(locs[0])
        if not m or os.path.basename(m.file) not in names:
            continue
        tot += s.values[0]
        hit += s.values[0] if any(ln.file for ln in locs[0].lines) else 0
    return hit / tot if tot else 0


def main():
    global OUTPUT
    ap = argparse.ArgumentParser()
    ap.add_argument("output")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--seconds", type=int, default=4)
    ap.add_argument("--libs", type=int, default=200)
    a = ap.parse_args()
    OUTPUT = os.path.abspath(a.output)
    out_root = os.path.join(OUTPUT, "bench")
    work = os.path.join(out_root, "symbols")
    shutil.rmtree(os.path.join(work, "srv"), ignore_errors=True)
    os.makedirs(work, exist_ok=True)
    build(work, a.libs)
    if not libc_dbg(work):
        sys.exit("bench/symbols: libc6-dbg could not be downloaded (apt-get download libc6-dbg)")
    port = free_port()
    url = "http://127.0.0.1:%d" % port
    srv_log = open(os.path.join(work, "debuginfod-server.log"), "wb")
    db = os.path.join(work, "debuginfod.sqlite")
    for f in glob.glob(db + "*"):
        os.unlink(f)
    server = subprocess.Popen(["debuginfod", "-F", os.path.join(work, "srv"), "-p", str(port), "-d", db],
                              stdout=srv_log, stderr=subprocess.STDOUT, start_new_session=True)
    procs = []
    try:
        libc_id = re.search(r"Build ID: (\w+)", run(["readelf", "-n", "/lib/x86_64-linux-gnu/libc.so.6"]).stdout).group(1)
        deadline = time.monotonic() + 300
        while run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                   "%s/buildid/%s/debuginfo" % (url, libc_id)]).stdout != "200":
            assert time.monotonic() < deadline, "debuginfod did not index libc6-dbg in 300 s"
            time.sleep(1)
        # The 200 libraries too (the last one indexed is enough).
        last = "%040x" % (0xb0000 + a.libs - 1)
        while run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                   "%s/buildid/%s/debuginfo" % (url, last)]).stdout != "200":
            assert time.monotonic() < deadline, "debuginfod did not index the libraries in 300 s"
            time.sleep(1)

        # 1. the four libraries, with and without their DWARF.
        w = spawn_wait([os.path.join(work, "symwork")], "symwork ready")
        procs.append(w)
        cache = os.path.join(work, "cache-1")
        shutil.rmtree(cache, ignore_errors=True)
        warm = Profd(work, "warm", "--debuginfod-urls", url, "--debuginfod-cache", cache)
        warm.window(w.pid, 1, os.path.join(work, "warm.pb.gz"))
        st = wait_fetched(warm, 4)
        warm.stop()
        rows = {"plain": [], "debuginfod": []}
        for rnd in range(a.rounds):
            order = ["plain", "debuginfod"] if rnd % 2 == 0 else ["debuginfod", "plain"]
            for mode in order:
                args = ["--debuginfod-urls", url, "--debuginfod-cache", cache] if mode == "debuginfod" else []
                d = Profd(work, mode, *args)
                try:
                    first = d.window(w.pid, a.seconds, os.path.join(work, "%s-first.pb.gz" % mode))
                    second = d.window(w.pid, a.seconds, os.path.join(work, "%s-%d.pb.gz" % (mode, rnd)))
                    s = d.status()
                    rows[mode].append({
                        "first_latency": first[1], "latency": second[1], "cpu": second[2],
                        "first_cpu": first[2],
                        "locs": lib_locations(second[0], LIBS), "fileline": named_file_share(second[0], LIBS),
                        "rss": rss_mb(d.pid), "sym_bytes": s["symbolizer"]["bytes_estimate"],
                        "fetched": s["debuginfod"].get("fetched", 0)})
                finally:
                    d.stop()
        os.killpg(w.pid, 9)
        w.wait()

        # 2. 200 distinct libraries, small bounds.
        cache2 = os.path.join(work, "cache-2")
        shutil.rmtree(cache2, ignore_errors=True)
        ld = spawn_wait([os.path.join(work, "loader"), os.path.join(work, "libs"), str(a.libs)], "loader ready")
        procs.append(ld)
        d = Profd(work, "many", "--debuginfod-urls", url, "--debuginfod-cache", cache2,
                  "--symbol-cache-mb", "8", "--debuginfod-cache-mb", "1", "--debuginfod-fetches", "2")
        many = []
        try:
            for i in range(4):
                p, lat, cpu = d.window(ld.pid, a.seconds, os.path.join(work, "many-%d.pb.gz" % i))
                libs = {os.path.basename(m.file) for m in p.mappings.values() if m.file.startswith(os.path.join(work, "libs"))}
                names = sum(s.values[0] for s in p.samples if s.locations() and s.locations()[0].lines
                            and s.locations()[0].lines[0].function == "spin_inner")
                tot = sum(s.values[0] for s in p.samples)
                s = d.status()
                du = sum(os.path.getsize(f) for f in glob.glob(os.path.join(cache2, "*.debug")))
                many.append({"libs": len(libs), "named": names / tot if tot else 0, "latency": lat, "cpu": cpu,
                             "rss": rss_mb(d.pid), "sym": s["symbolizer"], "dbg": s["debuginfod"], "du": du})
                time.sleep(2)
            os.killpg(ld.pid, 9)
            ld.wait()
            time.sleep(1)
            after = d.status()
            after_rss = rss_mb(d.pid)
        finally:
            d.stop()
    finally:
        for p in procs:
            try:
                os.killpg(p.pid, 9)
            except OSError:
                pass
        os.killpg(server.pid, 15)
        server.wait(20)

    med = lambda mode, k: statistics.median(r[k] for r in rows[mode])
    ratio = lambda k: med("debuginfod", k) / med("plain", k) if med("plain", k) else float("nan")
    lines = []
    lines.append("# bench/symbols results\n")
    lines.append("commit %s, %s, %d rounds of 2 x %d s windows at %d Hz per mode (median)\n"
                 % (run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"]).stdout.strip(),
                    time.strftime("%Y-%m-%d %H:%M"), a.rounds, a.seconds, HZ))
    lines.append("## 1. libc, libm, libresolv, ld.so: DWARF from debuginfod's cache vs .dynsym only\n")
    lines.append("| | without DWARF | with DWARF | ratio |")
    lines.append("|---|---|---|---|")
    for k, label, fmt in (("locs", "distinct locations in the four libraries", "%.0f"),
                          ("fileline", "their leaf samples with file:line", "%.2f"),
                          ("first_latency", "first window: end -> answer (s, loads DWARF)", "%.3f"),
                          ("first_cpu", "first window: profd CPU (s)", "%.3f"),
                          ("latency", "second window: end -> answer (s)", "%.3f"),
                          ("cpu", "second window: profd CPU (s)", "%.3f"),
                          ("sym_bytes", "symbolizer cache estimate (bytes)", "%.0f"),
                          ("rss", "profd RSS after (MB)", "%.1f")):
        lines.append("| %s | %s | %s | %.2f |" % (label, fmt % med("plain", k), fmt % med("debuginfod", k), ratio(k)))
    lines.append("\nwarm-up fetch: %s\n" % json.dumps(st))
    lines.append("## 2. %d distinct libraries, --symbol-cache-mb 8, --debuginfod-cache-mb 1\n" % a.libs)
    lines.append("| window | libraries in profile | leaf named spin_inner | end -> answer (s) | profd CPU (s) | RSS (MB) | sym binaries | sym bytes / max | sym evictions | fetched | on disk / max (bytes) | disk evictions |")
    lines.append("|---|---|---|---|---|---|---|---|---|---|---|---|")
    for i, m in enumerate(many):
        lines.append("| %d | %d | %.2f | %.3f | %.3f | %.1f | %d | %d / %d | %d | %d | %d / %d | %d |" % (
            i + 1, m["libs"], m["named"], m["latency"], m["cpu"], m["rss"], m["sym"]["binaries"],
            m["sym"]["bytes_estimate"], m["sym"]["bytes_max"], m["sym"]["evictions"], m["dbg"]["fetched"],
            m["du"], m["dbg"]["cache_max_bytes"], m["dbg"]["cache_evictions"]))
    lines.append("\nafter the process exited: symbolizer %d binaries, %d / %d bytes; RSS %.1f MB; debuginfod %s"
                 % (after["symbolizer"]["binaries"], after["symbolizer"]["bytes_estimate"],
                    after["symbolizer"]["bytes_max"], after_rss, json.dumps(after["debuginfod"])))
    text = "\n".join(lines) + "\n"
    with open(os.path.join(out_root, "symbols-results.md"), "w") as f:
        f.write(text)
    print(text)


if __name__ == "__main__":
    main()
