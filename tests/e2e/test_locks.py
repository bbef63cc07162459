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
import sys
import threading
import time

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cpu as cpu  # noqa: E402
from test_cpu import Prof, Workload, fetch, share  # noqa: E402
from test_heap import (TRUTH_BASIC, CmdWorkload, HeapTest, heap_get, heap_start,  # noqa: E402
                       heap_stop, save, wait_tracked)


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


def main():
    """These tests alone; run_all.py runs every suite with one tally."""
    import run_all
    import test_locks
    run_all.main(modules=(test_locks,))


if __name__ == "__main__":
    main()
