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
"""

import base64
import http.client
import json
import os
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


def main():
    """These tests alone; run_all.py runs every suite with one tally."""
    import run_all
    import test_attack
    run_all.main(modules=(test_attack,))


if __name__ == "__main__":
    main()
