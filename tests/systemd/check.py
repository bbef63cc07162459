#!/usr/bin/env python3
"""Profile checks for tests/systemd/run.sh: known truth, as in tests/e2e.

  check.py cpu    PROFILE --pid P --hz H --cpu-s S --exe PATH [--exe-hidden yes|no]
  check.py kernel PROFILE --pid P
  check.py heap   PROFILE --pid P --name NAME
  check.py listen PROFILE --pid P --hz H

Each profile is read with `go tool pprof -symbolize=none -raw` (parsed by
tests/e2e/pprofraw.py). Prints one line per check, "PASS name" or
"FAIL name: why", as run.sh does; the -raw text is kept beside the
profile (PROFILE.raw.txt). Always exits 0 when it could print its lines,
2 when it could not run at all.
"""

import argparse
import os
import re
import subprocess
import sys

sys.dont_write_bytecode = True  # keep the source tree clean
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "e2e"))
import pprofraw  # noqa: E402

# Kernel text on x86-64 and arm64 lies above this address.
KERNEL_MIN = 0xFFFF800000000000
# heapwl "basic" with sample_bytes=1: leaf function -> (alloc_objects,
# alloc_space, inuse_objects, inuse_space), exact. A subset of
# tests/e2e/test_heap.py's TRUTH_BASIC: plain malloc/calloc, kept and churned.
HEAP_TRUTH = {
    "keep_a": (100, 100000, 100, 100000),
    "keep_b": (50, 50 * 4096, 50, 50 * 4096),
    "churn": (1000, 64000, 0, 0),
    "do_calloc": (20, 20000, 20, 20000),
}
HEAP_TYPES = [("alloc_objects", "count"), ("alloc_space", "bytes"),
              ("inuse_objects", "count"), ("inuse_space", "bytes")]
NO_SAMPLES = "no samples (in a container: profd's pid-namespace bug?)"

out = []


def result(name, why=None):
    out.append("PASS %s" % name if why is None else "FAIL %s: %s" % (name, why))


def load(path):
    """The profile as pprofraw.Profile, or an error string."""
    env = dict(os.environ, PPROF_BINARY_PATH="/nonexistent")
    env.setdefault("PPROF_TMPDIR", os.path.dirname(os.path.abspath(path)))
    try:
        r = subprocess.run(["go", "tool", "pprof", "-symbolize=none", "-raw", path],
                           capture_output=True, text=True, env=env, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as e:
        return "go tool pprof -raw %s: %s" % (path, e)
    if r.returncode != 0:
        return "go tool pprof -raw %s failed: %s" % (path, r.stderr.strip()[-300:])
    with open(path + ".raw.txt", "w") as f:
        f.write(r.stdout)
    try:
        return pprofraw.parse_raw(r.stdout)
    except pprofraw.RawParseError as e:
        return "cannot parse -raw of %s: %s" % (path, e)


def count(prof, pred=lambda s: True):
    return sum(s.values[0] for s in prof.samples if pred(s))


def first_of(sample, names):
    for fn in sample.functions():
        if fn in names:
            return fn
    return None


def named(loc):
    """Has a function name (not none, not "??", not an address as a name)."""
    fn = loc.lines[0].function if loc.lines else ""
    return fn not in ("", "??") and not re.match(r"^0x[0-9a-f]+$", fn)


def wrong_pid(prof, pid):
    bad = [s for s in prof.samples if s.num_label("pid") != pid]
    return "%d samples without pid label %d" % (len(bad), pid) if bad else None


def check_cpu(prof, a):
    names = ("cpu_samples", "cpu_split", "cpu_stacks", "cpu_proc_root")
    if isinstance(prof, str):
        for n in names:
            result(n, prof)
        return
    total = count(prof)
    want = a.hz * a.cpu_s
    if total == 0:
        result("cpu_samples", "%s; pid %d used %.2f s of CPU in the window (~%.0f expected at %d Hz)"
               % (NO_SAMPLES, a.pid, a.cpu_s, want, a.hz))
        for n in names[1:]:
            result(n, "no samples")
        return
    # tests/e2e's rule: hz x the CPU time the target used, -20 %/+10 %.
    why = wrong_pid(prof, a.pid)
    if not why and not 0.8 * want <= total <= 1.1 * want:
        why = "%d samples, expected %.0f (%d Hz x %.2f s of CPU) -20 %%/+10 %%" % (total, want, a.hz, a.cpu_s)
    if not why and abs(prof.period - 10 ** 9 // a.hz) > 1:
        why = "period %s, expected 1e9/%d = %d ns" % (prof.period, a.hz, 10 ** 9 // a.hz)
    result("cpu_samples", why)

    na = count(prof, lambda s: first_of(s, ("hot_a", "hot_b")) == "hot_a")
    nb = count(prof, lambda s: first_of(s, ("hot_a", "hot_b")) == "hot_b")
    share = na / (na + nb) if na + nb else 0.0
    why = None
    if na + nb < 0.9 * total:
        why = "hot_a+hot_b in only %d of %d samples" % (na + nb, total)
    elif abs(share - 0.75) > 0.06:
        why = "hot_a share %.3f, expected 0.75 +- 0.06 (hot_a %d, hot_b %d)" % (share, na, nb)
    result("cpu_split", why)

    chain = ["hot_a", "work", "dispatch", "run", "main"]
    reach = count(prof, lambda s: "main" in s.functions())
    full = count(prof, lambda s: s.functions()[:5] == chain)
    why = None
    if reach < 0.95 * total:
        why = "only %d of %d stacks reach main" % (reach, total)
    elif full < 0.9 * na:
        why = "only %d of %d hot_a stacks are %s" % (full, na, " <- ".join(chain))
    else:
        leaves = {s.leaf().file for s in prof.samples
                  if s.leaf() and s.leaf().function in ("hot_a", "hot_b")}
        if not leaves or not all(f.endswith("/split.c") for f in leaves):
            why = "hot_a/hot_b not in split.c: %s" % sorted(leaves)
    result("cpu_stacks", why)

    # The executable lies where profd's own mount namespace cannot see it
    # (the target's /tmp, profd has PrivateTmp=): symbolized only if it
    # was opened through /proc/PID/root.
    maps = [m for m in prof.mappings.values() if m.file == a.exe]
    why = None
    if a.exe_hidden != "yes":
        why = "%s is visible in profd's mount namespace too: nothing shows /proc/PID/root was used" % a.exe
    elif not maps:
        why = "no mapping of %s (mappings: %s)" % (a.exe, sorted({m.file for m in prof.mappings.values()}))
    elif not any("[FN]" in m.bits for m in maps):
        why = "mapping of %s has no functions: %r" % (a.exe, maps)
    else:
        ids = {m.id for m in maps}
        unnamed = [loc for loc in prof.locations.values() if loc.mapping_id in ids and not named(loc)]
        if unnamed:
            why = "%d locations in %s without a function name, e.g. %r" % (len(unnamed), a.exe, unnamed[0])
    result("cpu_proc_root", why)


def check_kernel(prof, a):
    name = "cpu_kernel"
    if isinstance(prof, str):
        result(name, prof)
        return
    total = count(prof)
    if total == 0:
        result(name, NO_SAMPLES)
        return
    is_kernel = lambda loc: loc.address >= KERNEL_MIN  # noqa: E731
    kern = [s for s in prof.samples if s.locations() and is_kernel(s.locations()[0])]
    nk = sum(s.values[0] for s in kern)
    if nk < 0.7 * total:
        result(name, "only %d of %d samples have a kernel leaf" % (nk, total))
        return
    for s in kern:
        locs = s.locations()
        n = 0
        while n < len(locs) and is_kernel(locs[n]):
            n += 1
        unnamed = [loc for loc in locs[:n] if not named(loc)]
        if unnamed:
            result(name, "kernel frame without a name (%#x): /proc/kallsyms unreadable to profd?" % unnamed[0].address)
            return
        user = [ln.function for loc in locs[n:] for ln in loc.lines]
        if user[:2] != ["sys_work", "main"]:
            result(name, "kernel sample without its user stack sys_work <- main: %r" % s)
            return
    rz = sum(s.values[0] for s in kern if s.frames() and "read_zero" in s.frames()[0].function)
    if rz < 0.5 * nk:
        result(name, "read_zero leaf in only %d of %d kernel samples" % (rz, nk))
        return
    result(name, wrong_pid(prof, a.pid))


def check_heap(prof, a):
    if isinstance(prof, str):
        result(a.name, prof)
        return
    if prof.sample_types != HEAP_TYPES:
        result(a.name, "sample types %r" % prof.sample_types)
        return
    got = {}
    for s in prof.samples:
        fns = s.functions()
        acc = got.setdefault(fns[0] if fns else "?", [0, 0, 0, 0])
        for i in range(4):
            acc[i] += s.values[i]
    if not prof.samples:
        result(a.name, "no heap samples after heapwl's 'basic' (in a container: profd's pid-namespace bug?)")
        return
    bad = ["%s got %s want %s" % (fn, tuple(got.get(fn, (0, 0, 0, 0))), want)
           for fn, want in sorted(HEAP_TRUTH.items()) if tuple(got.get(fn, (0, 0, 0, 0))) != want]
    if bad:
        result(a.name, "(alloc_objects, alloc_space, inuse_objects, inuse_space): " + "; ".join(bad))
        return
    cut = [s for s in prof.samples if s.functions() and s.functions()[0] in HEAP_TRUTH
           and "main" not in s.functions()[1:]]
    if cut:
        result(a.name, "stack does not reach main: %r" % cut[0])
        return
    result(a.name, wrong_pid(prof, a.pid))


def check_listen(prof, a):
    """A CPU profile fetched over --listen by go tool pprof: what was asked
    for. Its samples are only counted (a note): they are cpu_samples' job."""
    name = "listen_loopback"
    if isinstance(prof, str):
        result(name, prof)
        return
    want = "CPU profile of pid %d " % a.pid
    why = None
    if prof.sample_types != [("samples", "count"), ("cpu", "nanoseconds")]:
        why = "sample types %r, not samples/count cpu/nanoseconds" % prof.sample_types
    elif prof.period is None or abs(prof.period - 10 ** 9 // a.hz) > 1:
        why = "period %s, expected 1e9/%d = %d ns" % (prof.period, a.hz, 10 ** 9 // a.hz)
    elif not any(want in c for c in prof.comments):
        why = "no comment naming pid %d: %r" % (a.pid, prof.comments)
    out.append("profile over --listen: %d samples of pid %d" % (count(prof), a.pid))
    result(name, why or wrong_pid(prof, a.pid))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("kind", choices=("cpu", "kernel", "heap", "listen"))
    ap.add_argument("profile")
    ap.add_argument("--pid", type=int, required=True)
    ap.add_argument("--hz", type=int, default=99)
    ap.add_argument("--cpu-s", type=float, default=0.0)
    ap.add_argument("--exe", default="")
    ap.add_argument("--exe-hidden", default="yes")
    ap.add_argument("--name", default="heap_truth")
    a = ap.parse_args()
    prof = load(a.profile) if os.path.exists(a.profile) else "no profile written (%s)" % a.profile
    {"cpu": check_cpu, "kernel": check_kernel, "heap": check_heap,
     "listen": check_listen}[a.kind](prof, a)
    for line in out:
        line = re.sub(r"\s+", " ", line)
        print(line if len(line) <= 400 else line[:397] + "...")
    return 0


if __name__ == "__main__":
    sys.exit(main())
