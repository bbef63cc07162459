#!/usr/bin/env python3
"""End-to-end tests of DWARF unwinding (CPU profiles) on code built with
-O2 -fomit-frame-pointer (workloads/nofp.c). Run through run_all.py, which
configures test_cpu's globals; helpers come from test_cpu.

What must hold: stacks reach main in >= 99% of samples (and the caller
chain is right) where a frame-pointer walk cannot; comparator samples pass
through libc's qsort back to main; worker threads unwind to their thread
function; a recursion deeper than the copied stack window is marked
[truncated], never presented as complete; heap allocation stacks below
functions without frame pointers are attributed to the right callers.
"""
import os
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from test_cpu import ProfdTest, Workload, fetch, share, share_delta  # noqa: E402
import test_heap  # noqa: E402
from test_heap import CmdWorkload, fnames, heap_fetch, heap_start, heap_status, http_req  # noqa: E402

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
        self.assertAlmostEqual(sh, 0.75, delta=share_delta(na + nb), msg="hot_a share %.3f (%d/%d)\n%s" % (sh, na, nb, prof.excerpt()))
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

    def test_signal_handler_frames(self):
        """Hot in a SIGALRM handler: through the signal frame (glibc's
        __restore_rt) to the interrupted function and main."""
        prof = self.nofp("signal")
        hand = [s for s in prof.samples if s.functions()[:1] == ["on_alarm"]]
        n = sum(s.values[0] for s in hand)
        self.assertGreater(n, 0.05 * prof.count(), "few samples in the handler\n%s" % prof.excerpt())
        good = sum(s.values[0] for s in hand
                   if "victim" in s.functions() and s.functions()[-1:] != ["[truncated]"]
                   and "main" in s.functions())
        self.assertGreaterEqual(good, 0.99 * n, "only %d of %d handler stacks reach victim and main\n%s"
                                % (good, n, prof.excerpt()))

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


class UnwindDataCache(ProfdTest):
    """A daemon of its own, so the CFI cache starts cold."""

    def run_chain(self, seconds):
        with Workload("nofp", "chain", seconds=seconds + 20, wait_line="nofp ready") as w:
            prof = fetch(self, self.daemon, w, seconds, hz=HZ, name="cfi_cache_%d" % w.pid)
        return prof

    def test_unwind_data_shared_across_processes(self):
        """CFI rows are cached per binary (build-id), not per process: a
        second process of the same binary, in a new session, unwinds from
        the rows the first one parsed. Its samples may land on a few code
        addresses the first one's did not (a rare pc in a caller): those
        rows, and no others, are parsed. Also catches rows of one cache
        slot taking turns (a hot leaf pc and a return address in every
        stack did, in a direct-mapped cache: misses on every such sample)."""
        u0 = self.daemon.status()["unwind"]
        p1 = self.run_chain(2)
        u1 = self.daemon.status()["unwind"]
        p2 = self.run_chain(2)
        u2 = self.daemon.status()["unwind"]
        for p in (p1, p2):
            n = p.count()
            self.assertGreaterEqual(p.count(lambda s: reaches(s, "main")), 0.99 * n, p.excerpt())
        miss1 = u1["cfi_cache_misses"] - u0["cfi_cache_misses"]
        miss2 = u2["cfi_cache_misses"] - u1["cfi_cache_misses"]
        hits2 = u2["cfi_cache_hits"] - u1["cfi_cache_hits"]
        rows1, rows2 = code_rows(p1), code_rows(p2)
        new = rows2 - rows1
        self.assertGreater(miss1, 0, "first process parsed no CFI? %r" % u1)
        self.assertGreaterEqual(miss1, len(rows1) - 1,
                                "first process: %d rows parsed for %d code addresses" % (miss1, len(rows1)))
        self.assertGreater(hits2, 5 * p2.count(), "second process: %d hits for %d samples" % (hits2, p2.count()))
        # A location's address and the address unwound at can differ by
        # one (a return address), so a new location may be one or two
        # lookups; +2 for the last frame's (_start's caller) lookups.
        self.assertLessEqual(miss2, 2 * len(new) + 2,
                             "second process of the same binary parsed CFI again: %d misses "
                             "for %d code addresses the first did not have (first: %d misses, %d addresses)"
                             % (miss2, len(new), miss1, len(rows1)))


def code_rows(prof):
    """A profile's code addresses as (binary, offset in its file): what a
    CFI row is looked up by, whichever process it came from."""
    rows = set()
    for loc in prof.raw.locations.values():
        m = prof.raw.mapping_of(loc)
        if m is not None and loc.address:
            rows.add((m.build_id or m.file, loc.address - m.start + m.offset))
    return rows


# heapnofp: per calling path, (alloc_objects, alloc_space, inuse_objects,
# inuse_space) after "run" and "threads", every allocation tracked.
HEAP_PATHS = {
    "path_a": (36, 36 * 96, 36, 36 * 96),   # 30 + 6 in the thread
    "path_b": (12, 12 * 96, 12, 12 * 96),   # 10 + 2 in the thread
    "path_c": (20, 20 * 48, 20, 20 * 48),   # strdup of 47 chars
}


def heap_path(s):
    """The path_* function a heap sample's stack passes through, or None."""
    for f in fnames(s):
        if f in HEAP_PATHS:
            return f
    return None


class HeapDwarfStacks(test_heap.HeapTest):

    def profile(self, name, unwind=None):
        with CmdWorkload("heapnofp") as w:
            if unwind:
                r = http_req(self.daemon.sock, "POST", "/v1/heap/start?pid=%d&sample_bytes=1&unwind=%s" % (w.pid, unwind))
                self.assertEqual(r.status, 200, r.text())
                self.assertIn("frame-pointer stacks", r.text())
            else:
                r = heap_start(self, self.daemon, w.pid, sample_bytes=1)
                self.assertIn("DWARF stacks", r.text())
            w.cmd("run")
            w.cmd("threads")
            prof = heap_fetch(self, self.daemon, w.pid, name)
        return w.pid, prof

    def test_alloc_sites_below_fp_less_functions(self):
        """-O2 -fomit-frame-pointer: malloc called two frames below the
        functions that decide (path_a/path_b -> mid -> site, path_c ->
        libc's strdup): exact per path, stacks complete to main (or the
        thread's start), in the main thread and another."""
        pid, prof = self.profile("heapnofp-dwarf")
        self.check_heap_profile(prof, pid, 1)
        got = {}
        for s in prof.samples:
            p = heap_path(s)
            if p is None:
                continue
            acc = got.setdefault(p, [0, 0, 0, 0])
            for i in range(4):
                acc[i] += s.values[i]
            fns = fnames(s)
            self.assertNotIn("[truncated]", fns, "truncated stack %r" % fns)
            if p == "path_c":
                self.assertIn(fns[0], ("strdup", "__strdup"), "path_c's leaf: %r" % fns)
            else:
                self.assertEqual(fns[:3], ["site", "mid", p], "wrong chain %r" % fns)
            outer = fns[fns.index(p) + 1:]
            self.assertTrue(outer[:1] == ["main"] or outer[:1] == ["worker"],
                            "%s called from %r, not main or the thread" % (p, outer))
        for p, want in HEAP_PATHS.items():
            self.assertEqual(tuple(got.get(p, ())), want,
                             "%s: got %s want %s\n%s" % (p, got.get(p), want, prof.excerpt(60)))
        h = heap_status(self.daemon)
        self.assertGreaterEqual(h["dwarf_stacks"], sum(v[0] for v in HEAP_PATHS.values()), h)
        self.assertEqual(h["event_buffer_full"], 0, h)

        # The same allocations through the frame-pointer walk: the callers
        # are lost (the workload has no frame pointers; this is what the
        # DWARF stacks above are for).
        pid, fp = self.profile("heapnofp-fp", unwind="fp")
        fp_paths = sum(s.values[0] for s in fp.samples if heap_path(s))
        self.assertLess(fp_paths, 0.5 * sum(v[0] for v in HEAP_PATHS.values()),
                        "frame-pointer stacks found the paths: workload has frame pointers?\n%s" % fp.excerpt(40))


class HeapEventBufferFull(test_heap.HeapTest):
    # Small enough that the burst below overflows it: the fallback path
    # must show (the default 4 MiB keeps up with this burst).
    daemon_args = ("--heap-event-buffer-kb", "64")

    def test_exact_flood_counts_every_allocation(self):
        """200k allocations in a burst, every one tracked (a stack copy
        each, racing the daemon's unwinding through a 16 MB buffer). Totals
        stay exact; each allocation is either DWARF-unwound or counted as
        having fallen back to the frame-pointer stack (status and profile
        say so) — none is lost silently."""
        with CmdWorkload(seconds=120) as w:
            count, total = test_heap.big_truth(self, w)
            heap_start(self, self.daemon, w.pid, sample_bytes=1)
            h0 = heap_status(self.daemon)
            w.cmd("big", timeout=100)
            prof = heap_fetch(self, self.daemon, w.pid, "heap-flood")
            h1 = heap_status(self.daemon)
        self.check_heap_profile(prof, w.pid, 1)
        got = test_heap.by_leaf(prof)
        self.assertEqual(tuple(got.get("big_keep", ())), (count, total, count, total), prof.excerpt(40))
        self.assertEqual(tuple(got.get("big_churn", ())), (count, total, 0, 0), prof.excerpt(40))
        unwound = h1["dwarf_stacks"] - h0["dwarf_stacks"]
        fell_back = h1["event_buffer_full"] - h0["event_buffer_full"]
        sys.stderr.write("[%d DWARF-unwound, %d frame-pointer fallbacks] " % (unwound, fell_back))
        self.assertGreaterEqual(unwound + fell_back, 2 * count, "allocations neither unwound nor counted: %r" % h1)
        self.assertLessEqual(unwound + fell_back, 2 * count + 100, "more stacks than allocations: %r" % h1)
        # Fallback stacks are never shown as complete.
        marked = sum(s.values[0] for s in prof.samples
                     if test_heap.leaf_name(s) in ("big_keep", "big_churn") and s.functions()[-1:] == ["[truncated]"])
        self.assertLessEqual(abs(marked - fell_back), 100,
                             "%d allocations fell back to frame pointers, %d marked [truncated]" % (fell_back, marked))
        self.assertGreater(fell_back, 0, "a 64 KiB buffer never filled: the fallback path went untested")
        self.assertTrue(any("event buffer full" in c for c in prof.raw.comments),
                        "fallbacks not said in the profile: %r" % prof.raw.comments)


if __name__ == "__main__":
    unittest.main()
