#!/usr/bin/env python3
"""The managers' locks taken at once (issue 12): CPU windows, heap pulls of
a tracked process, the last snapshot of one that exits while tracked, heap
start/stop cycles and /v1/status polls, all concurrently against one
daemon. Under `make tsan` (a ThreadSanitizer build, its deadlock detector
on, halt_on_error) a data race or a lock-order inversion in any of these
paths ends profd and fails the test; in the ordinary suites it checks that
none of them stalls or corrupts the others' answers.

The answers are checked against their own truth: heapwl's exact
allocations (sample_bytes=1, TRUTH_BASIC) for the pulls and for the heap at
exit; split's 3:1 split of CPU between hot_a and hot_b for the windows.

  python3 tests/e2e/run_all.py --output build -k Locks
"""
import math
import os
import socket
import sys
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cpu as cpu  # noqa: E402
from test_cpu import Prof, Workload, fetch, share  # noqa: E402
from test_heap import (TRUTH_BASIC, CmdWorkload, HeapTest, heap_get, heap_start,  # noqa: E402
                       heap_stop, pull_in_background, save, wait_tracked)


class Locks(HeapTest):
    def test_windows_pulls_exit_status_at_once(self):
        """Two CPU windows, heap pulls, an exit while tracked, start/stop
        cycles and status polls at once: every answer right."""
        errors = []
        done = threading.Event()
        res = {"pulls": [], "status": 0, "windows": [], "cycles": 0}

        def guard(fn):
            def run():
                try:
                    fn()
                except BaseException as e:  # reported below
                    errors.append("%s: %r" % (fn.__name__, e))
            return threading.Thread(target=run, name=fn.__name__)

        with Workload("split", wait_line="split ready") as ws, \
                CmdWorkload() as a, CmdWorkload() as b, CmdWorkload() as c:
            for w in (a, b):
                heap_start(self, self.daemon, w.pid, sample_bytes=1)
                w.cmd("basic")

            def windows():
                for i in range(2):
                    res["windows"].append(fetch(self, self.daemon, ws, 3, hz=199,
                                                name="locks-window-%d" % i, timeout=90))

            def pulls():
                while not done.is_set():
                    r = heap_get(self.daemon, a.pid, seconds=0, timeout=90)
                    if r.status != 200:
                        raise AssertionError("pull of %d: %r" % (a.pid, r))
                    res["pulls"].append(r.body)

            def exit_b():
                time.sleep(0.5)
                b.cmd("exit")
                b.proc.wait(10)

            def cycles():
                while not done.is_set() and res["cycles"] < 3:
                    heap_start(self, self.daemon, c.pid, sample_bytes=4096)
                    c.cmd("basic")
                    heap_stop(self, self.daemon, c.pid)
                    res["cycles"] += 1

            def status():
                while not done.is_set():
                    self.daemon.status()
                    res["status"] += 1
                    time.sleep(0.02)

            ths = [guard(f) for f in (windows, pulls, exit_b, cycles, status)]
            for t in ths:
                t.start()
            ths[0].join(120)  # the windows set the length
            ths[2].join(30)
            ths[3].join(60)
            done.set()
            for t in ths:
                t.join(120)
            self.assertFalse(errors, "\n".join(errors) + "\n--- profd log:\n" + self.daemon.log_tail())
            # B exited while tracked: the heap it held then, exact.
            wait_tracked(self, self.daemon, 1, 10)  # a only
            r = heap_get(self.daemon, b.pid, seconds=0, timeout=90)
            self.assertEqual(r.status, 200, "pull of exited %d: %r" % (b.pid, r))
            at_exit = Prof(save("locks-at-exit", r.body), pid=b.pid)
        self.assertGreater(res["status"], 10, "status polls")
        self.assertEqual(res["cycles"], 3, "start/stop cycles")
        self.assertTrue(res["pulls"], "no pull finished")
        last = Prof(save("locks-pull", res["pulls"][-1]), pid=a.pid)
        self.check_heap_profile(last, a.pid, 1)
        self.check_truth(last, TRUTH_BASIC, "pull during the rest: ")
        self.check_heap_profile(at_exit, b.pid, 1)
        self.check_truth(at_exit, TRUTH_BASIC, "heap at exit: ")
        self.assertTrue(any("exited" in c for c in at_exit.raw.comments),
                        "no exit comment: %r" % at_exit.raw.comments)
        for prof in res["windows"]:
            na, nb, sh = share(prof, "hot_a", "hot_b")
            n = na + nb
            self.assertGreater(n, 20, "window of split: %d samples" % n)
            # 3:1 by construction; sampled, so within 4 standard
            # deviations of a binomial share (few samples under TSan).
            self.assertAlmostEqual(sh, 0.75, delta=max(0.06, 4 * math.sqrt(0.75 * 0.25 / n)),
                                   msg="split hot_a share %.3f (%d, %d)" % (sh, na, nb))


def slices(pid):
    """[(comm, se.slice in ns)] of @pid's threads, main thread first;
    None where /proc/PID/task/TID/sched has no se.slice."""
    out = []
    for tid in sorted(int(t) for t in os.listdir("/proc/%d/task" % pid)):
        d = "/proc/%d/task/%d" % (pid, tid)
        try:
            with open(d + "/comm") as f:
                comm = f.read().strip()
            with open(d + "/sched") as f:
                sl = [int(ln.split()[-1]) for ln in f if ln.split()[:1] == ["se.slice"]]
        except OSError:
            continue  # a thread that ended
        if not sl:
            return None
        out.append((comm, sl[0]))
    return out


class Slices(HeapTest):
    """The threads a request goes through (the event loop a CPU window's
    end waits for, libmicrohttpd's, the connection's) have a short
    scheduler slice (daemon/slice.h) so a status request does not wait
    behind a CPU-bound snapshot; a pull that builds a snapshot goes back to
    the default."""

    SHORT = 100000

    def test_answering_threads_short_pulls_default(self):
        rel = tuple(int(x) for x in os.uname().release.split("-")[0].split(".")[:2])
        if rel < (6, 12):
            self.skipTest("kernel %s: a slice from sched_setattr() needs 6.12" % os.uname().release)
        pid = self.daemon.proc.pid
        got = slices(pid)
        if got is None:
            self.skipTest("no se.slice in /proc/PID/task/TID/sched (CONFIG_SCHED_DEBUG off)")
        # The kernel's default: this test's own, which never set one.
        default = slices(os.getpid())[0][1]
        self.assertNotEqual(default, self.SHORT)
        self.assertEqual(got[0][1], self.SHORT, "the event loop (main thread): %r" % got)
        self.assertIn(("MHD-listen", self.SHORT), got, got)
        with Workload("split", wait_line="split ready") as ws, CmdWorkload() as a:
            # A 3 s CPU window and a 3 s heap pull (of a process not
            # tracked yet: it waits), each on a connection thread of its
            # own: short and default.
            res = {}
            th = threading.Thread(target=lambda: res.update(
                cpu=fetch(self, self.daemon, ws, 3, name="slices-window")))
            th.start()
            pt, pres = pull_in_background(self.daemon, a.pid, 3)
            time.sleep(1.5)
            conns = sorted(sl for comm, sl in slices(pid) if comm == "MHD-connection")
            th.join(60)
            pt.join(60)
            self.assertEqual(pres["r"].status, 200, pres["r"])
        self.assertEqual(conns, sorted([self.SHORT, default]),
                         "connection threads' slices during a window and a pull "
                         "(default %d): %r" % (default, conns))


class FdHygiene(unittest.TestCase):
    """No fd is closed twice: profd runs with closecheck.so preloaded, which
    reports each close() of an fd that is not open. A second close of an
    fd whose number another thread has reused meanwhile closes that
    thread's file or socket. The sampler closed each CPU's perf event after
    its BPF link had already closed it (libbpf's link owns it). CI once
    caught it when the number was a connection's socket: libmicrohttpd's
    own close failed, and it aborted profd. Exercised here: CPU windows at
    two rates (each rate's events opened and closed), a window whose
    client goes away, a wait window, heap tracking (uprobes attached and
    detached), and profd's exit."""

    def test_no_fd_closed_twice(self):
        if cpu.sanitizers():
            self.skipTest("the preloaded shim would come before the sanitizer runtime; the plain build runs it")
        shim = os.path.join(cpu.E2E, "closecheck.so")
        d = cpu.Daemon("fd-hygiene", wrap=("env", "LD_PRELOAD=" + shim))
        try:
            with Workload("split", seconds=60) as w:
                for hz in (99, 199):
                    fetch(self, d, w, 1, hz=hz, name="fd-hygiene-%d" % hz)
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                try:
                    s.connect(d.sock)
                    s.sendall(b"GET /debug/pprof/profile?pid=%d&seconds=20&hz=49 HTTP/1.1\r\nHost: profd\r\n\r\n"
                              % w.pid)
                    cpu.wait_sessions(self, d, 1, 10)
                    time.sleep(0.5)
                finally:
                    s.close()
                cpu.wait_sessions(self, d, 0, 10)
                r = d.get("/debug/pprof/block?pid=%d&seconds=1" % w.pid)
                self.assertEqual(r.status, 200, r)
                heap_start(self, d, w.pid)
                r = heap_get(d, w.pid)
                self.assertEqual(r.status, 200, r)
                heap_stop(self, d, w.pid)
        finally:
            d.stop()
        with open(d.log_path, errors="replace") as f:
            log = f.read()
        self.assertIn("closecheck: watching close()", log, "the shim was not loaded")
        i = log.find("closecheck: close(")
        self.assertEqual(i, -1, "an fd closed twice:\n" + log[i:i + 3000])


def main():
    """These tests alone; run_all.py runs every suite with one tally."""
    import run_all
    import test_locks
    run_all.main(modules=(test_locks,))


if __name__ == "__main__":
    main()
