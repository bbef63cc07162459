#!/usr/bin/env python3
"""End-to-end tests of deep stacks (CPU profiles, DWARF unwinding). Run
through run_all.py, which configures test_cpu's globals.

What must hold: a 100-deep recursion of 256-byte frames (~27 KiB of
stack, workloads/nofp.c "deep100") and a Python program 60 calls deep
(workloads/deep.py, run by Debian's /usr/bin/python3: ~250 native frames)
give whole stacks in >= 99% of their samples, with every level present;
with a smaller stack copy (--stack-bytes 16384) the same recursion is
marked [truncated], never shown as a shorter stack that looks whole.
"""
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cpu  # noqa: E402
from test_cpu import ProfdTest, Workload, fetch, spawn  # noqa: E402

HZ = 199
PYTHON = "/usr/bin/python3"  # Debian's: .eh_frame, no frame pointers


class PyWorkload(Workload):
    """workloads/deep.py under Debian's python3."""

    def __init__(self, seconds, depth):
        import subprocess
        script = os.path.join(test_cpu.SRC, "workloads", "deep.py")
        self.name = "deep.py"
        self.proc = spawn([PYTHON, script, str(seconds), str(depth)],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.pid = self.host_pid = self.proc.pid
        self.wait_for("deep.py ready")


def whole(s, outermost):
    f = s.functions()
    return bool(f) and f[-1] == outermost and "[truncated]" not in f


class DeepStacks(ProfdTest):

    def test_recursion_100_deep_whole(self):
        """descend(99..0), 272 bytes a frame: >= 99% of the samples reach
        main through all 100 levels."""
        with Workload("nofp", "deep100", seconds=30, wait_line="nofp ready") as w:
            prof = fetch(self, self.daemon, w, 4, hz=HZ)
        self.check_cpu_profile(prof, pid=w.pid, hz=HZ, seconds=4)
        deep = [s for s in prof.samples if "descend" in s.functions()]
        n = sum(s.values[0] for s in deep)
        self.assertGreater(n, 0.9 * prof.count(), "few samples in descend\n%s" % prof.excerpt())
        good = sum(s.values[0] for s in deep
                   if whole(s, "_start") and "main" in s.functions()
                   and s.functions().count("descend") == 100)
        self.assertGreaterEqual(good, 0.99 * n, "only %d of %d samples in descend are whole (100 levels to main)\n%s"
                                % (good, n, prof.excerpt()))

    def test_python_60_calls_deep_whole(self):
        """CPython 3.11, 60 Python calls each through map(): >= 99% of the
        samples reach _start, and those at the bottom hold 60 eval loops."""
        w = PyWorkload(60, 60)
        try:
            prof = fetch(self, self.daemon, w, 4, hz=HZ)
        finally:
            w.stop()
        self.check_cpu_profile(prof, pid=w.pid, hz=HZ, seconds=4)
        n = prof.count()
        good = prof.count(lambda s: whole(s, "_start"))
        self.assertGreaterEqual(good, 0.99 * n, "only %d of %d python samples are whole\n%s"
                                % (good, n, prof.excerpt()))
        # The bottom: 60 frames of the eval loop, one per Python call, and
        # the rest of the program above them.
        bottom = prof.count(lambda s: s.functions().count("_PyEval_EvalFrameDefault") >= 60)
        self.assertGreaterEqual(bottom, 0.8 * n, "only %d of %d samples hold 60 eval loops\n%s"
                                % (bottom, n, prof.excerpt()))
        self.assertEqual(prof.count(lambda s: s.functions().count("_PyEval_EvalFrameDefault") > 61), 0,
                         "more eval loops than Python calls\n%s" % prof.excerpt())


class SmallStackCopy(ProfdTest):
    """--stack-bytes 16384, the copy profd used to make: the 27 KiB
    recursion does not fit, and says so."""
    daemon_args = ("--stack-bytes", "16384")

    def test_recursion_marked_truncated(self):
        with Workload("nofp", "deep100", seconds=30, wait_line="nofp ready") as w:
            prof = fetch(self, self.daemon, w, 3, hz=HZ)
        n = prof.count(lambda s: "descend" in s.functions())
        self.assertGreater(n, 0, prof.excerpt())
        lying = prof.count(lambda s: "main" not in s.functions() and "[truncated]" not in s.functions())
        self.assertEqual(lying, 0, "%d samples neither reach main nor say [truncated]\n%s" % (lying, prof.excerpt()))
        trunc = prof.count(lambda s: "[truncated]" in s.functions())
        self.assertGreaterEqual(trunc, 0.9 * n, "only %d of %d deep samples marked truncated" % (trunc, n))
        self.assertGreater(self.daemon.status()["unwind"]["truncated"], 0)


if __name__ == "__main__":
    unittest.main()
