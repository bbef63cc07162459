#!/usr/bin/env python3
"""Attacks on profd's request side, tried as a hostile local user would
(run by tests/e2e/run.sh through run_all.py, with test_cpu.py's helpers).

  python3 tests/e2e/test_attack.py --output build [-k NAME]...   (these only)

Each test is a finding of issue 10, reproduced as it was found, and asserts
that the attack fails: the attacker runs as nobody (setpriv) wherever the
attack is one a local user could make.

- OrphanedTcp: a request sent corked with the FIN (TCP_CORK, request,
  close()) reaches profd after the client's socket became an orphan, which
  /proc/net/tcp lists with uid 0; the request must not be served as root.
  The window is the kernel's delayed ACK of the FIN (40 ms): a busy profd
  hits it, and SIGSTOP/SIGCONT of profd makes it busy on demand.
- Slowloris: 100 connections from nobody trickling a header byte every
  2 s must leave root's and another user's /v1/status answering within a
  second, and each trickling connection is closed at the request deadline.
- Browser: DNS rebinding (a Host that is not loopback) and cross-site
  requests (Origin, Sec-Fetch-Site) over the loopback listener are refused
  before anything happens; HEAD starts nothing.
- StatusJson: a library whose file name holds a quote, tracked as a
  process's allocator, must neither break nor forge root's /v1/status.
- SocketMode: the Unix socket never exists at its path with a mode other
  than --socket-mode (bind delayed by strace's fault injection, umask 0).
- ProcessState: a zombie's CPU profile is refused at once; a process profd
  may not read is blamed on that, not on BPF privileges.
- HeapShares: one user cannot take every heap-tracking slot: each user
  other than root gets a quarter of --heap-max-procs, together they leave
  room for root.
- WindowStop: ending a CPU window early (POST /v1/profile/stop, what
  profctl's Ctrl-C sends): nobody cannot end root's window, neither on
  root's process (403, the access check) nor on nobody's own process
  (404: only the caller's own windows), by pid or by the window's name;
  root's windows run their whole length. And /v1/status lists nobody's
  own windows to nobody, never root's (access__may_see_session()).
"""

import base64
import http.client
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cpu as cpu  # noqa: E402
from test_cpu import NOBODY, Daemon, Response, UnixHTTPConnection, free_tcp_port, kill, spawn  # noqa: E402

OTHER_UID = 12345  # a second unprivileged user (no passwd entry needed)

# --------------------------------------------------------------------------
# clients, run as another user
# --------------------------------------------------------------------------

# argv: JSON {"unix": PATH | null, "port": N, "request": base64 bytes,
# "orphan": bool}. Sends the request; with orphan, corked and closed at
# once (the FIN goes with the last byte of the request), printing nothing;
# else reads the answer until profd closes and prints it as JSON.
RAW_CLIENT = r"""
import base64, json, socket, sys
a = json.loads(sys.argv[1])
if a.get("unix"):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.connect(a["unix"])
else:
    s = socket.create_connection((a.get("host", "127.0.0.1"), a["port"]))
req = base64.b64decode(a["request"])
if a.get("orphan"):
    s.setsockopt(socket.IPPROTO_TCP, socket.TCP_CORK, 1)
    s.sendall(req)
    s.close()
    sys.exit(0)
s.settimeout(a.get("timeout", 30))
s.sendall(req)
data = b""
while True:
    try:
        b = s.recv(65536)
    except ConnectionResetError:
        break
    if not b:
        break
    data += b
head, _, body = data.partition(b"\r\n\r\n")
lines = head.decode("latin-1").split("\r\n")
status = int(lines[0].split()[1]) if lines and lines[0].startswith("HTTP/") else 0
headers = {}
for ln in lines[1:]:
    k, _, v = ln.partition(":")
    headers[k.strip().lower()] = v.strip()
print(json.dumps({"status": status, "headers": headers, "body": base64.b64encode(body).decode()}))
"""

# argv: JSON {"unix": PATH | null, "port": N, "n": N, "every": S,
# "seconds": S}. Opens n connections, sends a request line and part of a
# header on each, then one more byte of that header on each every `every`
# seconds for `seconds`. Prints per connection when profd ended it
# (seconds since start) and how: "answer" (a response, e.g. a refusal,
# whose status is kept), "closed" (EOF/reset), or null if still open.
TRICKLE_CLIENT = r"""
import json, socket, sys, time, select
a = json.loads(sys.argv[1])
t0 = time.monotonic()
conns = []
for i in range(a["n"]):
    if a.get("unix"):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.connect(a["unix"])
    else:
        s = socket.create_connection(("127.0.0.1", a["port"]))
    s.setblocking(False)
    c = {"s": s, "end": None, "how": None, "status": None}
    try:
        s.send(b"GET /v1/status HTTP/1.1\r\nHost: localhost\r\nX-Trickle: ")
    except OSError:
        c["end"], c["how"] = time.monotonic() - t0, "closed"
    conns.append(c)
print("opened", flush=True)
def poll_ends():
    for c in conns:
        if c["end"] is not None:
            continue
        try:
            b = c["s"].recv(4096)
        except BlockingIOError:
            continue
        except OSError:
            b = b""
        c["end"] = time.monotonic() - t0
        if b.startswith(b"HTTP/1."):
            c["how"], c["status"] = "answer", int(b.split()[1])
        else:
            c["how"] = "closed"
next_byte = t0 + a["every"]
while time.monotonic() - t0 < a["seconds"]:
    poll_ends()
    if time.monotonic() >= next_byte:
        next_byte += a["every"]
        for c in conns:
            if c["end"] is None:
                try:
                    c["s"].send(b"a")
                except OSError:
                    pass
    time.sleep(0.05)
poll_ends()
print(json.dumps([{"end": c["end"], "how": c["how"], "status": c["status"]} for c in conns]), flush=True)
"""


def as_user(uid, cmd):
    return ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"] + cmd


def raw_request(method, path, host="localhost", headers=()):
    lines = ["%s %s HTTP/1.1" % (method, path)]
    if host is not None:
        lines.append("Host: " + host)
    lines += ["%s: %s" % h for h in headers]
    lines += ["Content-Length: 0", "Connection: close", "", ""]
    return "\r\n".join(lines).encode()


def raw(uid, request, unix=None, port=None, timeout=30):
    """Sends @request (bytes) as @uid over the Unix socket or TCP port;
    returns the Response (status 0 when profd closed without one)."""
    arg = {"unix": unix, "port": port, "request": base64.b64encode(request).decode(), "timeout": timeout}
    t0 = time.monotonic()
    r = subprocess.run(as_user(uid, [sys.executable, "-c", RAW_CLIENT, json.dumps(arg)]),
                       capture_output=True, timeout=timeout + 30)
    if r.returncode != 0:
        raise AssertionError("client as uid %d failed: %s" % (uid, r.stderr.decode(errors="replace")))
    d = json.loads(r.stdout)
    return Response(d["status"], d["headers"], base64.b64decode(d["body"]), time.monotonic() - t0)


def orphan(uid, request, port):
    """Sends @request as @uid corked with the FIN, closing at once."""
    arg = {"port": port, "request": base64.b64encode(request).decode(), "orphan": True}
    r = subprocess.run(as_user(uid, [sys.executable, "-c", RAW_CLIENT, json.dumps(arg)]),
                       capture_output=True, timeout=30)
    if r.returncode != 0:
        raise AssertionError("orphaning client failed: %s" % r.stderr.decode(errors="replace"))


def sleeper(uid=None, seconds=120):
    """A process of @uid (root when None) that just sleeps."""
    cmd = ["sleep", str(seconds)]
    return spawn(as_user(uid, cmd) if uid is not None else cmd)


def tracked_pids(daemon):
    return {p["pid"] for p in daemon.status()["heap"]["procs"]}


def unix_req(daemon_or_sock, method, path, timeout=10, headers=None):
    sock = getattr(daemon_or_sock, "sock", daemon_or_sock)
    t0 = time.monotonic()
    c = UnixHTTPConnection(sock, timeout)
    try:
        c.request(method, path, headers=headers or {})
        r = c.getresponse()
        body = r.read()
        return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, body, time.monotonic() - t0)
    finally:
        c.close()


class AttackTest(unittest.TestCase):
    daemon_args = ()
    listen = False
    daemon = None

    @classmethod
    def setUpClass(cls):
        args = list(cls.daemon_args)
        cls.port = None
        if cls.listen:
            cls.port = free_tcp_port()
            args += ["--listen", "127.0.0.1:%d" % cls.port]
        cls.daemon = Daemon(cls.__name__, *args)

    @classmethod
    def tearDownClass(cls):
        if cls.daemon:
            cls.daemon.stop()

    def untrack(self, pid):
        unix_req(self.daemon, "POST", "/v1/heap/stop?pid=%d" % pid)


# --------------------------------------------------------------------------
# identity over --listen
# --------------------------------------------------------------------------


class OrphanedTcp(AttackTest):
    """A request corked with the FIN: by the time profd looks the caller
    up, the client's socket is an orphan (FIN_WAIT2, later TIME_WAIT) that
    /proc/net/tcp lists with uid 0. Found: served as root, 10 of 10."""
    listen = True

    def attack(self, pid, busy, tries=10):
        req = raw_request("POST", "/v1/heap/start?pid=%d" % pid, host="127.0.0.1:%d" % self.port)
        pd = self.daemon.proc.pid
        for i in range(tries):
            if busy:
                # A busy profd: the kernel ACKs the FIN after its delayed-ACK
                # time (40 ms) and the client's orphan turns into a FIN_WAIT2
                # minisocket (uid 0) before profd reads the request.
                os.kill(pd, signal.SIGSTOP)
                try:
                    orphan(NOBODY, req, self.port)
                    time.sleep(0.2)
                finally:
                    os.kill(pd, signal.SIGCONT)
            else:
                orphan(NOBODY, req, self.port)
            time.sleep(0.3)
            self.assertNotIn(pid, tracked_pids(self.daemon),
                             "try %d%s: nobody's orphaned request started heap tracking of root's pid %d\n%s"
                             % (i + 1, " (profd busy)" if busy else "", pid, self.daemon.log_tail()))

    def test_orphan_not_root(self):
        """10 tries against a busy profd, 10 against an idle one."""
        w = sleeper()
        try:
            self.attack(w.pid, busy=True)
            self.attack(w.pid, busy=False)
        finally:
            self.untrack(w.pid)
            kill(w)

    def test_live_connection_identified(self):
        """The same requests over a connection kept open: nobody is nobody
        (its own process yes, root's no)."""
        own, roots = sleeper(NOBODY), sleeper()
        try:
            r = raw(NOBODY, raw_request("POST", "/v1/heap/start?pid=%d" % own.pid,
                                        host="127.0.0.1:%d" % self.port), port=self.port)
            self.assertEqual(r.status, 200, "nobody tracking its own pid over TCP: %r\n%s" % (r, self.daemon.log_tail()))
            r = raw(NOBODY, raw_request("POST", "/v1/heap/start?pid=%d" % roots.pid,
                                        host="127.0.0.1:%d" % self.port), port=self.port)
            self.assertEqual(r.status, 403, "nobody tracking root's pid over TCP: %r" % r)
            self.assertIn("65534", r.text(), r)
            self.assertNotIn(roots.pid, tracked_pids(self.daemon))
        finally:
            self.untrack(own.pid)
            kill(own)
            kill(roots)


# --------------------------------------------------------------------------
# denial of service
# --------------------------------------------------------------------------


class Slowloris(AttackTest):
    """100 connections from nobody, each trickling one header byte every
    2 s. Found: they hold the shared 80-connection limit and root's
    /v1/status gets no answer while the trickle lasts."""
    listen = True
    DEADLINE = 10   # profd's limit for receiving a whole request

    def trickle(self, unix=None, port=None, n=100, seconds=16):
        arg = {"unix": unix, "port": port, "n": n, "every": 2, "seconds": seconds}
        p = spawn(as_user(NOBODY, [sys.executable, "-c", TRICKLE_CLIENT, json.dumps(arg)]),
                  stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        line = p.stdout.readline()
        if line.strip() != b"opened":
            kill(p)
            raise AssertionError("trickling client: %r %r" % (line, p.stderr.read()[-2000:]))
        return p

    def status_fast(self, who, uid, unix=None, port=None):
        """/v1/status as @uid (None: root, from this process) over the
        transport under attack: must answer 200 within a second."""
        t0 = time.monotonic()
        try:
            if uid is not None:
                r = raw(uid, raw_request("GET", "/v1/status"), unix=unix, port=port, timeout=5)
            elif unix:
                r = unix_req(unix, "GET", "/v1/status", timeout=5)
            else:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
                try:
                    c.request("GET", "/v1/status")
                    resp = c.getresponse()
                    r = Response(resp.status, {}, resp.read(), time.monotonic() - t0)
                finally:
                    c.close()
        except (OSError, AssertionError) as e:
            self.fail("%s's /v1/status got no answer while nobody trickles (%.1f s): %s\n%s"
                      % (who, time.monotonic() - t0, e, self.daemon.log_tail()))
        self.assertEqual(r.status, 200, "%s's /v1/status: %r" % (who, r))
        # raw() includes starting python as the other user: time only root's.
        if uid is None:
            # (Blocked behind the trickle, it would take the 5 s
            # timeout; 2 s leaves room for a slow sanitizer build.)
            self.assertLess(r.elapsed, 2.0, "root's /v1/status took %.2f s" % r.elapsed)
        return r

    def run_attack(self, unix=None, port=None):
        p = self.trickle(unix=unix, port=port)
        t0 = time.monotonic()
        try:
            # While the trickle holds what it can, and after the deadline.
            for at in (2, 6, 12):
                time.sleep(max(0.0, t0 + at - time.monotonic()))
                self.status_fast("root", None, unix, port)
                self.status_fast("uid %d" % OTHER_UID, OTHER_UID, unix, port)
            out, err = p.communicate(timeout=60)
        finally:
            kill(p)
        ends = json.loads(out.decode().strip().splitlines()[-1])
        refused = [e for e in ends if e["how"] == "answer"]
        open_left = [e for e in ends if e["end"] is None]
        late = [e for e in ends if e["end"] is not None and e["how"] == "closed" and e["end"] > self.DEADLINE + 3]
        self.assertFalse(open_left, "%d of 100 trickling connections still open after 16 s (deadline %d s)"
                         % (len(open_left), self.DEADLINE))
        self.assertFalse(late, "%d trickling connections closed only after %d s: %r"
                         % (len(late), self.DEADLINE + 3, late[:5]))
        for e in refused:
            self.assertIn(e["status"], (429, 503), "refused with %r" % e)
        sys.stderr.write("[%d refused at once, %d closed at the deadline] " % (len(refused), len(ends) - len(refused)))

    def test_unix_socket(self):
        self.run_attack(unix=self.daemon.sock)

    def test_tcp_listener(self):
        self.run_attack(port=self.port)


# --------------------------------------------------------------------------
# web pages and HEAD
# --------------------------------------------------------------------------


class Browser(AttackTest):
    """Over the loopback listener a web page could make GET requests (which
    start heap tracking), and a DNS-rebinding page could read the answers:
    nothing checked Host, Origin or Sec-Fetch-Site."""
    listen = True

    def try_request(self, headers, host, method="GET", path=None, pid=None):
        path = path or "/debug/pprof/heap?pid=%d&seconds=0" % pid
        return raw(NOBODY, raw_request(method, path, host=host, headers=headers), port=self.port)

    def test_rebinding_and_cross_site_refused(self):
        w = sleeper(NOBODY)
        port = self.port
        refused = [
            ("rebinding Host", "evil.example:%d" % port, ()),
            ("rebinding Host, no port", "attacker.test", ()),
            ("Host of a loopback-looking name", "127.0.0.1.evil.example:%d" % port, ()),
            ("cross-site page", "127.0.0.1:%d" % port, (("Sec-Fetch-Site", "cross-site"),)),
            ("same-site page", "localhost:%d" % port, (("Sec-Fetch-Site", "same-site"),)),
            ("foreign Origin", "127.0.0.1:%d" % port, (("Origin", "http://evil.example"),)),
            ("another local port's Origin", "127.0.0.1:%d" % port, (("Origin", "http://127.0.0.1:%d" % (port + 1)),)),
            ("null Origin", "127.0.0.1:%d" % port, (("Origin", "null"),)),
        ]
        try:
            for what, host, headers in refused:
                with self.subTest(what=what):
                    for path in ("/debug/pprof/heap?pid=%d&seconds=0" % w.pid, "/v1/status"):
                        method = "GET"
                        r = self.try_request(headers, host, method=method, path=path)
                        self.assertEqual(r.status, 403, "%s: %s %s: %r" % (what, method, path, r))
                        self.assertNotIn(b"sessions", r.body, "%s: /v1/status answered: %r" % (what, r))
                    r = self.try_request(headers, host, method="POST", path="/v1/heap/start?pid=%d" % w.pid)
                    self.assertEqual(r.status, 403, "%s: POST heap start: %r" % (what, r))
                    self.assertNotIn(w.pid, tracked_pids(self.daemon), "%s started heap tracking" % what)
            allowed = [
                ("curl-like", "127.0.0.1:%d" % port, ()),
                ("localhost", "localhost:%d" % port, ()),
                ("IPv6 literal", "[::1]:%d" % port, ()),
                ("typed in the address bar", "127.0.0.1:%d" % port, (("Sec-Fetch-Site", "none"),)),
                ("own origin", "localhost:%d" % port, (("Origin", "http://localhost:%d" % port),
                                                       ("Sec-Fetch-Site", "same-origin"))),
            ]
            for what, host, headers in allowed:
                with self.subTest(what=what):
                    r = self.try_request(headers, host, path="/v1/status")
                    self.assertEqual(r.status, 200, "%s: %r" % (what, r))
            # What go tool pprof sends: served, tracking started for the
            # pull (and, a one-off, stopped after it).
            r = self.try_request((("User-Agent", "Go-http-client/1.1"), ("Accept-Encoding", "gzip")),
                                 "127.0.0.1:%d" % port, pid=w.pid)
            self.assertEqual(r.status, 200, "pprof-like pull: %r" % r)
            self.assertIn("heap tracking of pid %d stopped after this snapshot" % w.pid,
                          r.headers.get("x-profd-note", ""), r.headers)
            self.assertNotIn(w.pid, tracked_pids(self.daemon))
        finally:
            self.untrack(w.pid)
            kill(w)

    def test_head_has_no_side_effects(self):
        w = sleeper()
        try:
            st0 = self.daemon.status()
            for path in ("/debug/pprof/heap?pid=%d&seconds=0" % w.pid, "/debug/pprof/allocs?pid=%d&seconds=0" % w.pid,
                         "/debug/pprof/profile?pid=%d&seconds=5" % w.pid, "/v1/heap/start?pid=%d" % w.pid):
                with self.subTest(path=path):
                    r = unix_req(self.daemon, "HEAD", path, timeout=10)
                    self.assertNotEqual(r.status, 200, "HEAD %s: %r" % (path, r))
                    # Well under the 5 s a window would wait.
                    self.assertLess(r.elapsed, 3.0, "HEAD %s waited %.1f s (a window?)" % (path, r.elapsed))
            time.sleep(0.2)
            st = self.daemon.status()
            self.assertNotIn(w.pid, {p["pid"] for p in st["heap"]["procs"]}, "HEAD started heap tracking")
            self.assertEqual(st["sessions_total"], st0["sessions_total"], "HEAD started a CPU session")
            r = unix_req(self.daemon, "HEAD", "/v1/status")
            self.assertEqual(r.status, 200, "HEAD /v1/status: %r" % r)
        finally:
            self.untrack(w.pid)
            kill(w)


# --------------------------------------------------------------------------
# /v1/status JSON
# --------------------------------------------------------------------------

QUOTE_LIB = r"""
#include <stddef.h>
/* An allocator as profd sees one: malloc and free symbols. */
extern void *__libc_malloc(size_t);
extern void __libc_free(void *);
void *malloc(size_t n) { return __libc_malloc(n); }
void free(void *p) { __libc_free(p); }
"""

QUOTE_MAIN = r"""
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
int main(int argc, char **argv)
{
	if (!dlopen(argv[1], RTLD_NOW)) {
		fprintf(stderr, "%s\n", dlerror());
		return 1;
	}
	printf("ready\n");
	fflush(stdout);
	for (int i = 0; i < 600; i++) {
		free(malloc(100));
		usleep(100000);
	}
	return 0;
}
"""


class StatusJson(AttackTest):
    """/v1/status embedded a path from the target's maps unescaped: a
    library named with a quote broke or forged root's JSON."""

    def test_quote_in_library_path(self):
        if not shutil.which("gcc"):
            self.skipTest("no gcc")
        d = tempfile.mkdtemp(prefix="profd-e2e-quote-")
        try:
            os.chmod(d, 0o755)
            name = 'libq","pid":1,"allocator":"forged\\","mode":"x.so'
            lib = os.path.join(d, name)
            exe = os.path.join(d, "dlopener")
            for src, out, extra in ((QUOTE_LIB, lib, ["-shared", "-fPIC"]), (QUOTE_MAIN, exe, ["-ldl"])):
                r = subprocess.run(["gcc", "-O1", "-x", "c", "-", "-o", out] + extra, input=src.encode(),
                                   capture_output=True)
                self.assertEqual(r.returncode, 0, r.stderr.decode(errors="replace"))
            os.chmod(lib, 0o755)
            w = spawn(as_user(NOBODY, [exe, lib]), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                line = w.stdout.readline()
                self.assertEqual(line.strip(), b"ready", w.stderr.read() if w.poll() is not None else line)
                r = raw(NOBODY, raw_request("POST", "/v1/heap/start?pid=%d" % w.pid), unix=self.daemon.sock)
                self.assertEqual(r.status, 200, "%r\n%s" % (r, self.daemon.log_tail()))
                self.assertIn(name, r.text(), "the library with malloc/free should be the allocator: %r" % r)
                body = unix_req(self.daemon, "GET", "/v1/status").body
                try:
                    st = json.loads(body)
                except ValueError as e:
                    self.fail("root's /v1/status is not JSON (%s): %r" % (e, body[-800:]))
                procs = st["heap"]["procs"]
                self.assertEqual([p["pid"] for p in procs], [w.pid], "forged entries: %r" % procs)
                self.assertEqual(procs[0]["allocator"], lib, procs)
                self.assertEqual(procs[0]["mode"], "uprobe", procs)
            finally:
                self.untrack(w.pid)
                kill(w)
        finally:
            shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------
# the Unix socket's mode
# --------------------------------------------------------------------------


class SocketMode(unittest.TestCase):
    """The socket was chmod()ed by name after bind(): in between it had
    bind's mode (0777 under umask 0), and a name in a directory others
    can write may have been replaced by a symlink that chmod follows."""

    def test_mode_from_the_start(self):
        if not shutil.which("strace"):
            self.skipTest("no strace")
        if subprocess.run(["strace", "-o", "/dev/null", "-e", "inject=getppid:delay_exit=1", "true"],
                          capture_output=True).returncode:
            self.skipTest("strace cannot inject delays (-e inject=...:delay_exit=)")
        d = tempfile.mkdtemp(prefix="profd-e2e-")
        os.chmod(d, 0o755)
        sock = os.path.join(d, "profd.sock")
        log = open(os.path.join(cpu.ART, "profd-socketmode.log"), "wb")
        # Every bind() returns 1.5 s late: the socket's first moments last.
        cmd = ["strace", "-f", "-o", "/dev/null", "-e", "trace=bind", "-e", "inject=bind:delay_exit=1500000",
               cpu.PROFD, "--socket", sock, "--socket-mode", "0600", "-v"]
        p = spawn(cmd, stdout=log, stderr=subprocess.STDOUT, preexec_fn=lambda: os.umask(0))
        seen = set()
        try:
            deadline = time.monotonic() + 20
            ready = False
            while time.monotonic() < deadline and not ready:
                self.assertIsNone(p.poll(), "profd exited: %s" % open(log.name, "rb").read()[-2000:])
                try:
                    st = os.lstat(sock)
                except FileNotFoundError:
                    time.sleep(0.005)
                    continue
                seen.add((stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode)))
                try:
                    ready = unix_req(sock, "GET", "/v1/status", timeout=2).status == 200
                except OSError:
                    pass
            self.assertTrue(ready, "profd never answered: %s" % open(log.name, "rb").read()[-2000:])
            self.assertEqual(seen, {(stat.S_IFSOCK, 0o600)},
                             "modes seen at %s: %s" % (sock, sorted((oct(f), oct(m)) for f, m in seen)))
        finally:
            kill(p, signal.SIGTERM, wait=10)
            log.close()
            shutil.rmtree(d, ignore_errors=True)


# --------------------------------------------------------------------------
# processes that cannot be profiled
# --------------------------------------------------------------------------

class ProcessState(AttackTest):

    def test_zombie_refused_at_once(self):
        """Found: a zombie's CPU profile waited out the window and came
        back an empty 200."""
        z = subprocess.Popen(["true"])
        try:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                with open("/proc/%d/stat" % z.pid) as f:
                    if f.read().rsplit(")", 1)[1].split()[0] == "Z":
                        break
                time.sleep(0.01)
            # A 10 s window: waiting it out is far from the 3 s allowed.
            r = unix_req(self.daemon, "GET", "/debug/pprof/profile?pid=%d&seconds=10" % z.pid, timeout=20)
            self.assertLess(r.elapsed, 3, "a zombie's profile waited %.1f s: %r" % (r.elapsed, r))
            self.assertIn(r.status, (404, 410), r)
            self.assertIn("zombie", r.text(), r)
            self.assertEqual(r.headers.get("x-go-pprof"), "1", r.headers)
        finally:
            z.wait()

    def check_unreadable(self, d, pid):
        for path in ("/debug/pprof/profile?pid=%d&seconds=1" % pid, "/debug/pprof/heap?pid=%d&seconds=0" % pid):
            with self.subTest(path=path):
                r = unix_req(d, "GET", path, timeout=10)
                self.assertNotEqual(r.status, 200, r)
                self.assertNotIn("BPF", r.text(), "blames BPF: %r" % r)
                self.assertIn("/proc/%d/" % pid, r.text(), "does not name what it could not read: %r" % r)
        return r

    def test_unreadable_process_named(self):
        """Found: a process profd may not read gave a 500 blaming BPF
        privileges. Here profd runs without CAP_SYS_PTRACE, which reading
        another user's /proc/PID/maps needs, and root asks for uid
        12345's process."""
        wrap = os.path.join(tempfile.mkdtemp(prefix="profd-e2e-"), "profd-noptrace")
        with open(wrap, "w") as f:
            f.write('#!/bin/sh\nexec setpriv --bounding-set=-sys_ptrace --inh-caps=-sys_ptrace "%s" "$@"\n'
                    % cpu.PROFD)
        os.chmod(wrap, 0o755)
        saved, cpu.PROFD = cpu.PROFD, wrap
        try:
            d = Daemon("noptrace")
        finally:
            cpu.PROFD = saved
        w = sleeper(OTHER_UID)
        try:
            time.sleep(0.1)  # setpriv has exec()ed sleep
            r = self.check_unreadable(d, w.pid)
            self.assertIn("CAP_SYS_PTRACE", r.text(), "does not say why: %r" % r)
        finally:
            kill(w)
            d.stop()
            shutil.rmtree(os.path.dirname(wrap), ignore_errors=True)


def wait_libc(pid, seconds=5):
    """Until @pid runs sleep with libc mapped (its malloc is what heap
    tracking probes): a process just forked has neither yet."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            # setpriv (as_user) maps libc too: wait for sleep itself.
            with open("/proc/%d/comm" % pid) as f:
                comm = f.read().strip()
            with open("/proc/%d/maps" % pid) as f:
                if comm == "sleep" and "libc.so" in f.read():
                    return
        except OSError:
            pass
        time.sleep(0.02)


class HeapShares(AttackTest):
    """--heap-max-procs 4: a user other than root may track 1 process (a
    quarter), users together 3 (an eighth, at least one, kept for root).
    Before the shares, nobody alone filled all 4 and root got a 503."""
    daemon_args = ("--heap-max-procs", "4")

    def start_as(self, uid, pid):
        wait_libc(pid)
        return raw(uid, raw_request("POST", "/v1/heap/start?pid=%d" % pid), unix=self.daemon.sock)

    def test_one_user_cannot_take_every_slot(self):
        users = [NOBODY, OTHER_UID, OTHER_UID + 1, OTHER_UID + 2]
        procs = []
        try:
            mine = [sleeper(NOBODY) for _ in range(2)]
            procs += mine
            r = self.start_as(NOBODY, mine[0].pid)
            self.assertEqual(r.status, 200, "nobody's first: %r" % (r,))
            r = self.start_as(NOBODY, mine[1].pid)
            self.assertEqual(r.status, 429, "nobody's second, over a quarter of 4: %r" % (r,))
            self.assertIn("for one user", r.text())
            # Two more users fill the users' share (3 of 4) ...
            for uid in users[1:3]:
                p = sleeper(uid)
                procs.append(p)
                r = self.start_as(uid, p.pid)
                self.assertEqual(r.status, 200, "uid %d's first: %r" % (uid, r))
            p = sleeper(users[3])
            procs.append(p)
            r = self.start_as(users[3], p.pid)
            self.assertEqual(r.status, 503, "a fourth user, past the users' share: %r" % (r,))
            # ... and root still has its room.
            p = sleeper()
            procs.append(p)
            wait_libc(p.pid)
            r = unix_req(self.daemon, "POST", "/v1/heap/start?pid=%d" % p.pid)
            self.assertEqual(r.status, 200, "root, in the room kept for it: %r" % (r,))
            self.assertEqual(len(tracked_pids(self.daemon)), 4)
        finally:
            for p in procs:
                self.untrack(p.pid)
                kill(p)


class WindowStop(AttackTest):
    """POST /v1/profile/stop ends the caller's own windows only."""

    def window_in_background(self, uid, pid, seconds, name):
        """GET a CPU window as @uid (None: root) in a thread: (thread,
        dict whose "r" is the Response or the exception)."""
        import threading
        res = {}
        path = "/debug/pprof/profile?pid=%d&seconds=%d&window=%s" % (pid, seconds, name)

        def get():
            try:
                if uid is None:
                    res["r"] = unix_req(self.daemon, "GET", path, timeout=seconds + 30)
                else:
                    res["r"] = raw(uid, raw_request("GET", path), unix=self.daemon.sock, timeout=seconds + 30)
            except BaseException as e:
                res["r"] = e

        t = threading.Thread(target=get)
        t.start()
        return t, res

    def wait_windows(self, n):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.daemon.status()["sessions_active"] < n:
            time.sleep(0.05)
        self.assertGreaterEqual(self.daemon.status()["sessions_active"], n, "windows did not open")

    def duration(self, r, name):
        self.assertEqual(r.status, 200, "%r\n%s" % (r, self.daemon.log_tail()))
        path = os.path.join(cpu.ART, "attack-%s.pb.gz" % name)
        with open(path, "wb") as f:
            f.write(r.body)
        return cpu.Prof(path).proto["duration_nanos"] / 1e9

    def test_nobody_cannot_end_roots_window(self):
        roots, theirs = sleeper(), sleeper(NOBODY)
        try:
            wait_libc(roots.pid)
            wait_libc(theirs.pid)
            t1, r1 = self.window_in_background(None, roots.pid, 4, "w1")
            t2, r2 = self.window_in_background(None, theirs.pid, 4, "w2")
            self.wait_windows(2)
            for pid, q, want in ((roots.pid, "", 403), (roots.pid, "&window=w1", 403),
                                 (theirs.pid, "", 404), (theirs.pid, "&window=w2", 404)):
                r = raw(NOBODY, raw_request("POST", "/v1/profile/stop?pid=%d%s" % (pid, q)), unix=self.daemon.sock)
                self.assertEqual(r.status, want, "nobody ending root's window on pid %d%s: %r" % (pid, q, r))
            r = raw(NOBODY, raw_request("GET", "/v1/profile/stop?pid=%d" % theirs.pid), unix=self.daemon.sock)
            self.assertEqual(r.status, 405, r)
            t1.join(40)
            t2.join(40)
            for res, name in ((r1, "w1"), (r2, "w2")):
                self.assertFalse(isinstance(res.get("r"), BaseException), res)
                d = self.duration(res["r"], name)
                self.assertGreater(d, 3.9, "root's 4 s window %s lasted %.2f s" % (name, d))
                self.assertNotIn("x-profd-note", res["r"].headers, res["r"].headers)
            # Its own window nobody may end: the check is not a wall.
            t3, r3 = self.window_in_background(NOBODY, theirs.pid, 20, "mine")
            self.wait_windows(1)
            r = raw(NOBODY, raw_request("POST", "/v1/profile/stop?pid=%d&window=mine" % theirs.pid),
                    unix=self.daemon.sock)
            self.assertEqual(r.status, 200, r)
            t3.join(40)
            self.assertFalse(isinstance(r3.get("r"), BaseException), r3)
            d = self.duration(r3["r"], "mine")
            self.assertLess(d, 10, "nobody's own window, ended early, lasted %.2f s" % d)
        finally:
            kill(roots)
            kill(theirs)

    def test_nobody_sees_only_own_windows(self):
        """/v1/status lists nobody's own window to nobody, never root's
        (its pid and rate are root's business); root sees both."""
        roots, theirs = sleeper(), sleeper(NOBODY)
        try:
            wait_libc(roots.pid)
            wait_libc(theirs.pid)
            t1, r1 = self.window_in_background(None, roots.pid, 4, "seen1")
            t2, r2 = self.window_in_background(NOBODY, theirs.pid, 4, "seen2")
            self.wait_windows(2)
            r = raw(NOBODY, raw_request("GET", "/v1/status"), unix=self.daemon.sock)
            self.assertEqual(r.status, 200, r)
            seen = {(s["pid"], s["uid"]) for s in json.loads(r.body)["sessions"]}
            self.assertEqual(seen, {(theirs.pid, NOBODY)}, "nobody's /v1/status sessions")
            seen = {(s["pid"], s["uid"]) for s in self.daemon.status()["sessions"]}
            self.assertEqual(seen, {(roots.pid, 0), (theirs.pid, NOBODY)}, "root's /v1/status sessions")
            t1.join(40)
            t2.join(40)
            for res in (r1, r2):
                self.assertFalse(isinstance(res.get("r"), BaseException), res)
                self.assertEqual(res["r"].status, 200, res["r"])
        finally:
            kill(roots)
            kill(theirs)


# --------------------------------------------------------------------------
# fleet (issue 13): /metrics, the spool, configuration and credential files
# --------------------------------------------------------------------------

METRICS_LINE = re.compile(r'^[a-z_]+(\{(reason|code|version|result|kind)="[a-z0-9_.]+"\})? [0-9.e+-]+$')


class FleetAccess(AttackTest):
    """/metrics goes through the one origin and caller check of every
    request and shows counters only — no service, unit, path, URL or pid —
    so every caller may read it, as /v1/status's counters; the spool is
    root's alone; a configuration or credential file that another user
    could change (or, for credentials, read) is refused at start-up."""
    listen = True

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="profd-fleet-attack-")
        cls.spool = os.path.join(cls.tmp, "spool")
        src = os.path.join(cls.tmp, "interval.pb.gz")
        import gzip
        with open(src, "wb") as f:
            f.write(gzip.compress(b"an interval"))
        cls.daemon_args = ("--spool-dir", cls.spool, "--continuous-interval", "1",
                           "--test-interval-profile", src,
                           "--push-url", "http://127.0.0.1:%d" % free_tcp_port())
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def test_metrics_counters_only(self):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not [n for n in os.listdir(self.spool) if n.endswith(".iv")]:
            time.sleep(0.2)
        for how, r in (("unix", raw(NOBODY, raw_request("GET", "/metrics"), unix=self.daemon.sock)),
                       ("tcp", raw(NOBODY, raw_request("GET", "/metrics", host="127.0.0.1:%d" % self.port),
                                   port=self.port))):
            self.assertEqual(r.status, 200, "%s: nobody GET /metrics: %r" % (how, r))
            text = r.body.decode()
            for line in text.splitlines():
                if line.startswith("#"):
                    continue
                self.assertRegex(line, METRICS_LINE, "%s: /metrics line beyond counters" % how)
            for secret in ("profd-test", self.spool, "127.0.0.1", "interval.pb.gz"):
                self.assertNotIn(secret, text, "%s: /metrics names %s" % (how, secret))
            self.assertIn("profd_spool_files", text)
        # A web page gets nothing; only GET and HEAD.
        r = raw(NOBODY, raw_request("GET", "/metrics", host="127.0.0.1:%d" % self.port,
                                    headers=(("Origin", "http://evil.example"),)), port=self.port)
        self.assertEqual(r.status, 403, r)
        self.assertNotIn(b"profd_", r.body)
        r = raw(NOBODY, raw_request("POST", "/metrics"), unix=self.daemon.sock)
        self.assertEqual(r.status, 405, r)
        # The history holds every process's profiles: root's alone.
        r = raw(NOBODY, raw_request("GET", "/v1/history"), unix=self.daemon.sock)
        self.assertEqual(r.status, 403, r)
        self.assertNotEqual(r.body[:2], b"\x1f\x8b")
        r = unix_req(self.daemon, "GET", "/v1/history?since=10m")
        self.assertEqual(r.status, 404, "root: spooled junk is no profile: %r" % r)

    def test_machine_profile_is_roots(self):
        """A profile without pid is of every process (it names every
        function of every user's): nobody gets 403 with the reason, over
        the Unix socket and TCP, and never a profile; root gets one."""
        for how, r in (("unix", raw(NOBODY, raw_request("GET", "/debug/pprof/profile?seconds=1"),
                                    unix=self.daemon.sock)),
                       ("tcp", raw(NOBODY, raw_request("GET", "/debug/pprof/profile?seconds=1",
                                                       host="127.0.0.1:%d" % self.port), port=self.port))):
            self.assertEqual(r.status, 403, "%s: nobody's machine-wide profile: %r" % (how, r))
            self.assertIn(b"only root", r.body, r)
            self.assertNotEqual(r.body[:2], b"\x1f\x8b")
        # profctl says so too, and writes nothing.
        p = subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups",
                            cpu.PROFCTL, "--socket", self.daemon.sock, "cpu", "--all", "--seconds", "1",
                            "-o", "-"], capture_output=True, timeout=30)
        self.assertNotEqual(p.returncode, 0, p)
        self.assertIn(b"only root", p.stderr + p.stdout)
        self.assertNotIn(b"\x1f\x8b", p.stdout)
        r = unix_req(self.daemon, "GET", "/debug/pprof/profile?seconds=1")
        self.assertEqual(r.status, 200, "root: %r" % r)
        self.assertEqual(r.body[:2], b"\x1f\x8b")

    def test_spool_is_roots(self):
        st = os.stat(self.spool)
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o700, oct(st.st_mode))
        deadline = time.monotonic() + 20
        names = []
        while time.monotonic() < deadline and not names:
            names = [n for n in os.listdir(self.spool) if n.endswith(".iv")]
            time.sleep(0.2)
        self.assertTrue(names, "nothing spooled")
        st = os.stat(os.path.join(self.spool, names[0]))
        self.assertEqual(stat.S_IMODE(st.st_mode), 0o600, oct(st.st_mode))
        r = subprocess.run(as_user(NOBODY, ["ls", self.spool]), capture_output=True)
        self.assertNotEqual(r.returncode, 0, "nobody lists the spool")

    def start_refused(self, *args):
        r = subprocess.run([cpu.PROFD, "--socket", os.path.join(self.tmp, "refused.sock")] + list(args),
                           capture_output=True, text=True, timeout=30)
        self.assertNotEqual(r.returncode, 0, "profd started with %r:\n%s" % (args, r.stderr))
        return r.stderr

    def test_unsafe_files_refused(self):
        conf = os.path.join(self.tmp, "profd.conf")
        with open(conf, "w") as f:
            f.write("push-url = https://attacker.example\n")
        os.chmod(conf, 0o666)
        err = self.start_refused("--config", conf)
        self.assertIn("writable by others", err)
        os.chmod(conf, 0o664)
        self.assertIn("writable by its group", self.start_refused("--config", conf))
        os.chmod(conf, 0o644)
        os.chown(conf, NOBODY, NOBODY)
        self.assertIn("owned by uid %d" % NOBODY, self.start_refused("--config", conf))
        os.chown(conf, 0, 0)

        token = os.path.join(self.tmp, "token")
        with open(token, "w") as f:
            f.write("tok-SECRET-value\n")
        spool = os.path.join(self.tmp, "spool2")
        base = ["--spool-dir", spool, "--push-url", "https://pyroscope.example", "--push-token-file", token]
        os.chmod(token, 0o644)
        err = self.start_refused(*base)
        self.assertIn("readable by others", err)
        os.chmod(token, 0o622)
        self.assertIn("writable by", self.start_refused(*base))
        os.chmod(token, 0o600)
        os.chown(token, NOBODY, NOBODY)
        err = self.start_refused(*base)
        self.assertIn("owned by uid %d" % NOBODY, err)
        self.assertNotIn("SECRET", err)
        # A spool others may write: they could plant intervals to push.
        shared = os.path.join(self.tmp, "shared-spool")
        os.makedirs(shared)
        os.chmod(shared, 0o1777)
        err = self.start_refused("--spool-dir", shared, "--push-url", "http://127.0.0.1:9")
        self.assertIn("writable by group or others: refused", err)
        # Credentials over plain http to another host: refused.
        os.chown(token, 0, 0)
        err = self.start_refused("--spool-dir", spool, "--push-url", "http://pyroscope.example",
                                 "--push-token-file", token)
        self.assertIn("in the clear", err)


# --------------------------------------------------------------------------
# --listen beyond loopback with a bearer token (issue 13, test_listen.py)
# --------------------------------------------------------------------------


class RemoteListenAttack(AttackTest):
    """A token listener on this machine's own non-loopback address, and
    nobody: cannot read the token file; gains nothing by sending a token
    header over the Unix socket (or the right token's header with a wrong
    one's value); holding the token, cannot do more than observe — no heap
    tracking of root's process (uprobes into it), no heap pull, no ending
    of root's window; without the token gets 401 on this listener whatever
    its uid."""

    @classmethod
    def setUpClass(cls):
        import test_listen
        cls.addr = test_listen.machine_address()
        if not cls.addr:
            raise unittest.SkipTest("no IPv4 address but loopback on this machine")
        cls.tmp = tempfile.mkdtemp(prefix="profd-listen-attack-")
        os.chmod(cls.tmp, 0o755)
        cls.token_path = os.path.join(cls.tmp, "token")
        cls.token = test_listen.make_token(cls.token_path)
        cls.lport = free_tcp_port()
        cls.base = "http://%s:%d" % (cls.addr, cls.lport)
        cls.daemon_args = ("--listen", "%s:%d" % (cls.addr, cls.lport),
                           "--listen-token-file", cls.token_path)
        super().setUpClass()

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def curl(self, path, **kw):
        import test_listen
        return test_listen.curl(self.base + path, **kw)

    def test_token_file_unreadable(self):
        r = subprocess.run(as_user(NOBODY, ["cat", self.token_path]), capture_output=True)
        self.assertNotEqual(r.returncode, 0, "nobody read the token file")
        self.assertNotIn(self.token.encode(), r.stdout)

    def test_unix_socket_token_header_gains_nothing(self):
        """Over the Unix socket the caller is its uid: nobody with the token
        in Authorization still gets 403 for a machine-wide profile and for
        root's process, and /v1/status without root's sessions."""
        root = sleeper()
        try:
            hdr = (("Authorization", "Bearer " + self.token),)
            for path in ("/debug/pprof/profile?seconds=1", "/debug/pprof/profile?seconds=1&pid=%d" % root.pid):
                r = raw(NOBODY, raw_request("GET", path, headers=hdr), unix=self.daemon.sock)
                self.assertEqual(r.status, 403, "nobody + token header, %s: %r" % (path, r))
                self.assertNotEqual(r.body[:2], b"\x1f\x8b")
            r = raw(NOBODY, raw_request("POST", "/v1/heap/start?pid=%d" % root.pid, headers=hdr),
                    unix=self.daemon.sock)
            self.assertEqual(r.status, 403, r)
            self.assertNotIn(root.pid, tracked_pids(self.daemon))
        finally:
            kill(root)

    def test_no_token_401_whoever_asks(self):
        """On the token listener even a local root caller without the token
        gets 401 (the socket's owner is not asked), and so does nobody."""
        for uid in (None, NOBODY):
            st, hd, body, _ = self.curl("/debug/pprof/profile?seconds=1", uid=uid)
            self.assertEqual(st, 401, "uid %s: %r" % (uid, body[:200]))
            self.assertIn("www-authenticate", hd)
            self.assertNotEqual(body[:2], b"\x1f\x8b")

    def test_reload_takes_no_token_from_nobody(self):
        """The token file in a directory nobody may write (a mistake, but
        one nobody would try to use): nobody renames its own token file
        (0600, its own) over root's, then root reloads (SIGHUP, as
        `systemctl reload profd`). nobody's token gets 401, root's still
        opens, and the log names the file's owner, not the token."""
        import test_listen
        tdir = tempfile.mkdtemp(prefix="nobody-dir-", dir=self.tmp)
        os.chown(tdir, NOBODY, NOBODY)
        os.chmod(tdir, 0o755)
        path = os.path.join(tdir, "token")
        token = test_listen.make_token(path)
        spec = "%s:%d" % (self.addr, free_tcp_port())
        url = "http://%s/v1/status" % spec
        d = Daemon("listen-attack-reload", "--listen", spec, "--listen-token-file", path)
        try:
            mine = os.urandom(32).hex()
            r = subprocess.run(as_user(NOBODY, ["sh", "-c", 'umask 077; printf "%s\\n" "$1" > "$2.x" && mv -f "$2.x" "$2"',
                                                "sh", mine, path]), capture_output=True, text=True)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(os.stat(path).st_uid, NOBODY, "nobody's file in place")
            test_listen.reload_and_wait(d, "owned by uid %d" % NOBODY)
            self.assertEqual(test_listen.curl(url, token=mine, uid=NOBODY)[0], 401, "nobody's token")
            self.assertEqual(test_listen.curl(url, token=token)[0], 200, "root's token kept")
            with open(d.log_path, "rb") as f:
                log = f.read().decode(errors="replace")
            self.assertNotIn(mine, log)
            self.assertNotIn(token, log)
        finally:
            d.stop()

    def test_token_holder_only_observes(self):
        """nobody holding the token (a scraper somewhere) may read root's
        process's CPU profile (the documented scope: root's view), but not
        start heap tracking on it, pull its heap, or end root's window."""
        root = sleeper()
        try:
            st, _, body, _ = self.curl("/v1/heap/start?pid=%d" % root.pid, uid=NOBODY, token=self.token,
                                       method="POST")
            self.assertEqual(st, 403, body)
            self.assertIn(b"Unix socket", body)
            st, _, body, _ = self.curl("/debug/pprof/heap?pid=%d&seconds=1" % root.pid, uid=NOBODY,
                                       token=self.token)
            self.assertEqual(st, 403, body)
            self.assertNotEqual(body[:2], b"\x1f\x8b")
            st, _, body, _ = self.curl("/debug/pprof/allocs?pid=%d&seconds=1&mode=inproc" % root.pid,
                                       uid=NOBODY, token=self.token)
            self.assertEqual(st, 403, body)
            self.assertNotIn(root.pid, tracked_pids(self.daemon), "a token holder started heap tracking")
            st, _, body, _ = self.curl("/v1/profile/stop?pid=%d" % root.pid, uid=NOBODY, token=self.token,
                                       method="POST")
            self.assertEqual(st, 403, body)
            # What the scope allows: a CPU profile of root's process.
            st, _, body, _ = self.curl("/debug/pprof/profile?seconds=1&pid=%d" % root.pid, uid=NOBODY,
                                       token=self.token)
            self.assertEqual(st, 200, body[:300])
            self.assertEqual(body[:2], b"\x1f\x8b")
        finally:
            kill(root)


def main():
    """These tests alone; run_all.py runs every suite with one tally."""
    import run_all
    import test_attack
    run_all.main(modules=(test_attack,))


if __name__ == "__main__":
    main()
