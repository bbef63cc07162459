#!/usr/bin/env python3
"""End-to-end tests of profd's CPU profiles (run by tests/e2e/run.sh).

  python3 tests/e2e/test_cpu.py --output build [--src tests/e2e] [-k NAME]...

Every test class starts its own profd on a socket in a fresh temporary
directory and stops it at the end; every workload is started in its own
session and killed in a finally block (and at exit). Profiles and daemon
logs are kept under $OUTPUT/e2e/artifacts/ for post-mortems.

Needs root (profd loads BPF), go (go tool pprof), curl, setpriv, readelf.
"""

import atexit
import base64
import http.client
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import pprofraw  # noqa: E402

OUTPUT = None   # $OUTPUT, absolute
E2E = None      # $OUTPUT/e2e: workloads
SRC = None      # tests/e2e
ART = None      # $OUTPUT/e2e/artifacts
PROFD = None
PROFCTL = None
NOBODY = 65534

HZ = 199
STRICT = os.environ.get("E2E_STRICT") == "1"

# Functions defined in workloads/*.c (file:line must be known for them).
OUR_FUNCTIONS = {"main", "run", "dispatch", "work", "hot_a", "hot_b", "exiter_spin", "thread_hot",
                 "main_hot", "main_loop", "worker", "lib_spin", "caller", "inl_hot", "outer_fn", "sys_work"}

# --------------------------------------------------------------------------
# processes
# --------------------------------------------------------------------------

_children = []
_children_lock = threading.Lock()


def spawn(cmd, **kw):
    """Popen in a new session, remembered so that it is killed at exit."""
    kw.setdefault("stdin", subprocess.DEVNULL)
    p = subprocess.Popen(cmd, start_new_session=True, **kw)
    with _children_lock:
        _children.append(p)
    return p


def kill(p, sig=signal.SIGKILL, wait=5.0):
    """Kills p's process group (only p's: it was started in its own
    session) and reaps it. Returns the exit status."""
    if p is None:
        return None
    if p.poll() is None:
        try:
            os.killpg(p.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            p.send_signal(sig)
        try:
            p.wait(wait)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(p.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            p.wait(5)
    for f in (p.stdout, p.stderr):
        if f:
            f.close()
    return p.returncode


@atexit.register
def _kill_all():
    with _children_lock:
        left = list(_children)
    for p in left:
        try:
            kill(p)
        except Exception:
            pass


class Workload:
    """A workload from $OUTPUT/e2e, started with a safety deadline so it
    never outlives the suite by much even if the suite is killed."""

    def __init__(self, name, *args, seconds=60, user=None, exe=None, wait_line=None):
        exe = exe or os.path.join(E2E, name)
        cmd = [exe, str(seconds)] + [str(a) for a in args]
        if user is not None:
            cmd = ["setpriv", "--reuid=%d" % user, "--regid=%d" % user, "--clear-groups"] + cmd
        self.name = name
        self.proc = spawn(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.proc.pid  # setpriv execs the workload: same pid
        self.host_pid = self.pid  # the pid in our own /proc (see NsWorkload)
        self.started = time.monotonic()
        self.wait_for(wait_line)

    def wait_for(self, wait_line):
        if wait_line:
            line = self.proc.stdout.readline().decode(errors="replace").strip()
            if line != wait_line:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.poll() is not None else ""
                raise AssertionError("%s: expected %r on stdout, got %r %s" % (self.name, wait_line, line, err))

    def cpu(self):
        """CPU seconds (user + system, all threads) used so far, or None
        once the process is gone."""
        try:
            with open("/proc/%d/stat" % self.host_pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            return None
        if fields[0] == "Z":
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def reap_cpu(self):
        """Waits for the process to exit; returns the CPU seconds it used."""
        _, _, ru = os.wait4(self.pid, 0)
        self.proc.returncode = 0
        return ru.ru_utime + ru.ru_stime

    def stop(self):
        kill(self.proc)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


# --------------------------------------------------------------------------
# HTTP over the Unix socket
# --------------------------------------------------------------------------


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.unix_path)
        self.sock = s


class Response:
    def __init__(self, status, headers, body, elapsed):
        self.status = status
        self.headers = headers  # lower-case names
        self.body = body
        self.elapsed = elapsed

    def text(self):
        return self.body.decode("utf-8", errors="replace")

    def __repr__(self):
        return "HTTP %d %r %r" % (self.status, self.headers, self.body[:300])


def http_get(sock_path, path, timeout=30):
    t0 = time.monotonic()
    c = UnixHTTPConnection(sock_path, timeout)
    try:
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        headers = {k.lower(): v for k, v in r.getheaders()}
        return Response(r.status, headers, body, time.monotonic() - t0)
    finally:
        c.close()


# --------------------------------------------------------------------------
# sanitizer builds (make SAN=address,undefined)
# --------------------------------------------------------------------------

# A report's first line: ASan/LSan "==PID==ERROR: AddressSanitizer: ...", TSan
# "WARNING: ThreadSanitizer: data race (pid=...)" (halt_on_error: make tsan),
# UBSan "file:line:col: runtime error: ..." (fatal: -fno-sanitize-recover).
SAN_REPORT = re.compile(rb"==\d+==ERROR: [A-Za-z]+Sanitizer|: runtime error: |"
                        rb"SUMMARY: UndefinedBehaviorSanitizer|WARNING: ThreadSanitizer: ")
SAN_DIR = None  # ART/sanitizer: reports of sanitized tools other than profd
_san_sources = {}  # path -> offset already checked, for every report file
_san_lock = threading.Lock()
_sanitizers = {}


def sanitizers(path=None):
    """The sanitizers the binary at PATH (default profd) was built with:
    a subset of {"address", "undefined"}, from its dynamic symbols (gcc
    links the runtimes as libraries, clang exports their entry points)."""
    path = path or PROFD
    if path not in _sanitizers:
        r = subprocess.run(["readelf", "--dyn-syms", "-W", path], capture_output=True, text=True)
        found = set()
        if "__asan_init" in r.stdout:
            found.add("address")
        if "__ubsan_handle_" in r.stdout:
            found.add("undefined")
        _sanitizers[path] = found
    return _sanitizers[path]


def sanitizer_setup(art):
    """Sanitized tools the tests run (profctl) write their reports to files
    under ART/sanitizer, checked after every test; profd writes its own to
    its log (Daemon). Appended to the caller's options: the last wins."""
    global SAN_DIR
    SAN_DIR = os.path.join(art, "sanitizer")
    shutil.rmtree(SAN_DIR, ignore_errors=True)
    os.makedirs(SAN_DIR)
    for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
        opts = [o for o in os.environ.get(var, "").split(":") if o]
        opts.append("log_path=" + os.path.join(SAN_DIR, var.split("_")[0].lower()))
        if var == "UBSAN_OPTIONS":
            opts.append("print_stacktrace=1")
        os.environ[var] = ":".join(opts)


def _san_watch(path):
    with _san_lock:
        _san_sources.setdefault(path, 0)


def _san_read(path):
    """New sanitizer report text in PATH since the last look, or ''."""
    with _san_lock:
        off = _san_sources.get(path, 0)
        try:
            with open(path, "rb") as f:
                f.seek(off)
                data = f.read()
        except OSError:
            return ""
        # Up to the last complete line: a report being written is read
        # whole next time.
        data = data[:data.rfind(b"\n") + 1]
        _san_sources[path] = off + len(data)
    m = SAN_REPORT.search(data)
    if not m:
        return ""
    start = data.rfind(b"\n", 0, m.start()) + 1
    return "%s:\n%s" % (path, data[start:start + 6000].decode(errors="replace"))


def sanitizer_reports():
    """Reports written since the last call by profd (its logs) or another
    sanitized tool (SAN_DIR), as text; '' when none."""
    if SAN_DIR and os.path.isdir(SAN_DIR):
        for name in sorted(os.listdir(SAN_DIR)):
            _san_watch(os.path.join(SAN_DIR, name))
    with _san_lock:
        paths = list(_san_sources)
    return "\n".join(t for t in (_san_read(p) for p in paths) if t)


# --------------------------------------------------------------------------
# the daemon
# --------------------------------------------------------------------------


class Daemon:
    def __init__(self, name, *extra, wrap=()):
        """wrap: a command that runs profd (e.g. in a namespace)."""
        self.name = name
        self.dir = tempfile.mkdtemp(prefix="profd-e2e-")
        os.chmod(self.dir, 0o755)  # nobody may traverse it
        self.sock = os.path.join(self.dir, "profd.sock")
        self.log_path = os.path.join(ART, "profd-%s.log" % name)
        self.log = open(self.log_path, "wb")
        self.cmd = list(wrap) + [PROFD, "--socket", self.sock, "--socket-mode", "0666", "-v"] + list(extra)
        # A sanitizer report goes to profd's stderr, so into its log, which
        # is checked after each test and when it stops.
        env = dict(os.environ)
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS", "TSAN_OPTIONS"):
            if var in env:
                env[var] += ":log_path=stderr"
        _san_watch(self.log_path)
        try:
            self.proc = spawn(self.cmd, stdout=self.log, stderr=subprocess.STDOUT, env=env)
        except OSError:
            self.log.close()
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        deadline = time.monotonic() + 20
        last = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError("profd exited with %s at start-up:\n%s" % (self.proc.returncode, self.log_tail()))
            if os.path.exists(self.sock):
                try:
                    r = http_get(self.sock, "/v1/status", timeout=5)
                    if r.status == 200:
                        return
                    last = r
                except OSError as e:
                    last = e
            time.sleep(0.1)
        self.stop()
        raise AssertionError("profd did not answer /v1/status within 20 s (last: %r):\n%s" % (last, self.log_tail()))

    def log_tail(self, n=3000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
            return data[-n:].decode(errors="replace")
        except OSError:
            return ""

    def status(self):
        r = http_get(self.sock, "/v1/status", timeout=10)
        if r.status != 200:
            raise AssertionError("/v1/status: %r" % r)
        return json.loads(r.body)

    def get(self, path, timeout=30):
        return http_get(self.sock, path, timeout=timeout)

    def stop(self):
        """SIGTERM, then SIGKILL after 10 s. Returns the exit status.
        Raises AssertionError when profd's log holds a sanitizer report not
        yet failed a test (LeakSanitizer reports at exit)."""
        rc = kill(self.proc, signal.SIGTERM, wait=10)
        self.log.close()
        shutil.rmtree(self.dir, ignore_errors=True)
        report = _san_read(self.log_path)
        if report:
            raise AssertionError("profd (%s) reported a sanitizer error (exit status %s): %s"
                                 % (self.name, rc, report))
        return rc


# --------------------------------------------------------------------------
# profiles
# --------------------------------------------------------------------------


def go_env(**extra):
    env = dict(os.environ)
    env.setdefault("GOCACHE", os.path.join(E2E, "gocache"))
    env.setdefault("GOPATH", os.path.join(E2E, "gopath"))
    env.setdefault("HOME", E2E)
    env["PPROF_BINARY_PATH"] = "/nonexistent"
    env["PPROF_TMPDIR"] = os.path.join(E2E, "pprof-tmp")
    env.update(extra)
    return env


class Prof:
    """A fetched profile: .path, .raw (pprofraw.Profile from `go tool pprof
    -raw`), .proto (decoded profile.proto), .text (the -raw output)."""

    def __init__(self, path, pid=None, hz=None, seconds=None, elapsed=None):
        self.path = path
        self.cpu = None  # CPU seconds the target used around the window
        self.cpu_in = None  # (lo, hi) inside it (fetch(): cpu_inside())
        self.pid = pid
        self.hz = hz
        self.seconds = seconds
        self.elapsed = elapsed
        with open(path, "rb") as f:
            self.data = f.read()
        # -symbolize=none: what profd wrote, pprof must not fill it in.
        r = subprocess.run(["go", "tool", "pprof", "-symbolize=none", "-raw", path],
                           capture_output=True, text=True, env=go_env(), timeout=60)
        if r.returncode != 0:
            raise AssertionError("go tool pprof -raw %s failed (%d): %s" % (path, r.returncode, r.stderr[-2000:]))
        self.text = r.stdout
        with open(path + ".raw.txt", "w") as f:
            f.write(self.text)
        try:
            self.raw = pprofraw.parse_raw(self.text)
        except pprofraw.RawParseError as e:
            raise AssertionError("cannot parse -raw output of %s: %s" % (path, e))
        try:
            self.proto = pprofraw.decode_proto(self.data)
        except (ValueError, OSError, EOFError) as e:
            raise AssertionError("cannot decode %s: %s" % (path, e))

    @property
    def samples(self):
        return self.raw.samples

    def count(self, pred=lambda s: True):
        return sum(s.values[0] for s in self.raw.samples if pred(s))

    def excerpt(self, n=40):
        """The head of the -raw output and the Locations, for messages."""
        lines = self.text.splitlines()
        try:
            i = lines.index("Locations")
        except ValueError:
            i = len(lines)
        return "\n".join(lines[:min(n, i)] + ["..."] + lines[i:i + n]) + "\n(full: %s.raw.txt)" % self.path

    def mapping_files(self):
        return {m.file for m in self.raw.mappings.values()}


def fetch(testcase, daemon, target, seconds, hz=HZ, name=None, extra="", timeout=None):
    """GET /debug/pprof/profile, assert 200 and a valid profile, return Prof.
    target: a Workload (then Prof.cpu is the CPU time it used around the
    window, the yardstick for the sample count) or a pid."""
    w = target if isinstance(target, Workload) else None
    pid = w.pid if w else target
    q = "pid=%d&seconds=%s" % (pid, seconds)
    if hz is not None:
        q += "&hz=%s" % hz
    q += extra
    cpu0 = w.cpu() if w else None
    # While the window runs: the CPU inside its own bounds (Prof.cpu_in).
    cr = CpuReadings(w) if w else None
    try:
        r = daemon.get("/debug/pprof/profile?" + q, timeout=timeout or seconds + 30)
    finally:
        readings = cr.stop() if cr else []
    cpu1 = w.cpu() if w else None
    if r.status != 200:
        raise AssertionError("GET profile?%s: HTTP %d %s: %s\n--- profd log:\n%s"
                             % (q, r.status, r.headers.get("content-type"), r.text()[:1000], daemon.log_tail()))
    ct = r.headers.get("content-type", "")
    testcase.assertTrue(ct.startswith("application/octet-stream"), "content-type %r" % ct)
    testcase.assertEqual(r.body[:2], b"\x1f\x8b", "profile is not gzipped")
    name = name or testcase.id().split(".")[-1]
    path = os.path.join(ART, "%s.pb.gz" % name)
    with open(path, "wb") as f:
        f.write(r.body)
    prof = Prof(path, pid=pid, hz=hz, seconds=seconds, elapsed=r.elapsed)
    if cpu0 is not None and cpu1 is not None:
        prof.cpu = cpu1 - cpu0
    prof.cpu_in = cpu_inside(readings, prof.proto["time_nanos"] / 1e9,
                             (prof.proto["time_nanos"] + prof.proto["duration_nanos"]) / 1e9)
    return prof


class CpuReadings:
    """Workload @w's CPU time every 20 ms, with the time read, on a
    thread of its own until stop() or the process is gone: [(time, cpu or
    None once gone)], for cpu_inside()."""

    def __init__(self, w):
        self.w, self.readings, self.done = w, [], threading.Event()
        self.thread = threading.Thread(target=self.poll)
        self.thread.start()

    def poll(self):
        while not self.done.is_set():
            c = self.w.cpu()
            self.readings.append((time.time(), c))
            if c is None:
                return
            self.done.wait(0.02)

    def stop(self):
        self.done.set()
        self.thread.join()
        return self.readings


def cpu_inside(readings, t0, t1):
    """(lo, hi): CPU seconds the workload used inside [t0, t1], from
    readings [(time, cpu or None once gone)]: lo between the first reading
    after t0 and the last before t1, hi between the last before t0 and the
    first after t1 (or its last reading, when it exited: all it used).
    None without a reading before t0 and one after it. The measure CPU
    windows' counts are checked against: CPU time around the request
    also holds the window's set-up and the profile's build, long under
    the sanitizers, which a 1 s window's count does not cover."""
    rs = [(t, c) for t, c in readings if c is not None]
    before = [c for t, c in rs if t <= t0]
    inside = [c for t, c in rs if t0 <= t <= t1]
    after = [c for t, c in rs if t >= t1]
    if not before or not rs[-1][0] > t0:
        return None
    lo = inside[-1] - inside[0] if len(inside) >= 2 else 0.0
    hi = (after[0] if after else rs[-1][1]) - before[-1]
    return lo, hi


def share_delta(n, p=0.75):
    """How far a sampled share of @n samples may be from the share @p the
    workload is built with: 4 binomial standard deviations (under
    contention each sample is a draw), at least 0.05."""
    return max(0.05, 4 * math.sqrt(p * (1 - p) / max(n, 1)))


def marker_line(path, marker):
    """Line number of the line carrying /* MARKER */ in a source file."""
    with open(path) as f:
        for n, line in enumerate(f, 1):
            if "/* %s */" % marker in line:
                return n
    raise AssertionError("marker %s not in %s" % (marker, path))


def workload_src(name):
    return os.path.join(SRC, "workloads", name)


def elf_build_id(path):
    r = subprocess.run(["readelf", "-n", path], capture_output=True, text=True)
    m = re.search(r"Build ID:\s*([0-9a-f]+)", r.stdout)
    return m.group(1) if m else None


def first_of(sample, names):
    """The first function (from the leaf) of the stack that is in names."""
    for fn in sample.functions():
        if fn in names:
            return fn
    return None


def share(prof, a, b):
    na = prof.count(lambda s: first_of(s, (a, b)) == a)
    nb = prof.count(lambda s: first_of(s, (a, b)) == b)
    return na, nb, (na / (na + nb) if na + nb else float("nan"))


# --------------------------------------------------------------------------
# checks shared by the tests
# --------------------------------------------------------------------------


class ProfdTest(unittest.TestCase):
    daemon_args = ()
    daemon = None

    @classmethod
    def setUpClass(cls):
        cls.daemon = Daemon(cls.__name__, *cls.daemon_args)

    @classmethod
    def tearDownClass(cls):
        if cls.daemon:
            cls.daemon.stop()

    def check_cpu_profile(self, prof, pid=None, hz=HZ, seconds=None, min_fraction=0.5, cpus=1.0):
        """Checks every CPU profile must pass: types, period, values, labels,
        symbolized frames of the workload's own binary, and the sample count:
        hz x the CPU time the workload used inside the window's own bounds
        (prof.cpu_in, from /proc/PID/stat read every 20 ms), else around
        the window (prof.cpu), else roughly hz * seconds * cpus (cpus: CPUs
        the workload keeps busy)."""
        # A subTest: a failure here is reported, and the caller's own
        # assertions still run (and report) after it.
        with self.subTest(check="common CPU profile checks"):
            return self._check_cpu_profile(prof, pid, hz, seconds, min_fraction, cpus)

    def _check_cpu_profile(self, prof, pid, hz, seconds, min_fraction, cpus):
        raw, pb = prof.raw, prof.proto
        pid = prof.pid if pid is None else pid
        seconds = prof.seconds if seconds is None else seconds
        ex = prof.excerpt
        self.assertEqual(raw.sample_types, [("samples", "count"), ("cpu", "nanoseconds")], ex())
        self.assertEqual(raw.period_type, ("cpu", "nanoseconds"), ex())
        want_period = 10 ** 9 // hz
        self.assertLessEqual(abs(raw.period - want_period), 1, "period %s, want 1e9/%s=%d" % (raw.period, hz, want_period))
        self.assertGreater(pb["time_nanos"], 0, "time_nanos unset")
        self.assertGreater(pb["duration_nanos"], 0, "duration_nanos unset")
        self.assertTrue(raw.samples, "no samples\n" + ex())
        for s in raw.samples:
            self.assertEqual(s.values[1], s.values[0] * raw.period, "cpu/nanoseconds != count*period in %r" % s)
            self.assertEqual(s.num_label("pid"), pid, "pid label of %r" % s)
            self.assertIsNotNone(s.num_label("tid"), "tid label of %r" % s)
            self.assertTrue(s.label("thread"), "thread label of %r" % s)
        # Label kinds, from the proto: pid/tid numeric, thread a string.
        for s in pb["sample"]:
            kinds = {lb["key"]: ("str" if lb["str"] is not None else "num") for lb in s["label"]}
            self.assertEqual(kinds.get("pid"), "num", "pid label kind in %r" % s["label"])
            self.assertEqual(kinds.get("tid"), "num", "tid label kind in %r" % s["label"])
            self.assertEqual(kinds.get("thread"), "str", "thread label kind in %r" % s["label"])
        # Sample count: the sampler fires hz times per second of CPU time.
        total = prof.count()
        cpu_in = getattr(prof, "cpu_in", None)
        if cpu_in is not None:
            # The CPU inside the window's own bounds: at least lo, at
            # most hi (readings every 20 ms; /proc's 10 ms ticks).
            lo, hi = cpu_in
            self.assertGreaterEqual(total, 0.8 * hz * lo - 5,
                                    "%d samples at %s Hz for %.2f-%.2f s of CPU time in the window\n%s"
                                    % (total, hz, lo, hi, ex()))
            self.assertLessEqual(total, 1.1 * hz * hi + 5,
                                 "%d samples at %s Hz for %.2f-%.2f s of CPU time in the window\n%s"
                                 % (total, hz, lo, hi, ex()))
        elif prof.cpu is not None:
            # The window lies inside the interval measured, a little shorter.
            expect = hz * prof.cpu
            self.assertGreaterEqual(total, 0.8 * expect - 5,
                                    "%d samples at %s Hz for %.2f s of CPU time (%.0f expected)\n%s"
                                    % (total, hz, prof.cpu, expect, ex()))
            self.assertLessEqual(total, 1.1 * expect + 5,
                                 "%d samples at %s Hz for %.2f s of CPU time (%.0f expected)\n%s"
                                 % (total, hz, prof.cpu, expect, ex()))
            # The workloads get a good part of a CPU even on a busy machine.
            min_fraction = min(min_fraction, 0.25)
        expect = hz * seconds * cpus
        self.assertGreaterEqual(total, min_fraction * expect,
                                "%d samples, expected about %d (hz %s x %s s x %s CPU)" % (total, expect, hz, seconds, cpus))
        self.assertLessEqual(total, 1.25 * expect + 5,
                             "%d samples, expected about %d (hz %s x %s s x %s CPU)" % (total, expect, hz, seconds, cpus))
        # Fully symbolized and flagged as such: every location in a mapping
        # of our own workloads has a function name (from DWARF or, for code
        # without debug info such as _start, the symbol table), and the
        # functions of our sources have file:line.
        # Known gap: a Go signal frame's return address is the first byte
        # of runtime.sigreturn; minus 1 it lands in padding, outside every
        # symbol. Such rare samples (at most 1 %, or 2) are tolerated (and
        # reported) unless E2E_STRICT=1.
        unsym = {loc.id for loc in raw.locations.values()
                 if not loc.lines and raw.mapping_of(loc) and raw.mapping_of(loc).file.startswith(E2E)}
        if unsym:
            n = prof.count(lambda s: unsym & set(s.location_ids))
            msg = "%d of %d samples have unsymbolized locations in the workload: %s" % (
                n, total, ", ".join(sorted("%#x" % raw.locations[i].address for i in unsym)))
            if STRICT or n > max(2, 0.01 * total):
                self.fail(msg + "\n" + ex())
            sys.stderr.write("[warning: %s] " % msg)
        for loc in raw.locations.values():
            m = raw.mapping_of(loc)
            if m is None or not m.file.startswith(E2E) or loc.id in unsym:
                continue
            for ln in loc.lines:
                self.assertTrue(ln.function and ln.function != "??", "no function in %r" % loc)
                if ln.function in OUR_FUNCTIONS or ln.function.startswith("main."):
                    self.assertTrue(ln.file.startswith(SRC) and ln.line > 0, "no file:line of our source in %r" % loc)
            self.assertIn("[FN]", m.bits, "mapping %r lacks has_functions" % m)
        return total

    def check_build_id(self, prof, binary):
        want = elf_build_id(binary)
        self.assertTrue(want, "no build id in %s" % binary)
        maps = [m for m in prof.proto["mapping"] if m["filename"] == binary]
        self.assertTrue(maps, "no mapping for %s in %r" % (binary, [m["filename"] for m in prof.proto["mapping"]]))
        for m in maps:
            self.assertEqual(m["build_id"], want, "build id of mapping %r" % m)


# --------------------------------------------------------------------------
# profiles of the workloads
# --------------------------------------------------------------------------


class CpuProfiles(ProfdTest):

    def test_split_ratio_and_symbols(self):
        """split: hot_a:hot_b 75:25, full stacks to main, file:line, labels."""
        with Workload("split", wait_line="split ready") as w:
            prof = fetch(self, self.daemon, w, 5)
        self.check_cpu_profile(prof)
        self.check_build_id(prof, os.path.join(E2E, "split"))
        na, nb, sh = share(prof, "hot_a", "hot_b")
        total = prof.count()
        self.assertGreaterEqual(na + nb, 0.9 * total, "hot_a+hot_b only %d of %d samples\n%s" % (na + nb, total, prof.excerpt()))
        self.assertAlmostEqual(sh, 0.75, delta=share_delta(na + nb), msg="hot_a share %.3f (hot_a %d, hot_b %d)\n%s" % (sh, na, nb, prof.excerpt()))
        with_main = prof.count(lambda s: "main" in s.functions())
        self.assertGreaterEqual(with_main, 0.95 * total, "only %d of %d stacks reach main\n%s" % (with_main, total, prof.excerpt()))
        # Whole chain, in order, leaf first.
        chain = ["hot_a", "work", "dispatch", "run", "main"]
        full = prof.count(lambda s: s.functions()[:5] == chain)
        self.assertGreaterEqual(full, 0.9 * na, "only %d of %d hot_a stacks are %s\n%s" % (full, na, chain, prof.excerpt()))
        # file:line of the leaves and of the callers (return address - 1).
        src = workload_src("split.c")
        lines = {"hot_a": marker_line(src, "LINE_HOT_A"), "hot_b": marker_line(src, "LINE_HOT_B")}
        calls = {"hot_a": marker_line(src, "LINE_CALL_A"), "hot_b": marker_line(src, "LINE_CALL_B")}
        for fn in ("hot_a", "hot_b"):
            leaf = [s for s in prof.samples if s.leaf() and s.leaf().function == fn]
            n = sum(s.values[0] for s in leaf)
            for s in leaf:
                self.assertTrue(s.leaf().file.endswith("/split.c"), "%s in file %r" % (fn, s.leaf().file))
            on_line = sum(s.values[0] for s in leaf if s.leaf().line == lines[fn])
            self.assertGreaterEqual(on_line, 0.9 * n, "%s: %d of %d samples on split.c:%d\n%s" % (fn, on_line, n, lines[fn], prof.excerpt()))
            callers = [s.frames()[1] for s in leaf if len(s.frames()) > 1 and s.frames()[1].function == "work"]
            bad = [c for c in callers if c.line != calls[fn]]
            self.assertTrue(callers, "%s never called from work" % fn)
            self.assertFalse(bad, "work's line for calls of %s should be split.c:%d (return address - 1), got %r"
                             % (fn, calls[fn], sorted({(c.file, c.line) for c in bad})))

    def test_go_program(self):
        """gohot: main.hotA:main.hotB 75:25, stacks reach main.main."""
        with Workload("gohot", wait_line="gohot ready") as w:
            prof = fetch(self, self.daemon, w, 4)
        self.check_cpu_profile(prof)
        na, nb, sh = share(prof, "main.hotA", "main.hotB")
        total = prof.count()
        self.assertGreaterEqual(na + nb, 0.9 * total, "main.hotA+main.hotB only %d of %d\n%s" % (na + nb, total, prof.excerpt()))
        self.assertAlmostEqual(sh, 0.75, delta=share_delta(na + nb), msg="main.hotA share %.3f (hotA %d, hotB %d)\n%s" % (sh, na, nb, prof.excerpt()))
        reach = prof.count(lambda s: first_of(s, ("main.hotA", "main.hotB")) and "main.main" in s.functions())
        self.assertGreaterEqual(reach, 0.95 * (na + nb), "only %d of %d hot stacks reach main.main\n%s" % (reach, na + nb, prof.excerpt()))
        run = prof.count(lambda s: s.functions()[:3] in (["main.hotA", "main.run", "main.main"], ["main.hotB", "main.run", "main.main"]))
        self.assertGreaterEqual(run, 0.9 * (na + nb), "only %d of %d stacks are hotX <- main.run <- main.main\n%s" % (run, na + nb, prof.excerpt()))
        # A goroutine's stack ends at runtime.goexit: complete, not cut.
        whole = prof.count(lambda s: first_of(s, ("main.hotA", "main.hotB")) and s.functions()[-1:] == ["runtime.goexit.abi0"])
        self.assertGreaterEqual(whole, 0.95 * (na + nb), "only %d of %d hot stacks end at runtime.goexit (not [truncated])\n%s"
                                % (whole, na + nb, prof.excerpt()))
        for s in prof.samples:
            lf = s.leaf()
            if lf and lf.function in ("main.hotA", "main.hotB"):
                self.assertTrue(lf.file.endswith("/gohot.go"), "%s in %r" % (lf.function, lf.file))

    def test_shared_library_loaded_late(self):
        """uselib: lib_spin in libhot.so (dlopen()ed in the window), file libhot.c, stack to main."""
        with Workload("uselib", wait_line="uselib ready") as w:
            prof = fetch(self, self.daemon, w, 3)
        self.check_cpu_profile(prof, min_fraction=0.45)  # 0.3 s of sleep
        lib = os.path.join(E2E, "libhot.so")
        total = prof.count()
        spin = [s for s in prof.samples if s.leaf() and s.leaf().function == "lib_spin"]
        n = sum(s.values[0] for s in spin)
        self.assertGreaterEqual(n, 0.8 * total, "lib_spin leaf in %d of %d samples\n%s" % (n, total, prof.excerpt()))
        want_line = marker_line(workload_src("libhot.c"), "LINE_LIB_SPIN")
        for s in spin:
            loc = s.locations()[0]
            m = prof.raw.mapping_of(loc)
            self.assertIsNotNone(m, "lib_spin location without mapping: %r" % loc)
            self.assertTrue(m.file.endswith("libhot.so"), "lib_spin's mapping is %r" % m)
            self.assertTrue(s.leaf().file.endswith("/libhot.c"), "lib_spin in %r" % s.leaf().file)
        on_line = sum(s.values[0] for s in spin if s.leaf().line == want_line)
        self.assertGreaterEqual(on_line, 0.9 * n, "%d of %d lib_spin samples on libhot.c:%d\n%s" % (on_line, n, want_line, prof.excerpt()))
        chain = prof.count(lambda s: s.functions()[:3] == ["lib_spin", "caller", "main"])
        self.assertGreaterEqual(chain, 0.95 * n, "only %d of %d lib_spin stacks are lib_spin <- caller <- main\n%s" % (chain, n, prof.excerpt()))
        self.check_build_id(prof, lib)

    def test_inlined_frames(self):
        """inline: one location with lines [inl_hot, outer_fn], right line numbers."""
        with Workload("inline") as w:
            prof = fetch(self, self.daemon, w, 3)
        self.check_cpu_profile(prof)
        src = workload_src("inline.c")
        hot, call = marker_line(src, "LINE_INL_HOT"), marker_line(src, "LINE_OUTER_CALL")
        total = prof.count()
        inl = [s for s in prof.samples
               if [l.function for l in s.locations()[0].lines][:2] == ["inl_hot", "outer_fn"]]
        n = sum(s.values[0] for s in inl)
        self.assertGreaterEqual(n, 0.9 * total, "only %d of %d samples have a leaf location [inl_hot, outer_fn]\n%s"
                                % (n, total, prof.excerpt()))
        for s in inl:
            lines = s.locations()[0].lines
            self.assertEqual(len(lines), 2, "leaf location %r" % s.locations()[0])
            self.assertEqual((os.path.basename(lines[0].file), lines[0].line), ("inline.c", hot),
                             "inl_hot line in %r (marker at %d)" % (s.locations()[0], hot))
            self.assertEqual((os.path.basename(lines[1].file), lines[1].line), ("inline.c", call),
                             "outer_fn call-site line in %r (marker at %d)" % (s.locations()[0], call))
            self.assertEqual(s.functions()[2:3], ["main"], "stack %r" % s.functions())
        # The mapping says it has inline frames.
        loc = inl[0].locations()[0]
        self.assertIn("[IN]", prof.raw.mapping_of(loc).bits, "mapping lacks has_inline_frames")

    def test_thread_created_in_window(self):
        """threads: samples of the thread created mid-window have thread=worker, tid != pid."""
        with Workload("threads", wait_line="threads ready") as w:
            # The worker starts 0.5 s after "threads ready": in the window.
            late = time.monotonic() - w.started
            prof = fetch(self, self.daemon, w, 3)
        self.check_cpu_profile(prof, cpus=1.25, min_fraction=0.4)
        total = prof.count()
        worker = [s for s in prof.samples if s.label("thread") == "worker"]
        nw = sum(s.values[0] for s in worker)
        self.assertGreater(nw, 0.4 * total, "thread=worker in %d of %d samples (labels: %r)\n%s"
                           % (nw, total, sorted({s.label("thread") for s in prof.samples}), prof.excerpt()))
        for s in worker:
            self.assertNotEqual(s.num_label("tid"), w.pid, "worker sample with tid == pid: %r" % s)
        hot = sum(s.values[0] for s in worker if s.leaf() and s.leaf().function == "thread_hot")
        self.assertGreaterEqual(hot, 0.9 * nw, "thread_hot leaf in %d of %d worker samples" % (hot, nw))
        main = [s for s in prof.samples if s.num_label("tid") == w.pid]
        self.assertTrue(main, "no samples of the main thread")
        for s in main:
            self.assertEqual(s.label("thread"), "threads", "main thread's name in %r" % s)
        nm = sum(s.values[0] for s in main if "main_hot" in s.functions())
        self.assertGreater(nm, 0, "no main_hot samples")
        self.assertLess(late, 0.45, "sanity: the window was asked for %.2f s after the start" % late)

    def test_concurrent_windows(self):
        """Four windows at once: two workloads, two rates on each pid."""
        with Workload("split", wait_line="split ready") as ws, Workload("gohot", wait_line="gohot ready") as wg:
            jobs = [("split", ws, 199, ""), ("split", ws, 99, ""),
                    ("gohot", wg, 199, ""), ("gohot", wg, 49, "&kernel=1")]
            results = [None] * len(jobs)

            def one(i):
                name, w, hz, extra = jobs[i]
                try:
                    results[i] = fetch(self, self.daemon, w, 4, hz=hz, extra=extra,
                                       name="concurrent-%s-%d" % (name, hz))
                except BaseException as e:  # reported below
                    results[i] = e

            threads = [threading.Thread(target=one, args=(i,)) for i in range(len(jobs))]
            for t in threads:
                t.start()
            for t in threads:
                t.join(60)
        errors = ["%s@%d: %s" % (jobs[i][0], jobs[i][2], r) for i, r in enumerate(results) if not isinstance(r, Prof)]
        self.assertFalse(errors, "\n".join(errors))
        byname = {}
        for (name, w, hz, _), prof in zip(jobs, results):
            self.check_cpu_profile(prof, pid=w.pid, hz=hz, min_fraction=0.4)
            byname.setdefault(name, []).append((hz, prof.count()))
            other = ("main.hotA", "main.hotB") if name == "split" else ("hot_a", "hot_b")
            mixed = prof.count(lambda s: first_of(s, other))
            self.assertEqual(mixed, 0, "%s@%d profile holds %d samples of the other workload" % (name, hz, mixed))
        for name, counts in byname.items():
            (h1, c1), (h2, c2) = counts
            self.assertAlmostEqual((c1 / c2) / (h1 / h2), 1.0, delta=0.25,
                                   msg="%s: %d samples at %d Hz vs %d at %d Hz" % (name, c1, h1, c2, h2))
        na, nb, sh = share(results[0], "hot_a", "hot_b")
        self.assertAlmostEqual(sh, 0.75, delta=max(0.06, share_delta(na + nb)),
                               msg="split@199 hot_a share %.3f (%d, %d) while sharing the sampler" % (sh, na, nb))

    def test_kernel_stacks(self):
        """sysloop (read() of /dev/zero): kernel=1 adds symbolized kernel frames
        on top of the user stack; a simultaneous kernel=0 window on the same
        pid and rate has none."""
        with Workload("sysloop", wait_line="sysloop ready") as w:
            res = {}

            def one(k):
                try:
                    res[k] = fetch(self, self.daemon, w, 3, extra="&kernel=%d" % k, name="kernel-%d" % k)
                except BaseException as e:
                    res[k] = e

            ts = [threading.Thread(target=one, args=(k,)) for k in (0, 1)]
            for t in ts:
                t.start()
            for t in ts:
                t.join(60)
        for k in (0, 1):
            self.assertIsInstance(res.get(k), Prof, "kernel=%d window: %r" % (k, res.get(k)))
        is_kernel = lambda loc: loc.address >= 0xffff800000000000
        k1, k0 = res[1], res[0]
        for prof in (k0, k1):
            self.check_cpu_profile(prof)
        # kernel=0: user frames only: sys_work (which makes the system
        # call) <- main.
        total0 = k0.count()
        kern0 = k0.count(lambda s: any(is_kernel(l) for l in s.locations()))
        self.assertEqual(kern0, 0, "kernel=0 profile has %d samples with kernel frames\n%s" % (kern0, k0.excerpt()))
        user0 = k0.count(lambda s: s.functions()[:2] == ["sys_work", "main"])
        self.assertGreaterEqual(user0, 0.9 * total0, "kernel=0: %d of %d stacks reach sys_work and main\n%s" % (user0, total0, k0.excerpt()))
        # kernel=1: kernel leaf frames, symbolized, then the user stack.
        total1 = k1.count()
        kern = [s for s in k1.samples if s.locations() and is_kernel(s.locations()[0])]
        nk = sum(s.values[0] for s in kern)
        self.assertGreaterEqual(nk, 0.7 * total1, "kernel=1: %d of %d samples have a kernel leaf\n%s" % (nk, total1, k1.excerpt()))
        rz = sum(s.values[0] for s in kern if s.leaf() and s.leaf().function == "read_zero")
        self.assertGreaterEqual(rz, 0.5 * nk, "kernel=1: read_zero leaf in %d of %d kernel samples\n%s" % (rz, nk, k1.excerpt()))
        for s in kern:
            locs = s.locations()
            n = 0
            while n < len(locs) and is_kernel(locs[n]):
                n += 1
            self.assertTrue(all(l.lines and l.lines[0].function for l in locs[:n]), "unsymbolized kernel frame in %r" % s)
            self.assertFalse(any(is_kernel(l) for l in locs[n:]), "kernel frame below user frames in %r" % s)
            user = [ln.function for l in locs[n:] for ln in l.lines]
            self.assertEqual(user[:2], ["sys_work", "main"], "kernel sample without its user stack: %r" % s)

    def test_process_exits_mid_window(self):
        """exiter exits after 1.5 s of a 4 s window: 200, symbolized samples."""
        w = Workload("exiter", seconds=1.5)
        try:
            prof = fetch(self, self.daemon, w, 4)
            prof.cpu = w.reap_cpu()
        finally:
            w.stop()
        self.check_cpu_profile(prof, seconds=1.5, min_fraction=0.5)
        total = prof.count()
        spin = prof.count(lambda s: s.leaf() and s.leaf().function == "exiter_spin")
        self.assertGreaterEqual(spin, 0.9 * total, "exiter_spin leaf in %d of %d samples\n%s" % (spin, total, prof.excerpt()))
        for s in prof.samples:
            if s.leaf() and s.leaf().function == "exiter_spin":
                self.assertTrue(s.leaf().file.endswith("/exiter.c"), "exiter_spin in %r" % s.leaf().file)
                self.assertIn("main", s.functions())
        self.assertLess(prof.elapsed, 4 + 5, "answer took %.1f s" % prof.elapsed)

    def test_top_without_binaries(self):
        """go tool pprof -top on a profile whose binary is gone: still names hot_a."""
        tmp = tempfile.mkdtemp(prefix="profd-e2e-nobin-")
        try:
            exe = os.path.join(tmp, "split-copy")
            shutil.copy(os.path.join(E2E, "split"), exe)
            with Workload("split", exe=exe, wait_line="split ready") as w:
                prof = fetch(self, self.daemon, w, 2)
            os.unlink(exe)
            work = os.path.join(tmp, "elsewhere")
            os.mkdir(work)
            shutil.copy(prof.path, os.path.join(work, "profile.pb.gz"))
            r = subprocess.run(["go", "tool", "pprof", "-top", "profile.pb.gz"], cwd=work,
                               capture_output=True, text=True, env=go_env(), timeout=60)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertRegex(r.stdout, r"(?m)\bhot_a\s*$", "pprof -top:\n%s\n%s" % (r.stdout, r.stderr))
            self.assertRegex(r.stdout, r"(?m)\bhot_b\s*$", "pprof -top:\n%s\n%s" % (r.stdout, r.stderr))
            self.assertNotIn("symbolization failed", r.stderr.lower())
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_profctl_cpu(self):
        """profctl cpu writes the profile and prints a table naming hot_a."""
        with Workload("split", wait_line="split ready") as w:
            out = os.path.join(ART, "profctl-split.pb.gz")
            if os.path.exists(out):
                os.unlink(out)
            cpu0 = w.cpu()
            r = subprocess.run([PROFCTL, "--socket", self.daemon.sock, "cpu", "--pid", str(w.pid),
                                "--seconds", "3", "--hz", str(HZ), "-o", out],
                               capture_output=True, text=True, timeout=60)
            cpu = w.cpu() - cpu0
        self.assertEqual(r.returncode, 0, "profctl: rc %d\nstdout: %s\nstderr: %s" % (r.returncode, r.stdout, r.stderr))
        self.assertTrue(os.path.isfile(out) and os.path.getsize(out) > 0, "profctl wrote no %s" % out)
        self.assertIn("hot_a", r.stdout, "profctl table:\n%s" % r.stdout)
        self.assertIn("hot_b", r.stdout, "profctl table:\n%s" % r.stdout)
        # hot_a is listed before hot_b (the table is sorted, hot_a is 3x hotter).
        self.assertLess(r.stdout.index("hot_a"), r.stdout.index("hot_b"), r.stdout)
        self.assertLessEqual(len([l for l in r.stdout.splitlines() if re.search(r"\d", l)]), 12,
                             "more than a top-10 table:\n%s" % r.stdout)
        prof = Prof(out, pid=w.pid, hz=HZ, seconds=3)
        prof.cpu = cpu
        self.check_cpu_profile(prof)

    def test_profctl_error(self):
        """profctl reports the server's message and exits 1."""
        pid = dead_pid()
        r = subprocess.run([PROFCTL, "--socket", self.daemon.sock, "cpu", "--pid", str(pid), "--seconds", "1"],
                           capture_output=True, text=True, timeout=30)
        self.assertEqual(r.returncode, 1, "rc %d, stderr %r" % (r.returncode, r.stderr))
        self.assertTrue(r.stderr.startswith("profctl: "), "stderr %r" % r.stderr)
        self.assertIn(str(pid), r.stderr)


def dead_pid():
    """A pid that belonged to a process that has exited and been reaped."""
    p = subprocess.Popen(["true"])
    p.wait()
    pid = p.pid
    assert not os.path.exists("/proc/%d" % pid)
    return pid


# --------------------------------------------------------------------------
# errors and limits
# --------------------------------------------------------------------------


class Errors(ProfdTest):
    daemon_args = ("--max-seconds", "30")

    def check_error(self, r, status, what):
        self.assertEqual(r.status, status, "%s: %r" % (what, r))
        self.assertEqual(r.headers.get("x-go-pprof"), "1", "%s: no X-Go-Pprof: 1 in %r" % (what, r.headers))
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"), "%s: %r" % (what, r.headers))
        self.assertTrue(r.text().strip(), "%s: empty error body" % what)

    def test_no_such_process(self):
        pid = dead_pid()
        r = self.daemon.get("/debug/pprof/profile?pid=%d&seconds=1" % pid)
        self.check_error(r, 404, "pid %d" % pid)
        self.assertIn(str(pid), r.text(), "404 body should name the pid")

    def test_bad_parameters(self):
        with Workload("split", wait_line="split ready") as w:
            p = w.pid
            cases = [
                ("pid=%d&seconds=abc" % p, "seconds=abc"),
                ("pid=%d&seconds=0" % p, "seconds=0"),
                ("pid=%d&seconds=-1" % p, "seconds=-1"),
                ("pid=%d&seconds=999999" % p, "seconds over --max-seconds"),
                ("pid=%d&seconds=31" % p, "seconds just over --max-seconds 30"),
                ("pid=%d&seconds=1&bogus=1" % p, "unknown parameter"),
                ("pid=%d&seconds=1&hz=abc" % p, "hz=abc"),
                ("pid=%d&seconds=1&hz=0" % p, "hz=0"),
                ("pid=abc&seconds=1", "pid=abc"),
            ]
            failures = []
            for q, what in cases:
                t0 = time.monotonic()
                r = self.daemon.get("/debug/pprof/profile?" + q, timeout=10)
                try:
                    self.check_error(r, 400, what)
                    self.assertLess(time.monotonic() - t0, 2, "%s: the error took a window to come" % what)
                except AssertionError as e:
                    failures.append(str(e))
            self.assertFalse(failures, "\n".join(failures))
            st = self.daemon.status()
            self.assertEqual(st["sessions_active"], 0, "rejected requests left sessions: %r" % st)

    def test_seconds_at_max_accepted(self):
        """seconds=30 == --max-seconds is accepted (checked via disconnect)."""
        with Workload("split", wait_line="split ready") as w:
            c = UnixHTTPConnection(self.daemon.sock, 3)
            try:
                c.request("GET", "/debug/pprof/profile?pid=%d&seconds=30" % w.pid)
                try:
                    r = c.getresponse()
                    self.fail("seconds=30 answered at once: %d %r" % (r.status, r.read()[:300]))
                except socket.timeout:
                    pass
            finally:
                c.close()
        wait_sessions(self, self.daemon, 0, 3)


class Limits(ProfdTest):
    daemon_args = ("--max-sessions", "1")

    def test_max_sessions(self):
        with Workload("split", wait_line="split ready") as w:
            res = {}

            def first():
                try:
                    res["first"] = fetch(self, self.daemon, w, 3, name="limits-first")
                except BaseException as e:
                    res["first"] = e

            t = threading.Thread(target=first)
            t.start()
            wait_sessions(self, self.daemon, 1, 3)
            r = self.daemon.get("/debug/pprof/profile?pid=%d&seconds=1" % w.pid, timeout=10)
            t.join(40)
            self.assertIn(r.status, (429, 503), "second session over --max-sessions 1: %r" % r)
            self.assertEqual(r.headers.get("x-go-pprof"), "1", r.headers)
            self.assertIsInstance(res.get("first"), Prof, "first window: %r" % res.get("first"))
            # The slot is free again.
            prof = fetch(self, self.daemon, w, 1, name="limits-again")
            self.check_cpu_profile(prof, min_fraction=0.4)


# --------------------------------------------------------------------------
# access control
# --------------------------------------------------------------------------

NOBODY_CLIENT = r"""
import base64, http.client, json, socket, sys
class C(http.client.HTTPConnection):
    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(sys.argv[1])
c = C("localhost", timeout=60)
c.request(sys.argv[3] if len(sys.argv) > 3 else "GET", sys.argv[2])
r = c.getresponse()
b = r.read()
print(json.dumps({"status": r.status, "headers": {k.lower(): v for k, v in r.getheaders()},
                  "body": base64.b64encode(b).decode()}))
"""


def as_nobody(cmd, **kw):
    return subprocess.run(["setpriv", "--reuid=%d" % NOBODY, "--regid=%d" % NOBODY, "--clear-groups"] + cmd,
                          capture_output=True, timeout=60, **kw)


class Access(ProfdTest):

    def nobody_get(self, path, method="GET"):
        r = as_nobody([sys.executable, "-c", NOBODY_CLIENT, self.daemon.sock, path, method])
        self.assertEqual(r.returncode, 0, "client as nobody failed: %s" % r.stderr.decode(errors="replace"))
        d = json.loads(r.stdout)
        return Response(d["status"], d["headers"], base64.b64decode(d["body"]), 0)

    def nobody_exe(self, name):
        """The workload's path if nobody can execute it there, else a copy."""
        exe = os.path.join(E2E, name)
        if as_nobody(["test", "-x", exe]).returncode == 0:
            return exe
        copy = os.path.join(self.daemon.dir, name)
        shutil.copy(exe, copy)
        os.chmod(copy, 0o755)
        return copy

    def test_nobody_denied_root_process(self):
        with Workload("split", wait_line="split ready") as w:
            r = self.nobody_get("/debug/pprof/profile?pid=%d&seconds=1" % w.pid)
            self.assertEqual(r.status, 403, "nobody profiling root's pid %d: %r" % (w.pid, r))
            self.assertEqual(r.headers.get("x-go-pprof"), "1", r.headers)
            msg = r.text()
            self.assertRegex(msg.lower(), r"not allowed|permission|denied|forbidden|not permitted|owner|uid",
                             "403 message not clear: %r" % msg)
            out = os.path.join(self.nobody_dir(), "denied.pb.gz")
            c = as_nobody([PROFCTL, "--socket", self.daemon.sock, "cpu", "--pid", str(w.pid), "--seconds", "1",
                           "-o", out])
            err = c.stderr.decode(errors="replace")
            self.assertEqual(c.returncode, 1, "profctl as nobody: rc %d %r" % (c.returncode, err))
            self.assertTrue(err.startswith("profctl: "), err)
            self.assertIn(msg.strip().splitlines()[0], err, "profctl should print the server's message")
            self.assertFalse(os.path.exists(out), "profctl wrote %s after a 403" % out)

    def nobody_dir(self):
        d = os.path.join(self.daemon.dir, "nobody")
        os.makedirs(d, exist_ok=True)
        os.chown(d, NOBODY, NOBODY)
        return d

    def test_nobody_own_process(self):
        with Workload("split", user=NOBODY, exe=self.nobody_exe("split"), wait_line="split ready") as w:
            st = os.stat("/proc/%d" % w.pid)
            self.assertEqual(st.st_uid, NOBODY, "workload not running as nobody")
            r = self.nobody_get("/debug/pprof/profile?pid=%d&seconds=2&hz=%d" % (w.pid, HZ))
        self.assertEqual(r.status, 200, "nobody profiling its own pid: %r" % r)
        path = os.path.join(ART, "nobody-own.pb.gz")
        with open(path, "wb") as f:
            f.write(r.body)
        prof = Prof(path, pid=w.pid, hz=HZ, seconds=2)
        self.check_cpu_profile(prof)
        self.assertGreater(prof.count(lambda s: "hot_a" in s.functions()), 0, prof.excerpt())


def copy_exe(src, dst, uid, mode):
    """A copy of workload @src at @dst, owned by @uid, with @mode (e.g.
    0o4755: set-user-ID). @dst's directory must not be mounted nosuid."""
    shutil.copy(src, dst)
    os.chown(dst, uid, uid)
    os.chmod(dst, mode)
    return dst


def proc_uids(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:4]]
    return None


class ExecAccess(ProfdTest):
    """Access is bound to the program image: a process the caller may
    profile that executes a program the caller may not (set-user-ID root)
    in the middle of a window gives nothing of that program — no samples,
    no mappings, no addresses — and the profile says why. One they may
    profile (their own program) is followed."""
    nobody_get = Access.nobody_get
    nobody_exe = Access.nobody_exe

    def exec_window(self, prog):
        """nobody's execer burns 2 s in before_exec, then executes @prog
        (split, for 30 s), inside nobody's 4-s window: (Prof, uids after).
        (The burn starts before the window, which opens once nobody's
        client has started: 2 s leave it time on a loaded machine.)"""
        execer = self.nobody_exe("execer")
        with Workload("execer", 2.0, prog, "30", user=NOBODY, exe=execer, wait_line="execer ready") as w:
            self.assertEqual(os.stat("/proc/%d" % w.pid).st_uid, NOBODY, "execer not running as nobody")
            r = self.nobody_get("/debug/pprof/profile?pid=%d&seconds=4&hz=%d" % (w.pid, HZ))
            uids = proc_uids(w.pid)
        self.assertEqual(r.status, 200, "nobody profiling its own execer: %r" % r)
        path = os.path.join(ART, "%s.pb.gz" % self.id().split(".")[-1])
        with open(path, "wb") as f:
            f.write(r.body)
        return Prof(path, pid=w.pid, hz=HZ, seconds=4), uids

    def test_setuid_exec_during_window(self):
        suid = copy_exe(os.path.join(E2E, "split"), os.path.join(self.daemon.dir, "split-suid"), 0, 0o4755)
        prof, uids = self.exec_window(suid)
        self.assertEqual(uids[1], 0, "sanity: the set-user-ID program did not run as root (uids %r)" % uids)
        fns = set()
        for smp in prof.samples:
            fns.update(smp.functions())
        self.assertGreater(prof.count(lambda smp: "before_exec" in smp.functions()), HZ // 4,
                           "the window's own program is missing\n" + prof.excerpt())
        leaked = fns & {"hot_a", "hot_b", "work", "dispatch", "run"}
        self.assertFalse(leaked, "the set-user-ID program's functions reached nobody: %s\n%s"
                         % (sorted(leaked), prof.excerpt()))
        self.assertFalse([m for m in prof.mapping_files() if "split" in m],
                         "the set-user-ID program's mapping reached nobody: %r" % prof.mapping_files())
        # No address of the new image: every location is in execer, libc,
        # ld.so or the vDSO of the image the window began on.
        comments = prof.raw.comments
        self.assertTrue([c for c in comments if "may not profile" in c and "left out" in c],
                        "no comment saying why the samples after the exec are missing: %r" % comments)
        self.assertFalse([c for c in comments if c.startswith("warning:")],
                         "samples left out on purpose are not missing samples: %r" % comments)

    def test_exec_of_own_program_followed(self):
        own = copy_exe(os.path.join(E2E, "split"), os.path.join(self.daemon.dir, "split-own"), NOBODY, 0o755)
        prof, uids = self.exec_window(own)
        self.assertEqual(uids, [NOBODY] * 3, "sanity: uids %r" % uids)
        self.check_cpu_profile(prof, seconds=4)
        self.assertGreater(prof.count(lambda smp: "before_exec" in smp.functions()), HZ // 4, prof.excerpt())
        self.assertGreater(prof.count(lambda smp: "hot_a" in smp.functions()), HZ // 4,
                           "the program nobody executed (its own) is not followed\n" + prof.excerpt())
        self.assertIn(own, prof.mapping_files())
        self.assertTrue([c for c in prof.raw.comments if "executed a new program" in c], prof.raw.comments)


# --------------------------------------------------------------------------
# daemon lifecycle
# --------------------------------------------------------------------------


def wait_sessions(tc, daemon, want, timeout):
    deadline = time.monotonic() + timeout
    st = None
    while time.monotonic() < deadline:
        st = daemon.status()
        if st.get("sessions_active") == want:
            return st
        time.sleep(0.1)
    tc.fail("sessions_active did not become %d within %.1f s: %r" % (want, timeout, st))


class Lifecycle(ProfdTest):

    def test_status(self):
        st = self.daemon.status()
        for k in ("version", "uptime_seconds", "sessions_active", "samples_total", "samples_lost"):
            self.assertIn(k, st, "/v1/status: %r" % st)
        self.assertIsInstance(st["version"], str)
        self.assertTrue(st["version"])
        self.assertEqual(st["sessions_active"], 0, st)
        with Workload("split", wait_line="split ready") as w:
            fetch(self, self.daemon, w, 1, name="status-window")
        st2 = self.daemon.status()
        self.assertGreater(st2["samples_total"], st["samples_total"], "samples_total did not grow: %r -> %r" % (st, st2))
        self.assertGreaterEqual(st2["uptime_seconds"], st["uptime_seconds"] + 0.5, "%r -> %r" % (st, st2))
        self.assertEqual(st2["sessions_active"], 0, st2)

    def test_client_disconnect_ends_session(self):
        with Workload("split", wait_line="split ready") as w:
            curl = spawn(["curl", "-s", "-o", "/dev/null", "--unix-socket", self.daemon.sock,
                          "http://localhost/debug/pprof/profile?pid=%d&seconds=10" % w.pid])
            try:
                wait_sessions(self, self.daemon, 1, 2)
                time.sleep(1)
                self.assertIsNone(curl.poll(), "curl ended early (%s)" % curl.returncode)
            finally:
                kill(curl)
            t0 = time.monotonic()
            wait_sessions(self, self.daemon, 0, 2.5)
            sys.stderr.write("[session ended %.2f s after the disconnect] " % (time.monotonic() - t0))
            # The daemon still works.
            prof = fetch(self, self.daemon, w, 1, name="after-disconnect")
            self.check_cpu_profile(prof, min_fraction=0.4)

    def test_sigterm_removes_socket(self):
        d = Daemon("sigterm")
        sock = d.sock
        try:
            self.assertTrue(os.path.exists(sock))
            d.proc.send_signal(signal.SIGTERM)
            rc = d.proc.wait(10)
            self.assertEqual(rc, 0, "exit status after SIGTERM:\n%s" % d.log_tail())
            self.assertFalse(os.path.exists(sock), "socket %s left behind" % sock)
        finally:
            d.stop()


def free_tcp_port():
    """A loopback TCP port that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Listen(unittest.TestCase):
    """--listen: HTTP on loopback TCP only. A host name is accepted when all
    its addresses are loopback; anything that could listen beyond the
    machine is refused at start-up with a message saying so."""

    def test_localhost_serves_status(self):
        port = free_tcp_port()
        d = Daemon("listen-localhost", "--listen", "localhost:%d" % port)
        try:
            # As a client of the name would: http.client tries each address.
            c = http.client.HTTPConnection("localhost", port, timeout=10)
            try:
                c.request("GET", "/v1/status")
                r = c.getresponse()
                body = r.read()
            finally:
                c.close()
            self.assertEqual(r.status, 200, "%r\n%s" % (body[:300], d.log_tail()))
            self.assertIn("version", json.loads(body))
        finally:
            d.stop()

    def refused(self, spec, hosts=None):
        """Runs profd --listen SPEC, which must exit 1 without serving; with
        HOSTS, in a mount namespace where that text is /etc/hosts. Returns
        its output."""
        tmp = tempfile.mkdtemp(prefix="profd-e2e-")
        sock = os.path.join(tmp, "profd.sock")
        cmd = [PROFD, "--socket", sock, "--listen", spec]
        try:
            if hosts is not None:
                hp = os.path.join(tmp, "hosts")
                with open(hp, "w") as f:
                    f.write(hosts)
                cmd = ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hp] + cmd
            r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, timeout=60)
            out = r.stdout.decode(errors="replace")
            self.assertEqual(r.returncode, 1, "--listen %s: exit %d, want a refusal:\n%s" % (spec, r.returncode, out))
            self.assertNotIn("serving on", out, out)
            self.assertFalse(os.path.exists(sock), "--listen %s: socket left behind" % spec)
            return out
        finally:
            shutil.rmtree(tmp, ignore_errors=True)

    def test_non_loopback_refused(self):
        port = free_tcp_port()
        for spec, want in (("0.0.0.0:%d" % port, "0.0.0.0 is not a loopback address"),
                           ("[::]:%d" % port, ":: is not a loopback address"),
                           ("192.0.2.1:%d" % port, "192.0.2.1 is not a loopback address"),
                           ("localhost:0", "want HOST:PORT")):
            with self.subTest(spec=spec):
                out = self.refused(spec)
                self.assertIn("--listen %s: %s" % (spec, want), out)
                if "not a loopback" in want:
                    self.assertIn("loopback only", out)

    def test_name_beyond_loopback_refused(self):
        """A name with one non-loopback address among loopback ones is
        refused, not narrowed; /etc/hosts is replaced in a private mount
        namespace."""
        if not shutil.which("unshare") or subprocess.run(
                ["unshare", "-m", "true"], stderr=subprocess.DEVNULL).returncode:
            self.skipTest("no unshare -m")
        port = free_tcp_port()
        hosts = "127.0.0.1 localhost\n127.0.0.1 mixed\n192.0.2.1 mixed\n192.0.2.1 remote\n"
        for name in ("mixed", "remote"):
            with self.subTest(name=name):
                out = self.refused("%s:%d" % (name, port), hosts)
                self.assertIn("%s resolves to 192.0.2.1, not a loopback address" % name, out)


# --------------------------------------------------------------------------
# PID namespaces (containers)
# --------------------------------------------------------------------------


def pidns_unsupported():
    """None when profd can be run in a new PID namespace with its own /proc
    here (unshare, nsenter), else the reason why not."""
    for tool in ("unshare", "nsenter"):
        if not shutil.which(tool):
            return "no %s" % tool
    r = subprocess.run(["unshare", "--pid", "--fork", "--mount-proc", "true"],
                       stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    if r.returncode:
        return "unshare --pid --fork --mount-proc fails: %s" % r.stderr.strip()
    return None


def child_pids(pid):
    with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
        return [int(c) for c in f.read().split()]


def nspids(path):
    """The NSpid line of a /proc status file: its ids from our namespace
    down to its own."""
    with open(path) as f:
        return [int(x) for x in re.search(r"^NSpid:\s*(.*)$", f.read(), re.M).group(1).split()]


def ns_tids(host_pid, up=0):
    """The thread ids of a process as its own PID namespace numbers them
    (up=1: the namespace above that, and so on)."""
    out = set()
    for t in os.listdir("/proc/%d/task" % host_pid):
        try:
            out.add(nspids("/proc/%d/task/%s/status" % (host_pid, t))[-1 - up])
        except OSError:
            continue
    return out


UNSHARE_PID = ("unshare", "--pid", "--fork", "--mount-proc", "--kill-child")


class NsDaemon(Daemon):
    """profd as pid 1 of a new PID namespace with its own /proc, as in a
    system container (levels=2: of one nested in another new one);
    ns_cmd() runs a command in that namespace."""

    def __init__(self, name, *extra, levels=1):
        super().__init__(name, *extra, wrap=UNSHARE_PID * levels)
        pid = self.proc.pid
        for _ in range(levels):
            kids = child_pids(pid)  # unshare forks profd (or the next unshare)
            if len(kids) != 1:
                self.stop()
                raise AssertionError("unshare's children: %r" % kids)
            pid = kids[0]
        self.host_pid = pid

    def ns_cmd(self, cmd):
        """cmd, run inside the namespace (and its mount namespace, with its
        /proc); it first prints "nspid N", N its pid there (see ns_pids).
        --root/--wd: the daemon's root and directory, not the mount
        namespace's own / (which differ under chroot, as in tests/fresh)."""
        return ["nsenter", "--target", str(self.host_pid), "--pid", "--mount", "--root", "--wd", "--",
                "sh", "-c", 'echo "nspid $$"; exec "$0" "$@"'] + [str(c) for c in cmd]


def ns_pids(proc, line):
    """(pid in the namespace, pid here) of a process started with ns_cmd()
    whose first line was LINE. nsenter forked it: it is nsenter's child."""
    m = re.fullmatch(r"nspid (\d+)", line.strip())
    if not m:
        raise AssertionError("expected 'nspid N' first, got %r" % line)
    kids = child_pids(proc.pid)
    if len(kids) != 1:
        raise AssertionError("nsenter's children: %r" % kids)
    nspid, host = int(m.group(1)), kids[0]
    got = nspids("/proc/%d/status" % host)
    if got[-1] != nspid or len(got) < 2:
        raise AssertionError("pid %d: NSpid %r, not in a namespace as pid %d" % (host, got, nspid))
    return nspid, host


class NsWorkload(Workload):
    """A workload in an NsDaemon's namespace (nested: in a new PID
    namespace of its own inside that one, a container in the container):
    .pid is its pid in the daemon's namespace (what callers of that profd
    ask for), .host_pid ours (for its CPU time)."""

    def __init__(self, daemon, name, *args, seconds=60, wait_line=None, nested=False):
        self.name = name
        cmd = [os.path.join(E2E, name), seconds] + list(args)
        if nested:
            cmd = list(UNSHARE_PID) + cmd
        self.proc = spawn(daemon.ns_cmd(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.started = time.monotonic()
        self.pid, self.host_pid = ns_pids(self.proc, self.proc.stdout.readline().decode(errors="replace"))
        self.wait_for(wait_line)
        if nested:  # that was unshare's; it has forked the workload by now
            kids = child_pids(self.host_pid)
            if len(kids) != 1:
                raise AssertionError("unshare's children: %r" % kids)
            self.host_pid = kids[0]
            self.pid = nspids("/proc/%d/status" % self.host_pid)[-2]


class PidNamespace(ProfdTest):
    """profd inside a new PID namespace with its own /proc, as in a system
    container (nspawn, LXC), profiling a process of that namespace by the
    pid it has there: samples are there, in the right proportions, labelled
    with that namespace's pids. (Before profd translated pids in BPF, the
    profile was empty: the BPF filter compared host tgids with the pid
    given.)"""

    unsupported = None

    @classmethod
    def setUpClass(cls):
        cls.unsupported = pidns_unsupported()
        if not cls.unsupported:
            cls.daemon = NsDaemon(cls.__name__)

    def setUp(self):
        if self.unsupported:
            self.skipTest(self.unsupported)

    def check_ns_labels(self, prof, w, tids=None):
        self.assertNotEqual(w.pid, w.host_pid, "sanity: the workload is not in another PID namespace")
        tids = tids or {w.pid}
        bad = {s.num_label("tid") for s in prof.samples} - tids
        self.assertFalse(bad, "tid labels %r are not the workload's thread ids in the namespace %r"
                         % (sorted(bad), sorted(tids)))

    def check_split(self, prof):
        na, nb, sh = share(prof, "hot_a", "hot_b")
        total = prof.count()
        self.assertGreaterEqual(na + nb, 0.9 * total, "hot_a+hot_b only %d of %d samples\n%s" % (na + nb, total, prof.excerpt()))
        self.assertAlmostEqual(sh, 0.75, delta=share_delta(na + nb), msg="hot_a share %.3f (hot_a %d, hot_b %d)\n%s" % (sh, na, nb, prof.excerpt()))
        chain = ["hot_a", "work", "dispatch", "run", "main"]
        full = prof.count(lambda s: s.functions()[:5] == chain)
        self.assertGreaterEqual(full, 0.9 * na, "only %d of %d hot_a stacks are %s\n%s" % (full, na, chain, prof.excerpt()))

    def test_split_dwarf(self):
        """split by its namespace pid, DWARF unwinding: samples = its CPU
        time, 3:1 split, pid/tid labels of the namespace, build id."""
        with NsWorkload(self.daemon, "split", wait_line="split ready") as w:
            prof = fetch(self, self.daemon, w, 4, name="pidns-split")
            ns = ns_tids(w.host_pid)
        self.check_cpu_profile(prof)
        self.check_ns_labels(prof, w, ns)
        self.check_split(prof)
        self.check_build_id(prof, os.path.join(E2E, "split"))
        st = self.daemon.status()
        self.assertEqual(st.get("windows_missing_samples"), 0, "a window was reported short of samples: %r" % st)

    def test_split_fp(self):
        """The same with unwind=fp (frame pointers walked in BPF)."""
        with NsWorkload(self.daemon, "split", wait_line="split ready") as w:
            prof = fetch(self, self.daemon, w, 3, name="pidns-split-fp", extra="&unwind=fp")
        self.check_cpu_profile(prof)
        self.check_ns_labels(prof, w)
        self.check_split(prof)

    def test_threads(self):
        """threads: the worker thread's samples carry its namespace tid."""
        with NsWorkload(self.daemon, "threads", wait_line="threads ready") as w:
            prof = fetch(self, self.daemon, w, 3, name="pidns-threads")
            ns = ns_tids(w.host_pid)
        self.check_cpu_profile(prof, cpus=1.25, min_fraction=0.4)
        self.check_ns_labels(prof, w, ns)
        worker = prof.count(lambda s: s.label("thread") == "worker" and s.num_label("tid") != w.pid)
        self.assertGreater(worker, 0.4 * prof.count(), "worker samples: %d of %d\n%s" % (worker, prof.count(), prof.excerpt()))
        main = prof.count(lambda s: s.num_label("tid") == w.pid and s.label("thread") == "threads")
        self.assertGreater(main, 0, "no samples of the main thread (tid = namespace pid %d)\n%s" % (w.pid, prof.excerpt()))

    def test_kernel_stacks(self):
        """sysloop with kernel=1: symbolized kernel frames above sys_work <- main."""
        with NsWorkload(self.daemon, "sysloop", wait_line="sysloop ready") as w:
            prof = fetch(self, self.daemon, w, 3, name="pidns-kernel", extra="&kernel=1")
        self.check_cpu_profile(prof)
        self.check_ns_labels(prof, w)
        is_kernel = lambda loc: loc.address >= 0xffff800000000000
        total = prof.count()
        kern = prof.count(lambda s: s.locations() and is_kernel(s.locations()[0])
                          and s.locations()[0].lines and s.locations()[0].lines[0].function)
        self.assertGreaterEqual(kern, 0.7 * total, "%d of %d samples have a symbolized kernel leaf\n%s" % (kern, total, prof.excerpt()))
        user = prof.count(lambda s: [f for l in s.locations() if not is_kernel(l) for f in [ln.function for ln in l.lines]][:2]
                          == ["sys_work", "main"])
        self.assertGreaterEqual(user, 0.9 * total, "%d of %d stacks reach sys_work and main\n%s" % (user, total, prof.excerpt()))

    def test_nested_namespace(self):
        """split in a PID namespace nested in profd's, asked for by its pid
        in profd's: all its samples, labelled with profd's namespace's ids
        (bpf_get_ns_current_pid_tgid() would have missed them all)."""
        with NsWorkload(self.daemon, "split", wait_line="split ready", nested=True) as w:
            prof = fetch(self, self.daemon, w, 3, name="pidns-nested")
            ns = ns_tids(w.host_pid, up=1)
            own = nspids("/proc/%d/status" % w.host_pid)[-1]
        self.assertNotEqual(own, w.pid, "sanity: the workload is not in a nested namespace")
        self.check_cpu_profile(prof)
        self.check_ns_labels(prof, w, ns)
        self.check_split(prof)

    def test_sibling_namespace_not_mixed(self):
        """gohot in a sibling PID namespace (not profd's, not in it) under
        the same pid number as split in profd's: split's profile holds
        split's samples only — BPF checks the namespace, not just the
        number at profd's level."""
        with NsWorkload(self.daemon, "split", wait_line="split ready") as w:
            sib = spawn(list(UNSHARE_PID) + ["sh", "-c", 'echo $(($0 - 1)) > /proc/sys/kernel/ns_last_pid || exit 1; '
                                             '"$1" 60 & echo "sibling $!"; wait', str(w.pid), os.path.join(E2E, "gohot")],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            try:
                line = sib.stdout.readline().decode(errors="replace").strip()
                self.assertEqual(line, "sibling %d" % w.pid, "the sibling namespace's gohot did not get pid %d" % w.pid)
                self.assertEqual(sib.stdout.readline().decode(errors="replace").strip(), "gohot ready")
                prof = fetch(self, self.daemon, w, 3, name="pidns-sibling")
            finally:
                kill(sib)
        self.check_cpu_profile(prof)
        mixed = prof.count(lambda s: first_of(s, ("main.hotA", "main.hotB")))
        self.assertEqual(mixed, 0, "%d samples of the sibling namespace's gohot in split's profile\n%s" % (mixed, prof.excerpt()))
        self.check_split(prof)

    def test_profd_two_levels_down(self):
        """profd in a PID namespace nested in another new one (level 2)."""
        d = NsDaemon("PidNamespace-level2", levels=2)
        try:
            self.assertIn("(level 2)", d.log_tail(), "profd's log should name its level:\n%s" % d.log_tail())
            with NsWorkload(d, "split", wait_line="split ready") as w:
                prof = fetch(self, d, w, 3, name="pidns-level2")
                ns = ns_tids(w.host_pid)
                depth = len(nspids("/proc/%d/status" % w.host_pid)) - len(nspids("/proc/self/status"))
        finally:
            d.stop()
        self.assertEqual(depth, 2, "sanity: the workload is not two PID namespaces below ours")
        self.check_cpu_profile(prof)
        self.check_ns_labels(prof, w, ns)
        self.check_split(prof)

    def test_proc_of_another_namespace_refused(self):
        """profd in a new PID namespace that still sees the host's /proc
        (unshare --pid --fork without --mount-proc) refuses to start, saying
        how to run it: pids in requests would not name what callers mean."""
        tmp = tempfile.mkdtemp(prefix="profd-e2e-")
        sock = os.path.join(tmp, "profd.sock")
        p = spawn(["unshare", "--pid", "--fork", "--kill-child", PROFD, "--socket", sock],
                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        try:
            try:
                out, _ = p.communicate(timeout=15)
            except subprocess.TimeoutExpired:
                kill(p)
                self.fail("profd with /proc of another PID namespace did not refuse to start (socket %s)"
                          % ("served" if os.path.exists(sock) else "not served"))
            out = out.decode(errors="replace")
            self.assertEqual(p.returncode, 1, "exit %d, want a refusal:\n%s" % (p.returncode, out))
            self.assertNotIn("serving on", out, out)
            self.assertFalse(os.path.exists(sock), "socket left behind")
            self.assertIn("PID namespace", out, out)
            self.assertIn("/proc", out, out)
            self.assertIn("hostPID", out, "the message should say how to run profd:\n%s" % out)
            self.assertIn("--mount-proc", out, "the message should say how to run profd:\n%s" % out)
        finally:
            kill(p)
            shutil.rmtree(tmp, ignore_errors=True)


# --------------------------------------------------------------------------
# never a silently empty profile
# --------------------------------------------------------------------------


def bpf_map_ids(pid, name):
    """The ids of the BPF maps called NAME that process PID holds."""
    ids = set()
    for fd in os.listdir("/proc/%d/fdinfo" % pid):
        try:
            with open("/proc/%d/fdinfo/%s" % (pid, fd)) as f:
                m = re.search(r"^map_id:\s*(\d+)$", f.read(), re.M)
        except OSError:
            continue
        if m:
            ids.add(int(m.group(1)))
    out = []
    for i in sorted(ids):
        r = subprocess.run(["bpftool", "-j", "map", "show", "id", str(i)], capture_output=True, text=True)
        if r.returncode == 0 and json.loads(r.stdout).get("name") == name:
            out.append(i)
    return out


class MissingSamples(ProfdTest):
    """A window whose target used CPU but got (almost) no samples says so:
    in the profile's comments, in profctl's summary and in /v1/status. The
    samples are taken away from outside, with bpftool: the window's entry
    is deleted from the sampler's targets map as soon as it appears."""

    def test_normal_window_not_flagged(self):
        st0 = self.daemon.status()
        self.assertIn("windows_missing_samples", st0, st0)
        with Workload("split", wait_line="split ready") as w:
            prof = fetch(self, self.daemon, w, 2, name="missing-none")
        self.check_cpu_profile(prof)
        self.assertFalse([c for c in prof.proto.get("comment", []) if c.startswith("warning:")],
                         "comments of a normal profile: %r" % prof.proto.get("comment"))
        st1 = self.daemon.status()
        self.assertEqual(st1["windows_missing_samples"], st0["windows_missing_samples"], "%r -> %r" % (st0, st1))

    def test_window_without_samples_says_so(self):
        if not shutil.which("bpftool"):
            self.skipTest("no bpftool")
        ids = bpf_map_ids(self.daemon.proc.pid, "targets")
        self.assertEqual(len(ids), 1, "profd's targets map: ids %r" % ids)
        mid = str(ids[0])
        st0 = self.daemon.status()
        out = os.path.join(ART, "missing-samples.pb.gz")
        if os.path.exists(out):
            os.unlink(out)
        with Workload("split", wait_line="split ready") as w:
            cpu0 = w.cpu()
            pc = spawn([PROFCTL, "--socket", self.daemon.sock, "cpu", "--pid", str(w.pid), "--seconds", "4",
                        "--hz", str(HZ), "-o", out], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            deleted = 0
            deadline = time.monotonic() + 3
            while not deleted and time.monotonic() < deadline:
                r = subprocess.run(["bpftool", "-j", "map", "dump", "id", mid], capture_output=True, text=True)
                self.assertEqual(r.returncode, 0, r.stderr)
                for e in json.loads(r.stdout):
                    d = subprocess.run(["bpftool", "map", "delete", "id", mid, "key", "hex"]
                                       + [b[2:] if b.startswith("0x") else b for b in e["key"]],
                                       capture_output=True, text=True)
                    self.assertEqual(d.returncode, 0, d.stderr)
                    deleted += 1
                time.sleep(0.01)
            self.assertTrue(deleted, "the window never showed up in the targets map")
            stdout, stderr = pc.communicate(timeout=30)
            cpu = w.cpu() - cpu0
        stdout, stderr = stdout.decode(errors="replace"), stderr.decode(errors="replace")
        self.assertEqual(pc.returncode, 0, "profctl: rc %d\n%s%s" % (pc.returncode, stdout, stderr))
        self.assertGreater(cpu, 2, "sanity: split used only %.2f s of CPU" % cpu)
        self.assertRegex(stdout, r"(?m)^warning: .*samples", "profctl's summary does not say samples are missing:\n%s" % stdout)
        prof = Prof(out, pid=w.pid, hz=HZ, seconds=4)
        r = subprocess.run(["go", "tool", "pprof", "-comments", out], capture_output=True, text=True, env=go_env(), timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        warn = [c for c in r.stdout.splitlines() if c.startswith("warning:")]
        self.assertTrue(warn, "go tool pprof -comments:\n%s" % r.stdout)
        self.assertIn("profd got %d:" % prof.count(), warn[0])
        st1 = self.daemon.status()
        self.assertEqual(st1["windows_missing_samples"], st0["windows_missing_samples"] + 1, "%r -> %r" % (st0, st1))


# --------------------------------------------------------------------------
# runner
# --------------------------------------------------------------------------


class Result(unittest.TextTestResult):
    """Counts passes; a sanitizer report written while a test ran (by profd
    or profctl in a SAN= build) fails that test, even one that passed or
    was skipped."""
    passed = 0

    def _sanitizer_failure(self, test):
        report = sanitizer_reports()
        if not report:
            return False
        try:
            raise AssertionError("sanitizer report during this test: " + report)
        except AssertionError:
            super().addFailure(test, sys.exc_info())
        return True

    def addSuccess(self, test):
        if self._sanitizer_failure(test):
            return
        super().addSuccess(test)
        self.passed += 1

    def addSkip(self, test, reason):
        if self._sanitizer_failure(test):
            return
        super().addSkip(test, reason)

    def addFailure(self, test, err):
        super().addFailure(test, err)
        self._sanitizer_note()

    def addError(self, test, err):
        super().addError(test, err)
        self._sanitizer_note()

    def _sanitizer_note(self):
        report = sanitizer_reports()
        if report:
            self.stream.writeln("sanitizer report during this test: " + report)

    def startTest(self, test):
        self._t0 = time.monotonic()
        super().startTest(test)

    def stopTest(self, test):
        super().stopTest(test)
        if self.showAll:
            self.stream.writeln("    (%.1f s)" % (time.monotonic() - self._t0))


def main():
    """The CPU tests alone; run_all.py runs every suite with one tally."""
    # By name, not __main__: run_all configures the module "test_cpu".
    import run_all
    import test_cpu
    run_all.main(modules=(test_cpu,))


if __name__ == "__main__":
    main()
