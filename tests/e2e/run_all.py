#!/usr/bin/env python3
"""Runs the whole e2e suite, CPU (test_cpu.py), heap (test_heap.py),
DWARF unwinding (test_unwind.py), attacks (test_attack.py), what profiles
and profctl say (test_truth.py), deep stacks (test_deep.py) and no silent
surprises (test_surprises.py) and the locks taken at once (test_locks.py), in
one unittest runner, so that it ends with one line
`e2e: N passed, M failed, K skipped` (run by tests/e2e/run.sh).

  python3 tests/e2e/run_all.py --output build [--src tests/e2e] [-k NAME]...
  E2E_ONLY=heap,split ...     only tests whose id contains one of these

The helpers (daemon, workloads, HTTP, profile parsing) live in test_cpu.py;
test_heap.py uses them through that module, whose globals (OUTPUT, E2E,
ART, PROFD, ...) are set here exactly as test_cpu.main() sets them.
"""

import argparse
import os
import signal
import sys
import time
import unittest

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cpu  # noqa: E402
import test_heap  # noqa: E402
import test_unwind  # noqa: E402
import test_attack  # noqa: E402
import test_truth  # noqa: E402
import test_deep  # noqa: E402
import test_surprises  # noqa: E402
import test_fleet  # noqa: E402
import test_symbols  # noqa: E402
import test_offcpu  # noqa: E402
import test_continuous  # noqa: E402
import test_listen  # noqa: E402
import test_locks  # noqa: E402


def test_classes(module):
    """The module's TestCase classes that have tests, in definition order."""
    out = []
    for v in vars(module).values():
        if (isinstance(v, type) and issubclass(v, unittest.TestCase) and v.__module__ == module.__name__
                and unittest.TestLoader().getTestCaseNames(v)):
            out.append(v)
    return out


def configure(output, src):
    """Sets test_cpu's globals (used by test_cpu's and test_heap's tests)."""
    c = test_cpu
    c.OUTPUT = os.path.abspath(output)
    c.E2E = os.path.join(c.OUTPUT, "e2e")
    c.SRC = os.path.abspath(src)
    c.ART = os.path.join(c.E2E, "artifacts")
    os.makedirs(c.ART, exist_ok=True)
    os.makedirs(os.path.join(c.E2E, "pprof-tmp"), exist_ok=True)
    c.PROFD = os.path.join(c.OUTPUT, "profd")
    c.PROFCTL = os.path.join(c.OUTPUT, "profctl")
    c.sanitizer_setup(c.ART)


def run(classes, only):
    def handler(signum, frame):
        test_cpu._kill_all()
        sys.exit(128 + signum)

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)

    suite = unittest.TestSuite()
    loader = unittest.TestLoader()
    # A class with START_EARLY (test_fleet.FleetOutage: a 2-minute
    # outage) begins in the background now, and its tests run last, so
    # that its wait passes while the other tests run.
    early = [c for c in classes if getattr(c, "START_EARLY", False)]
    for cls in [c for c in classes if c not in early] + early:
        for t in loader.loadTestsFromTestCase(cls):
            if not only or any(o in t.id() for o in only):
                suite.addTest(t)
    for cls in early:
        if any(type(t) is cls for t in suite):
            cls.start_early()
    t0 = time.monotonic()
    runner = unittest.TextTestRunner(stream=sys.stdout, verbosity=2, resultclass=test_cpu.Result)
    res = runner.run(suite)
    test_cpu._kill_all()
    passed, failed, skipped = tally(suite, res)
    print("artifacts (profiles, -raw dumps, profd logs): %s" % test_cpu.ART)
    print("time: %.0f s" % (time.monotonic() - t0))
    print("e2e: %d passed, %d failed, %d skipped" % (passed, failed, skipped))
    sys.exit(1 if failed or passed == 0 else 0)


def tally(suite, res):
    """(passed, failed, skipped) over the suite's tests. A test passed only
    if it ran and succeeded; one skipped (by itself or by its class's
    setUpClass) is counted as skipped, with its reason printed on one line;
    every other test, the tests of a class whose setUpClass failed among
    them, failed, and so does a failing tearDownClass."""
    per_class = {}
    for t in suite:
        name = "%s.%s" % (type(t).__module__, type(t).__name__)
        per_class[name] = per_class.get(name, 0) + 1
    skipped = 0
    for t, reason in res.skipped:
        desc = str(t)
        if desc.startswith("setUpClass ("):
            cls = desc[len("setUpClass ("):].rstrip(")")
            n = per_class.get(cls, 1)
        else:
            desc = t.id()
            n = 1
        skipped += n
        print("SKIP %s: %s" % (desc, reason))
    failed = suite.countTestCases() - res.passed - skipped
    failed += sum(1 for t, _ in res.errors if "tearDownClass" in str(t))
    return res.passed, failed, skipped


def main(modules=(test_cpu, test_heap, test_unwind, test_attack, test_truth, test_deep, test_surprises,
                  test_fleet, test_symbols, test_offcpu, test_continuous, test_listen, test_locks)):
    ap = argparse.ArgumentParser()
    ap.add_argument("--output", default="build")
    ap.add_argument("--src", default=os.path.dirname(os.path.abspath(__file__)))
    ap.add_argument("-k", action="append", default=[], help="run tests whose id contains this (repeatable)")
    args = ap.parse_args()
    configure(args.output, args.src)
    only = args.k + [s for s in os.environ.get("E2E_ONLY", "").split(",") if s]
    classes = []
    for m in modules:
        classes.extend(test_classes(m))
    run(classes, only)


if __name__ == "__main__":
    main()
