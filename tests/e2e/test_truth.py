#!/usr/bin/env python3
"""End-to-end tests that what a profile and profctl say is true, each
checked against an independent reader (run through run_all.py, which
configures test_cpu's globals; helpers come from test_cpu):

- inline chains of an -O2 -g C++ std::map workload (workloads/churn.cc)
  against binutils' `addr2line -i`, location by location, level by level;
  `go tool pprof -list` shows churn_map as one routine in churn.cc;
- names: one rule for inlined and out-of-line frames (the demangled linkage
  name, c++filt's reading of the mangled system_name); PLT stubs named as
  `objdump -d` names them; a stripped binary's mapping claims no names;
- profctl: --folded against `go tool pprof -traces`, the table's hottest
  line against `go tool pprof -lines -top`, -n/--cum/--focus/--sample-index
  against `go tool pprof -top`; help, errors and messages.
"""
import collections
import json
import os
import re
import subprocess
import sys
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_cpu  # noqa: E402
from test_cpu import ProfdTest, Workload, fetch, go_env, marker_line, workload_src  # noqa: E402

HZ = 499


def e2e(name):
    return os.path.join(test_cpu.E2E, name)


def run(cmd, **kw):
    kw.setdefault("capture_output", True)
    kw.setdefault("text", True)
    kw.setdefault("timeout", 120)
    return subprocess.run(cmd, **kw)


# --------------------------------------------------------------------------
# binutils
# --------------------------------------------------------------------------


def load_segments(binary):
    """PT_LOAD (offset, vaddr, filesz) of an ELF file, from readelf -lW."""
    segs = []
    for line in run(["readelf", "-lW", binary]).stdout.splitlines():
        f = line.split()
        if f and f[0] == "LOAD":
            segs.append((int(f[1], 16), int(f[2], 16), int(f[4], 16)))
    return segs


def link_address(loc, mapping, segs):
    """The link-time address of a location's runtime address (PIE: through
    the mapping's start and file offset, then the PT_LOAD headers)."""
    off = loc.address - mapping.start + mapping.offset
    for o, v, sz in segs:
        if o <= off < o + sz:
            return off - o + v
    return None


def addr2line(binary, addrs):
    """{address: [(function, file, line), ...] innermost first}, from
    `addr2line -a -i -f -C`; file "" and line 0 where it says ??."""
    r = run(["addr2line", "-a", "-i", "-f", "-C", "-e", binary],
            input="".join("%#x\n" % a for a in addrs))
    out, cur = {}, None
    lines = r.stdout.splitlines()
    i = 0
    while i < len(lines):
        if re.match(r"^0x[0-9a-f]+$", lines[i]):
            cur = int(lines[i], 16)
            out[cur] = []
            i += 1
            continue
        fn, pos = lines[i], lines[i + 1] if i + 1 < len(lines) else "??:0"
        i += 2
        pos = re.sub(r" \(discriminator \d+\)$", "", pos)
        f, _, ln = pos.rpartition(":")
        out[cur].append((fn, "" if f == "??" else os.path.normpath(f), int(ln) if ln.isdigit() else 0))
    return out


def llvm_symbolizer(binary, addrs):
    """The same as addr2line() from llvm-symbolizer (LLVM's DWARF reader),
    the second opinion where binutils errs; {} when it is not installed."""
    try:
        r = run(["llvm-symbolizer", "--obj=" + binary, "--inlining", "--demangle"],
                input="".join("%#x\n" % a for a in addrs))
    except OSError:
        return {}
    out, blocks = {}, r.stdout.split("\n\n")
    for a, block in zip(addrs, blocks):
        lines = block.strip("\n").splitlines()
        chain = []
        for fn, pos in zip(lines[0::2], lines[1::2]):
            parts = pos.rsplit(":", 2)
            f, ln = (parts[0], parts[1]) if len(parts) == 3 else (pos, "0")
            chain.append((fn, "" if f == "??" else os.path.normpath(f), int(ln) if ln.isdigit() else 0))
        out[a] = chain
    return out


def agreement(profile_chains, truth, second):
    """(agree, of which by the second opinion, [mismatches]): a location
    agrees when its chain is addr2line's, or, where binutils differs from
    llvm-symbolizer, llvm-symbolizer's (binutils 2.40 misreads DWARF 5's
    initial line-table file, sourceware PR 30783, and sometimes names an
    inlined level after its caller)."""
    agree, by_second, bad = 0, 0, []
    for addr, got in profile_chains:
        want = truth.get(addr)
        if got == want:
            agree += 1
        elif second.get(addr) == got:
            agree += 1
            by_second += 1
        else:
            bad.append("%#x: profd %s\n          addr2line %s\n          llvm-symbolizer %s"
                       % (addr, got, want, second.get(addr)))
    return agree, by_second, bad


def cxxfilt(names):
    r = run(["c++filt"], input="".join(n + "\n" for n in names))
    return r.stdout.splitlines()


class InlineChains(ProfdTest):
    """churn (C++ -O2 -g, std::map) against binutils."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.prof = None

    def churn_profile(self):
        if InlineChains.prof is None:
            with Workload("churn", seconds=40, wait_line="churn ready") as w:
                InlineChains.prof = fetch(self, self.daemon, w, 6, hz=HZ, name="truth_churn")
            self.check_cpu_profile(InlineChains.prof, hz=HZ)
        return InlineChains.prof

    def test_chains_match_addr2line(self):
        """Every location in churn: the same levels as addr2line -i, each
        with its file:line; >= 99% of the locations agree."""
        prof = self.churn_profile()
        binary = e2e("churn")
        segs = load_segments(binary)
        locs = []
        for loc in prof.raw.locations.values():
            m = prof.raw.mapping_of(loc)
            if m and m.file == binary:
                locs.append((loc, link_address(loc, m, segs)))
        self.assertGreaterEqual(len(locs), 30, "only %d locations in churn\n%s" % (len(locs), prof.excerpt()))
        addrs = [a for _, a in locs]
        strip = lambda chains: {a: [(f, ln) for _, f, ln in c] for a, c in chains.items()}
        truth, second = strip(addr2line(binary, addrs)), strip(llvm_symbolizer(binary, addrs))
        got = [(a, [(os.path.normpath(x.file) if x.file else "", x.line) for x in loc.lines]) for loc, a in locs]
        agree, by_second, bad = agreement(got, truth, second)
        deepest = max(len(loc.lines) for loc, _ in locs)
        sys.stderr.write("[churn: %d of %d locations agree with addr2line -i (%d where it differs from "
                         "llvm-symbolizer, by the latter); deepest chain %d levels] " % (agree, len(locs), by_second, deepest))
        self.assertGreaterEqual(agree, 0.99 * len(locs), "%d of %d locations agree with addr2line -i:\n%s\n%s"
                                % (agree, len(locs), "\n".join(bad[:10]), prof.excerpt()))
        self.assertGreaterEqual(deepest, 5, "no location has 5 or more inline levels\n%s" % prof.excerpt())

    def test_list_one_routine(self):
        """go tool pprof -list churn_map: one routine, in churn.cc, with the
        map insertion line hot."""
        prof = self.churn_profile()
        r = run(["go", "tool", "pprof", "-list", r"^churn_map\(", prof.path], env=go_env())
        self.assertEqual(r.returncode, 0, r.stderr)
        routines = re.findall(r"^ROUTINE =+ (.*) in (\S+)$", r.stdout, re.M)
        self.assertEqual(len(routines), 1, "routines: %r\n%s" % (routines, r.stdout[:3000]))
        self.assertEqual(routines[0][1], workload_src("churn.cc"), r.stdout[:3000])
        insert = marker_line(workload_src("churn.cc"), "LINE_CHURN_INSERT")
        m = re.search(r"^\s*(\S+)\s+(\S+)\s+%d:" % insert, r.stdout, re.M)
        self.assertTrue(m and m.group(2) != ".", "line %d has no cum in:\n%s" % (insert, r.stdout[:3000]))

    def test_names_one_rule(self):
        """Names, one rule for inlined and out-of-line frames: each level's
        name is the one addr2line -i -f -C gives it (GCC's clone suffix
        aside), and a C++ name is c++filt's reading of its mangled
        system_name."""
        prof = self.churn_profile()
        binary = e2e("churn")
        segs = load_segments(binary)
        locs = [(loc, link_address(loc, prof.raw.mapping_of(loc), segs)) for loc in prof.raw.locations.values()
                if prof.raw.mapping_of(loc) and prof.raw.mapping_of(loc).file == binary]
        addrs = [a for _, a in locs]
        unclone = lambda chains: {a: [re.sub(r" \[clone [^]]*\]", "", fn) for fn, _, _ in c] for a, c in chains.items()}
        truth, second = unclone(addr2line(binary, addrs)), unclone(llvm_symbolizer(binary, addrs))
        # The PLT has no symbol and no DWARF (test_plt_stub_named).
        got = [(a, [x.function for x in loc.lines]) for loc, a in locs if truth.get(a) not in ([], ["??"])]
        agree, by_second, bad = agreement(got, truth, second)
        compared = len(got)
        sys.stderr.write("[churn: %d of %d locations named as addr2line -f -C names them (%d by llvm-symbolizer)] "
                         % (agree, compared, by_second))
        self.assertGreaterEqual(compared, 30, "only %d named locations in churn\n%s" % (compared, prof.excerpt()))
        self.assertGreaterEqual(agree, 0.99 * compared, "%d of %d locations named as addr2line -f -C names them:\n%s"
                                % (agree, compared, "\n".join(bad[:5])))
        funcs = prof.proto["function"]
        mangled = [f for f in funcs if f["system_name"].startswith("_Z")]
        self.assertGreater(len(mangled), 10, "few C++ functions with mangled system names: %r" % funcs)
        want = cxxfilt([f["system_name"] for f in mangled])
        for f, w in zip(mangled, want):
            self.assertEqual(f["name"], re.sub(r" \[clone [^]]*\]", "", w), "function %r" % f)
        # GCC clones (_M_emplace_hint_unique's .isra.0) are named as the
        # function they are a copy of, as its inlined instances are.
        clones = [f for f in funcs if "clone" in f["name"] or ".isra" in f["name"]]
        self.assertFalse(clones, "clone suffixes in names: %r" % clones)

    def test_plt_stub_named(self):
        """plt: leaves in the executable's PLT named labs@plt, the label
        objdump -d gives the stub at that address."""
        binary = e2e("plt")
        with Workload("plt", seconds=30, wait_line="plt ready") as w:
            prof = fetch(self, self.daemon, w, 3, hz=HZ)
        self.check_cpu_profile(prof, hz=HZ)
        labels = {}
        for line in run(["objdump", "-d", "-j", ".plt", "-j", ".plt.sec", "-j", ".plt.got", binary]).stdout.splitlines():
            m = re.match(r"^([0-9a-f]+) <(.*@plt)>:$", line)
            if m:
                labels[int(m.group(1), 16)] = m.group(2)
        segs = load_segments(binary)
        stubs = sorted(labels)
        n_plt = 0
        for s in prof.samples:
            loc = s.locations()[0]
            m = prof.raw.mapping_of(loc)
            if not m or m.file != binary:
                continue
            a = link_address(loc, m, segs)
            start = max([x for x in stubs if x <= a], default=None)
            if start is None or a >= start + 16:
                continue
            n_plt += s.values[0]
            self.assertEqual([l.function for l in loc.lines], [labels[start]],
                             "leaf in the PLT stub at %#x: %r" % (start, loc))
        total = prof.count()
        self.assertGreater(n_plt, 0.03 * total, "only %d of %d samples in PLT stubs\n%s" % (n_plt, total, prof.excerpt()))
        self.assertIn("labs@plt", {s.leaf().function for s in prof.samples if s.leaf()})

    def test_stripped_mapping_claims_nothing(self):
        """split, stripped: no frame of it has a name, so its mapping claims
        no has_functions (pprof would then never symbolize it, even given
        the unstripped binary)."""
        binary = e2e("split.stripped")
        with Workload("split.stripped", wait_line="split ready") as w:
            prof = fetch(self, self.daemon, w, 2, hz=HZ)
        maps = [m for m in prof.proto["mapping"] if m["filename"] == binary]
        self.assertTrue(maps, "no mapping of %s: %r" % (binary, [m["filename"] for m in prof.proto["mapping"]]))
        ids = {m["id"] for m in maps}
        named = [loc for loc in prof.proto["location"] if loc["mapping_id"] in ids and loc["line"]]
        self.assertFalse(named, "stripped binary's locations with names: %r" % named[:3])
        for m in maps:
            self.assertFalse(m["has_functions"] or m["has_filenames"] or m["has_line_numbers"] or m["has_inline_frames"],
                             "stripped mapping claims %r" % m)


if __name__ == "__main__":
    unittest.main()
