#!/usr/bin/env python3
"""--listen beyond loopback (issue 13: remote Parca and Alloy scrapes),
run by tests/e2e/run.sh through run_all.py with test_cpu.py's helpers.

  python3 tests/e2e/test_listen.py --output build [-k NAME]...   (these only)

The listener is bound to an address of this machine that is not loopback
(the first global IPv4 address, e.g. eth0's); clients connect to it from
this machine, which for profd is what a remote caller is: on a token
listener the socket's owner is not asked.

- RemoteListen: 401 without the token and with a wrong one (with
  WWW-Authenticate), 200 with it; a whole-machine CPU profile with it; any
  Host; the warning about a token without TLS; TLS with a self-signed
  certificate made here with openssl (curl --cacert works, plain HTTP to
  the port gets no answer); the config file's `listen` keys.
- ListenRefused: what must stop profd at start-up: beyond loopback without
  a token (TLS or not), a token file others or the group may read, one
  owned by nobody, one that is not a token, token options without a
  listener.
- ReadmeConfigs: the configurations README's "Fleet" shows are the files
  in examples/fleet/, profd takes its own, and parca.yaml is YAML with
  the structure Parca reads.

Attacks as nobody on this listener are in test_attack.py (RemoteListenAttack).
"""

import gzip
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cpu as cpu  # noqa: E402
from test_cpu import Daemon, free_tcp_port  # noqa: E402
from test_fleet import metrics, wait_for  # noqa: E402


def machine_address():
    """An IPv4 address of this machine that is not loopback, or None."""
    if not shutil.which("ip"):
        return None
    r = subprocess.run(["ip", "-4", "-o", "addr", "show", "scope", "global"],
                       capture_output=True, text=True)
    for line in r.stdout.splitlines():
        m = re.search(r"\binet (\d+\.\d+\.\d+\.\d+)/", line)
        if m and not m.group(1).startswith("127."):
            return m.group(1)
    return None


def make_token(path, text=None, mode=0o600):
    with open(path, "w") as f:
        f.write((text if text is not None else os.urandom(32).hex()) + "\n")
    os.chmod(path, mode)
    with open(path) as f:
        return f.readline().strip()


def replace_file(path, text, mode=0o600):
    """@path's contents replaced in one step (a new file renamed over it),
    as an operator's tooling rotates a credential."""
    tmp = path + ".new"
    with open(tmp, "w") as f:
        f.write(text)
    os.chmod(tmp, mode)
    os.rename(tmp, path)


def reload_and_wait(d, line, count=1, timeout=15):
    """SIGHUP to profd @d, then wait until its log holds @line @count times."""
    d.proc.send_signal(signal.SIGHUP)

    def seen():
        with open(d.log_path, "rb") as f:
            return f.read().decode(errors="replace").count(line) >= count
    wait_for(seen, timeout, "%r in the log after SIGHUP" % line)


def make_cert(dirpath, addr):
    """A self-signed certificate for @addr (and localhost) and its key,
    made with openssl. Returns (cert, key)."""
    cert, key = os.path.join(dirpath, "cert.pem"), os.path.join(dirpath, "key.pem")
    r = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                        "-keyout", key, "-out", cert, "-subj", "/CN=profd-e2e",
                        "-addext", "subjectAltName=IP:%s,DNS:localhost" % addr],
                       capture_output=True, text=True, timeout=60)
    if r.returncode:
        raise AssertionError("openssl req failed: %s" % r.stderr)
    os.chmod(key, 0o600)
    return cert, key


def curl(url, token=None, uid=None, cacert=None, headers=(), method="GET", out=None, timeout=30):
    """curl @url; returns (HTTP status or 0, response headers dict with
    lower-case names, body bytes, curl's exit status)."""
    hdr = tempfile.NamedTemporaryFile(prefix="profd-curl-", delete=False)
    body = out or tempfile.NamedTemporaryFile(prefix="profd-curl-", delete=False).name
    hdr.close()
    os.chmod(hdr.name, 0o666)
    if not out:
        os.chmod(body, 0o666)
    cmd = ["curl", "-sS", "-m", str(timeout), "-X", method, "-D", hdr.name, "-o", body,
           "-w", "%{http_code}", url]
    if token is not None:
        cmd += ["-H", "Authorization: Bearer " + token]
    if cacert:
        cmd += ["--cacert", cacert]
    for h in headers:
        cmd += ["-H", h]
    if uid is not None:
        cmd = ["setpriv", "--reuid=%d" % uid, "--regid=%d" % uid, "--clear-groups"] + cmd
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout + 30)
    try:
        status = int(r.stdout.strip() or 0)
    except ValueError:
        status = 0
    hd = {}
    with open(hdr.name, "rb") as f:
        for line in f.read().decode("latin-1").split("\r\n")[1:]:
            k, _, v = line.partition(":")
            if k:
                hd[k.strip().lower()] = v.strip()
    with open(body, "rb") as f:
        data = f.read()
    os.unlink(hdr.name)
    if not out:
        os.unlink(body)
    return status, hd, data, r.returncode


class ListenTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.addr = machine_address()
        if not cls.addr:
            raise unittest.SkipTest("no IPv4 address but loopback on this machine (or no ip(8))")
        cls.tmp = tempfile.mkdtemp(prefix="profd-listen-")
        os.chmod(cls.tmp, 0o755)
        cls.token_path = os.path.join(cls.tmp, "token")
        cls.token = make_token(cls.token_path)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)


class RemoteListen(ListenTest):
    def test_token_plain(self):
        """Plain HTTP with a token: 401 without it or with another, 200
        with it — /v1/status, /metrics and a whole-machine profile — any
        Host; a warning at start that the token is sent in the clear."""
        port = free_tcp_port()
        spec = "%s:%d" % (self.addr, port)
        d = Daemon("listen-token", "--listen", spec, "--listen-token-file", self.token_path)
        try:
            base = "http://%s" % spec
            st, hd, body, _ = curl(base + "/v1/status")
            self.assertEqual(st, 401, body)
            self.assertEqual(hd.get("www-authenticate"), 'Bearer realm="profd"', hd)
            self.assertIn(b"bearer token", body)
            st, hd, body, _ = curl(base + "/v1/status", token=self.token[:-1] + "x")
            self.assertEqual(st, 401, body)
            self.assertIn('error="invalid_token"', hd.get("www-authenticate", ""), hd)
            st, hd, body, _ = curl(base + "/v1/status", headers=("Authorization: Basic Zm9vOmJhcg==",))
            self.assertEqual(st, 401, body)
            # Only the Authorization header counts, not a query parameter.
            st, _, body, _ = curl(base + "/v1/status?access_token=" + self.token)
            self.assertEqual(st, 401, body)
            st, _, body, _ = curl(base + "/v1/status", token=self.token)
            self.assertEqual(st, 200, body)
            status = json.loads(body)
            self.assertIn("version", status)
            self.assertIn("sessions", status, "the token holder has root's view")
            st, _, body, _ = curl(base + "/metrics", token=self.token,
                                  headers=("Host: web-17.example.com:%d" % port,))
            self.assertEqual(st, 200, "any Host on a token listener: %r" % body[:300])
            self.assertIn(b"profd_samples_total", body)
            # A scrape as Parca sends it: whole machine, seconds=N.
            with cpu.Workload("split", seconds=30) as w:
                path = os.path.join(cpu.ART, "listen-machine.pb.gz")
                st, _, body, _ = curl(base + "/debug/pprof/profile?seconds=2&hz=49", token=self.token, out=path)
                self.assertEqual(st, 200, body[:300])
                prof = cpu.Prof(path)
                pids = {int(v.split()[0]) for s in prof.samples for v in s.labels.get("pid", [])}
                self.assertIn(w.pid, pids, "the busy workload is in the machine-wide profile")
                self.assertTrue(all(s.labels.get("service_name") for s in prof.samples))
            with open(d.log_path, "rb") as f:
                log = f.read().decode(errors="replace")
            self.assertIn("crosses the network in the clear", log)
            self.assertNotIn(self.token, log, "the token is never logged")
        finally:
            d.stop()

    def test_tls(self):
        """TLS and a token: curl --cacert with the token gets 200, without
        it 401; plain HTTP to the port gets no HTTP answer; a client that
        does not trust the certificate gets nothing."""
        if not shutil.which("openssl"):
            self.skipTest("no openssl (scripts/deps.sh installs it)")
        cert, key = make_cert(self.tmp, self.addr)
        port = free_tcp_port()
        spec = "%s:%d" % (self.addr, port)
        d = Daemon("listen-tls", "--listen", spec, "--listen-token-file", self.token_path,
                   "--listen-tls-cert", cert, "--listen-tls-key", key)
        try:
            st, _, body, _ = curl("https://%s/v1/status" % spec, token=self.token, cacert=cert)
            self.assertEqual(st, 200, body)
            self.assertIn("version", json.loads(body))
            st, hd, body, _ = curl("https://%s/v1/status" % spec, cacert=cert)
            self.assertEqual(st, 401, body)
            self.assertIn("www-authenticate", hd)
            st, _, body, rc = curl("http://%s/v1/status" % spec, token=self.token, timeout=10)
            self.assertEqual(st, 0, "plain HTTP to the TLS port: %r" % body[:200])
            self.assertNotEqual(rc, 0)
            st, _, _, rc = curl("https://%s/v1/status" % spec, token=self.token, timeout=10)
            self.assertEqual((st, rc), (0, 60), "an untrusted certificate: curl's error 60")
            with open(d.log_path, "rb") as f:
                log = f.read().decode(errors="replace")
            self.assertIn("https://" + spec, log)
            self.assertNotIn("in the clear", log)
        finally:
            d.stop()

    def test_reload_token(self):
        """SIGHUP (systemctl reload profd) reads the token file again: the
        old token is refused and the new one accepted at once, with no
        restart. A bad new file — too short, or readable by others — keeps
        the current token: one log line each (never the token), counted
        as refused in /metrics."""
        path = os.path.join(self.tmp, "token-reload")
        old = make_token(path)
        spec = "%s:%d" % (self.addr, free_tcp_port())
        url = "http://%s/v1/status" % spec
        d = Daemon("listen-reload", "--listen", spec, "--listen-token-file", path)
        try:
            self.assertEqual(curl(url, token=old)[0], 200)
            new = os.urandom(32).hex()
            replace_file(path, new + "\n")
            reload_and_wait(d, "reload: the listener's token read again")
            self.assertEqual(curl(url, token=old)[0], 401, "the old token after the reload")
            self.assertEqual(curl(url, token=new)[0], 200, "the new token after the reload")
            m = metrics(d)
            self.assertEqual(m['profd_listen_reloads_total{result="ok"}'], 1, m)
            self.assertEqual(m['profd_listen_reloads_total{result="refused"}'], 0, m)
            # Not a token: kept, one line saying why.
            replace_file(path, "tooshort\n")
            reload_and_wait(d, "the listener keeps its current token")
            self.assertEqual(curl(url, token=new)[0], 200, "the current token after a bad file")
            self.assertEqual(curl(url, token="tooshort")[0], 401)
            # A good token in a file others may read: refused with the
            # whole configuration, the current token kept.
            third = os.urandom(32).hex()
            replace_file(path, third + "\n", mode=0o644)
            reload_and_wait(d, "readable by others")
            self.assertEqual(curl(url, token=new)[0], 200)
            self.assertEqual(curl(url, token=third)[0], 401)
            m = metrics(d)
            self.assertEqual(m['profd_listen_reloads_total{result="ok"}'], 1, m)
            self.assertEqual(m['profd_listen_reloads_total{result="refused"}'], 2, m)
            with open(d.log_path, "rb") as f:
                log = f.read().decode(errors="replace")
            self.assertEqual(log.count("token shorter than 16 characters"), 1, log[-2000:])
            self.assertEqual(log.count("readable by others"), 1, log[-2000:])
            for t in (old, new, third, "tooshort"):
                self.assertNotIn(t, log, "a token in the log")
            # And back to a good file: accepted again.
            replace_file(path, third + "\n")
            reload_and_wait(d, "reload: the listener's token read again", count=2)
            self.assertEqual(curl(url, token=third)[0], 200)
            self.assertEqual(curl(url, token=new)[0], 401)
        finally:
            d.stop()

    def test_reload_tls(self):
        """SIGHUP reads the certificate and key again: new handshakes get
        the new certificate (a client trusting only the old one fails with
        curl's error 60); a key that is not the certificate's keeps the
        current pair, and the listener goes on serving it."""
        if not shutil.which("openssl"):
            self.skipTest("no openssl (scripts/deps.sh installs it)")
        dirs = []
        for n in ("a", "b", "live"):
            dirs.append(os.path.join(self.tmp, "tls-" + n))
            os.makedirs(dirs[-1], exist_ok=True)
        cert_a, key_a = make_cert(dirs[0], self.addr)
        cert_b, key_b = make_cert(dirs[1], self.addr)
        live_cert, live_key = os.path.join(dirs[2], "cert.pem"), os.path.join(dirs[2], "key.pem")

        def install(cert, key):
            with open(cert) as f:
                replace_file(live_cert, f.read(), mode=0o644)
            with open(key) as f:
                replace_file(live_key, f.read(), mode=0o600)
        install(cert_a, key_a)
        spec = "%s:%d" % (self.addr, free_tcp_port())
        url = "https://%s/v1/status" % spec
        d = Daemon("listen-reload-tls", "--listen", spec, "--listen-token-file", self.token_path,
                   "--listen-tls-cert", live_cert, "--listen-tls-key", live_key)
        try:
            self.assertEqual(curl(url, token=self.token, cacert=cert_a)[0], 200)
            self.assertEqual(curl(url, token=self.token, cacert=cert_b)[:4:3], (0, 60))
            install(cert_b, key_b)
            reload_and_wait(d, "reload: the listener's token, certificate and key read again")
            self.assertEqual(curl(url, token=self.token, cacert=cert_b)[0], 200, "the new certificate")
            st, _, _, rc = curl(url, token=self.token, cacert=cert_a)
            self.assertEqual((st, rc), (0, 60), "the old certificate is no longer served")
            # A's certificate with B's key: not a pair; B's stays.
            with open(cert_a) as f:
                replace_file(live_cert, f.read(), mode=0o644)
            reload_and_wait(d, "not a certificate and its key")
            self.assertEqual(curl(url, token=self.token, cacert=cert_b)[0], 200, "the current pair kept")
            m = metrics(d)
            self.assertEqual(m['profd_listen_reloads_total{result="ok"}'], 1, m)
            self.assertEqual(m['profd_listen_reloads_total{result="refused"}'], 1, m)
        finally:
            d.stop()

    def test_config_file(self):
        """The same from the config file: listen, listen-token-file."""
        port = free_tcp_port()
        spec = "%s:%d" % (self.addr, port)
        conf = os.path.join(self.tmp, "profd.conf")
        with open(conf, "w") as f:
            f.write("listen = %s\nlisten-token-file = %s   # 0600\n" % (spec, self.token_path))
        os.chmod(conf, 0o644)
        d = Daemon("listen-conf", "--config", conf)
        try:
            self.assertEqual(curl("http://%s/v1/status" % spec)[0], 401)
            self.assertEqual(curl("http://%s/v1/status" % spec, token=self.token)[0], 200)
        finally:
            d.stop()


class ListenRefused(ListenTest):
    def refused(self, *args):
        sock = os.path.join(self.tmp, "refused.sock")
        r = subprocess.run([cpu.PROFD, "--socket", sock] + list(args), stdin=subprocess.DEVNULL,
                           capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0, "profd started with %r:\n%s" % (args, r.stderr))
        self.assertNotIn("serving on", r.stderr)
        self.assertFalse(os.path.exists(sock), "socket left behind")
        self.assertNotIn(self.token, r.stderr, "the token in an error")
        return r.stderr

    def test_refused(self):
        spec = "%s:%d" % (self.addr, free_tcp_port())
        err = self.refused("--listen", spec)
        self.assertIn("%s is not a loopback address" % self.addr, err)
        self.assertIn("needs a token", err)
        err = self.refused("--listen", "0.0.0.0:%d" % free_tcp_port())
        self.assertIn("needs a token", err)
        if shutil.which("openssl"):
            cert, key = make_cert(self.tmp, self.addr)
            err = self.refused("--listen", spec, "--listen-tls-cert", cert, "--listen-tls-key", key)
            self.assertIn("needs a token", err, "TLS alone does not say who asks")
            self.assertIn("give both", self.refused("--listen", spec, "--listen-token-file",
                                                    self.token_path, "--listen-tls-cert", cert))
        for mode, want in ((0o644, "readable by others"), (0o640, "its group may read"),
                           (0o660, "writable by its group")):
            os.chmod(self.token_path, mode)
            err = self.refused("--listen", spec, "--listen-token-file", self.token_path)
            self.assertIn(want, err, "mode %o" % mode)
        os.chmod(self.token_path, 0o600)
        os.chown(self.token_path, cpu.NOBODY, cpu.NOBODY)
        try:
            err = self.refused("--listen", spec, "--listen-token-file", self.token_path)
            self.assertIn("owned by uid %d" % cpu.NOBODY, err)
        finally:
            os.chown(self.token_path, 0, 0)
        short = os.path.join(self.tmp, "short")
        make_token(short, "tooshort")
        self.assertIn("shorter than 16", self.refused("--listen", spec, "--listen-token-file", short))
        self.assertIn("no --listen", self.refused("--listen-token-file", self.token_path))

    def test_help(self):
        r = subprocess.run([cpu.PROFD, "--help"], capture_output=True, text=True, timeout=30)
        for opt in ("--listen-token-file PATH", "--listen-tls-cert PATH", "--listen-tls-key PATH",
                    "any other address needs"):
            self.assertIn(opt, r.stdout)


# Run in the other namespace: hold @n idle connections from address A, then
# one more from A, one from B and one from C after B holds more; print the
# status line each of the last got (or the error).
SHARES_CLIENT = r"""
import json, socket, sys, time
server, port, token, a, b, c, n_a, n_b, unix = sys.argv[1:10]

def status(s, auth=""):
    # GET /v1/status on connected socket @s: the whole answer.
    s.sendall(("GET /v1/status HTTP/1.1\r\nHost: x\r\n%sConnection: close\r\n\r\n" % auth).encode())
    body = b""
    while True:
        more = s.recv(65536)
        if not more:
            break
        body += more
    s.close()
    return body.decode(errors="replace")

def open_conns():
    # profd's count of open connections, asked over its Unix socket
    # (paths cross network namespaces; this one counts itself).
    u = socket.socket(socket.AF_UNIX)
    u.settimeout(10)
    u.connect(unix)
    return json.loads(status(u).split("\r\n\r\n", 1)[1])["http"]["connections_open"]

def settle(want):
    # Until profd has admitted all the held connections: connect()
    # returns when the kernel has them, before profd's accept thread
    # does (a fixed sleep was not always enough on a loaded machine).
    for _ in range(200):
        if open_conns() == want + 1:
            return
        time.sleep(0.05)
    raise SystemExit("profd holds %d connections, not %d" % (open_conns() - 1, want))

def conn(src):
    s = socket.socket()
    s.settimeout(10)
    s.bind((src, 0))
    s.connect((server, int(port)))
    return s

def ask(src):
    try:
        return status(conn(src), "Authorization: Bearer %s\r\n" % token)
    except OSError as e:
        return "error: %s" % e

held = [conn(a) for _ in range(int(n_a))]
settle(len(held))
out = {"a_extra": ask(a), "b": ask(b)}
# Until profd has let the asks' connections go: counted a moment after
# they close, B's last held one could find 9 open and be refused.
settle(len(held))
held += [conn(b) for _ in range(int(n_b))]
settle(len(held))
out["c"] = ask(c)
print(json.dumps(out))
"""


class RemoteShares(unittest.TestCase):
    """Callers beyond this machine get a share of connections per source
    (an IPv4 address, an IPv6 /64): one host holding all of its share does
    not stop another host's scrape. The hosts are addresses in a network
    namespace joined to this one by a veth pair: profd cannot see their
    sockets (sock_diag is per namespace), so they are anonymous, as callers
    on other machines are."""

    def setUp(self):
        if not shutil.which("ip"):
            self.skipTest("no ip(8)")
        tag = os.getpid() % 100000
        self.ns = "profd-e2e-%d" % tag
        self.veth = "pfsh%d" % tag
        net = "10.213.%d" % (tag % 250)
        self.server, self.a, self.b, self.c = ("%s.%d" % (net, i) for i in (1, 2, 3, 4))
        cmds = [["ip", "netns", "add", self.ns],
                ["ip", "link", "add", self.veth + "a", "type", "veth", "peer", "name", self.veth + "b"],
                ["ip", "link", "set", self.veth + "b", "netns", self.ns],
                ["ip", "addr", "add", self.server + "/24", "dev", self.veth + "a"],
                ["ip", "link", "set", self.veth + "a", "up"]]
        for addr in (self.a, self.b, self.c):
            cmds.append(["ip", "-n", self.ns, "addr", "add", addr + "/24", "dev", self.veth + "b"])
        cmds += [["ip", "-n", self.ns, "link", "set", self.veth + "b", "up"],
                 ["ip", "-n", self.ns, "link", "set", "lo", "up"]]
        for i, cmd in enumerate(cmds):
            r = subprocess.run(cmd, capture_output=True, text=True)
            if r.returncode:
                self.tearDown()
                if i == 0:
                    self.skipTest("cannot make a network namespace: %s" % r.stderr.strip())
                raise AssertionError("%s: %s" % (" ".join(cmd), r.stderr))
        self.tmp = tempfile.mkdtemp(prefix="profd-shares-")
        os.chmod(self.tmp, 0o755)

    def tearDown(self):
        subprocess.run(["ip", "link", "del", self.veth + "a"], capture_output=True)
        subprocess.run(["ip", "netns", "del", self.ns], capture_output=True)
        if getattr(self, "tmp", None):
            shutil.rmtree(self.tmp, ignore_errors=True)

    def test_share_per_source(self):
        """--max-sessions 16 --max-sessions-per-uid 1: 5 connections a
        source, 8 for every remote caller together. A holds 5 idle
        connections: A's sixth gets 429 naming A, B's scrape still 200 (it
        got 429 when all remote callers shared one allowance); B then holds
        3, so remote callers hold 8: C gets 503. Root's Unix socket is
        served throughout."""
        token_path = os.path.join(self.tmp, "token")
        token = make_token(token_path)
        port = free_tcp_port()
        d = Daemon("listen-shares", "--listen", "%s:%d" % (self.server, port),
                   "--listen-token-file", token_path, "--max-sessions", "16",
                   "--max-sessions-per-uid", "1")
        try:
            r = subprocess.run(["ip", "netns", "exec", self.ns, sys.executable, "-c", SHARES_CLIENT,
                                self.server, str(port), token, self.a, self.b, self.c, "5", "3", d.sock],
                               capture_output=True, text=True, timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            out = json.loads(r.stdout)
            self.assertTrue(out["a_extra"].startswith("HTTP/1.1 429"), out)
            self.assertIn("too many connections from %s (limit 5 per source address)" % self.a, out["a_extra"])
            self.assertTrue(out["b"].startswith("HTTP/1.1 200"), out)
            self.assertIn('"version"', out["b"])
            self.assertTrue(out["c"].startswith("HTTP/1.1 503"), out)
            self.assertIn("callers beyond this machine (8 open, limit 8)", out["c"])
            self.assertIn("version", d.status())
        finally:
            d.stop()


EXAMPLES = ("profd-push.conf", "profd-alloy.conf", "alloy-relay.alloy", "profd-scrape.conf", "parca.yaml")


class ReadmeConfigs(unittest.TestCase):
    """README's Fleet configurations: the files of examples/fleet/,
    unchanged; profd parses its own (paths made real in a copy); parca.yaml
    has the structure Parca reads. Not run against real servers: Pyroscope,
    Alloy and Parca cannot be installed here."""

    def setUp(self):
        self.root = os.path.dirname(os.path.dirname(cpu.SRC))
        self.ex = os.path.join(self.root, "examples", "fleet")

    def test_readme_holds_the_files(self):
        with open(os.path.join(self.root, "README.md")) as f:
            readme = f.read()
        blocks = re.findall(r"^```[a-z]*\n(.*?)^```$", readme, re.S | re.M)
        for name in EXAMPLES:
            with open(os.path.join(self.ex, name)) as f:
                text = f.read()
            self.assertIn(text, blocks, "README does not show examples/fleet/%s unchanged" % name)

    def test_profd_takes_its_own(self):
        """Each profd .conf, its paths replaced by real files, starts profd
        (--listen's address replaced by this machine's; push URLs as they
        are: profd retries a collector that is not there)."""
        tmp = tempfile.mkdtemp(prefix="profd-examples-")
        try:
            os.chmod(tmp, 0o755)
            files = {}
            addr = machine_address() or "127.0.0.1"
            for name in ("profd-push.conf", "profd-alloy.conf", "profd-scrape.conf"):
                with open(os.path.join(self.ex, name)) as f:
                    text = f.read()
                for path in sorted(set(re.findall(r"= (/etc/profd/\S+)", text))):
                    real = files.setdefault(path, os.path.join(tmp, os.path.basename(path)))
                    if path.endswith(".pem"):
                        continue
                    make_token(real)
                    text = text.replace(path, real)
                if "cert.pem" in text:
                    cert, key = make_cert(tmp, addr)
                    text = text.replace("/etc/profd/tls/cert.pem", cert).replace("/etc/profd/tls/key.pem", key)
                text = re.sub(r"listen = \S+", "listen = %s:%d" % (addr, free_tcp_port()), text)
                conf = os.path.join(tmp, name)
                with open(conf, "w") as f:
                    f.write(text)
                os.chmod(conf, 0o644)
                d = Daemon("example-" + name, "--config", conf, "--spool-dir", os.path.join(tmp, "spool-" + name))
                try:
                    st = d.status()
                    self.assertIn("version", st)
                finally:
                    d.stop()
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_parca_yaml(self):
        try:
            import yaml
        except ImportError:
            self.skipTest("no python3-yaml")
        with open(os.path.join(self.ex, "parca.yaml")) as f:
            cfg = yaml.safe_load(f)
        self.assertEqual(set(cfg), {"object_storage", "scrape_configs"})
        job = cfg["scrape_configs"][0]
        self.assertEqual(job["scheme"], "https")
        self.assertEqual(job["authorization"]["type"], "Bearer")
        self.assertTrue(job["authorization"]["credentials_file"].startswith("/"))
        self.assertIn("ca_file", job["tls_config"])
        # Parca: the timeout must be greater than the interval.
        secs = {k: int(job[k].rstrip("s")) for k in ("scrape_interval", "scrape_timeout")}
        self.assertGreater(secs["scrape_timeout"], secs["scrape_interval"])
        pp = job["profiling_config"]["pprof_config"]
        self.assertEqual(pp["process_cpu"], {"enabled": True, "path": "/debug/pprof/profile", "delta": True})
        # Parca's other defaults: disabled (heap is refused to a token
        # holder, the wait profiles need a pid).
        for name in ("memory", "block", "goroutine", "mutex"):
            self.assertIs(pp[name]["enabled"], False, name)
        for t in job["static_configs"][0]["targets"]:
            self.assertRegex(t, r"^[a-z0-9.-]+:\d+$")


def main():
    """These tests alone; run_all.py runs every suite with one tally."""
    import run_all
    import test_listen
    run_all.main(modules=(test_listen,))


if __name__ == "__main__":
    main()
