#!/usr/bin/env python3
"""End-to-end tests of names profd gets from elsewhere than the binary
(run through run_all.py, which configures test_cpu's globals):

- debuginfod: a real server (Debian's `debuginfod`) on a loopback port,
  serving libc6-dbg's files (`apt-get download`, `dpkg -x` to a directory
  profd never looks at) and the debug file of `libcwork`, a stripped
  workload that spends its time in libc (qsort with a comparator, memcpy).
  profd runs in a mount namespace of its own with an empty tmpfs over
  /usr/lib/debug, so a libc6-dbg installed on the machine does not count.
  Before: no names in libcwork, no file:line in libc. After the fetch:
  names and file:line as binutils' addr2line reads them from the served
  debug files; a second profile and a restarted profd fetch nothing again;
  a server that never answers or is down: the profile comes at once,
  without those names, and its comments say so.
- JIT code: Node.js (Debian's nodejs) with --perf-basic-prof running a hot
  JavaScript function 3:1 against another: both named from the perf map,
  in that ratio; `jitwl`, machine code in anonymous memory described by a
  jitdump file it writes (the published format) and maps: its functions
  named, in their 3:1:1 work ratio, the undescribed one `[jit]`; the same
  named by a perf map it removes as it exits mid-window (and node exiting
  mid-window): names read while it ran; code replaced at one address
  between two phases (perf map line, jitdump record): each phase's
  samples named as the code was then, in the phases' time ratio.
- debuginfod over HTTPS (python3's http.server in TLS, a CA made by the
  test and given to profd in CURL_CA_BUNDLE): names fetched; a server
  with a self-signed certificate, or one for another name, is refused.
- Attacks (the target as nobody): /tmp/perf-PID.map a symbolic link to a
  file only root may read, or a regular file owned by another user: its
  names never reach the profile.
"""
import functools
import glob
import http.server
import os
import re
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cpu  # noqa: E402
from test_cpu import NOBODY, Daemon, ProfdTest, Workload, fetch, go_env, spawn, kill  # noqa: E402
from test_truth import addr2line, link_address, load_segments  # noqa: E402

HZ = 199
LIBC = "/usr/lib/x86_64-linux-gnu/libc.so.6"


def e2e(name):
    return os.path.join(test_cpu.E2E, name)


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 300)
    return subprocess.run(cmd, **kw)


def build_id(path):
    m = re.search(r"Build ID: ([0-9a-f]+)", run(["readelf", "-n", path]).stdout)
    return m.group(1) if m else None


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


# profd with an empty /usr/lib/debug: only debuginfod can give libc's DWARF.
HIDE_DEBUG = ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c",
              "mount -t tmpfs -o mode=0755 profd-e2e /usr/lib/debug && exec \"$@\"", "sh"]


def comments(prof):
    r = run(["go", "tool", "pprof", "-comments", prof.path], env=go_env())
    return r.stdout


def frames_in(prof, path):
    """[(location, link-time address)] of the locations in mapping @path."""
    segs = load_segments(path)
    out = []
    for loc in prof.raw.locations.values():
        m = prof.raw.mapping_of(loc)
        # profd under HIDE_DEBUG has a mount namespace of its own: where
        # the tests run in a chroot (tests/fresh), the kernel shows it the
        # target's files by their path from the host's root, which ends
        # with the path the chroot sees.
        if m and (m.file == path or m.file.endswith(path)):
            out.append((loc, link_address(loc, m, segs)))
    return out


class BlackHole:
    """A TCP server that accepts connections and never answers."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        self.conns = []
        self.t = threading.Thread(target=self._accept, daemon=True)
        self.t.start()

    def _accept(self):
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.sock.close()
        for c in self.conns:
            c.close()


class Debuginfod(unittest.TestCase):
    server = None
    libc_reason = None  # why libc's part cannot run here, if it cannot

    @classmethod
    def setUpClass(cls):
        for tool in ("debuginfod", "unshare", "addr2line"):
            if not shutil.which(tool):
                raise unittest.SkipTest("%s is not installed (make deps)" % tool)
        os.environ.pop("DEBUGINFOD_URLS", None)
        cls.bin = e2e("libcwork")
        cls.bin_dbg = e2e("debuginfod-files/libcwork.dbg")
        cls.bin_id = build_id(cls.bin)
        cls.libc_id = build_id(LIBC)
        cls.srv = e2e("debuginfod-srv")
        shutil.rmtree(cls.srv, ignore_errors=True)
        os.makedirs(cls.srv)
        for f in glob.glob(e2e("debuginfod-files/*")):
            shutil.copy(f, cls.srv)
        cls.libc_dbg = cls.extract_libc_dbg()
        cls.port = free_port()
        cls.url = "http://127.0.0.1:%d" % cls.port
        cls.srv_log_path = os.path.join(test_cpu.ART, "debuginfod-server.log")
        cls.srv_log = open(cls.srv_log_path, "wb")
        db = e2e("debuginfod.sqlite")
        for f in glob.glob(db + "*"):
            os.unlink(f)
        cls.server = spawn(["debuginfod", "-F", cls.srv, "-p", str(cls.port), "-d", db, "-v"],
                           stdout=cls.srv_log, stderr=subprocess.STDOUT)
        cls.alt_id = build_id(e2e("debuginfod-files/libcwork.dwz"))
        # Every file a test asks for, indexed before any test runs: a
        # profd that asks too early gets a 404 and does not ask again
        # for minutes. (libc's, when it is served, takes the longest, and
        # hid this for the others.)
        want = ([cls.bin_id, cls.alt_id, build_id(e2e("libcwork2"))] +
                ([cls.libc_id] if cls.libc_dbg else []))
        deadline = time.monotonic() + 240
        for bid in want:
            while True:
                r = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                         "%s/buildid/%s/debuginfo" % (cls.url, bid)], timeout=60)
                if r.stdout == "200":
                    break
                if time.monotonic() > deadline or cls.server.poll() is not None:
                    cls.tearDownClass()
                    raise AssertionError("debuginfod did not serve %s within 240 s (log %s)"
                                         % (bid, cls.srv_log_path))
                time.sleep(0.5)
        cls.server_hits0 = cls.server_hits(cls.bin_id)

    @classmethod
    def extract_libc_dbg(cls):
        """libc6-dbg's files under the server's directory; the path of
        libc's debug file there, or None (cls.libc_reason says why)."""
        debs = e2e("debs")
        os.makedirs(debs, exist_ok=True)
        ver = run(["dpkg-query", "-W", "-f=${Version}", "libc6"]).stdout.strip()
        have = glob.glob(os.path.join(debs, "libc6-dbg_%s_*.deb" % ver.replace(":", "%3a")))
        if not have:
            r = run(["apt-get", "download", "libc6-dbg=%s" % ver], cwd=debs, timeout=300)
            have = glob.glob(os.path.join(debs, "libc6-dbg_*.deb"))
            if r.returncode != 0 or not have:
                cls.libc_reason = "apt-get download libc6-dbg=%s failed: %s" % (ver, r.stderr.strip()[-300:])
                return None
        root = os.path.join(cls.srv, "libc6-dbg")
        r = run(["dpkg", "-x", have[0], root])
        if r.returncode != 0:
            cls.libc_reason = "dpkg -x %s: %s" % (have[0], r.stderr)
            return None
        path = os.path.join(root, "usr/lib/debug/.build-id", cls.libc_id[:2], cls.libc_id[2:] + ".debug")
        if not os.path.exists(path):
            cls.libc_reason = "libc6-dbg %s has no debug file for libc's build-id %s" % (ver, cls.libc_id)
            return None
        return path

    @classmethod
    def server_hits(cls, bid=None):
        """Requests for debug info the server logged (for @bid only)."""
        cls.srv_log.flush()
        with open(cls.srv_log_path, errors="replace") as f:
            text = f.read()
        pat = r"/buildid/%s/debuginfo" % (bid or "[0-9a-f]+")
        return len(re.findall(pat, text))

    @classmethod
    def tearDownClass(cls):
        if cls.server:
            kill(cls.server, wait=5)
            cls.server = None
            cls.srv_log.close()

    def daemon(self, name, *extra, cache=None):
        if not cache:
            # A fresh cache: one left by an earlier run would answer.
            cache = e2e("dbgcache-" + name)
            shutil.rmtree(cache, ignore_errors=True)
        return Daemon(name, "--debuginfod-cache", cache, *extra, wrap=HIDE_DEBUG)

    def profile(self, d, w, name, seconds=2):
        return fetch(self, d, w, seconds, hz=HZ, name=name)

    def assert_no_debug(self, prof, where):
        """No names in libcwork, no file:line in libc."""
        # PLT stubs are named from .rela.plt and .dynsym (rand@plt), which
        # a stripped binary keeps: not debug info.
        named = [loc for loc, _ in frames_in(prof, self.bin) if any(ln.function and not
                 ln.function.startswith("0x") and not ln.function.endswith("@plt") for ln in loc.lines)]
        self.assertFalse(named, "%s: libcwork frames named without its debug info: %s\n%s"
                         % (where, named[:5], prof.excerpt()))
        withfile = [loc for loc, _ in frames_in(prof, LIBC) if any(ln.file for ln in loc.lines)]
        self.assertFalse(withfile, "%s: libc frames with file:line: %s" % (where, withfile[:5]))

    def assert_as_addr2line(self, prof, binary, debug_file, min_locs):
        """Every location of @binary: each level's line and function as
        addr2line -i reads them from @debug_file, where a function name
        may be another symbol at the same address (glibc's aliases:
        profd names the outermost level by the exported one, qsort_r,
        addr2line by the internal one, __GI___qsort_r)."""
        locs = frames_in(prof, binary)
        self.assertGreaterEqual(len(locs), min_locs, "%d locations in %s\n%s"
                                % (len(locs), binary, prof.excerpt()))
        truth = addr2line(debug_file, [a for _, a in locs])
        addr = {}
        for f in (debug_file, binary):
            for line in run(["nm", "--defined-only", "-D" if f == binary else "-a", f]).stdout.splitlines():
                p = line.split()
                if len(p) == 3:
                    addr.setdefault(p[2].split("@")[0], set()).add(int(p[0], 16))
        same = lambda x, y: x == y or bool(addr.get(x, set()) & addr.get(y, set()))
        bad = []
        for loc, a in locs:
            want = truth.get(a) or []
            if [fn for fn, _, _ in want] == ["??"]:
                continue  # a PLT stub: no DWARF, named as objdump does (test_truth)
            got = [(ln.function, ln.line) for ln in loc.lines]
            # Names as addr2line -C gives them (GCC clone suffixes aside).
            exp = [(re.sub(r"\.(isra|constprop|part|cold)\.\d+$|\.cold$", "", fn), ln) for fn, _, ln in want]
            if len(got) != len(exp) or any(g[1] != e[1] or not same(g[0], e[0]) for g, e in zip(got, exp)):
                bad.append("%#x: profd %s, addr2line %s" % (a, got, exp))
        self.assertLessEqual(len(bad), len(locs) // 20, "%d of %d locations of %s differ from addr2line -i on %s:\n%s"
                             % (len(bad), len(locs), binary, debug_file, "\n".join(bad[:10])))

    def test_fetch_names_then_cached(self):
        """Before: libcwork unnamed, libc without file:line. With the
        server: the fetch happens in the background, later profiles have
        the names and file:line addr2line reads from the served files;
        a second profile and a restarted profd fetch nothing again."""
        with Workload("libcwork", seconds=120, wait_line="libcwork ready") as w:
            d = self.daemon("dbg-none")
            try:
                before = self.profile(d, w, "dbg_before")
                self.assert_no_debug(before, "without debuginfod")
                # profctl top says how much has no name, by binary, and why.
                r = run([test_cpu.PROFCTL, "top", before.path])
                self.assertEqual(r.returncode, 0, r.stderr)
                m = re.search(r"^no name: ([\d.]+)% of the total in frames without a function name: (.*)$",
                              r.stdout, re.M)
                self.assertTrue(m, r.stdout)
                self.assertIn("libcwork", m.group(2))
                self.assertGreater(float(m.group(1)), 20, r.stdout)
                self.assertIn("DEBUGINFOD_URLS", r.stdout)
                self.assertEqual(d.status()["debuginfod"], {"enabled": False})
            finally:
                d.stop()

            cache = e2e("dbgcache-fetch")
            shutil.rmtree(cache, ignore_errors=True)
            d = self.daemon("dbg-fetch", "--debuginfod-urls", self.url, cache=cache)
            try:
                first = self.profile(d, w, "dbg_first")
                self.assertLess(first.elapsed, 2 + 5, "the first profile waited for the fetch")
                deadline = time.monotonic() + 60
                want = 2 if self.libc_dbg else 1
                while time.monotonic() < deadline:
                    st = d.status()["debuginfod"]
                    if st["fetched"] >= want and not st["in_flight"] and not st["queued"]:
                        break
                    time.sleep(0.2)
                self.assertGreaterEqual(st["fetched"], want, st)
                second = self.profile(d, w, "dbg_second")
                names = {ln.function for loc, _ in frames_in(second, self.bin) for ln in loc.lines}
                self.assertIn("cmp_int", names, second.excerpt())
                self.assert_as_addr2line(second, self.bin, self.bin_dbg, 3)
                if self.libc_dbg:
                    libc_names = {ln.function for loc, _ in frames_in(second, LIBC) for ln in loc.lines}
                    self.assertIn("msort_with_tmp", libc_names, second.excerpt())
                    self.assert_as_addr2line(second, LIBC, self.libc_dbg, 5)
                    files = {os.path.basename(ln.file) for loc, _ in frames_in(second, LIBC) for ln in loc.lines}
                    self.assertIn("msort.c", files, second.excerpt())
                # Nothing left to fetch for these two (a sample in the vdso
                # may still queue its own fetch: not theirs).
                # (libc's only when the server has it: without libc6-dbg
                # its "not found" is the truth.)
                pending = [c for c in comments(second).splitlines() if "debuginfod" in c
                           and (os.path.basename(self.bin) in c or ("libc.so" in c and self.libc_dbg))]
                self.assertFalse(pending, comments(second))
                st1 = d.status()["debuginfod"]
                hits1 = self.server_hits()
                third = self.profile(d, w, "dbg_third")
                self.assertIn("cmp_int", {ln.function for loc, _ in frames_in(third, self.bin) for ln in loc.lines})
                st2 = d.status()["debuginfod"]
                self.assertEqual((st2["requests"], st2["fetched"]), (st1["requests"], st1["fetched"]),
                                 "a later profile fetched again")
                self.assertEqual(self.server_hits(), hits1, "the server was asked again")
                self.assertEqual(self.server_hits(self.bin_id) - Debuginfod.server_hits0, 1,
                                 "libcwork's debug info asked more than once")
                self.assertGreater(st2["cache_bytes"], 0)
                # The same counters in /metrics, in a form promtool accepts.
                r = d.get("/metrics")
                self.assertEqual(r.status, 200, r.text())
                m = dict(re.findall(r'^(profd_debuginfod_\S+) (\d+)$', r.text(), re.M))
                self.assertEqual(m.get("profd_debuginfod_enabled"), "1", r.text())
                self.assertEqual(int(m['profd_debuginfod_fetches_total{result="fetched"}']), st2["fetched"], r.text())
                self.assertEqual(int(m["profd_debuginfod_cache_bytes"]), st2["cache_bytes"], r.text())
                if shutil.which("promtool"):
                    p = subprocess.run(["promtool", "check", "metrics"], input=r.body, capture_output=True,
                                       timeout=60)
                    self.assertEqual(p.returncode, 0, p.stdout + p.stderr)
            finally:
                d.stop()

            # A restart: the files on disk serve at once, nothing is fetched.
            d = self.daemon("dbg-restart", "--debuginfod-urls", self.url, cache=cache)
            try:
                hits = self.server_hits()
                p = self.profile(d, w, "dbg_restart")
                time.sleep(1)
                self.assertIn("cmp_int", {ln.function for loc, _ in frames_in(p, self.bin) for ln in loc.lines},
                              p.excerpt())
                st = d.status()["debuginfod"]
                self.assertEqual(st["fetched"], 0, st)
                self.assertGreaterEqual(st["cache_hits"], 1, st)
                self.assertEqual(self.server_hits(), hits, "the server was asked after a restart")
            finally:
                d.stop()
        if self.libc_reason:
            self.skipTest("libc part not run: " + self.libc_reason)

    def test_dwz_alternate_file(self):
        """libcwork2's debug file was compressed with dwz against
        libcwork3's: three_way, inlined into cmp_int, is described in the
        alternate file, which only the server has. profd fetches the
        alternate as soon as the debug file naming it has come, not when
        a profile finds it missing (a profile later): the first profile
        (a 4 s window; both files come from a local server in tens of ms
        after its first sample) has cmp_int's locations with three_way
        inlined at the marked line, and so has the next one."""
        line = test_cpu.marker_line(test_cpu.workload_src("libcwork.c"), "LINE_CMP")
        want = [("three_way", line), ("cmp_int", line + 5)]
        binary = e2e("libcwork2")

        def chains(p):
            return [[(ln.function, ln.line) for ln in loc.lines] for loc, _ in frames_in(p, binary)]

        alt0 = self.server_hits(self.alt_id)
        with Workload("libcwork2", seconds=60, wait_line="libcwork ready") as w:
            d = self.daemon("dbg-dwz", "--debuginfod-urls", self.url)
            try:
                p1 = self.profile(d, w, "dbg_dwz_first", seconds=4)
                self.assertIn(want, chains(p1), "the first profile: no cmp_int location with three_way "
                              "inlined (the alternate file fetched only when a profile found it missing?)\n%s"
                              % p1.excerpt())
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    st = d.status()["debuginfod"]
                    if not st["in_flight"] and not st["queued"]:
                        break
                    time.sleep(0.2)
                self.assertFalse(st["in_flight"] or st["queued"], "fetches still going after 30 s: %s" % st)
                self.assertGreater(self.server_hits(self.alt_id), alt0,
                                   "the fetches are over, the alternate file was not among them: %s" % st)
                p = self.profile(d, w, "dbg_dwz")
                self.assertIn(want, chains(p), "no cmp_int location with three_way inlined:\n%s" % p.excerpt())
            finally:
                d.stop()

    def test_black_hole_server(self):
        """A server that accepts and never answers: the profile comes at
        once, without the names, and says they are being fetched; after
        the timeout, that the fetch failed."""
        bh = BlackHole()
        try:
            with Workload("libcwork", seconds=60, wait_line="libcwork ready") as w:
                d = self.daemon("dbg-blackhole", "--debuginfod-urls", "http://127.0.0.1:%d" % bh.port,
                                "--debuginfod-timeout", "3")
                try:
                    p = self.profile(d, w, "dbg_blackhole")
                    sys.stderr.write("[2 s window with a black-hole server: %.2f s] " % p.elapsed)
                    self.assertLess(p.elapsed, 2 + 3, "the profile waited for the server")
                    self.assert_no_debug(p, "black hole")
                    c = comments(p)
                    self.assertRegex(c, r"debug info for \S*libcwork \(build-id %s\) being fetched from debuginfod"
                                     % self.bin_id, c)
                    deadline = time.monotonic() + 30
                    while time.monotonic() < deadline and d.status()["debuginfod"]["timeouts"] < 1:
                        time.sleep(0.5)
                    st = d.status()["debuginfod"]
                    self.assertGreaterEqual(st["timeouts"], 1, st)
                    p = self.profile(d, w, "dbg_blackhole2")
                    self.assertRegex(comments(p), r"libcwork \(build-id %s\) could not be fetched" % self.bin_id)
                finally:
                    d.stop()
        finally:
            bh.close()

    def test_server_down(self):
        """Nothing listens: the profile comes at once and says so."""
        with Workload("libcwork", seconds=60, wait_line="libcwork ready") as w:
            d = self.daemon("dbg-down", "--debuginfod-urls", "http://127.0.0.1:%d" % free_port())
            try:
                p = self.profile(d, w, "dbg_down")
                self.assertLess(p.elapsed, 2 + 3)
                self.assert_no_debug(p, "server down")
                self.assertRegex(comments(p), r"libcwork \(build-id %s\) (being fetched|could not be fetched)"
                                 % self.bin_id)
                deadline = time.monotonic() + 20
                while time.monotonic() < deadline and d.status()["debuginfod"]["failed"] < 1:
                    time.sleep(0.2)
                self.assertGreaterEqual(d.status()["debuginfod"]["failed"], 1)
            finally:
                d.stop()


def openssl(*args, cwd):
    r = run(["openssl"] + list(args), cwd=cwd)
    if r.returncode != 0:
        raise AssertionError("openssl %s: %s" % (" ".join(args), r.stderr[-500:]))


def make_certs(d):
    """In @d: a CA (ca.pem), a server certificate it signed for
    127.0.0.1 (good), a self-signed one for 127.0.0.1 (selfsigned) and
    one the CA signed for another name (wrongname). EC keys: quick."""
    key = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    openssl("req", "-x509", *key, "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=profd-e2e-ca", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    for name, san in (("good", "IP:127.0.0.1"), ("wrongname", "DNS:not-this-host.invalid")):
        with open(os.path.join(d, name + ".ext"), "w") as f:
            f.write("subjectAltName=%s\nbasicConstraints=CA:FALSE\n"
                    "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n" % san)
        openssl("req", *key, "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".pem", "-days", "2", "-extfile", name + ".ext", cwd=d)
    openssl("req", "-x509", *key, "-keyout", "selfsigned.key", "-out", "selfsigned.pem", "-days", "2",
            "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", cwd=d)


class HttpsServer:
    """python3's http.server over TLS on a loopback port, serving @root
    (laid out as a debuginfod server's URLs: buildid/ID/debuginfo);
    .requests lists the paths asked (only after a TLS handshake)."""

    def __init__(self, root, cert, key):
        requests = self.requests = []

        class Handler(http.server.SimpleHTTPRequestHandler):
            def log_message(self, fmt, *args):
                requests.append(self.path)

        self.httpd = http.server.ThreadingHTTPServer(
            ("127.0.0.1", 0), functools.partial(Handler, directory=root))
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(cert, key)
        self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
        self.url = "https://127.0.0.1:%d" % self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class DebuginfodHttps(unittest.TestCase):
    """debuginfod over HTTPS, with a private CA made here and given to
    profd as curl(1) takes one (CURL_CA_BUNDLE in its environment):
    the stripped libcwork gets its names from the served debug file.
    A server whose certificate the CA did not sign, or signed for
    another name (a man in the middle), is refused: nothing is asked of
    it past the handshake, nothing enters the cache, the profile stays
    without names, and /v1/status counts a TLS failure."""

    assert_no_debug = Debuginfod.assert_no_debug
    assert_as_addr2line = Debuginfod.assert_as_addr2line

    @classmethod
    def setUpClass(cls):
        for tool in ("openssl", "unshare", "addr2line"):
            if not shutil.which(tool):
                raise unittest.SkipTest("%s is not installed (make deps)" % tool)
        os.environ.pop("DEBUGINFOD_URLS", None)
        cls.bin = e2e("libcwork")
        cls.bin_dbg = e2e("debuginfod-files/libcwork.dbg")
        cls.bin_id = build_id(cls.bin)
        cls.libc_dbg = None
        cls.dir = e2e("https")
        shutil.rmtree(cls.dir, ignore_errors=True)
        cls.root = os.path.join(cls.dir, "root")
        os.makedirs(os.path.join(cls.root, "buildid", cls.bin_id))
        shutil.copy(cls.bin_dbg, os.path.join(cls.root, "buildid", cls.bin_id, "debuginfo"))
        make_certs(cls.dir)

    def serve(self, name):
        srv = HttpsServer(self.root, os.path.join(self.dir, name + ".pem"), os.path.join(self.dir, name + ".key"))
        self.addCleanup(srv.close)
        return srv

    def daemon(self, name, url):
        cache = e2e("dbgcache-" + name)
        shutil.rmtree(cache, ignore_errors=True)
        env = ["env", "CURL_CA_BUNDLE=" + os.path.join(self.dir, "ca.pem")]
        d = Daemon(name, "--debuginfod-cache", cache, "--debuginfod-urls", url,
                   "--debuginfod-timeout", "5", wrap=env + HIDE_DEBUG)
        self.addCleanup(d.stop)
        return d, cache

    def wait_status(self, d, done):
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            st = d.status()["debuginfod"]
            if done(st) and not st["in_flight"] and not st["queued"]:
                break
            time.sleep(0.2)
        return st

    def test_https_private_ca(self):
        srv = self.serve("good")
        with Workload("libcwork", seconds=60, wait_line="libcwork ready") as w:
            d, cache = self.daemon("dbg-https", srv.url)
            fetch(self, d, w, 2, hz=HZ, name="dbg_https_first")  # asks for the fetch
            st = self.wait_status(d, lambda st: st["fetched"] >= 1)
            self.assertGreaterEqual(st["fetched"], 1, "%s; server saw %s" % (st, srv.requests))
            self.assertEqual(st["tls_failed"], 0, st)
            self.assertIn("/buildid/%s/debuginfo" % self.bin_id, srv.requests)
            after = fetch(self, d, w, 2, hz=HZ, name="dbg_https_after")
            self.assert_as_addr2line(after, self.bin, self.bin_dbg, 3)

    def test_alternates_alternate_not_fetched(self):
        """A server whose debug file names an alternate that names another
        (dwz's alternates name none): profd fetches the debug file and its
        alternate, and stops there; a chain of them would otherwise be
        fetched without end."""
        root = os.path.join(self.dir, "chain")
        shutil.rmtree(root, ignore_errors=True)
        ids = {"alt": "b" * 40, "alt2": "c" * 40}

        def put(bid, path, names=None):
            os.makedirs(os.path.join(root, "buildid", bid))
            dst = os.path.join(root, "buildid", bid, "debuginfo")
            if names:
                link = path + ".link"
                with open(link, "wb") as f:
                    f.write(b"/nonexistent/chain.dwz\0" + bytes.fromhex(names))
                r = run(["objcopy", "--add-section", ".gnu_debugaltlink=" + link, path, dst])
                self.assertEqual(r.returncode, 0, r.stderr)
            else:
                shutil.copy(path, dst)

        for name, bid in ids.items():
            r = run(["gcc", "-shared", "-nostdlib", "-Wl,--build-id=0x" + bid, "-x", "c", "/dev/null",
                     "-o", os.path.join(self.dir, name + ".so")])
            self.assertEqual(r.returncode, 0, r.stderr)
        put(self.bin_id, self.bin_dbg, ids["alt"])
        put(ids["alt"], os.path.join(self.dir, "alt.so"), ids["alt2"])
        put(ids["alt2"], os.path.join(self.dir, "alt2.so"))
        srv = HttpsServer(root, os.path.join(self.dir, "good.pem"), os.path.join(self.dir, "good.key"))
        self.addCleanup(srv.close)
        with Workload("libcwork", seconds=60, wait_line="libcwork ready") as w:
            d, cache = self.daemon("dbg-https-chain", srv.url)
            fetch(self, d, w, 2, hz=HZ, name="dbg_https_chain")
            st = self.wait_status(d, lambda st: st["fetched"] >= 2)
            time.sleep(1)
            st = self.wait_status(d, lambda st: True)
        asked = [r for r in srv.requests if "/buildid/" in r]
        self.assertIn("/buildid/%s/debuginfo" % self.bin_id, asked)
        self.assertIn("/buildid/%s/debuginfo" % ids["alt"], asked, "the alternate was not fetched")
        self.assertNotIn("/buildid/%s/debuginfo" % ids["alt2"], asked, "the alternate's alternate was fetched")
        self.assertEqual(st["fetched"], 2, st)

    def refused(self, cert):
        srv = self.serve(cert)
        with Workload("libcwork", seconds=60, wait_line="libcwork ready") as w:
            d, cache = self.daemon("dbg-https-" + cert, srv.url)
            fetch(self, d, w, 2, hz=HZ, name="dbg_https_%s_first" % cert)
            st = self.wait_status(d, lambda st: st["failed"] >= 1 or st["fetched"] >= 1)
            self.assertEqual(st["fetched"], 0, st)
            self.assertGreaterEqual(st["failed"], 1, st)
            self.assertGreaterEqual(st["tls_failed"], 1, st)
            self.assertEqual(srv.requests, [], "a request past a refused handshake")
            self.assertEqual(glob.glob(os.path.join(cache, "*.debug")), [])
            after = fetch(self, d, w, 2, hz=HZ, name="dbg_https_%s_after" % cert)
            self.assert_no_debug(after, "certificate %s" % cert)
            self.assertRegex(comments(after), r"libcwork \(build-id %s\) could not be fetched" % self.bin_id)

    def test_self_signed_certificate_refused(self):
        self.refused("selfsigned")

    def test_certificate_for_another_name_refused(self):
        self.refused("wrongname")


JS_BURN = """
function hotLoop(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; }
function coldLoop(n) { let s = 0; for (let i = 0; i < n; i++) s = (s + i * 7) % 1000003; return s; }
const end = Date.now() + 1000 * (parseFloat(process.argv[2]) || 30);
console.log("jsburn ready");
let x = 0;
// Calls of irregular length: fixed rounds alias with the sampling rate.
const vary = (n) => Math.floor(n / 2 + Math.random() * n);
while (Date.now() < end) { x += hotLoop(vary(300000)); x += coldLoop(vary(100000)); }
console.log(x);
"""


def leaf(sample):
    """The leaf's function name, "" when it has none."""
    ln = sample.leaf()
    return ln.function if ln else ""


class Jit(ProfdTest):
    def leaf_names(self, prof):
        out = {}
        for s in prof.samples:
            out[leaf(s)] = out.get(leaf(s), 0) + s.values[0]
        return sorted(out.items(), key=lambda kv: -kv[1])[:8]

    def test_node_perf_map(self):
        """node --perf-basic-prof: hotLoop and coldLoop named from
        /tmp/perf-PID.map, 75 +- 6 % of their samples in hotLoop (the
        workload does 3 units of work there for 1 in coldLoop)."""
        node = shutil.which("node") or shutil.which("nodejs")
        if not node:
            self.skipTest("nodejs is not installed (make deps)")
        js = e2e("jsburn.js")
        with open(js, "w") as f:
            f.write(JS_BURN)
        # cwd: V8 may leave isolate-*.log files there.
        p = spawn([node, "--perf-basic-prof", js, "40"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  cwd=test_cpu.E2E)
        try:
            self.assertEqual(p.stdout.readline().decode().strip(), "jsburn ready")
            time.sleep(1.5)  # past the interpreter, into optimized code
            # 499 Hz: ~2000 samples, the 6 points are ~6 sd.
            prof = fetch(self, self.daemon, p.pid, 4, hz=499, name="jit_node")
            hot = prof.count(lambda s: "hotLoop" in leaf(s))
            cold = prof.count(lambda s: "coldLoop" in leaf(s))
            self.assertGreater(hot + cold, 0.8 * prof.count(), "JS leaves: %s" % self.leaf_names(prof))
            share = hot / (hot + cold)
            sys.stderr.write("[node: hotLoop %.1f %% of hotLoop+coldLoop] " % (100 * share))
            self.assertAlmostEqual(share, 0.75, delta=0.06, msg="leaves: %s" % self.leaf_names(prof))
        finally:
            kill(p)
            try:
                os.unlink("/tmp/perf-%d.map" % p.pid)
            except OSError:
                pass

    def test_jitdump(self):
        """jitwl writes a jitdump naming jit_hot and jit_cold (3:1 work)
        and leaves a third function undescribed (1): shares 60/20/20 +- 6,
        the third as [jit]."""
        d = e2e("jitdump-dir")
        os.makedirs(d, exist_ok=True)
        with Workload("jitwl", "jitdump", d, seconds=40, wait_line="jitwl ready") as w:
            # 499 Hz: ~2000 samples, the 6 points are ~6 sd.
            prof = fetch(self, self.daemon, w, 4, hz=499, name="jit_jitdump")
            total = prof.count()
            shares = {n: prof.count(lambda s, n=n: leaf(s) == n) / total
                      for n in ("jit_hot", "jit_cold", "[jit]")}
            sys.stderr.write("[jitdump shares %s] " % {k: round(v, 3) for k, v in shares.items()})
            for n, want in (("jit_hot", 0.6), ("jit_cold", 0.2), ("[jit]", 0.2)):
                self.assertAlmostEqual(shares[n], want, delta=0.06, msg="%s; leaves: %s" % (n, self.leaf_names(prof)))
            os.unlink(os.path.join(d, "jit-%d.dump" % w.pid))

    def test_anonymous_code_is_jit(self):
        """Without a map: the code's frames are [jit], one name for all."""
        with Workload("jitwl", "none", seconds=40, wait_line="jitwl ready") as w:
            prof = fetch(self, self.daemon, w, 3, hz=HZ, name="jit_none")
            share = prof.count(lambda s: leaf(s) == "[jit]") / prof.count()
            self.assertGreater(share, 0.9, "leaves: %s" % self.leaf_names(prof))
            r = run([test_cpu.PROFCTL, "top", prof.path])
            self.assertRegex(r.stdout, r"no name: [\d.]+% of the total in JIT code without a perf map")
            self.assertIn("--perf-basic-prof", r.stdout)


    def test_node_exits_mid_window(self):
        """node --perf-basic-prof exits ~4.5 s into a 9 s window: its
        profile is built after it is gone (no /proc/PID/root to read the
        perf map through), so the names must have been read while it ran."""
        node = shutil.which("node") or shutil.which("nodejs")
        if not node:
            self.skipTest("nodejs is not installed (make deps)")
        js = e2e("jsburn.js")
        with open(js, "w") as f:
            f.write(JS_BURN)
        p = spawn([node, "--perf-basic-prof", js, "6"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  cwd=test_cpu.E2E)
        try:
            self.assertEqual(p.stdout.readline().decode().strip(), "jsburn ready")
            time.sleep(1.5)
            t0 = time.monotonic()
            # 499 Hz: ~2000 samples in its last 4.5 s, for a share
            # within 8 points even when the machine is busy.
            prof = fetch(self, self.daemon, p.pid, 9, hz=499, name="jit_node_exit")
            self.assertLess(time.monotonic() - t0, 8, "the window did not end when node exited")
            self.assertIsNotNone(p.poll(), "node still runs")
            hot = prof.count(lambda s: "hotLoop" in leaf(s))
            cold = prof.count(lambda s: "coldLoop" in leaf(s))
            self.assertGreater(hot + cold, 0.8 * prof.count(), "JS leaves: %s" % self.leaf_names(prof))
            share = hot / (hot + cold)
            sys.stderr.write("[node exited: hotLoop %.1f %%] " % (100 * share))
            self.assertAlmostEqual(share, 0.75, delta=0.08, msg="leaves: %s" % self.leaf_names(prof))
        finally:
            kill(p)
            try:
                os.unlink("/tmp/perf-%d.map" % p.pid)
            except OSError:
                pass

    def test_perfmap_removed_at_exit(self):
        """jitwl names its code in /tmp/perf-PID.map and removes the file
        as it exits, 4 s into an 8 s window: names and shares as while
        it ran (60/20/20), from what profd read then (499 Hz: ~2000
        samples)."""
        with Workload("jitwl", "perfmap", seconds=4, wait_line="jitwl ready") as w:
            prof = fetch(self, self.daemon, w, 8, hz=499, name="jit_perfmap_exit")
            self.assertIsNotNone(w.proc.poll(), "jitwl still runs")
            self.assertFalse(os.path.exists("/tmp/perf-%d.map" % w.pid))
            total = prof.count()
            shares = {n: prof.count(lambda s, n=n: leaf(s) == n) / total
                      for n in ("jit_hot", "jit_cold", "[jit]")}
            sys.stderr.write("[perfmap exited: %s] " % {k: round(v, 3) for k, v in shares.items()})
            for n, want in (("jit_hot", 0.6), ("jit_cold", 0.2), ("[jit]", 0.2)):
                self.assertAlmostEqual(shares[n], want, delta=0.07, msg="%s; leaves: %s" % (n, self.leaf_names(prof)))

    def swap(self, mode):
        """jitwl runs code named phase_one, then other code at the same
        address named phase_two (mode: by a perf map line, or a jitdump
        record with its time), 2 s after it is ready, in a 4 s window.
        Each phase's samples keep their own name: phase_one's share of
        the two is the share of the workload's CPU time in the window
        spent before the switch (its own clock at the switch against
        /proc/PID/stat before and after the window: on a busy machine
        the phases do not get equal CPU per second), within 8 points (a
        perf map has no times: its line counts from when profd read it,
        within ~0.1 s)."""
        with Workload("jitwl", mode, 2, seconds=20, wait_line="jitwl ready") as w:
            cpu0 = w.cpu()
            prof = fetch(self, self.daemon, w, 4, hz=HZ, name="jit_" + mode)
            cpu1 = w.cpu()
            line = w.proc.stdout.readline().decode().strip()
        self.assertTrue(line.startswith("switched "), line)
        switched, cpu_switch = int(line.split()[1]), float(line.split()[2])
        t0, dur = prof.proto["time_nanos"], prof.proto["duration_nanos"]
        self.assertTrue(0.2 < (switched - t0) / dur < 0.8, "switch at %.2f of the window" % ((switched - t0) / dur))
        want = (cpu_switch - cpu0) / (cpu1 - cpu0)
        one = prof.count(lambda s: leaf(s) == "phase_one")
        two = prof.count(lambda s: leaf(s) == "phase_two")
        self.assertGreater(one + two, 0.8 * prof.count(), "leaves: %s" % self.leaf_names(prof))
        share = one / (one + two)
        sys.stderr.write("[%s: phase_one %.3f, CPU before the switch %.3f] " % (mode, share, want))
        self.assertAlmostEqual(share, want, delta=0.08, msg="leaves: %s" % self.leaf_names(prof))
        # One location per name at the one address.
        names = {ln.function for loc in prof.raw.locations.values() for ln in loc.lines}
        self.assertTrue({"phase_one", "phase_two"} <= names, names)

    def test_replaced_code_perfmap(self):
        self.swap("swap-perfmap")

    def test_replaced_code_jitdump(self):
        self.swap("swap-jitdump")


class JitBound(unittest.TestCase):
    """One bound for the JIT tables of all processes (PROFD_JIT_MAX_MB=2
    here, 256 MiB by default), not only each process's own (~30 MB):
    two processes whose perf maps name 20000 pieces of code each before
    their own two, profiled at once. The first's table (~1.3 MiB) fits
    and names its code; the second's does not: its names are dropped,
    its code shows as [jit], its profile says why, and /v1/status and
    /metrics count the drop by the total bound (none by a process's)."""

    def test_total_bound(self):
        d = Daemon("jit-bound", wrap=["env", "PROFD_JIT_MAX_MB=2"])
        self.addCleanup(d.stop)
        with Workload("jitwl", "perfmap-big", 20000, seconds=30, wait_line="jitwl ready") as a, \
             Workload("jitwl", "perfmap-big", 20000, seconds=30, wait_line="jitwl ready") as b:
            res = {}
            t = threading.Thread(target=lambda: res.setdefault(
                "a", fetch(self, d, a, 4, hz=HZ, name="jit_bound_a")))
            t.start()
            time.sleep(1.5)
            pb = fetch(self, d, b, 2, hz=HZ, name="jit_bound_b")
            st = d.status()["jit"]
            metrics = d.get("/metrics").text()
            t.join(30)
        pa = res["a"]
        share = lambda p, n: p.count(lambda s: leaf(s) == n) / p.count()
        sys.stderr.write("[jit bound: a jit_hot %.2f, b [jit] %.2f; %s] "
                         % (share(pa, "jit_hot"), share(pb, "[jit]"), st))
        why = "a: %d samples, leaves %s; b: leaves %s; %s" % (
            pa.count(), Jit.leaf_names(None, pa), Jit.leaf_names(None, pb), st)
        self.assertNotRegex(comments(pa), "JIT names not kept", why)
        self.assertAlmostEqual(share(pa, "jit_hot"), 0.6, delta=0.1, msg=why)
        self.assertGreater(share(pb, "[jit]"), 0.9, why)
        # The bound in force, not the default.
        self.assertRegex(comments(pb), r"pid %d: \d+ JIT names not kept \(.*, 2 MiB for all\)" % b.pid)
        self.assertEqual(st["max_bytes"], 2 << 20, st)
        self.assertLessEqual(st["bytes"], st["max_bytes"], st)
        self.assertGreater(st["dropped_total_bound"], 0, st)
        self.assertEqual(st["dropped_process_bound"], 0, st)
        m = re.search(r'^profd_jit_dropped_total\{reason="total_bound"\} (\d+)$', metrics, re.M)
        self.assertTrue(m and int(m.group(1)) > 0, metrics[-2000:])


class JitAttack(ProfdTest):
    """nobody's process names its /tmp/perf-PID.map after a file it may
    not read, or another user's file sits there: none of its lines may
    name a frame (profd reads as root)."""

    def hostile_map(self, make):
        secret = tempfile.mkdtemp(prefix="profd-secret-")
        os.chmod(secret, 0o700)
        path = os.path.join(secret, "secret.map")
        with open(path, "w") as f:
            # Covers every address: any frame it named would say so.
            f.write("0 7fffffffffff ROOT_ONLY_SECRET\n")
        os.chmod(path, 0o600)
        with Workload("jitwl", "none", seconds=40, user=NOBODY, wait_line="jitwl ready") as w:
            link = "/tmp/perf-%d.map" % w.pid
            try:
                make(path, link)
                prof = fetch(self, self.daemon, w, 2, hz=HZ, name="jit_attack")
                names = {ln.function for loc in prof.raw.locations.values() for ln in loc.lines}
                self.assertNotIn("ROOT_ONLY_SECRET", names)
                self.assertIn("[jit]", names)
            finally:
                try:
                    os.unlink(link)
                except OSError:
                    pass
                shutil.rmtree(secret, ignore_errors=True)

    def test_symlink_to_root_file(self):
        def make(path, link):
            subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                            "ln", "-s", path, link], check=True)
        self.hostile_map(make)

    def test_swapped_for_symlink_mid_window(self):
        """The map is read while the process runs, again as it changes:
        nobody's own regular file is read (its name shows), then swapped
        mid-window for a symbolic link to root's file, longer than what
        was read (a reader that reopened by path and followed links
        would take the secret's bytes from where it stopped)."""
        secret = tempfile.mkdtemp(prefix="profd-secret-")
        os.chmod(secret, 0o700)
        path = os.path.join(secret, "secret.map")
        own = "0 7fffffffffff NOBODYS_OWN_NAME\n"
        with open(path, "w") as f:
            f.write("0 7fffffffffff ROOT_ONLY_SECRET\n" * 4)
        os.chmod(path, 0o600)
        as_nobody = ["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"]
        with Workload("jitwl", "none", seconds=40, user=NOBODY, wait_line="jitwl ready") as w:
            link = "/tmp/perf-%d.map" % w.pid
            try:
                subprocess.run(as_nobody + ["sh", "-c", 'printf "%s" "$1" > "$2"', "sh", own, link], check=True)

                def swap():
                    time.sleep(1.2)
                    subprocess.run(as_nobody + ["sh", "-c", 'ln -s "$1" "$2.new" && mv -T "$2.new" "$2"',
                                                "sh", path, link], check=True)
                t = threading.Thread(target=swap)
                t.start()
                prof = fetch(self, self.daemon, w, 3, hz=HZ, name="jit_attack_swap")
                t.join()
                self.assertTrue(os.path.islink(link))
                names = {ln.function for loc in prof.raw.locations.values() for ln in loc.lines}
                self.assertIn("NOBODYS_OWN_NAME", names)
                self.assertNotIn("ROOT_ONLY_SECRET", names)
            finally:
                for f in (link, link + ".new"):
                    try:
                        os.unlink(f)
                    except OSError:
                        pass
                shutil.rmtree(secret, ignore_errors=True)

    def test_file_of_another_user(self):
        def make(path, link):
            shutil.copy(path, link)  # root's file, in nobody's name
            os.chmod(link, 0o644)
        self.hostile_map(make)


if __name__ == "__main__":
    sys.exit("run through run_all.py")
