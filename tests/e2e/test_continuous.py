#!/usr/bin/env python3
"""End-to-end tests of continuous collection (issue 13): every process
sampled through the shared sampler, one profile per service closed every
continuous-interval and pushed, machine-wide pulls (run by
tests/e2e/run.sh through run_all.py, with test_cpu.py's and
test_fleet.py's helpers).

  python3 tests/e2e/run_all.py --output build -k Continuous

A known mix: split (one busy thread) in a cgroup named like a systemd unit,
profd-test-cont.slice/web.service, threads (a busy worker thread and a
main thread at about a quarter) in .../batch.service, and exiter, which
spins 3 s of CPU and exits mid-interval, in .../short.service, and ksmd (a
kernel thread) scanning mergeable memory (KsmLoad). profd runs with
continuous = yes at 19 Hz, a 5 s interval and the push receiver of
test_fleet.py (pushrecv.py: no Pyroscope here) as its collector; every
pushed profile is read with `go tool pprof -raw`.
"""

import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cpu as cpu  # noqa: E402
import pprofraw  # noqa: E402
import pushrecv  # noqa: E402
from test_cpu import Daemon, spawn, kill  # noqa: E402
from test_fleet import cgroup2_mount, metrics, wait_for  # noqa: E402

HZ = 19
INTERVAL = 5
SLICE = None    # <cgroup2 mount>/profd-test-cont.slice


def whole_stack(prof, s):
    """Not [truncated], and reaching main or a thread's start: named
    (start_thread) where libc's symbols are installed (libc6-dbg), else
    libc's unnamed frames outermost (a fresh machine: start_thread and
    __clone3 have no .dynsym entries)."""
    fns = s.functions()
    if "[truncated]" in fns:
        return False
    if "main" in fns or "start_thread" in fns or "__clone3" in fns:
        return True
    locs = s.locations()
    if not locs or locs[-1].lines:
        return False
    m = prof.raw.mapping_of(locs[-1])
    return bool(m and "/libc.so" in m.file)


def check_in_program(tc, profs, pid, fns, programs):
    """Samples of @pid in @profs ([(Prof, _)]) with one of @fns on their
    stack, of all (weights): at least 90%, or all but one. The pid's CPU
    time (wait4) also holds the shell that joins the cgroup and executes
    the program, the exec and ld.so's start (InCgroup): a few ms, so at
    19 Hz a sample may land there. Each sample outside @fns is explained:
    no unnamed frame in one of @programs (file names), which would be a
    symbolization miss. Returns (in, total)."""
    n = inside = 0
    outside = []
    for p, _ in profs:
        for s in p.samples:
            tc.assertEqual(s.num_label("pid"), pid, s)
            n += s.values[0]
            if set(fns) & set(s.functions()):
                inside += s.values[0]
                continue
            for loc in s.locations():
                m = p.raw.mapping_of(loc)
                tc.assertFalse(m and os.path.basename(m.file) in programs and not loc.lines,
                               "an unnamed frame of %s: %r" % (m and m.file, s.locations()))
            outside.append(s)
    tc.assertGreaterEqual(inside, min(0.9 * n, n - 1), "%d of %d samples in %s; the others: %r"
                          % (inside, n, fns, [(s.label("comm"), s.locations()) for s in outside]))
    return inside, n


def check_count(tc, n, cpu_s, what, hz=HZ, upper=True):
    """@n samples at @hz for @cpu_s seconds of CPU (wait4): within 4
    standard deviations of m = cpu_s * hz, and 2 more (a sample is a tick
    on which the process was the one running: at most Poisson, variance
    <= m); @upper: both ways. Catches a lost or doubled share; a ratio
    bound such as 0.8 m fails by chance at the counts 19 Hz gives (m ~ 7:
    5% a run)."""
    m = cpu_s * hz
    sd = math.sqrt(max(m, 1.0))
    tc.assertGreater(n, m - 4 * sd - 2, "%s: %d samples for %.2f s of CPU (%.1f expected)" % (what, n, cpu_s, m))
    if upper:
        tc.assertLess(n, m + 4 * sd + 2, "%s: %d samples for %.2f s of CPU (%.1f expected)" % (what, n, cpu_s, m))


NS = 1000000000


def use_slice():
    """Points SLICE at the test slice under the cgroup v2 mount (the
    InCgroup workloads' parent); SkipTest without cgroup v2."""
    global SLICE
    root = cgroup2_mount()
    if root is None:
        raise unittest.SkipTest("no cgroup v2 mounted")
    SLICE = os.path.join(root, "profd-test-cont.slice")


def remove_slice(units):
    """Removes @units' cgroups and the slice, once their processes are gone."""
    for unit in tuple(units) + ("",):
        try:
            os.rmdir(os.path.join(SLICE, unit) if unit else SLICE)
        except OSError:
            pass


def need_push():
    """SkipTest unless the push receiver can be built (make deps)."""
    if shutil.which("protoc") is None:
        raise unittest.SkipTest("protoc not installed (make deps: protobuf-compiler)")
    if not pushrecv.have_protobuf():
        raise unittest.SkipTest("python3-protobuf not installed (make deps)")


def next_boundary(t=None):
    t = time.time() if t is None else t
    return (int(t) // INTERVAL + 1) * INTERVAL


def sleep_until(wall):
    d = wall - time.time()
    if d > 0:
        time.sleep(d)


class InCgroup:
    """A workload started inside cgroup @unit of the test slice: a shell
    that moves itself there, then executes the program (same pid)."""

    def __init__(self, unit, name, seconds, *args):
        self.cg = os.path.join(SLICE, unit)
        os.makedirs(self.cg, exist_ok=True)
        exe = os.path.join(cpu.E2E, name)
        self.proc = spawn(["/bin/sh", "-c", 'echo $$ > "$1/cgroup.procs" && shift && exec "$@"', "sh",
                           self.cg, exe, str(seconds)] + [str(a) for a in args],
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self.pid = self.proc.pid
        self.name = name

    def reap_cpu(self):
        _, status, ru = os.wait4(self.pid, 0)
        self.proc.returncode = status
        return ru.ru_utime + ru.ru_stime

    def stop(self):
        kill(self.proc)


KSM = "/sys/kernel/mm/ksm"


def kthread_cpu(name):
    """(pid, utime + stime in seconds) of the kernel thread @name, or None."""
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                st = f.read()
        except OSError:
            continue
        if st[st.index("(") + 1:st.rindex(")")] == name:
            f = st[st.rindex(")") + 2:].split()
            return int(d), (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")
    return None


class KsmLoad:
    """Known kernel-thread CPU: ksmd scanning 64 MB of mergeable pages
    that never merge (each holds its own offset), 500 pages every 10 ms
    with smart scanning off (it skips unchanged pages, and ksmd's CPU
    would fade): about 10% of a core, steady. Without it kernel threads
    may run too little on a quiet machine for a 19 Hz sampler to see
    them. stop() puts the KSM settings back."""

    SET = (("smart_scan", "0"), ("sleep_millisecs", "10"), ("pages_to_scan", "500"), ("run", "1"))

    def __init__(self):
        self.saved = []
        self.holder = None
        self.before = kthread_cpu("ksmd")
        if self.before is None or not os.path.isdir(KSM):
            return
        script = ("import mmap, struct, sys\n"
                  "m = mmap.mmap(-1, 64 << 20, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)\n"
                  "for i in range(0, 64 << 20, 4096): m[i:i + 8] = struct.pack('Q', i)\n"
                  "m.madvise(mmap.MADV_MERGEABLE)\n"
                  "sys.stdin.read()\n")
        self.holder = spawn([sys.executable, "-c", script], stdin=subprocess.PIPE)
        for k, v in self.SET:
            path = os.path.join(KSM, k)
            if not os.path.exists(path):    # smart_scan: 6.7 and later
                continue
            with open(path) as f:
                self.saved.insert(0, (k, f.read().strip()))
            with open(path, "w") as f:
                f.write(v)

    def stop(self):
        """ksmd's CPU time while it ran (s), or None without KSM."""
        if self.holder is None:
            return None
        after = kthread_cpu("ksmd")
        kill(self.holder)
        self.holder = None
        for k, v in self.saved:     # run first
            try:
                with open(os.path.join(KSM, k), "w") as f:
                    f.write(v)
            except OSError:
                pass
        return after[1] - self.before[1]


class PushedMix(unittest.TestCase):
    """What the mixes share: a push receiver (pushrecv.py), a profd with
    continuous = yes at HZ and INTERVAL pushing to it, the workloads of
    run_mix() in cgroups named like units of the test slice, and the
    pushed profiles read back per service. No tests of its own."""

    NAME = None     # profd's log name
    UNITS = ()      # the cgroups run_mix() makes, removed at the end

    @classmethod
    def setUpClass(cls):
        need_push()
        use_slice()
        cls.gen = os.path.join(cpu.OUTPUT, "e2e", "gen")
        cls.proto = os.path.abspath(os.path.join(cpu.SRC, "..", "..", "proto"))
        pushrecv.push_pb2(cls.proto, cls.gen)
        cls.tmp = tempfile.mkdtemp(prefix="profd-%s-" % cls.NAME)
        cls.rcv = pushrecv.Receiver(cls.proto, cls.gen).start()
        cls.daemon = Daemon(cls.NAME, "--continuous", "yes", "--continuous-hz", str(HZ),
                            "--continuous-interval", "%ds" % INTERVAL,
                            "--spool-dir", os.path.join(cls.tmp, "spool"),
                            "--push-url", cls.rcv.url, "--push-labels", "pid,tid")
        cls.work = []
        try:
            cls.run_mix()
        except BaseException:
            cls.cleanup()
            raise

    @classmethod
    def delivered_until(cls):
        end = 0
        for g in cls.rcv.snapshot()[0]:
            p = pprofraw.decode_proto(g.raw)
            end = max(end, (p["time_nanos"] + p["duration_nanos"]) // NS)
        return end

    _profs = {}

    @classmethod
    def prof_of(cls, g):
        p = cls._profs.get(g.id)
        if p is None:
            path = os.path.join(cpu.ART, "continuous-%s.pb.gz" % g.id)
            with open(path, "wb") as f:
                f.write(g.raw)
            p = cpu.Prof(path)  # raises unless go tool pprof -raw reads it
            cls._profs[g.id] = p
        return p

    @classmethod
    def cleanup(cls):
        for w in cls.work:
            w.stop()
        if getattr(cls, "daemon", None):
            cls.daemon.stop()
        if getattr(cls, "rcv", None):
            cls.rcv.stop()
        remove_slice(cls.UNITS)
        shutil.rmtree(cls.tmp, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls.cleanup()

    def series(self, service):
        """The pushed profiles of @service, oldest first."""
        got = [g for g in self.rcv.snapshot()[0] if g.labels.get("service_name") == service]
        profs = [(self.prof_of(g), g) for g in got]
        profs.sort(key=lambda pg: pg[0].proto["time_nanos"])
        return profs


class Continuous(PushedMix):

    NAME = "continuous"
    UNITS = ("web.service", "batch.service", "short.service", "exec.service")

    @classmethod
    def run_mix(cls):
        """~35 s: the mix, a machine-wide pull over two whole intervals,
        the short-lived process; then everything closed and pushed."""
        b0 = next_boundary(time.time() + 0.5)
        sleep_until(b0 + 0.2)
        web = InCgroup("web.service", "split", 22)
        batch = InCgroup("batch.service", "threads", 22)
        # A process that executes another program 2 s in (same pid).
        execer = InCgroup("exec.service", "execer", 12, 2, os.path.join(cpu.E2E, "split"), 3)
        cls.ksm = KsmLoad()
        cls.work += [web, batch, execer, cls.ksm]
        cls.web, cls.batch, cls.execer = web, batch, execer
        # A pull at the intervals' rate from just after one boundary to
        # just after the one two intervals later: the same samples.
        cls.pull_start = b0 + INTERVAL
        cls.pull = {}

        def pull():
            sleep_until(cls.pull_start + 0.005)
            t = time.time()
            r = cls.daemon.get("/debug/pprof/profile?seconds=%d&hz=%d" % (2 * INTERVAL, HZ), timeout=60)
            cls.pull.update(resp=r, asked=t)

        th = threading.Thread(target=pull)
        th.start()
        sleep_until(b0 + INTERVAL + 1)
        # 3 s of its own CPU time (however long that takes under the
        # others' load): ~57 samples to expect, not a third of 1.5 s's.
        short = InCgroup("short.service", "exiter", 3, "cpu")
        cls.work.append(short)
        cls.short_pid = short.pid
        cls.short_cpu = short.reap_cpu()
        cls.execer_cpu = cls.execer.reap_cpu()
        cls.web_cpu = web.reap_cpu()
        cls.batch_cpu = batch.reap_cpu()
        cls.ksm_cpu = cls.ksm.stop()
        th.join(60)
        cls.end = time.time()
        # Every interval that held their samples closed and delivered.
        last = next_boundary(cls.end)
        sleep_until(last + 1)
        wait_for(lambda: cls.delivered_until() >= last, 30, "the interval ending at %d pushed" % last)

    def test_shares_match_cpu_time(self):
        n = {}
        for svc in ("web.service", "batch.service"):
            n[svc] = sum(p.count() for p, _ in self.series(svc))
        total = n["web.service"] + n["batch.service"]
        self.assertGreater(total, 0, "no samples of the mix")
        cpu_total = self.web_cpu + self.batch_cpu
        for svc, c in (("web.service", self.web_cpu), ("batch.service", self.batch_cpu)):
            got, want = 100.0 * n[svc] / total, 100.0 * c / cpu_total
            self.assertLess(abs(got - want), 5.0,
                            "%s: %.1f%% of the samples, %.1f%% of the CPU time (%r; cpu %.2f/%.2f s)"
                            % (svc, got, want, n, self.web_cpu, self.batch_cpu))
        # And in absolute terms: a sample per 1/19 s of CPU time.
        for svc, c in (("web.service", self.web_cpu), ("batch.service", self.batch_cpu)):
            check_count(self, n[svc], c, svc)

    def test_labels_and_stacks(self):
        want = {"web.service": (self.web.pid, "split", {"hot_a", "hot_b"}),
                "batch.service": (self.batch.pid, "threads", {"thread_hot", "main_hot"})}
        for svc, (pid, comm, leaves) in want.items():
            profs = self.series(svc)
            self.assertTrue(profs, "no profile of %s" % svc)
            whole = n = hot = 0
            for p, g in profs:
                self.assertEqual(g.labels.get("__name__"), "process_cpu", g.labels)
                self.assertEqual(g.labels.get("unit"), svc, g.labels)
                self.assertEqual(p.raw.sample_types, [("samples", "count"), ("cpu", "nanoseconds")])
                self.assertEqual(p.raw.period_type, ("cpu", "nanoseconds"))
                self.assertEqual(int(p.raw.period), NS // HZ)
                for s in p.samples:
                    self.assertEqual(s.label("service_name"), svc, s)
                    self.assertEqual(s.num_label("pid"), pid, s)
                    self.assertEqual(s.label("comm"), comm, s)
                    self.assertIsNotNone(s.label("thread"), s)
                    self.assertIsNotNone(s.num_label("tid"), s)
                    self.assertEqual(s.values[1], s.values[0] * (NS // HZ), s)
                    fns = s.functions()
                    n += s.values[0]
                    if whole_stack(p, s):
                        whole += s.values[0]
                    if fns and fns[0] in leaves:
                        hot += s.values[0]
            self.assertGreaterEqual(whole, 0.9 * n, "%s: %d of %d stacks complete\n%s"
                                    % (svc, whole, n, profs[0][0].excerpt()))
            self.assertGreaterEqual(hot, 0.7 * n, "%s: %d of %d samples in %s\n%s"
                                    % (svc, hot, n, leaves, profs[0][0].excerpt()))

    def test_short_lived_process_symbolized(self):
        profs = self.series("short.service")
        self.assertTrue(profs, "the short-lived process left no profile")
        _, total = check_in_program(self, profs, self.short_pid, ("exiter_spin",), ("exiter",))
        check_count(self, total, self.short_cpu, "exiter")

    def test_exec_both_programs_symbolized(self):
        profs = self.series("exec.service")
        self.assertTrue(profs, "the executing process left no profile")
        before = sum(p.count(lambda s: "before_exec" in s.functions()) for p, _ in profs)
        after = sum(p.count(lambda s: "hot_a" in s.functions() or "hot_b" in s.functions()) for p, _ in profs)
        total = sum(p.count() for p, _ in profs)
        # Both programs sampled, and a sample per 1/19 s of the CPU time
        # the process got (wait4: on a loaded machine that is well under
        # a share of a core, so no fixed count).
        self.assertGreater(before, 0, "%d samples in before_exec" % before)
        self.assertGreater(after, 0, "%d samples in split after the exec" % after)
        check_count(self, total, self.execer_cpu, "execer")
        check_in_program(self, profs, self.execer.pid, ("before_exec", "hot_a", "hot_b"), ("execer", "split"))
        # Both programs' names; and "sh" for a sample of the shell before
        # its exec (check_in_program's one sample outside).
        comms = {s.label("comm") for p, _ in profs for s in p.samples}
        self.assertTrue({"execer", "split"} <= comms <= {"execer", "split", "sh"}, comms)

    def test_intervals_contiguous_unique(self):
        got = self.rcv.snapshot()[0]
        ids = [g.id for g in got]
        self.assertEqual(len(ids), len(set(ids)), "an interval pushed twice")
        for svc in ("web.service", "batch.service"):
            profs = self.series(svc)
            starts = [p.proto["time_nanos"] for p, _ in profs]
            self.assertEqual(len(starts), len(set(starts)), "%s: two profiles of one interval" % svc)
            for (a, _), (b, _) in zip(profs, profs[1:]):
                # The next interval starts where the last ended: none missing.
                self.assertEqual(a.proto["time_nanos"] + a.proto["duration_nanos"], b.proto["time_nanos"], svc)
                self.assertEqual(b.proto["duration_nanos"], INTERVAL * NS)
                self.assertEqual(b.proto["time_nanos"] % (INTERVAL * NS), 0, "intervals aligned")
            # From the first interval with its samples to its last.
            self.assertGreaterEqual(len(profs), 22 // INTERVAL, svc)

    def test_intervals_sum_to_spanning_window(self):
        r = self.pull.get("resp")
        self.assertIsNotNone(r, "the pull did not answer")
        self.assertEqual(r.status, 200, r)
        path = os.path.join(cpu.ART, "continuous-pull.pb.gz")
        with open(path, "wb") as f:
            f.write(r.body)
        pull = cpu.Prof(path)
        t0 = pull.proto["time_nanos"]
        self.assertLess(abs(t0 / NS - self.pull_start), 0.2, "the pull began %.3f s after the boundary"
                        % (t0 / NS - self.pull_start))
        for svc, pid in (("web.service", self.web.pid), ("batch.service", self.batch.pid)):
            ivs = [p for p, _ in self.series(svc)
                   if self.pull_start * NS <= p.proto["time_nanos"] < (self.pull_start + 2 * INTERVAL) * NS]
            self.assertEqual(len(ivs), 2, svc)
            a = sum(p.count() for p in ivs)
            b = pull.count(lambda s: s.num_label("pid") == pid)
            # Every sample of the pull's period is in both, but for its
            # first d seconds (the intervals' alone) and d past the end
            # (the window's alone): two counts of mean rate * d each, so
            # within 4 standard deviations of their difference, and 2.
            d = max(t0 / NS - self.pull_start, 0.0)
            slack = 2 + 4 * math.sqrt(2 * a / (2 * INTERVAL) * d)
            self.assertLessEqual(abs(a - b), slack, "%s: intervals %d, window %d (began %.3f s late)"
                                 % (svc, a, b, d))
            self.assertTrue(all(s.label("service_name") == svc
                                for s in pull.samples if s.num_label("pid") == pid))

    def test_every_pushed_profile_parses(self):
        got = self.rcv.snapshot()[0]
        services = set()
        for g in got:
            p = self.prof_of(g)  # go tool pprof -raw
            services.add(g.labels.get("service_name"))
            self.assertTrue(p.samples, g.labels)
            for s in p.samples:
                self.assertEqual(s.label("service_name"), g.labels.get("service_name"), s)
        # Kernel threads are a service of their own: ksmd's known CPU
        # time (KsmLoad) among them, a sample per 1/19 s of it.
        if self.ksm_cpu is None:
            self.skipTest("no KSM in this kernel: no kernel thread with known CPU time")
        self.assertGreater(self.ksm_cpu, 0.5, "ksmd did not run: the load is not there")
        self.assertIn("kernel", services)
        ksmd = sum(p.count(lambda s: s.label("comm") == "ksmd") for p, _ in self.series("kernel"))
        check_count(self, ksmd, self.ksm_cpu, "ksmd")

    def test_metrics(self):
        # A pair read while no interval is closing: the fleet counts each
        # service's profile as it is spooled, the continuous side all of
        # an interval's at its end.
        def settled():
            m = metrics(self.daemon)
            return m if m["profd_continuous_profiles_total"] == m["profd_intervals_closed_total"] else None
        m = wait_for(settled, 10, "/metrics between two intervals' close", step=0.1)
        self.assertEqual(m["profd_continuous_enabled"], 1, m)
        self.assertGreater(m["profd_continuous_samples_total"], 0, m)
        self.assertGreaterEqual(m["profd_continuous_intervals_closed_total"], 6, m)
        self.assertGreater(m["profd_continuous_processes_seen_total"], 2, m)
        self.assertGreaterEqual(m["profd_machine_profiles_total"], 1, m)
        self.assertEqual(m['profd_continuous_samples_lost_total{reason="late"}'], 0, m)
        self.assertEqual(m['profd_continuous_samples_lost_total{reason="queue_full"}'], 0, m)
        if shutil.which("promtool"):
            r = self.daemon.get("/metrics", timeout=10)
            p = subprocess.run(["promtool", "check", "metrics"], input=r.body, capture_output=True, timeout=60)
            self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_profctl_all(self):
        out = os.path.join(self.tmp, "all.pb.gz")
        # Something busy for the window: an idle machine's profile is
        # rightly empty (the fresh-machine check has nothing else running).
        with cpu.Workload("split", wait_line="split ready") as w:
            p = subprocess.run([cpu.PROFCTL, "--socket", self.daemon.sock, "cpu", "--all", "--seconds", "2",
                                "-o", out], capture_output=True, text=True, timeout=60)
        self.assertEqual(p.returncode, 0, p)
        prof = cpu.Prof(out)
        self.assertIn("every process", " ".join(prof.raw.comments))
        self.assertTrue(prof.samples)
        self.assertTrue([s for s in prof.samples if s.num_label("pid") == w.pid], prof.excerpt())
        for s in prof.samples:
            self.assertIsNotNone(s.label("service_name"), s)
            self.assertIsNotNone(s.label("comm"), s)


class ContinuousPool(PushedMix):
    """The issue's 60 s mix, with a thread pool: pool (four workers named
    pool-0..pool-3 taking parse tasks of 128 work units and render tasks
    of 64 from one queue, queued alternately: 2/3 of the work in
    task_parse whichever worker runs it) in pool.service, split (3:1
    hot_a:hot_b) in web.service, both for 60 s, and exiter (spins 3 s of CPU,
    exits) in short.service halfway. Every pushed interval is read with
    `go tool pprof -raw`; the truth is each program's CPU time (wait4)
    and the work split the programs are built with."""

    NAME = "continuous-pool"
    UNITS = ("pool.service", "web.service", "short.service")
    SECONDS = 60

    @classmethod
    def run_mix(cls):
        b0 = next_boundary(time.time() + 0.5)
        sleep_until(b0 + 0.2)
        cls.pool = InCgroup("pool.service", "pool", cls.SECONDS)
        cls.web = InCgroup("web.service", "split", cls.SECONDS)
        cls.work += [cls.pool, cls.web]
        sleep_until(b0 + cls.SECONDS / 2)
        # 3 s of its own CPU time (however long that takes under the
        # others' load): ~57 samples to expect, not a third of 1.5 s's.
        short = InCgroup("short.service", "exiter", 3, "cpu")
        cls.work.append(short)
        cls.short_pid = short.pid
        cls.short_cpu = short.reap_cpu()
        cls.pool_cpu = cls.pool.reap_cpu()
        cls.web_cpu = cls.web.reap_cpu()
        last = next_boundary(time.time())
        sleep_until(last + 1)
        wait_for(lambda: cls.delivered_until() >= last, 30, "the interval ending at %d pushed" % last)

    def test_shares_match_cpu_time(self):
        n = {svc: sum(p.count() for p, _ in self.series(svc)) for svc in ("pool.service", "web.service")}
        total = sum(n.values())
        self.assertGreater(total, 0, "no samples of the mix")
        cpus = {"pool.service": self.pool_cpu, "web.service": self.web_cpu}
        for svc, c in cpus.items():
            got, want = 100.0 * n[svc] / total, 100.0 * c / sum(cpus.values())
            self.assertLess(abs(got - want), 5.0, "%s: %.1f%% of the samples, %.1f%% of the CPU time (%r; cpu %r)"
                            % (svc, got, want, n, cpus))
            check_count(self, n[svc], c, svc)

    def test_pool_threads_and_work(self):
        """Every worker is there under its own name and tid, the stacks are
        whole, and the pool's work splits 2:1 parse:render as built."""
        profs = self.series("pool.service")
        self.assertTrue(profs, "no profile of pool.service")
        per_thread, tids = {}, {}
        parse = render = whole = n = 0
        for p, g in profs:
            for s in p.samples:
                self.assertEqual(s.num_label("pid"), self.pool.pid, s)
                self.assertEqual(s.label("comm"), "pool", s)
                v = s.values[0]
                n += v
                th = s.label("thread")
                per_thread[th] = per_thread.get(th, 0) + v
                tids.setdefault(th, set()).add(s.num_label("tid"))
                fns = s.functions()
                whole += v if whole_stack(p, s) else 0
                if fns and fns[0] == "task_parse":
                    parse += v
                elif fns and fns[0] == "task_render":
                    render += v
        workers = ["pool-%d" % i for i in range(4)]
        for w in workers:
            # Four workers on one queue: each about a quarter of the work.
            self.assertGreaterEqual(per_thread.get(w, 0), 0.10 * n, "%s: %r of %d samples" % (w, per_thread, n))
            self.assertEqual(len(tids.get(w, ())), 1, "%s: tids %r" % (w, tids.get(w)))
        self.assertEqual(len({next(iter(tids[w])) for w in workers}), 4, tids)
        self.assertGreaterEqual(whole, 0.9 * n, "%d of %d stacks whole\n%s" % (whole, n, profs[0][0].excerpt()))
        self.assertGreaterEqual(parse + render, 0.85 * n, "task_parse %d + task_render %d of %d" % (parse, render, n))
        self.assertAlmostEqual(parse / (parse + render), 2 / 3, delta=0.06,
                               msg="task_parse %d, task_render %d" % (parse, render))

    def test_intervals_contiguous_unique(self):
        got = self.rcv.snapshot()[0]
        ids = [g.id for g in got]
        self.assertEqual(len(ids), len(set(ids)), "an interval pushed twice")
        for svc in ("pool.service", "web.service"):
            profs = self.series(svc)
            for (a, _), (b, _) in zip(profs, profs[1:]):
                self.assertEqual(a.proto["time_nanos"] + a.proto["duration_nanos"], b.proto["time_nanos"], svc)
                self.assertEqual(b.proto["duration_nanos"], INTERVAL * NS)
            # 60 s of work: 12 intervals, 13 when it began mid-interval.
            self.assertGreaterEqual(len(profs), self.SECONDS // INTERVAL, "%s: %d intervals" % (svc, len(profs)))

    def test_short_lived_process(self):
        profs = self.series("short.service")
        self.assertTrue(profs, "the short-lived process is in no interval")
        _, n = check_in_program(self, profs, self.short_pid, ("exiter_spin",), ("exiter",))
        check_count(self, n, self.short_cpu, "exiter")


class SliceTest(unittest.TestCase):
    """A test with its own profd: workloads in the test slice (self.work),
    a temporary directory (self.tmp), the daemon (self.daemon) and a push
    receiver (self.rcv) if it made one; tearDown stops and removes them
    all, whatever the test did."""

    UNITS = ("web.service", "batch.service")

    def setUp(self):
        use_slice()
        self.tmp = tempfile.mkdtemp(prefix="profd-%s-" % type(self).__name__.lower())
        self.work, self.daemon, self.rcv = [], None, None

    def history(self, name):
        """The last minute from the daemon's spool, once the interval in
        progress now has closed (two more closed: the one in progress
        may be about to), read with `go tool pprof -raw`."""
        key = "profd_continuous_intervals_closed_total"
        c0 = metrics(self.daemon).get(key, 0)
        wait_for(lambda: metrics(self.daemon).get(key, 0) >= c0 + 2, 30,
                 "two more intervals closed")
        r = self.daemon.get("/v1/history?since=1m", timeout=30)
        self.assertEqual(r.status, 200, r)
        path = os.path.join(cpu.ART, "%s.pb.gz" % name)
        with open(path, "wb") as f:
            f.write(r.body)
        return cpu.Prof(path)

    def tearDown(self):
        for w in self.work:
            w.stop()
        if self.daemon:
            self.daemon.stop()
        if self.rcv:
            self.rcv.stop()
        remove_slice(self.UNITS)
        shutil.rmtree(self.tmp, ignore_errors=True)


class ContinuousFilters(SliceTest):
    """continuous-include / continuous-exclude: only the processes they
    want are in the intervals; the others are counted as excluded."""

    def test_include_exclude(self):
        d = self.daemon = Daemon("continuous-filters", "--continuous", "yes", "--continuous-interval", "2",
                                 "--continuous-hz", "99",
                                 "--spool-dir", os.path.join(self.tmp, "spool"),
                                 "--continuous-include", "cgroup:/profd-test-cont.slice",
                                 "--continuous-exclude", "unit:batch.service,comm:nobody-here")
        work = self.work
        work.append(InCgroup("web.service", "split", 5))
        work.append(InCgroup("batch.service", "split", 5))
        outside = spawn([os.path.join(cpu.E2E, "split"), "5"], stdout=subprocess.DEVNULL)
        cpu_s = [w.reap_cpu() for w in work]
        kill(outside)
        prof = self.history("continuous-filters")
        services = {s.label("service_name") for s in prof.samples}
        self.assertEqual(services, {"web.service"}, prof.excerpt())
        # A sample per 1/99 s of web's CPU time (wait4's rusage: what
        # it got on a shared machine, not what it asked for).
        check_count(self, prof.count(), cpu_s[0], "web.service", hz=99)
        m = metrics(d)
        # Excluded: batch's, and any other process's in its cgroup.
        check_count(self, m["profd_continuous_samples_excluded_total"], cpu_s[1], "excluded", hz=99,
                    upper=False)
        self.assertGreaterEqual(m["profd_continuous_processes_excluded_total"], 2, m)


class ContinuousFp(SliceTest):
    """--continuous-fp yes: no stack copies, user stacks by frame pointers
    (split is built with them): stacks still reach main, the profile says
    how they were taken."""

    UNITS = ("web.service",)

    def test_frame_pointer_stacks(self):
        d = self.daemon = Daemon("continuous-fp", "--continuous", "yes", "--continuous-interval", "2",
                                 "--continuous-hz", "99",
                                 "--continuous-fp", "yes", "--spool-dir", os.path.join(self.tmp, "spool"),
                                 "--continuous-include", "unit:web.service")
        self.work.append(InCgroup("web.service", "split", 4))
        cpu_s = self.work[0].reap_cpu()
        prof = self.history("continuous-fp")
        self.assertIn("user stacks by frame pointers", " ".join(prof.raw.comments))
        n = prof.count()
        check_count(self, n, cpu_s, "web.service", hz=99)
        hot = prof.count(lambda s: s.functions() and s.functions()[0] in ("hot_a", "hot_b")
                         and "main" in s.functions())
        self.assertGreater(hot, 0.8 * n, prof.excerpt())


class ContinuousMoves(SliceTest):
    """A process moved to another cgroup is labelled and filtered as its
    new cgroup's from then on (profd compares a sampled process's cgroup
    with the one it was tracked in every second): one moved into the
    included unit is counted from the move, one moved out of it no more.
    Before, a process kept the cgroup of its first sample for life (one
    sampled between its fork and its unit's move into its cgroup was
    left out, or under the parent's service)."""

    def test_moved_in_and_out(self):
        d = self.daemon = Daemon("continuous-moves", "--continuous", "yes", "--continuous-interval", "2",
                                 "--continuous-hz", "99",
                                 "--spool-dir", os.path.join(self.tmp, "spool"),
                                 "--continuous-include", "unit:web.service")
        into = InCgroup("batch.service", "split", 6)
        out = InCgroup("web.service", "split", 6)
        self.work += [into, out]
        time.sleep(2)
        before = {}
        for w, dest in ((into, "web.service"), (out, "batch.service")):
            before[w.pid] = proc_cpu_s(w.pid)
            with open(os.path.join(SLICE, dest, "cgroup.procs"), "w") as f:
                f.write(str(w.pid))
        total = {w.pid: w.reap_cpu() for w in (into, out)}
        prof = self.history("continuous-moves")
        self.assertEqual({s.label("service_name") for s in prof.samples}, {"web.service"}, prof.excerpt())
        n_into = prof.count(lambda s: s.num_label("pid") == into.pid)
        n_out = prof.count(lambda s: s.num_label("pid") == out.pid)
        # Seen moved within a second of samples (and one sample period).
        late = 1.0 + 1.0 / 99
        after = total[into.pid] - before[into.pid]
        check_count(self, n_into, max(after - late, 0), "moved into web.service (%.2f s of CPU after the move)"
                    % after, hz=99, upper=False)
        self.assertLess(n_into, after * 99 + 4 * math.sqrt(after * 99) + 2, "moved into web.service: %d samples "
                        "for %.2f s of CPU after the move" % (n_into, after))
        b = before[out.pid]
        check_count(self, n_out, b, "moved out of web.service (%.2f s of CPU before the move)" % b, hz=99,
                    upper=False)
        bound = (b + late) * 99
        self.assertLess(n_out, bound + 4 * math.sqrt(bound) + 2, "moved out of web.service: %d samples for "
                        "%.2f s of CPU before the move" % (n_out, b))
        self.assertGreaterEqual(metrics(d)["profd_continuous_processes_moved_total"], 2)
        sys.stderr.write("[in: %d samples for %.2f s of CPU after the move; out: %d for %.2f s before] "
                         % (n_into, after, n_out, b))

    def test_excluded_then_exec(self):
        """A process the filters left out executes a program they want
        (include comm:split): counted from the exec on (profd looks again
        within 100 ms of samples whose thread name is not the process's).
        Before, a process left out had no maps, so its exec was never
        seen and it stayed left out."""
        d = self.daemon = Daemon("continuous-exec-in", "--continuous", "yes", "--continuous-interval", "2",
                                 "--continuous-hz", "99",
                                 "--spool-dir", os.path.join(self.tmp, "spool"),
                                 "--continuous-include", "comm:split")
        w = InCgroup("web.service", "execer", 8, 1.5, os.path.join(cpu.E2E, "split"), 3)
        self.work.append(w)

        def comm():
            with open("/proc/%d/comm" % w.pid) as f:
                return f.read().strip()
        wait_for(lambda: comm() == "split", 10, "the exec", step=0.01)
        at_exec = proc_cpu_s(w.pid)
        after = w.reap_cpu() - at_exec
        prof = self.history("continuous-exec-in")
        self.assertEqual({s.label("comm") for s in prof.samples}, {"split"}, prof.excerpt())
        n = prof.count(lambda s: s.num_label("pid") == w.pid)
        check_count(self, n, max(after - 0.1 - 1.0 / 99, 0), "split after the exec (%.2f s of CPU)" % after,
                    hz=99, upper=False)
        m = after * 99
        self.assertLess(n, m + 4 * math.sqrt(m) + 2, "split after the exec: %d samples for %.2f s of CPU"
                        % (n, after))
        self.assertGreater(metrics(d)["profd_continuous_samples_excluded_total"], 0)
        sys.stderr.write("[%d samples for %.2f s of CPU after the exec] " % (n, after))


def proc_cpu_s(pid):
    """utime + stime of @pid from /proc (the kernel's accounting)."""
    with open("/proc/%d/stat" % pid) as f:
        fl = f.read().rsplit(")", 1)[1].split()
    return (int(fl[11]) + int(fl[12])) / os.sysconf("SC_CLK_TCK")


class ContinuousReload(SliceTest):
    """SIGHUP applies changed continuous settings live: include/exclude
    at once (a process excluded so far is sampled from its next sample,
    one included so far no more), hz and interval from the interval after
    the one in progress; continuous = no is refused (logged, counted),
    the rest still applied."""

    def test_reload_applies_rate_interval_filters(self):
        need_push()
        gen = os.path.join(cpu.OUTPUT, "e2e", "gen")
        proto = os.path.abspath(os.path.join(cpu.SRC, "..", "..", "proto"))
        pushrecv.push_pb2(proto, gen)
        rcv = self.rcv = pushrecv.Receiver(proto, gen).start()
        conf = os.path.join(self.tmp, "profd.conf")

        def write_conf(text):
            with open(conf + ".new", "w") as f:
                f.write(text)
            os.chmod(conf + ".new", 0o600)
            os.rename(conf + ".new", conf)

        base = "push-url = %s\npush-labels = pid\n" % rcv.url
        write_conf(base + "continuous = yes\ncontinuous-hz = 19\ncontinuous-interval = 2s\n"
                   "continuous-include = unit:web.service\n")
        d = self.daemon = Daemon("continuous-reload", "--config", conf,
                                 "--spool-dir", os.path.join(self.tmp, "spool"))
        work, cpu_log, stop = self.work, [], threading.Event()
        try:
            web = InCgroup("web.service", "split", 40)
            batch = InCgroup("batch.service", "split", 40)
            work += [web, batch]

            def watch():
                # batch's CPU time with the wall clock, the truth its
                # sample counts are checked against.
                while not stop.is_set():
                    try:
                        cpu_log.append((time.time(), proc_cpu_s(batch.pid)))
                    except OSError:
                        return
                    time.sleep(0.05)

            th = threading.Thread(target=watch)
            th.start()
            # (stopped once the intervals are in: readings after the last
            # one's end bound it)

            def profs():
                out = []
                for g in rcv.snapshot()[0]:
                    p = pprofraw.decode_proto(g.raw)
                    out.append((g.labels.get("service_name"), p["time_nanos"] / NS,
                                p["duration_nanos"] / NS, p, g))
                return out

            wait_for(lambda: [x for x in profs() if x[0] == "web.service"], 20, "a web.service interval")
            time.sleep(3)
            write_conf(base + "continuous = no\ncontinuous-hz = 49\ncontinuous-interval = 4s\n"
                       "continuous-include = unit:batch.service\n")
            t_reload = time.time()
            d.proc.send_signal(signal.SIGHUP)
            # When it took effect (the event loop handles the signal,
            # at once unless the machine is loaded): no later than
            # t_applied, the filters hold and the rate is the next
            # interval's.
            wait_for(lambda: metrics(d).get('profd_continuous_reloads_total{result="applied"}', 0) >= 1,
                     10, "the reload applied", step=0.05)
            t_applied = time.time()
            # Second boundary after it (2 s intervals): from there on
            # 49 Hz and 4 s intervals; then two of those.
            b2 = (int(t_applied) // 2 + 2) * 2
            wait_for(lambda: len([x for x in profs() if x[0] == "batch.service" and x[1] >= b2]) >= 3,
                     40, "three batch.service intervals after the change")
            got = profs()
            # A CPU reading after the last interval's end bounds its CPU:
            # the push can come within ms of the end, before the
            # watcher's next reading (seen once: none after it).
            t_last = max(st + du for svc, st, du, _, _ in got if svc == "batch.service")
            wait_for(lambda: cpu_log and cpu_log[-1][0] > t_last, 5,
                     "a CPU reading after %.2f" % t_last, step=0.02)
            stop.set()
            th.join(5)
            log = d.log_tail(100000)
            self.assertIn("reload: continuous = no, continuous-fp = no: a change of these takes effect at the next restart", log)
            m = metrics(d)
            self.assertEqual(m['profd_continuous_reloads_total{result="refused"}'], 1, m)
            self.assertEqual(m['profd_continuous_reloads_total{result="applied"}'], 1, m)
            self.assertEqual(m["profd_continuous_enabled"], 1, m)
            self.assertEqual(m["profd_continuous_hz"], 49, m)
            self.assertEqual(m['profd_continuous_samples_lost_total{reason="late"}'], 0, m)

            # Filters: web.service only before, batch.service only after.
            after = (int(t_applied) // 2 + 1) * 2
            for svc, start, dur, p, g in got:
                if start + dur <= t_reload:
                    self.assertEqual(svc, "web.service", (svc, start, t_reload))
                if start >= after:
                    self.assertEqual(svc, "batch.service", (svc, start, t_reload))
            self.assertTrue([x for x in got if x[0] == "web.service" and x[1] + x[2] <= t_reload])

            # Rate and interval: 19 Hz / 2 s before the reload, 49 Hz / 4 s
            # (aligned on the wall clock) from the second boundary after.
            for svc, start, dur, p, g in got:
                path = os.path.join(cpu.ART, "continuous-reload-%s.pb.gz" % g.id)
                with open(path, "wb") as f:
                    f.write(g.raw)
                prof = cpu.Prof(path)
                if start + dur <= t_reload:
                    self.assertEqual(int(prof.raw.period), NS // 19, (svc, start))
                    # (the first one, from profd's start, is shorter)
                    self.assertTrue(0 < dur <= 2, (svc, start, dur))
                    self.assertEqual(round((start + dur) * NS) % (2 * NS), 0, (start, dur))
                if start >= b2:
                    self.assertEqual(int(prof.raw.period), NS // 49, (svc, start, t_reload))
                    self.assertEqual(round((start + dur) * NS) % (4 * NS), 0, (start, dur))
                    self.assertTrue(0 < dur <= 4, (start, dur))
            batch_ivs = sorted((x for x in got if x[0] == "batch.service" and x[1] >= b2), key=lambda x: x[1])
            for a, b in zip(batch_ivs, batch_ivs[1:]):
                self.assertAlmostEqual(a[1] + a[2], b[1], places=6)
                self.assertEqual(b[2], 4)
            # 49 samples per second of batch's CPU time (/proc), over
            # the intervals after the change.

            def cpu_around(t):
                """batch's CPU time read last before @t and first after
                it: the truth at @t is between (the watcher, a Python
                thread, may be late on a loaded machine)."""
                before = [c for w, c in cpu_log if w <= t]
                after = [c for w, c in cpu_log if w > t]
                return (before[-1] if before else None), (after[0] if after else None)

            t0, t1 = batch_ivs[0][1], batch_ivs[-1][1] + batch_ivs[-1][2]
            (c0a, c0b), (c1a, c1b) = cpu_around(t0), cpu_around(t1)
            self.assertTrue(None not in (c0a, c0b, c1a, c1b), "CPU readings around %r" % ((t0, t1),))
            lo, hi = c1a - c0b, c1b - c0a
            n = 0
            for svc, start, dur, p, g in batch_ivs:
                prof = cpu.Prof(os.path.join(cpu.ART, "continuous-reload-%s.pb.gz" % g.id))
                n += prof.count()
            what = "%d samples for %.2f-%.2f s of CPU at 49 Hz" % (n, lo, hi)
            # Two busy programs on two CPUs (more on a loaded machine):
            # batch runs in slices shorter than the 20 ms period, so its
            # count is a random draw (sd about its root), not an exact
            # product. 4 sd (~100 of ~600) still tell 49 Hz from 19 Hz
            # (0.39 of it).
            self.assertGreater(n, lo * 49 - 4 * (lo * 49) ** 0.5 - 2, what)
            self.assertLess(n, hi * 49 + 4 * (hi * 49) ** 0.5 + 2, what)
        finally:
            stop.set()  # the watcher; SliceTest.tearDown the rest


if __name__ == "__main__":
    unittest.main()
