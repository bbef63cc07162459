#!/usr/bin/env python3
"""End-to-end tests of the wait profiles (issue 14): /debug/pprof/block
(off-CPU), /mutex (futex waits), /threadcreate, and their errors and
access rules. Run through run_all.py, which configures test_cpu's globals.

Known truth: workloads/waits.c measures its own waits (CLOCK_MONOTONIC
around the waiting calls) and prints the totals on SIGUSR2, before and
after the window. What must hold:
- block: the off-CPU delay charged to sleep_loop (nanosleep 200 ms) and to
  pipe_wait (read on a pipe fed every 100 ms) within 10% of the time the
  workload measured in them, state "sleeping", Go's block types;
- mutex: the delay charged to contend (4 threads on one mutex, 2 ms
  holds) within 15% of the time the workload measured in
  pthread_mutex_lock;
- threadcreate: exactly 7 threads by spawn_a and 5 by spawn_b;
- goroutine: 50 threads parked in 3 places give exactly 3 stacks (20
  park_cond, 20 park_read, 10 park_sleep) besides the main thread's, with
  a tid, thread, state and wchan label per thread; debug=1 a text dump;
- errors and access as for /debug/pprof/profile.
"""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cpu  # noqa: E402
from test_cpu import ProfdTest, Prof, Workload, as_nobody, dead_pid  # noqa: E402

ENDPOINTS = ("block", "mutex", "threadcreate", "goroutine")


def fetch_wait(tc, daemon, endpoint, pid, seconds, extra="", name=None):
    """GET /debug/pprof/ENDPOINT, assert 200 and gzip, return Prof."""
    q = "pid=%d&seconds=%d%s" % (pid, seconds, extra)
    r = daemon.get("/debug/pprof/%s?%s" % (endpoint, q), timeout=seconds + 30)
    if r.status != 200:
        raise AssertionError("GET %s?%s: HTTP %d: %s\n--- profd log:\n%s"
                             % (endpoint, q, r.status, r.text()[:1000], daemon.log_tail()))
    tc.assertTrue(r.headers.get("content-type", "").startswith("application/octet-stream"), r.headers)
    tc.assertEqual(r.body[:2], b"\x1f\x8b", "profile is not gzipped")
    path = os.path.join(test_cpu.ART, "%s.pb.gz" % (name or tc.id().split(".")[-1]))
    with open(path, "wb") as f:
        f.write(r.body)
    return Prof(path, pid=pid, seconds=seconds)


def totals(w):
    """The workload's own wait totals (ns), asked for with SIGUSR2."""
    os.kill(w.pid, signal.SIGUSR2)
    line = w.proc.stdout.readline().decode().split()
    if len(line) != 3 or line[0] != "totals":
        raise AssertionError("waits: expected a totals line, got %r" % line)
    return int(line[1]), int(line[2])


def at_thread_start(prof, s):
    """The stack reaches the thread's start in libc: __clone3 by name
    where libc's symbols are installed (libc6-dbg), else libc's own
    unnamed frames (start_thread, __clone3: no .dynsym entries) outermost,
    after the named thread function, and never [truncated]."""
    fns = s.functions()
    if "[truncated]" in fns or not fns:
        return False
    if fns[-1] == "__clone3":
        return True
    locs = s.locations()
    tail = []
    for loc in reversed(locs):
        if loc.lines:
            break
        tail.append(loc)
    if len(tail) < 2:
        return False
    for loc in tail:
        m = prof.raw.mapping_of(loc)
        if not m or "/libc.so" not in m.file:
            return False
    return True


def labels(s, key):
    """Every value of label key (-raw prints a repeated key's values
    space-separated in one entry)."""
    return " ".join(s.labels.get(key, [])).split()


def through(prof, fn, index=1):
    return sum(s.values[index] for s in prof.samples if fn in s.functions())


def wait_open(tc, daemon, n):
    """Until @n wait windows are open (/v1/status: a window is counted
    once its programs are attached and its start is set, under one lock
    hold), 10 s at most: the cue a workload waits for, instead of a fixed
    sleep that a slow start outlasts."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and daemon.status()["waits"]["windows_active"] < n:
        time.sleep(0.02)
    tc.assertEqual(daemon.status()["waits"]["windows_active"], n, "the wait windows did not open")


class WaitProfiles(ProfdTest):

    def check_types(self, prof, types):
        self.assertEqual(prof.raw.sample_types, types, prof.excerpt())
        for s in prof.samples:
            self.assertEqual(s.num_label("pid"), prof.pid, s)
            self.assertIsNotNone(s.num_label("tid"), s)
            self.assertIsNotNone(s.label("thread"), s)

    def test_block_truth(self):
        """nanosleep and pipe read: off-CPU delay by stack within 10% of
        the workload's own measure; state sleeping; labels."""
        with Workload("waits", "block", seconds=60, wait_line="waits ready") as w:
            time.sleep(0.5)
            t0, (a0, b0) = time.monotonic(), totals(w)
            prof = fetch_wait(self, self.daemon, "block", w.pid, 4)
            t1, (a1, b1) = time.monotonic(), totals(w)
        # The workload measured over a little more than the window (the
        # request's set-up, the drain): its share of time waiting, over
        # the window's 4 s.
        scale = 4.0 / (t1 - t0)
        a0, a1, b0, b1 = a0 * scale, a1 * scale, b0 * scale, b1 * scale
        self.check_types(prof, [("contentions", "count"), ("delay", "nanoseconds")])
        sleep_ns, read_ns = through(prof, "sleep_loop"), through(prof, "pipe_wait")
        print("    block: sleep_loop %.3f s (measured %.3f), pipe_wait %.3f s (measured %.3f)"
              % (sleep_ns / 1e9, (a1 - a0) / 1e9, read_ns / 1e9, (b1 - b0) / 1e9))
        for what, got, want in (("sleep_loop", sleep_ns, a1 - a0), ("pipe_wait", read_ns, b1 - b0)):
            self.assertLess(abs(got - want), 0.10 * want,
                            "%s: %.3f s off CPU in the profile, the workload measured %.3f s\n%s"
                            % (what, got / 1e9, want / 1e9, prof.excerpt()))
        # Every ~200 ms one wait, every ~100 ms one.
        n = through(prof, "sleep_loop", 0)
        self.assertTrue(15 <= n <= 25, "%d nanosleeps in 4 s\n%s" % (n, prof.excerpt()))
        for s in prof.samples:
            if "sleep_loop" in s.functions() or "pipe_wait" in s.functions():
                if s.label("state") != "preempted":
                    self.assertEqual(s.label("state"), "sleeping", s)
                self.assertIn(s.label("thread"), ("sleeper", "reader"), s)
                self.assertNotIn("[truncated]", s.functions(), s)
                self.assertTrue(at_thread_start(prof, s), s)
        self.assertTrue(all(s.label("state") in ("sleeping", "disk", "preempted") for s in prof.samples),
                        prof.excerpt())
        self.assertTrue(any("off-CPU" in c for c in prof.raw.comments), prof.raw.comments)

    def test_block_repeats_fp(self):
        """unwind=fp: the kernel's sums of a frame-pointer record are keyed
        by its frames, so path_a and path_b (apart only below a 2 KiB
        frame) each get their own measured time within 10%."""
        with Workload("waits", "deep", seconds=60, wait_line="waits ready") as w:
            time.sleep(0.5)
            t0, (a0, b0) = time.monotonic(), totals(w)
            prof = fetch_wait(self, self.daemon, "block", w.pid, 3, extra="&unwind=fp")
            t1, (a1, b1) = time.monotonic(), totals(w)
        scale = 3.0 / (t1 - t0)
        for what, want in (("path_a", (a1 - a0) * scale), ("path_b", (b1 - b0) * scale)):
            got = through(prof, what)
            print("    fp: %s %.3f s (measured %.3f)" % (what, got / 1e9, want / 1e9))
            self.assertLess(abs(got - want), 0.10 * want,
                            "%s: %.3f s charged, it waited %.3f s\n%s"
                            % (what, got / 1e9, want / 1e9, prof.excerpt()))

    def test_block_repeats_deep_paths(self):
        """Waits summed in the kernel (same ip, sp, bp and innermost KiB)
        from two paths apart only deeper (path_a, path_b over a 2 KiB
        frame): neither path is charged the other's waits, and once profd
        has lengthened the thread's key (its first records' walks from the
        key are cut short) each path gets its own time, within 10% of what
        the workload measured; all of it under deep_sleep."""
        with Workload("waits", "deep", seconds=60, wait_line="waits ready") as w:
            time.sleep(0.5)
            t0, (a0, b0) = time.monotonic(), totals(w)
            prof = fetch_wait(self, self.daemon, "block", w.pid, 3)
            t1, (a1, b1) = time.monotonic(), totals(w)
        scale = 3.0 / (t1 - t0)
        want_a, want_b = (a1 - a0) * scale, (b1 - b0) * scale
        got_a, got_b = through(prof, "path_a"), through(prof, "path_b")
        total = through(prof, "deep_sleep")
        print("    deep: path_a %.3f s (measured %.3f), path_b %.3f s (measured %.3f), deep_sleep %.3f s"
              % (got_a / 1e9, want_a / 1e9, got_b / 1e9, want_b / 1e9, total / 1e9))
        for what, got, want in (("path_a", got_a, want_a), ("path_b", got_b, want_b)):
            self.assertLess(got, 1.10 * want,
                            "%s: %.3f s charged, it waited %.3f s: another path's waits taken for its\n%s"
                            % (what, got / 1e9, want / 1e9, prof.excerpt()))
            self.assertGreater(got, 0.90 * want,
                               "%s: %.3f s charged, it waited %.3f s: its repeats cut short (key not lengthened)\n%s"
                               % (what, got / 1e9, want / 1e9, prof.excerpt()))
        self.assertLess(abs(total - (want_a + want_b)), 0.10 * (want_a + want_b),
                        "deep_sleep: %.3f s charged, measured %.3f s\n%s"
                        % (total / 1e9, (want_a + want_b) / 1e9, prof.excerpt()))
        # A stack cut short is marked so, never given a wrong caller.
        for s in prof.samples:
            fns = s.functions()
            if "deep_sleep" in fns and "path_a" not in fns and "path_b" not in fns:
                self.assertIn("[truncated]", fns, s)
        self.assertTrue(any("[truncated]" in c for c in prof.raw.comments), prof.raw.comments)

    def test_block_kernel_stacks(self):
        """kernel=1: the kernel frames of the wait (schedule) above the
        user stack."""
        with Workload("waits", "block", seconds=60, wait_line="waits ready") as w:
            prof = fetch_wait(self, self.daemon, "block", w.pid, 2, extra="&kernel=1")
        s = [s for s in prof.samples if "sleep_loop" in s.functions()]
        self.assertTrue(s, prof.excerpt())
        # A thread already asleep when the window opened has its kernel
        # stack of then (the task iterator's, which leaves out the
        # scheduler's own functions), as every later wait has.
        k = sum(x.values[1] for x in s
                if {"hrtimer_nanosleep", "do_syscall_64"} <= set(x.functions()))
        self.assertGreater(k, 0.99 * sum(x.values[1] for x in s), prof.excerpt())

    def test_block_kernel_stacks_waiting_before(self):
        """kernel=1 on 50 threads parked since before the window (in
        nanosleep, read, pthread_cond_wait): every one is charged the
        whole window with its kernel frames of then: the wait's kernel
        function (hrtimer_nanosleep, ksys_read, futex_wait) and the
        syscall entry (do_syscall_64). (A sleeping task's kernel stack
        leaves out the scheduler's functions, schedule and the like.)"""
        with Workload("waits", "park", seconds=60, wait_line="waits ready") as w:
            prof = fetch_wait(self, self.daemon, "block", w.pid, 1, extra="&kernel=1")
        for fn, kfn, n in (("park_sleep", "hrtimer_nanosleep", 10), ("park_read", "ksys_read", 20),
                           ("park_cond", "futex_wait", 20)):
            s = [x for x in prof.samples if fn in x.functions()]
            total = sum(x.values[1] for x in s)
            self.assertGreater(total, 0.95 * n * 1e9, "%s: %.3f s for %d threads\n%s"
                               % (fn, total / 1e9, n, prof.excerpt()))
            k = sum(x.values[1] for x in s if {kfn, "do_syscall_64"} <= set(x.functions()))
            self.assertGreater(k, 0.99 * total, "%s: %.3f of %.3f s with %s and do_syscall_64\n%s"
                               % (fn, k / 1e9, total / 1e9, kfn, prof.excerpt()))

    def test_mutex_truth(self):
        """4 threads on one mutex: delay through contend within 15% of the
        time the workload measured in pthread_mutex_lock."""
        with Workload("waits", "mutex", seconds=60, wait_line="waits ready") as w:
            time.sleep(0.5)
            t0, (a0, _) = time.monotonic(), totals(w)
            prof = fetch_wait(self, self.daemon, "mutex", w.pid, 4)
            t1, (a1, _) = time.monotonic(), totals(w)
        scale = 4.0 / (t1 - t0)  # as for block
        a0, a1 = a0 * scale, a1 * scale
        self.check_types(prof, [("contentions", "count"), ("delay", "nanoseconds")])
        got, want = through(prof, "contend"), a1 - a0
        print("    mutex: contend %.3f s, measured %.3f s" % (got / 1e9, want / 1e9))
        self.assertLess(abs(got - want), 0.15 * want,
                        "contend: %.3f s in futex waits in the profile, the workload measured %.3f s in "
                        "pthread_mutex_lock\n%s" % (got / 1e9, want / 1e9, prof.excerpt()))
        self.assertGreater(through(prof, "pthread_mutex_lock", 0) + through(prof, "__pthread_mutex_lock", 0),
                           0, prof.excerpt())
        self.assertTrue(any("spinning" in c for c in prof.raw.comments), prof.raw.comments)

    def test_mutex_waits_begun_before(self):
        """Two threads blocked on a mutex held 3 s at a time, the window
        (4 s) opened 0.3 s into a hold: their waits began before it and
        end inside it (then new ones begin, which last past its end); the
        delay through long_wait is within 15% of what the workload
        measured (under half of it if waits begun before went unseen)."""
        with Workload("waits", "mutexlong", seconds=60, wait_line="waits ready") as w:
            time.sleep(0.25)
            t0, (a0, _) = time.monotonic(), totals(w)
            prof = fetch_wait(self, self.daemon, "mutex", w.pid, 4)
            t1, (a1, _) = time.monotonic(), totals(w)
        want = (a1 - a0) * 4.0 / (t1 - t0)
        got = through(prof, "long_wait")
        print("    mutex before the window: long_wait %.3f s, measured %.3f s" % (got / 1e9, want / 1e9))
        self.assertLess(abs(got - want), 0.15 * want,
                        "long_wait: %.3f s in the profile, the workload measured %.3f s\n%s"
                        % (got / 1e9, want / 1e9, prof.excerpt()))
        for s in prof.samples:
            if "long_wait" in s.functions():
                self.assertEqual(s.label("thread"), "waiter", s)
                self.assertTrue(at_thread_start(prof, s), s)

    def test_threadcreate_exact(self):
        """12 threads created on cue: 7 by spawn_a, 5 by spawn_b, exactly."""
        with Workload("waits", "spawn", seconds=60, wait_line="waits ready") as w:
            out = {}

            def get():
                out["prof"] = fetch_wait(self, self.daemon, "threadcreate", w.pid, 3)
            t = threading.Thread(target=get)
            t.start()
            wait_open(self, self.daemon, 1)
            os.kill(w.pid, signal.SIGUSR1)
            self.assertEqual(w.proc.stdout.readline().decode().strip(), "spawned 12")
            t.join(60)
        prof = out["prof"]
        self.check_types(prof, [("threadcreate", "count")])
        self.assertEqual(prof.raw.period_type, ("threadcreate", "count"))
        self.assertEqual(through(prof, "spawn_a", 0), 7, prof.excerpt())
        self.assertEqual(through(prof, "spawn_b", 0), 5, prof.excerpt())
        self.assertEqual(prof.raw.total(0), 12, prof.excerpt())

    def test_block_exiting_threads(self):
        """Threads that exit mid-window: their last switch is no wait
        (they never come back), so nothing is charged past their end."""
        with Workload("waits", "spawn", seconds=60, wait_line="waits ready") as w:
            out = {}

            def get():
                out["prof"] = fetch_wait(self, self.daemon, "block", w.pid, 3)
            t = threading.Thread(target=get)
            t.start()
            wait_open(self, self.daemon, 1)
            os.kill(w.pid, signal.SIGUSR1)
            self.assertEqual(w.proc.stdout.readline().decode().strip(), "spawned 12")
            t.join(60)
        prof = out["prof"]
        # The main thread waits about 3 s; the 12 short-lived threads
        # almost nothing.
        self.assertLess(prof.raw.total(1), 3.3e9, prof.excerpt())
        self.assertGreater(through(prof, "main"), 2.5e9, prof.excerpt())

    def test_block_process_exits(self):
        """The process exits mid-window: the window ends then, with what
        it saw, and says so."""
        with Workload("waits", "block", seconds=1.5, wait_line="waits ready") as w:
            t0 = time.monotonic()
            prof = fetch_wait(self, self.daemon, "block", w.pid, 10)
            took = time.monotonic() - t0
        self.assertLess(took, 5, "the window outlived the process by %.1f s" % took)
        self.assertIn("process exited during the window", prof.raw.comments)
        self.assertLess(through(prof, "sleep_loop"), 1.6e9, prof.excerpt())

    def fetch_threads(self, pid, name):
        """GET /debug/pprof/goroutine of @pid, kept as NAME.pb.gz."""
        r = self.daemon.get("/debug/pprof/goroutine?pid=%d" % pid)
        self.assertEqual(r.status, 200, r)
        path = os.path.join(test_cpu.ART, "%s.pb.gz" % name)
        with open(path, "wb") as f:
            f.write(r.body)
        return Prof(path, pid=pid)

    def test_threads_snapshot(self):
        """50 parked threads: exactly 3 stacks, 20/20/10, labels per thread."""
        with Workload("waits", "park", seconds=60, wait_line="waits ready") as w:
            prof = self.fetch_threads(w.pid, "threads")
            tids = sorted(int(t) for t in os.listdir("/proc/%d/task" % w.pid))
            text = self.daemon.get("/debug/pprof/goroutine?pid=%d&debug=1" % w.pid)
        self.assertEqual(prof.raw.sample_types, [("goroutine", "count")])
        self.assertEqual(prof.raw.period_type, ("goroutine", "count"))
        parked = {}
        for s in prof.samples:
            fns = s.functions()
            where = [f for f in ("park_cond", "park_read", "park_sleep") if f in fns]
            if where:
                self.assertEqual(len(where), 1, s)
                self.assertNotIn(where[0], parked, "two stacks for %s\n%s" % (where[0], prof.excerpt()))
                parked[where[0]] = s.values[0]
                self.assertTrue(at_thread_start(prof, s), s)
            else:
                self.assertIn("main", fns, s)
            self.assertEqual(len(labels(s, "tid")), s.values[0], s)
            self.assertEqual(len(labels(s, "state")), s.values[0], s)
            if where:  # (the main thread may still be printing its ready line)
                self.assertTrue(all(st == "sleeping" for st in labels(s, "state")), s)
            if where:
                self.assertEqual(len(labels(s, "wchan")), s.values[0], s)
        self.assertEqual(parked, {"park_cond": 20, "park_read": 20, "park_sleep": 10}, prof.excerpt())
        self.assertEqual(len(prof.samples), 4, prof.excerpt())
        got = sorted(int(t) for s in prof.samples for t in labels(s, "tid"))
        self.assertEqual(got, tids)
        self.assertEqual(text.status, 200)
        self.assertTrue(text.headers.get("content-type", "").startswith("text/plain"))
        body = text.text()
        self.assertEqual(body.count("\nthread ") + body.startswith("thread "), 51, body[:2000])
        self.assertEqual(body.count("park_cond(...)"), 20, body[:2000])
        self.assertIn("[sleeping, ", body)
        self.check_text_offsets(body)
        r = subprocess.run([test_cpu.PROFCTL, "--socket", self.daemon.sock, "threads", "--pid", str(w.pid),
                            "--text"], capture_output=True, text=True, timeout=60)
        self.assertNotEqual(r.returncode, 0, "the workload is gone: profctl should fail")

    def test_threads_deep_stack(self):
        """A thread parked under 48 recursive calls of 1 KiB frames (~50
        KiB of stack, past the first 28 KiB copy): its stack is read on in
        further passes and is whole (48 recurse frames, down to the thread
        start, not [truncated]), as pprof and as text."""
        with Workload("waits", "parkdeep", seconds=60, wait_line="waits ready") as w:
            prof = self.fetch_threads(w.pid, "threads_deep")
            text = self.daemon.get("/debug/pprof/goroutine?pid=%d&debug=1" % w.pid).text()
        s = [x for x in prof.samples if "recurse" in x.functions()]
        self.assertEqual(len(s), 1, prof.excerpt())
        fns = s[0].functions()
        self.assertEqual(fns.count("recurse"), 48, fns)
        self.assertIn("deep_parker", fns)
        self.assertTrue(at_thread_start(prof, s[0]), fns)
        self.assertEqual(text.count("recurse(...)"), 48, text[:3000])
        para = [x for x in text.split("\n\n") if "recurse(...)" in x]
        self.assertEqual(len(para), 1, text[:3000])
        self.assertNotIn("additional frames elided", para[0])

    def test_threads_many(self):
        """9000 parked threads, past the 8192 a snapshot once held: every
        one is read (the iterator's output is parsed as it streams, each
        thread's stack copy let go once unwound): park_many counts
        exactly 9000, the tids are /proc's, nothing is said left out; the
        text dump has a paragraph for each."""
        n = 9000
        with Workload("waits", "parkmany", n, seconds=120, wait_line="waits ready") as w:
            prof = self.fetch_threads(w.pid, "threads_many")
            tids = sorted(int(t) for t in os.listdir("/proc/%d/task" % w.pid))
            text = self.daemon.get("/debug/pprof/goroutine?pid=%d&debug=1" % w.pid, timeout=120).text()
        self.assertEqual(len(tids), n + 1, "sanity: %d threads" % len(tids))
        parked = [s for s in prof.samples if "park_many" in s.functions()]
        self.assertEqual(len(parked), 1, prof.excerpt())
        self.assertEqual(parked[0].values[0], n, prof.excerpt())
        self.assertTrue(at_thread_start(prof, parked[0]), parked[0])
        self.assertEqual(prof.raw.total(0), n + 1, prof.excerpt())
        got = sorted(int(t) for s in prof.samples for t in labels(s, "tid"))
        self.assertEqual(got, tids)
        self.assertFalse([c for c in prof.raw.comments if "not shown" in c], prof.raw.comments)
        self.assertEqual(text.count("park_many(...)"), n)
        self.assertEqual(text.count("\nthread ") + text.startswith("thread "), n + 1)
        self.assertNotIn("not shown", text)

    def check_text_offsets(self, body):
        """Go's "+0x1d" on each frame of the workload's own functions in
        the text dump: the pc's distance from the function's entry. Truth:
        the symbol's address from nm, and addr2line at that address plus
        the offset (less one: a return address) naming the same function
        and line as the dump."""
        exe = os.path.join(test_cpu.E2E, "waits")
        syms = {}
        for line in subprocess.run(["nm", exe], capture_output=True, text=True, check=True).stdout.splitlines():
            f = line.split()
            if len(f) == 3 and f[1] in "tT":
                syms[f[2]] = int(f[0], 16)
        lines = body.splitlines()
        seen = set()
        for i, line in enumerate(lines[:-1]):
            fn = line[:-len("(...)")] if line.endswith("(...)") else None
            if fn not in ("park_cond", "park_read", "park_sleep", "parker"):
                continue
            where = lines[i + 1].strip()
            self.assertIn(" +0x", where, "%s: no +0x offset: %r" % (fn, where))
            fileline, off = where.rsplit(" +0x", 1)
            pc = syms[fn] + int(off, 16)
            r = subprocess.run(["addr2line", "-f", "-e", exe, "0x%x" % (pc - 1)],
                               capture_output=True, text=True, check=True).stdout.split()
            self.assertEqual(r[0], fn, "%s +0x%s: addr2line says %s" % (fn, off, r))
            self.assertEqual(r[1].split(" ")[0], fileline, "%s +0x%s: addr2line says %s" % (fn, off, r))
            seen.add(fn)
        self.assertEqual(seen, {"park_cond", "park_read", "park_sleep", "parker"}, body[:3000])

    def test_profctl_units(self):
        """profctl offcpu: the table in seconds of delay, counts named."""
        with Workload("waits", "block", seconds=60, wait_line="waits ready") as w:
            out = os.path.join(self.daemon.dir, "offcpu.pb.gz")
            r = subprocess.run([test_cpu.PROFCTL, "--socket", self.daemon.sock, "offcpu", "--pid", str(w.pid),
                                "--seconds", "2", "-o", out], capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        first = r.stdout.splitlines()[0]
        self.assertRegex(first, r"^Type: delay \(nanoseconds\); top \d+ functions by flat; \d+ waits, total [\d.]+s,",
                         r.stdout)
        r = subprocess.run([test_cpu.PROFCTL, "top", out, "--sample-index", "contentions"],
                           capture_output=True, text=True, timeout=60)
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout.splitlines()[0], r"^Type: contentions \(count\);.* \d+ waits, total \d+,")

    def test_profctl_sigint_ends_window(self):
        """Ctrl-C in profctl offcpu ends the 20 s window early (POST
        /v1/profile/stop with the window's name): profctl saves what it
        collected, the profile's duration is the time until then and says
        it ended on request, and the delay is that time's."""
        d = tempfile.mkdtemp(prefix="profd-e2e-waitint-")
        try:
            out = os.path.join(d, "offcpu.pb.gz")
            with Workload("waits", "block", seconds=60, wait_line="waits ready") as w:
                t0 = time.monotonic()
                p = test_cpu.spawn([test_cpu.PROFCTL, "--socket", self.daemon.sock, "offcpu", "--pid", str(w.pid),
                                    "--seconds", "20", "-o", out], cwd=d,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                wait_open(self, self.daemon, 1)
                time.sleep(2)
                p.send_signal(signal.SIGINT)
                o, e = p.communicate(timeout=30)
                took = time.monotonic() - t0
            self.assertEqual(p.returncode, 0, "profctl after one Ctrl-C: %r %r" % (o, e))
            self.assertLess(took, 10, "Ctrl-C did not end the 20 s window (%.1f s)" % took)
            self.assertIn("ended early", o + e)
            prof = Prof(out, pid=w.pid)
            dur = prof.proto["duration_nanos"] / 1e9
            self.assertTrue(any("ended on request" in c for c in prof.raw.comments), prof.raw.comments)
            sleep_ns = through(prof, "sleep_loop")
            self.assertGreater(sleep_ns, 1.5e9, prof.excerpt())
            self.assertLess(sleep_ns, (took + 0.2) * 1e9, prof.excerpt())
            self.assertTrue(1.5 < dur < took, "duration %.2f s, profctl ran %.2f s" % (dur, took))
            self.assertLess(abs(sleep_ns / 1e9 - dur), 0.1 * dur,
                            "sleep_loop %.3f s in a %.3f s window\n%s" % (sleep_ns / 1e9, dur, prof.excerpt()))
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and self.daemon.status()["waits"]["windows_active"]:
                time.sleep(0.1)
            self.assertEqual(self.daemon.status()["waits"]["windows_active"], 0, "a window outlived its client")
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_wait_hz_refused(self):
        """hz is a CPU profile's: a wait profile records every wait, and
        says so (400) rather than ignore it."""
        with Workload("waits", "block", seconds=60, wait_line="waits ready") as w:
            for e in ("block", "mutex", "threadcreate"):
                r = self.daemon.get("/debug/pprof/%s?pid=%d&seconds=1&hz=99" % (e, w.pid), timeout=30)
                self.assertEqual(r.status, 400, "%s with hz: %d %s" % (e, r.status, r.text()[:200]))
                self.assertIn("hz", r.text())

    def test_index_lists_them(self):
        r = self.daemon.get("/debug/pprof/")
        self.assertEqual(r.status, 200)
        for e in ENDPOINTS:
            self.assertIn("/debug/pprof/%s?" % e, r.text())


def mapping_file_of(prof, fn):
    """The files of the mappings of the locations named @fn."""
    out = set()
    for loc in prof.raw.locations.values():
        if any(ln.function == fn for ln in loc.lines):
            m = prof.raw.mapping_of(loc)
            out.add(m.file if m else None)
    return out


def exec_windows(tc, daemon, prog, gets, user=None, exe=None):
    """A single-threaded waits that idles until cued, then nanosleeps in
    exec_sleep for 1 s (its own measure: A1) and executes @prog (waits
    sleepfor 1.5: nanosleeps in sleep_for for 1.5 s, measured: A2), all
    inside 6-s block windows, one per getter in @gets (name -> get(path):
    Response), open at once: ({name: Prof}, A1, A2 or None when @prog
    printed nothing, the process's uids after). The cue comes once every
    window is open, so both phases are wholly in them."""
    with Workload("waits", "execwait", 1.0, prog, "60", "sleepfor", 1.5, seconds=60, user=user, exe=exe,
                  wait_line="waits ready") as w:
        res = {}
        # 6 s: 2.5 s of waits after the cue, with room for a late cue
        # or a slow exec on a loaded machine.
        path = "/debug/pprof/block?pid=%d&seconds=6" % w.pid

        def run(name, get):
            try:
                res[name] = get(path)
            except BaseException as e:
                res[name] = e
        ts = [threading.Thread(target=run, args=kv) for kv in gets.items()]
        for t in ts:
            t.start()
        wait_open(tc, daemon, len(gets))
        time.sleep(0.3)
        os.kill(w.pid, signal.SIGUSR1)
        line = w.proc.stdout.readline().decode().split()
        tc.assertEqual(line[:1], ["totals"], line)
        a1 = int(line[1])
        a2 = None
        if w.proc.stdout.readline().decode().strip() == "waits ready":
            line = w.proc.stdout.readline().decode().split()
            if line[:1] == ["totals"]:
                a2 = int(line[1])
        uids = test_cpu.proc_uids(w.pid)
        for t in ts:
            t.join(60)
    profs = {}
    for name in gets:
        r = res.get(name)
        if isinstance(r, BaseException):
            raise r
        tc.assertEqual(r.status, 200, "%s: %r" % (name, r))
        path = os.path.join(test_cpu.ART, "%s-%s.pb.gz" % (tc.id().split(".")[-1], name))
        with open(path, "wb") as f:
            f.write(r.body)
        profs[name] = Prof(path, pid=w.pid, seconds=6)
    return profs, a1, a2, uids


def exec_window(tc, daemon, prog, get, user=None, exe=None):
    """exec_windows() with one window: (Prof, A1, A2, uids)."""
    profs, a1, a2, uids = exec_windows(tc, daemon, prog, {"w": get}, user=user, exe=exe)
    return profs["w"], a1, a2, uids


class WaitExec(ProfdTest):
    """A wait window follows an exec as a CPU window does (access is bound
    to the image: the caller is checked again against the new program,
    here their own): both programs' waits are in the profile, each within
    10% of what that program measured itself, each under its own binary's
    mapping, and the profile says the process executed a program."""

    def test_block_follows_exec(self):
        second = os.path.join(test_cpu.E2E, "waits-exec")
        prof, a1, a2, _ = exec_window(self, self.daemon, second, lambda path: self.daemon.get(path, timeout=60))
        self.assertIsNotNone(a2, "the executed program did not report its waits")
        got1, got2 = through(prof, "exec_sleep"), through(prof, "sleep_for")
        print("    exec: exec_sleep %.3f s (measured %.3f), sleep_for after the exec %.3f s (measured %.3f)"
              % (got1 / 1e9, a1 / 1e9, got2 / 1e9, a2 / 1e9))
        for what, got, want in (("exec_sleep", got1, a1), ("sleep_for", got2, a2)):
            self.assertLess(abs(got - want), 0.10 * want,
                            "%s: %.3f s off CPU in the profile, the program measured %.3f s\n%s"
                            % (what, got / 1e9, want / 1e9, prof.excerpt()))
        # 50 ms naps: ~20 before, ~30 after.
        self.assertTrue(17 <= through(prof, "exec_sleep", 0) <= 23, prof.excerpt())
        self.assertTrue(26 <= through(prof, "sleep_for", 0) <= 34, prof.excerpt())
        # Which image: each function under its own binary's mapping.
        self.assertEqual(mapping_file_of(prof, "exec_sleep"), {os.path.join(test_cpu.E2E, "waits")})
        self.assertEqual(mapping_file_of(prof, "sleep_for"), {second})
        for s in prof.samples:
            fns = s.functions()
            self.assertFalse("exec_sleep" in fns and "sleep_for" in fns, s)
            if "sleep_for" in fns:
                self.assertEqual(s.label("thread"), "waits-exec", s)
                self.assertNotIn("[truncated]", fns, s)
        self.assertTrue([c for c in prof.raw.comments
                         if "executed a new program (waits-exec)" in c and "of that program" in c],
                        prof.raw.comments)
        self.assertFalse([c for c in prof.raw.comments if "left out" in c], prof.raw.comments)


class WaitExecAccess(ProfdTest):
    """Attack: nobody's wait window on nobody's own process, which then
    executes a program nobody may not profile (set-user-ID root; root's
    and unreadable to nobody): as for CPU windows, nothing of that program
    reaches nobody — no stack, no function, no mapping of it — and the
    profile says its waits were left out and why. What ran before the exec
    is there."""

    def nobody_get(self, path, method="GET"):
        return test_cpu.Access.nobody_get(self, path, method)

    def check_denied(self, prog, want_uids):
        exe = test_cpu.Access.nobody_exe(self, "waits")
        prof, a1, a2, uids = exec_window(self, self.daemon, prog, self.nobody_get, user=test_cpu.NOBODY, exe=exe)
        self.assertTrue(want_uids(uids), "sanity: uids after the exec %r" % uids)
        self.assertIsNotNone(a2, "sanity: the executed program did not run")
        got = through(prof, "exec_sleep")
        self.assertLess(abs(got - a1), 0.10 * a1, "exec_sleep: %.3f s, measured %.3f s\n%s"
                        % (got / 1e9, a1 / 1e9, prof.excerpt()))
        fns = set()
        for smp in prof.samples:
            fns.update(smp.functions())
        # sleep_for runs only after the exec (the other functions are
        # the two programs' alike: the mappings and names tell them apart).
        self.assertNotIn("sleep_for", fns, "the denied program's stack reached nobody\n" + prof.excerpt())
        self.assertFalse([m for m in prof.mapping_files() if os.path.basename(m) != "waits" and "waits" in m],
                         "the denied program's mapping reached nobody: %r" % prof.mapping_files())
        # Every sample is of the image nobody began on: its thread name.
        self.assertEqual({s.label("thread") for s in prof.samples}, {"waits"}, prof.excerpt())
        # ~30 naps and the idling after them, counted and left out.
        left = [c for c in prof.raw.comments if "may not profile" in c and "waits are left out" in c]
        self.assertTrue(left, "no comment saying why the waits after the exec are missing: %r" % prof.raw.comments)
        n = int(left[0].split("its ")[1].split()[0])
        self.assertGreaterEqual(n, 28, left)
        return prof

    def test_two_callers(self):
        """root's and nobody's windows on nobody's process at once, which
        executes a set-user-ID root program: each caller is checked for
        itself — root's window follows the exec (sleep_for, within 10%),
        nobody's leaves it out — though both share the process."""
        suid = test_cpu.copy_exe(os.path.join(test_cpu.E2E, "waits-exec"),
                                 os.path.join(self.daemon.dir, "waits-suid2"), 0, 0o4755)
        exe = test_cpu.Access.nobody_exe(self, "waits")
        profs, a1, a2, uids = exec_windows(
            self, self.daemon, suid,
            {"root": lambda path: self.daemon.get(path, timeout=60), "nobody": self.nobody_get},
            user=test_cpu.NOBODY, exe=exe)
        self.assertEqual(uids[1], 0, "sanity: uids %r" % uids)
        root, nobody = profs["root"], profs["nobody"]
        got = through(root, "sleep_for")
        self.assertLess(abs(got - a2), 0.10 * a2, "root's sleep_for %.3f s, measured %.3f s\n%s"
                        % (got / 1e9, a2 / 1e9, root.excerpt()))
        self.assertIn(suid, root.mapping_files())
        for p in (root, nobody):
            got = through(p, "exec_sleep")
            self.assertLess(abs(got - a1), 0.10 * a1, p.excerpt())
        fns = {f for s in nobody.samples for f in s.functions()}
        self.assertNotIn("sleep_for", fns, nobody.excerpt())
        self.assertNotIn(suid, nobody.mapping_files())
        self.assertTrue([c for c in nobody.raw.comments if "may not profile" in c and "waits are left out" in c],
                        nobody.raw.comments)

    def test_setuid_exec_during_window(self):
        suid = test_cpu.copy_exe(os.path.join(test_cpu.E2E, "waits-exec"),
                                 os.path.join(self.daemon.dir, "waits-suid"), 0, 0o4755)
        self.check_denied(suid, lambda uids: uids is not None and uids[1] == 0)

    def test_unreadable_exec_during_window(self):
        """A root-owned program nobody may run but not read (0711): the
        kernel makes the process undumpable; profd leaves it out."""
        dark = test_cpu.copy_exe(os.path.join(test_cpu.E2E, "waits-exec"),
                                 os.path.join(self.daemon.dir, "waits-dark"), 0, 0o711)
        self.assertNotEqual(as_nobody(["test", "-r", dark]).returncode, 0, "sanity: nobody can read it")
        self.check_denied(dark, lambda uids: uids == [test_cpu.NOBODY] * 3)


class WaitJit(ProfdTest):
    """A JIT process's names (its /tmp/perf-PID.map) are read as its waits
    arrive, as for CPU windows: jitwl names two pieces of JIT code once
    the window is open and waits in them (nanosleep by their own system
    call: the leaf frame is JIT code), jit_sleep_a 30 ms and jit_sleep_b
    10 ms in turn for 2.5 s, then removes its map and exits mid-window. Built after it is gone, the
    block profile still names both, each within 10% of the time jitwl
    measured in it (none of it [jit])."""

    def test_jit_names_kept_after_exit(self):
        with Workload("jitwl", "perfmap-sleep", 2.5, seconds=40, wait_line="jitwl ready") as w:
            res = {}

            def get():
                try:
                    res["prof"] = fetch_wait(self, self.daemon, "block", w.pid, 8)
                except BaseException as e:
                    res["prof"] = e
            t = threading.Thread(target=get)
            t.start()
            wait_open(self, self.daemon, 1)
            time.sleep(0.3)
            t0 = time.monotonic()
            os.kill(w.pid, signal.SIGUSR1)
            line = w.proc.stdout.readline().decode().split()
            t.join(60)
            took = time.monotonic() - t0
            self.assertIsNotNone(w.proc.poll(), "jitwl still runs")
        self.assertEqual(line[:1], ["slept"], line)
        want_a, want_b = int(line[1]), int(line[2])
        prof = res["prof"]
        if isinstance(prof, BaseException):
            raise prof
        self.assertFalse(os.path.exists("/tmp/perf-%d.map" % w.pid))
        self.assertLess(took, 6, "the window did not end when jitwl exited")
        leaf = {}
        for s in prof.samples:
            fns = s.functions()
            if fns:
                leaf[fns[0]] = leaf.get(fns[0], 0) + s.values[1]
        got_a, got_b = leaf.get("jit_sleep_a", 0), leaf.get("jit_sleep_b", 0)
        print("    jit: jit_sleep_a %.3f s (measured %.3f), jit_sleep_b %.3f s (measured %.3f), [jit] %.3f s"
              % (got_a / 1e9, want_a / 1e9, got_b / 1e9, want_b / 1e9, leaf.get("[jit]", 0) / 1e9))
        for what, got, want in (("jit_sleep_a", got_a, want_a), ("jit_sleep_b", got_b, want_b)):
            self.assertLess(abs(got - want), 0.10 * want, "%s: %.3f s charged, jitwl measured %.3f s; leaves %r\n%s"
                            % (what, got / 1e9, want / 1e9, leaf, prof.excerpt()))
        self.assertNotIn("[jit]", leaf, prof.excerpt())


class WaitErrors(ProfdTest):
    daemon_args = ("--max-seconds", "30")

    def check_error(self, r, status, what):
        self.assertEqual(r.status, status, "%s: %r" % (what, r))
        self.assertEqual(r.headers.get("x-go-pprof"), "1", "%s: %r" % (what, r.headers))
        self.assertTrue(r.headers.get("content-type", "").startswith("text/plain"), what)
        self.assertTrue(r.text().strip(), what)

    def test_errors_as_profile(self):
        """The same status for the same mistakes as /debug/pprof/profile."""
        pid = dead_pid()
        with Workload("split", wait_line="split ready") as w:
            cases = [("pid=%d&seconds=1" % pid, 404), ("pid=%d&seconds=abc" % w.pid, 400),
                     ("pid=%d&seconds=0" % w.pid, 400), ("pid=%d&seconds=31" % w.pid, 400),
                     ("pid=%d&seconds=1&bogus=1" % w.pid, 400), ("pid=abc&seconds=1", 400),
                     ("seconds=1", 400), ("pid=2&seconds=1", 400)]
            for e in ENDPOINTS:
                for q, status in cases:
                    if e == "goroutine":
                        q = q.replace("&seconds=1", "").replace("seconds=1", "debug=0")
                        if "seconds" in q:
                            continue
                    r = self.daemon.get("/debug/pprof/%s?%s" % (e, q), timeout=10)
                    self.check_error(r, status, "%s?%s" % (e, q))
                    # Without pid a CPU profile is of every process
                    # (root's; test_continuous): no mistake there.
                    if "pid" not in q:
                        continue
                    ref = self.daemon.get("/debug/pprof/profile?" + q, timeout=10)
                    self.assertEqual(r.status, ref.status, "%s?%s differs from profile's" % (e, q))
            r = self.daemon.get("/debug/pprof/goroutine?pid=%d&seconds=1" % w.pid)
            self.check_error(r, 400, "goroutine with seconds")
            r = self.daemon.get("/debug/pprof/goroutine?pid=%d&debug=3" % w.pid)
            self.check_error(r, 400, "goroutine debug=3")
        self.assertEqual(self.daemon.status()["sessions_active"], 0)


class WaitsPidNamespace(ProfdTest):
    """profd as pid 1 of a new PID namespace with its own /proc (a system
    container), the workload in it, asked for by its pid there: the wait
    tracer's early filter cannot compare host tgids then and goes through
    its map; block and mutex delays still match the workload's own
    measure, and tid labels are the namespace's."""

    unsupported = None

    @classmethod
    def setUpClass(cls):
        cls.unsupported = test_cpu.pidns_unsupported()
        if not cls.unsupported:
            cls.daemon = test_cpu.NsDaemon(cls.__name__)

    def setUp(self):
        if self.unsupported:
            self.skipTest(self.unsupported)

    def totals(self, w):
        os.kill(w.host_pid, signal.SIGUSR2)
        line = w.proc.stdout.readline().decode().split()
        if len(line) != 3 or line[0] != "totals":
            raise AssertionError("waits: expected a totals line, got %r" % line)
        return int(line[1]), int(line[2])

    def check(self, mode, endpoint, fn, seconds, tolerance):
        with test_cpu.NsWorkload(self.daemon, "waits", mode, wait_line="waits ready") as w:
            time.sleep(0.3)
            t0, (a0, _) = time.monotonic(), self.totals(w)
            prof = fetch_wait(self, self.daemon, endpoint, w.pid, seconds,
                              name="pidns_" + endpoint)
            t1, (a1, _) = time.monotonic(), self.totals(w)
            tids = test_cpu.ns_tids(w.host_pid)
        self.assertNotEqual(w.pid, w.host_pid, "sanity: not in another PID namespace")
        want = (a1 - a0) * seconds / (t1 - t0)
        got = through(prof, fn)
        print("    pidns %s: %s %.3f s, measured %.3f s" % (endpoint, fn, got / 1e9, want / 1e9))
        self.assertLess(abs(got - want), tolerance * want, "%s: %.3f s, measured %.3f s\n%s"
                        % (fn, got / 1e9, want / 1e9, prof.excerpt()))
        bad = {s.num_label("tid") for s in prof.samples} - tids
        self.assertFalse(bad, "tids %r are not the namespace's %r" % (sorted(bad), sorted(tids)))

    def test_block_in_pidns(self):
        self.check("block", "block", "sleep_loop", 3, 0.10)

    def test_mutex_in_pidns(self):
        self.check("mutex", "mutex", "contend", 3, 0.15)


class WaitAccess(ProfdTest):
    """As nobody (test_attack.py's conventions): another user's process is
    refused, the caller's own is served."""

    def nobody_get(self, path, method="GET"):
        return test_cpu.Access.nobody_get(self, path, method)

    def test_nobody_denied_root_process(self):
        with Workload("waits", "block", seconds=60, wait_line="waits ready") as w:
            for e in ENDPOINTS:
                q = "pid=%d" % w.pid + ("" if e == "goroutine" else "&seconds=1")
                r = self.nobody_get("/debug/pprof/%s?%s" % (e, q))
                self.assertEqual(r.status, 403, "nobody on root's pid via %s: %r" % (e, r))
                self.assertEqual(r.headers.get("x-go-pprof"), "1")
                self.assertIn("permission denied", r.text())

    def test_profctl_as_nobody_denied(self):
        """profctl offcpu as nobody on root's process: exit 1, the
        server's message, no file written."""
        out = os.path.join(test_cpu.Access.nobody_dir(self), "denied.pb.gz")
        with Workload("waits", "block", seconds=60, wait_line="waits ready") as w:
            r = as_nobody([test_cpu.PROFCTL, "--socket", self.daemon.sock, "offcpu", "--pid", str(w.pid),
                           "--seconds", "1", "-o", out])
        self.assertEqual(r.returncode, 1, r)
        self.assertIn("permission denied: uid %d may not profile pid %d" % (test_cpu.NOBODY, w.pid),
                      r.stderr.decode())
        self.assertFalse(os.path.exists(out))

    def test_nobody_cannot_end_others_windows(self):
        """POST /v1/profile/stop as nobody: on root's process, 403 and
        root's wait window runs its full length; on nobody's own process,
        root's window there is not nobody's to end (404), and still runs
        its length; nobody's own window there does end early."""
        exe = test_cpu.Access.nobody_exe(self, "waits")
        with Workload("waits", "block", seconds=60, wait_line="waits ready") as w, \
                Workload("waits", "block", seconds=60, user=test_cpu.NOBODY, exe=exe,
                         wait_line="waits ready") as mine:
            res = {}

            def fetch(key, pid, window):
                res[key] = self.daemon.get("/debug/pprof/block?pid=%d&seconds=6&window=%s" % (pid, window),
                                           timeout=60)

            def fetch_nobody(key, pid, window):
                res[key] = self.nobody_get("/debug/pprof/block?pid=%d&seconds=6&window=%s" % (pid, window))

            ts = [threading.Thread(target=fetch, args=("root", w.pid, "r1")),
                  threading.Thread(target=fetch, args=("root_on_mine", mine.pid, "r2")),
                  threading.Thread(target=fetch_nobody, args=("nobody", mine.pid, "n1"))]
            for t in ts:
                t.start()
            wait_open(self, self.daemon, 3)
            time.sleep(0.5)
            r1 = self.nobody_get("/v1/profile/stop?pid=%d" % w.pid, method="POST")
            r2 = self.nobody_get("/v1/profile/stop?pid=%d&window=r2" % mine.pid, method="POST")
            r3 = self.nobody_get("/v1/profile/stop?pid=%d&window=n1" % mine.pid, method="POST")
            for t in ts:
                t.join(60)
        self.assertEqual(r1.status, 403, r1.text())
        self.assertEqual(r2.status, 404, r2.text())
        self.assertEqual(r3.status, 200, r3.text())
        for key, early in (("root", False), ("root_on_mine", False), ("nobody", True)):
            r = res[key]
            self.assertEqual(r.status, 200, "%s: %r" % (key, r))
            path = os.path.join(test_cpu.ART, "stop-%s.pb.gz" % key)
            with open(path, "wb") as f:
                f.write(r.body)
            prof = Prof(path)
            dur = prof.proto["duration_nanos"] / 1e9
            if early:
                # 6 s windows: the three stops (a new Python as nobody
                # each) land ~1-2 s in, far from the window's end.
                self.assertLess(dur, 5, "%s: nobody's own window did not end early (%.2f s)" % (key, dur))
                self.assertTrue(any("ended on request" in c for c in prof.raw.comments), prof.raw.comments)
            else:
                self.assertGreater(dur, 5.9, "%s: root's window ended by nobody (%.2f s)" % (key, dur))
                self.assertFalse(any("ended on request" in c for c in prof.raw.comments), prof.raw.comments)

    def test_nobody_own_process(self):
        exe = test_cpu.Access.nobody_exe(self, "waits")
        with Workload("waits", "block", seconds=60, user=test_cpu.NOBODY, exe=exe, wait_line="waits ready") as w:
            r = self.nobody_get("/debug/pprof/block?pid=%d&seconds=2" % w.pid)
        self.assertEqual(r.status, 200, r)
        path = os.path.join(test_cpu.ART, "nobody-own-block.pb.gz")
        with open(path, "wb") as f:
            f.write(r.body)
        prof = Prof(path, pid=w.pid, seconds=2)
        self.assertGreater(through(prof, "sleep_loop"), 1e9, prof.excerpt())


if __name__ == "__main__":
    unittest.main()
