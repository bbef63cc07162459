#!/usr/bin/env python3
"""No silent surprises (issue 11, item 5), each checked as a user meets it
(run through run_all.py, with test_cpu.py's helpers; profiles are read with
`go tool pprof -raw`):

- a one-off `profctl heap --pid P` of an untracked process leaves no
  tracking behind (/v1/status), and says so; `heap start` keeps it on, and
  a pull then says that it continues, what it costs and how to stop it;
- a request whose settings differ from those in force on a tracked process
  (--sample-bytes, --fp, --inproc) is refused with 409, naming the ones in
  force and `heap stop`, and changes nothing;
- default file names never overwrite: existing files for this second are
  left alone, and two pulls in the same second write two files;
- a CPU window ends when its target exits: the answer comes then, the
  profile's duration is the time profiled (not the seconds asked), pprof's
  percentages are of that, and profctl says why the window ended early;
- Ctrl-C (SIGINT) in `profctl cpu` ends the window and saves what it
  collected, with its real duration; a second Ctrl-C saves nothing.

  python3 tests/e2e/test_surprises.py --output build [-k NAME]...
"""
import glob
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cpu as cpu  # noqa: E402
from test_cpu import Prof, ProfdTest, Workload, go_env, spawn  # noqa: E402
from test_heap import CmdWorkload, heap_status, heap_stop, http_req  # noqa: E402


def profctl(daemon, *args, cwd=None, timeout=120):
    return subprocess.run([cpu.PROFCTL, "--socket", daemon.sock] + [str(a) for a in args],
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


def tracked(daemon, pid):
    """The /v1/status heap.procs entry of @pid, or None."""
    for p in heap_status(daemon)["procs"]:
        if p["pid"] == pid:
            return p
    return None


def duration_s(prof):
    """The profile's duration_nanos, in seconds, and pprof's own reading
    of it (-raw's Duration line), which must agree."""
    d = prof.proto["duration_nanos"] / 1e9
    m = re.match(r"^([\d.]+)(ms|s|m)?$", prof.raw.duration or "")
    if not m:
        raise AssertionError("go tool pprof -raw prints no Duration: %r" % prof.raw.duration)
    pp = float(m.group(1)) * {"ms": 1e-3, "s": 1.0, "m": 60.0, None: 1.0}[m.group(2)]
    if abs(pp - d) > 0.05:
        raise AssertionError("pprof's Duration %r is not duration_nanos %.3f s" % (prof.raw.duration, d))
    return d


def pprof_top_share(path, function):
    """The flat share of @function in `go tool pprof -top` (the percentage
    of Duration in its header: "Total samples = 1.65s (97.06%)"), and the
    header's Duration."""
    r = subprocess.run(["go", "tool", "pprof", "-top", "-symbolize=none", path],
                       capture_output=True, text=True, env=go_env(), timeout=60)
    if r.returncode != 0:
        raise AssertionError("go tool pprof -top %s: %s" % (path, r.stderr))
    m = re.search(r"Duration: ([\d.]+m?s), Total samples = [\d.]+m?s \(\s*([\d.]+)%\)", r.stdout)
    if not m:
        raise AssertionError("no Duration/Total samples in pprof -top:\n%s" % r.stdout)
    return float(m.group(2)), m.group(1), r.stdout


class HeapOneOff(ProfdTest):
    """What tracking a pull leaves behind, and what it says."""

    def test_one_off_pull_stops_tracking(self):
        d = tempfile.mkdtemp(prefix="profd-e2e-oneoff-")
        try:
            with CmdWorkload() as w:
                out = os.path.join(d, "one.pb.gz")
                r = profctl(self.daemon, "heap", "--pid", w.pid, "--seconds", 1, "-o", out)
                self.assertEqual(r.returncode, 0, "profctl heap: %r %r" % (r.stdout, r.stderr))
                Prof(out, pid=w.pid)  # a valid profile, read by go tool pprof -raw
                self.assertRegex(r.stdout, r"heap tracking of pid %d stopped after this snapshot" % w.pid,
                                 "profctl does not say tracking stopped:\n%s" % r.stdout)
                self.assertIn("profctl heap start --pid %d" % w.pid, r.stdout)
                self.assertIsNone(tracked(self.daemon, w.pid),
                                  "pid %d still tracked after a one-off pull: %r" % (w.pid, heap_status(self.daemon)))
                self.assertEqual(heap_status(self.daemon)["tracked"], 0)

                # Asked for: it stays, and the pull says so, with its cost
                # and how to stop it.
                r = profctl(self.daemon, "heap", "start", "--pid", w.pid)
                self.assertEqual(r.returncode, 0, "profctl heap start: %r %r" % (r.stdout, r.stderr))
                w.cmd("basic")
                out2 = os.path.join(d, "kept.pb.gz")
                r = profctl(self.daemon, "heap", "--pid", w.pid, "-o", out2)
                self.assertEqual(r.returncode, 0, "profctl heap: %r %r" % (r.stdout, r.stderr))
                Prof(out2, pid=w.pid)
                self.assertRegex(r.stdout, r"heap tracking of pid %d continues" % w.pid, r.stdout)
                self.assertIn("every allocator call", r.stdout)
                self.assertIn("profctl heap stop --pid %d" % w.pid, r.stdout)
                p = tracked(self.daemon, w.pid)
                self.assertIsNotNone(p, "heap start's tracking ended after a pull")
                self.assertEqual(p["until"], "stop", p)
                heap_stop(self, self.daemon, w.pid)
                self.assertIsNone(tracked(self.daemon, w.pid))
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_concurrent_one_off_pulls(self):
        """Two one-off pulls at once: the second's snapshot is not cut off
        by the first's stop, and nothing is left tracked after both."""
        with CmdWorkload() as w:
            res = {}

            def pull(i):
                res[i] = http_req(self.daemon.sock, "GET", "/debug/pprof/heap?pid=%d&seconds=2" % w.pid, timeout=60)

            import threading
            ts = [threading.Thread(target=pull, args=(i,)) for i in range(2)]
            for t in ts:
                t.start()
                time.sleep(0.5)
            for t in ts:
                t.join(60)
            for i in range(2):
                self.assertEqual(res[i].status, 200, "pull %d: %r" % (i, res[i]))
            notes = sorted(res[i].headers.get("x-profd-note", "") for i in range(2))
            self.assertTrue(any("stopped after this snapshot" in n for n in notes), notes)
            self.assertIsNone(tracked(self.daemon, w.pid), heap_status(self.daemon))


class HeapConflicts(ProfdTest):
    """Settings that a tracked process does not change are refused."""

    def test_conflicting_settings_refused(self):
        with CmdWorkload() as w:
            r = http_req(self.daemon.sock, "POST", "/v1/heap/start?pid=%d&sample_bytes=1" % w.pid)
            self.assertEqual(r.status, 200, r)
            try:
                for args, asked in ((["--sample-bytes", 4096], "sample_bytes 4096"),
                                    (["--fp"], "unwind=fp"),
                                    (["--sample-bytes", 1, "--fp"], "unwind=fp")):
                    for cmd in (["heap"], ["heap", "start"]):
                        r = profctl(self.daemon, *(cmd + ["--pid", w.pid] + args))
                        what = "profctl %s %s" % (" ".join(cmd), args)
                        self.assertEqual(r.returncode, 1, "%s: not refused: %r %r" % (what, r.stdout, r.stderr))
                        self.assertIn("sample_bytes 1,", r.stderr, "%s names not the settings in force: %r" % (what, r.stderr))
                        self.assertIn("DWARF", r.stderr, what)
                        self.assertIn(asked, r.stderr, what)
                        self.assertIn("profctl heap stop --pid %d" % w.pid, r.stderr, what)
                # Over HTTP: a 409, pulls and starts alike.
                for m, path in (("GET", "/debug/pprof/heap?pid=%d&seconds=0&unwind=fp"),
                                ("GET", "/debug/pprof/allocs?pid=%d&sample_bytes=2"),
                                ("POST", "/v1/heap/start?pid=%d&unwind=fp")):
                    r = http_req(self.daemon.sock, m, path % w.pid)
                    self.assertEqual(r.status, 409, "%s %s: %r" % (m, path, r))
                # Nothing changed, and the same settings (or none) are served.
                p = tracked(self.daemon, w.pid)
                self.assertEqual(p["sample_bytes"], 1, p)
                for q in ("", "&sample_bytes=1", "&unwind=dwarf", "&mode=uprobe"):
                    r = http_req(self.daemon.sock, "GET", "/debug/pprof/heap?pid=%d&seconds=0%s" % (w.pid, q))
                    self.assertEqual(r.status, 200, "%s: %r" % (q, r))
                r = http_req(self.daemon.sock, "POST", "/v1/heap/start?pid=%d&sample_bytes=1" % w.pid)
                self.assertEqual(r.status, 200, r)
                self.assertIn("already", r.text())
            finally:
                heap_stop(self, self.daemon, w.pid)


class FileNames(ProfdTest):
    """Default names: never over an existing file."""

    def test_same_second_two_files(self):
        d = tempfile.mkdtemp(prefix="profd-e2e-names-")
        try:
            with CmdWorkload() as w:
                r = http_req(self.daemon.sock, "POST", "/v1/heap/start?pid=%d" % w.pid)
                self.assertEqual(r.status, 200, r)
                # Files already there for this second and the next few:
                # whatever second the pulls fall in, the plain name is taken.
                now = time.time()
                sentinels = {}
                for k in range(-1, 12):
                    name = os.path.join(d, "heap-%d-%s.pb.gz" % (w.pid, time.strftime("%Y%m%d-%H%M%S", time.localtime(now + k))))
                    with open(name, "w") as f:
                        f.write("sentinel %d\n" % k)
                    sentinels[name] = "sentinel %d\n" % k
                rs = [spawn([cpu.PROFCTL, "--socket", self.daemon.sock, "heap", "--pid", str(w.pid)],
                            cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
                outs = [p.communicate(timeout=60) for p in rs]
                for p, (o, e) in zip(rs, outs):
                    self.assertEqual(p.returncode, 0, "profctl heap: %r %r" % (o, e))
                heap_stop(self, self.daemon, w.pid)
            for name, text in sentinels.items():
                with open(name) as f:
                    self.assertEqual(f.read(), text, "%s was overwritten" % name)
            wrote = [m.group(1) for o, _ in outs for m in [re.search(r"(?m)^wrote (.*)$", o)] if m]
            self.assertEqual(len(wrote), 2, outs)
            self.assertNotEqual(wrote[0], wrote[1], "two pulls wrote one file: %r" % wrote)
            new = sorted(set(glob.glob(os.path.join(d, "heap-*.pb.gz"))) - set(sentinels))
            self.assertEqual(len(new), 2, "files: %r" % sorted(os.listdir(d)))
            for n in new:
                self.assertRegex(os.path.basename(n), r"^heap-%d-\d{8}-\d{6}-\d+\.pb\.gz$" % w.pid)
                self.assertIn(os.path.basename(n), [os.path.basename(x) for x in wrote])
                Prof(n, pid=w.pid)
            self.assertFalse([f for f in os.listdir(d) if ".tmp." in f], os.listdir(d))
        finally:
            shutil.rmtree(d, ignore_errors=True)


class EarlyEnd(ProfdTest):
    """A window ends early at its target's exit, or on Ctrl-C."""

    def test_window_ends_when_target_exits(self):
        """exiter spins 1.7 s and exits: a 5 s window answers then, with
        a duration of what it profiled, and pprof shows ~100%, not ~34%."""
        d = tempfile.mkdtemp(prefix="profd-e2e-exit-")
        try:
            out = os.path.join(d, "exit.pb.gz")
            w = Workload("exiter", seconds=1.7)
            cr = cpu.CpuReadings(w)
            try:
                t0 = time.monotonic()
                p = spawn([cpu.PROFCTL, "--socket", self.daemon.sock, "cpu", "--pid", str(w.pid),
                           "--seconds", "5", "--hz", "199", "-o", out],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                used = w.reap_cpu()  # CPU seconds it used, all of it in the window or before
                t_exit = time.monotonic()
                readings = cr.stop()
                o, e = p.communicate(timeout=30)
                t_answer = time.monotonic()
            finally:
                w.stop()
            self.assertEqual(p.returncode, 0, "profctl cpu: %r %r" % (o, e))
            self.assertLess(t_answer - t_exit, 1.5, "answer %.2f s after the exit: the window was waited out" % (t_answer - t_exit))
            prof = Prof(out, pid=w.pid)
            dur = duration_s(prof)
            # The window opened between t0 and the exit; it covers at most
            # that (and profd's noticing, within a poll), and no less than
            # that minus profctl's start-up and the window's opening.
            self.assertLessEqual(dur, t_exit - t0 + 0.5, "duration %.2f s, exit %.2f s after the request" % (dur, t_exit - t0))
            self.assertGreater(dur, t_exit - t0 - 1.0, "duration %.2f s, exit %.2f s after the request" % (dur, t_exit - t0))
            self.assertLess(dur, 4.0, "duration %.2f s of a 5 s window for a 1.7 s process" % dur)
            self.assertTrue(any("ended early" in c and "exited" in c for c in prof.raw.comments), prof.raw.comments)
            self.assertRegex(o, r"ended early, after [\d.]+ s of the 5 s asked: the process exited", o)
            share, pp_dur, top = pprof_top_share(out, "exiter_spin")
            # pprof's percentage is of Duration: with the 5 s asked it
            # was a third of the CPU share the process really had.
            # Busy: its CPU inside the window's own bounds (at least).
            t_start = prof.proto["time_nanos"] / 1e9
            inside = cpu.cpu_inside(readings, t_start, t_start + dur)
            busy = 100.0 * min(inside[0] if inside else used, dur) / dur
            self.assertGreater(share, 0.75 * busy, "pprof: samples are %.0f%% of Duration %s for a process that was "
                               "%.0f%% busy in it:\n%s" % (share, pp_dur, busy, top))
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def sigint_run(self, d, signals, out=None):
        """profctl cpu of a 20 s window of split (busy), sent @signals
        SIGINTs after 2 s; (returncode, stdout, stderr, seconds taken).
        With two, profd is held stopped (SIGSTOP) from before the first
        until profctl is done, as a daemon slow to answer: the second
        Ctrl-C then surely comes before the profile (two signals sent at
        once would be one, and a quick answer would beat the second)."""
        with Workload("split", wait_line="split ready") as w:
            args = [cpu.PROFCTL, "--socket", self.daemon.sock, "cpu", "--pid", str(w.pid), "--seconds", "20"]
            if out:
                args += ["-o", out]
            t0 = time.monotonic()
            p = spawn(args, cwd=d, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            # The window is open once profd lists it.
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and not self.daemon.status()["sessions"]:
                time.sleep(0.05)
            self.assertTrue(self.daemon.status()["sessions"], "no window opened")
            cpu0 = w.cpu()
            time.sleep(2)
            held = signals > 1
            if held:
                os.kill(self.daemon.proc.pid, signal.SIGSTOP)
            try:
                for i in range(signals):
                    if i:
                        time.sleep(0.5)
                    p.send_signal(signal.SIGINT)
                o, e = p.communicate(timeout=30)
            finally:
                if held:
                    os.kill(self.daemon.proc.pid, signal.SIGCONT)
            self.used = w.cpu() - cpu0  # CPU it used from the window's opening
            return p.returncode, o, e, time.monotonic() - t0, w.pid

    def test_sigint_saves_partial_window(self):
        d = tempfile.mkdtemp(prefix="profd-e2e-sigint-")
        try:
            out = os.path.join(d, "partial.pb.gz")
            rc, o, e, took, pid = self.sigint_run(d, 1, out)
            self.assertEqual(rc, 0, "profctl after one Ctrl-C: %r %r" % (o, e))
            self.assertLess(took, 10, "Ctrl-C did not end the 20 s window (%.1f s)" % took)
            self.assertIn("ending the window early", e)
            self.assertRegex(o, r"ended early, after [\d.]+ s of the 20 s asked", o)
            self.assertIn("wrote %s" % out, o)
            prof = Prof(out, pid=pid, hz=99)
            dur = duration_s(prof)
            self.assertGreater(dur, 1.5, "duration %.2f s" % dur)
            self.assertLess(dur, took + 0.1, "duration %.2f s, profctl ran %.2f s" % (dur, took))
            # The samples the CPU it used implies (measured from the
            # window's opening to profctl's exit: a little more than the
            # window).
            self.assertGreater(prof.count(), 0.5 * 99 * min(self.used, dur),
                               "%d samples in %.2f s at 99 Hz, %.2f s of CPU used" % (prof.count(), dur, self.used))
            self.assertTrue(any("ended early" in c for c in prof.raw.comments), prof.raw.comments)
            self.wait_no_sessions()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def test_second_sigint_aborts(self):
        d = tempfile.mkdtemp(prefix="profd-e2e-sigint2-")
        try:
            rc, o, e, took, _ = self.sigint_run(d, 2)
            self.assertEqual(rc, 130, "profctl after two Ctrl-C: %r %r" % (o, e))
            self.assertLess(took, 10, "(%.1f s)" % took)
            self.assertIn("nothing was saved", e)
            self.assertEqual(os.listdir(d), [], "files after an abort")
            self.wait_no_sessions()
        finally:
            shutil.rmtree(d, ignore_errors=True)

    def wait_no_sessions(self):
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and self.daemon.status()["sessions_active"]:
            time.sleep(0.1)
        self.assertEqual(self.daemon.status()["sessions_active"], 0, "a window outlived its client")


def main():
    """These tests alone; run_all.py runs every suite with one tally."""
    import run_all
    import test_surprises
    run_all.main(modules=(test_surprises,))


if __name__ == "__main__":
    main()
