#!/usr/bin/env python3
"""End-to-end tests of DWARF unwinding (CPU profiles) on code built with
-O2 -fomit-frame-pointer (workloads/nofp.c). Run through run_all.py, which
configures test_cpu's globals; helpers come from test_cpu.

What must hold: stacks reach main in >= 99% of samples (and the caller
chain is right) where a frame-pointer walk cannot; comparator samples pass
through libc's qsort back to main; worker threads unwind to their thread
function; a recursion deeper than the copied stack window is marked
[truncated], never presented as complete.
"""
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_cpu import ProfdTest, Workload, fetch, share  # noqa: E402

HZ = 199


def reaches(s, fn):
    return fn in s.functions()


class DwarfUnwinding(ProfdTest):

    def nofp(self, mode, seconds=4, extra=""):
        with Workload("nofp", mode, seconds=seconds + 20, wait_line="nofp ready") as w:
            prof = fetch(self, self.daemon, w, seconds, hz=HZ,
                         name="%s_%s" % (self.id().split(".")[-1], extra.strip("&") or "dwarf"),
                         extra=extra)
        return prof

    def test_chain_reaches_main(self):
        """-O2 -fomit-frame-pointer chain: >= 99% reach main, split 3:1,
        the whole chain in order; the frame-pointer walk does not."""
        prof = self.nofp("chain")
        self.check_cpu_profile(prof, hz=HZ)
        total = prof.count()
        with_main = prof.count(lambda s: reaches(s, "main"))
        self.assertGreaterEqual(with_main, 0.99 * total,
                                "only %d of %d stacks reach main\n%s" % (with_main, total, prof.excerpt()))
        trunc = prof.count(lambda s: reaches(s, "[truncated]"))
        self.assertEqual(trunc, 0, "%d samples marked truncated\n%s" % (trunc, prof.excerpt()))
        na, nb, sh = share(prof, "hot_a", "hot_b")
        self.assertAlmostEqual(sh, 0.75, delta=0.05, msg="hot_a share %.3f (%d/%d)\n%s" % (sh, na, nb, prof.excerpt()))
        chain = ["hot_a", "work", "dispatch", "run", "main"]
        full = prof.count(lambda s: s.functions()[:5] == chain)
        self.assertGreaterEqual(full, 0.99 * na, "only %d of %d hot_a stacks are %s\n%s" % (full, na, chain, prof.excerpt()))

        # The same code through frame pointers only: the walk breaks (this
        # is what DWARF unwinding is for; checks the workload has none).
        fp = self.nofp("chain", seconds=2, extra="&unwind=fp")
        fp_main = fp.count(lambda s: s.functions()[:5] == chain)
        self.assertLess(fp_main, 0.5 * fp.count(), "frame pointers unexpectedly complete: workload has frame pointers?")

    def test_qsort_comparator(self):
        """Hot in a comparator called by libc's qsort: through libc to main."""
        prof = self.nofp("qsort")
        cmp = [s for s in prof.samples if s.leaf() and s.leaf().function == "cmp"]
        n = sum(s.values[0] for s in cmp)
        self.assertGreater(n, 0, "no samples in cmp\n%s" % prof.excerpt())
        good = sum(s.values[0] for s in cmp
                   if "sort_some" in s.functions() and "main" in s.functions()
                   and any(f.startswith(("qsort", "msort")) for f in s.functions()))
        self.assertGreaterEqual(good, 0.99 * n, "only %d of %d comparator stacks pass qsort -> sort_some -> main\n%s"
                                % (good, n, prof.excerpt()))
        libc = [m for m in prof.mapping_files() if "libc.so" in m]
        self.assertTrue(libc, "no libc mapping in %s" % prof.mapping_files())

    def test_threads(self):
        """Two worker threads: their stacks reach the thread function and
        the thread's outermost frame, untruncated."""
        prof = self.nofp("threads")
        workers = [s for s in prof.samples if s.label("thread") == "nfworker"]
        n = sum(s.values[0] for s in workers)
        self.assertGreater(n, 0, "no worker samples\n%s" % prof.excerpt())
        good = sum(s.values[0] for s in workers
                   if s.functions()[-1:] and "worker" in s.functions() and "run" in s.functions()
                   and "[truncated]" not in s.functions())
        self.assertGreaterEqual(good, 0.99 * n, "only %d of %d worker stacks are complete\n%s" % (good, n, prof.excerpt()))
        tids = {s.num_label("tid") for s in workers}
        self.assertGreaterEqual(len(tids), 2, "worker tids %s" % tids)

    def test_deep_recursion_marked_truncated(self):
        """A recursion deeper than the copied stack: [truncated], never a
        stack that looks complete but stops short of main."""
        prof = self.nofp("deep")
        total = prof.count()
        leaf_rec = [s for s in prof.samples if "recurse" in s.functions()]
        n = sum(s.values[0] for s in leaf_rec)
        self.assertGreater(n, 0.5 * total, "few samples in recurse\n%s" % prof.excerpt())
        lying = sum(s.values[0] for s in prof.samples
                    if "main" not in s.functions() and "[truncated]" not in s.functions())
        self.assertEqual(lying, 0, "%d samples neither reach main nor say [truncated]\n%s" % (lying, prof.excerpt()))
        trunc = prof.count(lambda s: "[truncated]" in s.functions())
        self.assertGreaterEqual(trunc, 0.9 * n, "only %d of %d deep samples marked truncated" % (trunc, n))
        st = self.daemon.status()
        self.assertGreater(st["unwind"]["truncated"], 0, "status: %s" % st.get("unwind"))


if __name__ == "__main__":
    unittest.main()
