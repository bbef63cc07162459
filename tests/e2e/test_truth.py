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
import pty
import re
import shutil
import subprocess
import sys
import tempfile
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



# --------------------------------------------------------------------------
# profctl
# --------------------------------------------------------------------------


def profctl(daemon, *args, **kw):
    cmd = [test_cpu.PROFCTL] + (["--socket", daemon.sock] if daemon else []) + [str(a) for a in args]
    return run(cmd, **kw)


def pprof(*args):
    r = run(["go", "tool", "pprof"] + list(args), env=go_env())
    if r.returncode != 0:
        raise AssertionError("go tool pprof %s: %s" % (" ".join(args), r.stderr[-2000:]))
    return r.stdout


def pprof_traces(path, sample_index):
    """{root-first stack: summed value} from go tool pprof -traces, values
    of a count type (plain integers); unsymbolized frames as pprof's -top
    names them, "[libfoo.so]"."""
    out = collections.Counter()
    text = pprof("-traces", "-sample_index=" + sample_index, path)
    for block in text.split("-----------+-------------------------------------------------------")[1:]:
        value, frames = None, []
        for line in block.splitlines():
            m = re.match(r"^\s*(-?\d+)   (.*)$", line)
            if m and value is None:
                value, name = int(m.group(1)), m.group(2)
            elif line.startswith(" " * 13) and value is not None:
                name = line[13:]
            else:
                continue
            name = re.sub(r" \(inline\)$", "", name)
            name = re.sub(r"^[0-9a-f]{16} (\[.*\])$", r"\1", name)
            frames.append(name)
        if value:
            out[";".join(reversed(frames))] += value
    return out


def folded_lines(text):
    out = collections.Counter()
    for line in text.splitlines():
        stack, _, n = line.rpartition(" ")
        out[stack] += int(n)
    return out


def pprof_rows(text, lines=False):
    """Rows of go tool pprof -top (or -lines -top) with count values:
    [(name, flat, cum)], or [(name, file, line, flat, cum)]."""
    rows = []
    for line in text.splitlines():
        m = re.match(r"^\s*(\d+)\s+\S+%\s+\S+%\s+(\d+)\s+\S+%\s+(.*)$", line)
        if not m:
            continue
        flat, cum, name = int(m.group(1)), int(m.group(2)), re.sub(r" \(inline\)$", "", m.group(3))
        if lines:
            lm = re.match(r"^(.*) (\S+):(\d+)$", name)
            if lm:
                rows.append((lm.group(1), lm.group(2), int(lm.group(3)), flat, cum))
        else:
            rows.append((name, flat, cum))
    return rows


class Client(ProfdTest):
    """profctl's report options against go tool pprof on the same files."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.churn_path = None

    def churn(self):
        """A CPU profile of churn taken with profctl cpu --folded: (path,
        profctl's folded output)."""
        if Client.churn_path is None:
            path = os.path.join(test_cpu.ART, "truth_client_churn.pb.gz")
            with Workload("churn", seconds=40, wait_line="churn ready") as w:
                r = profctl(self.daemon, "cpu", "--pid", w.pid, "--seconds", 4, "--hz", HZ, "-o", path,
                            "--folded")
            self.assertEqual(r.returncode, 0, "profctl cpu --folded: %s %s" % (r.stdout[-2000:], r.stderr))
            self.assertIn("wrote %s" % path, r.stderr, "the note goes to stderr with --folded")
            Client.churn_path, Client.churn_folded = path, r.stdout
        return Client.churn_path, Client.churn_folded

    def test_folded_matches_traces(self):
        """cpu --folded: the same stacks and counts as go tool pprof -traces
        of the file it wrote (inlined frames expanded, root first)."""
        path, folded = self.churn()
        got, want = folded_lines(folded), pprof_traces(path, "samples")
        self.assertTrue(want, "no traces")
        self.assertEqual(sum(got.values()), sum(want.values()), "total samples")
        self.assertEqual(got, want, "folded stacks differ from pprof -traces:\nonly profctl: %r\nonly pprof: %r"
                         % (list((got - want).items())[:3], list((want - got).items())[:3]))
        self.assertTrue(any(s.count(";") >= 8 for s in got), "no deep (inlined) stack in %r" % list(got)[:5])
        # And the same through top FILE, with a focus.
        r = profctl(None, "top", path, "--folded", "--focus", "scan_map")
        self.assertEqual(r.returncode, 0, r.stderr)
        focused = folded_lines(r.stdout)
        self.assertTrue(focused and all("scan_map()" in s for s in focused), "focus: %r" % list(focused)[:3])
        self.assertEqual(focused, collections.Counter({k: v for k, v in want.items() if "scan_map()" in k}))

    def test_heap_folded_matches_traces(self):
        """heap --folded --sample-index alloc_objects against pprof -traces."""
        import test_heap
        path = os.path.join(test_cpu.ART, "truth_client_heap.pb.gz")
        w = test_heap.CmdWorkload("heapwl")
        try:
            test_heap.heap_start(self, self.daemon, w.pid, sample_bytes=1)
            w.cmd("basic")
            r = profctl(self.daemon, "heap", "--pid", w.pid, "--seconds", 0, "-o", path, "--folded",
                        "--sample-index", "alloc_objects")
        finally:
            w.stop()
        self.assertEqual(r.returncode, 0, "profctl heap --folded: %s %s" % (r.stdout[-2000:], r.stderr))
        got, want = folded_lines(r.stdout), pprof_traces(path, "alloc_objects")
        self.assertTrue(want, "no heap traces")
        self.assertEqual(got, want)

    def test_hottest_line_matches_pprof_lines(self):
        """The table's line is each function's hottest line in go tool
        pprof -lines -top (the most flat, or cum where it has none), or
        the two it names are within 10% of each other."""
        path, _ = self.churn()
        r = profctl(None, "--json", "top", path, "-n", 100000, "--sample-index", "samples")
        self.assertEqual(r.returncode, 0, r.stderr)
        rows = json.loads(r.stdout)["rows"]
        per = collections.defaultdict(lambda: collections.defaultdict(lambda: [0, 0]))
        for name, f, ln, flat, cum in pprof_rows(pprof("-lines", "-top", "-nodefraction=0", "-nodecount=1000000",
                                                        "-sample_index=samples", path), lines=True):
            # pprof cleans file names ("./malloc/malloc.c").
            per[name][(os.path.normpath(f), ln)][0] += flat
            per[name][(os.path.normpath(f), ln)][1] += cum
        checked, close = 0, 0
        for row in rows:
            lines = per.get(row["function"])
            if not lines or not row["line"]:
                self.assertFalse(lines and any(v[0] or v[1] for v in lines.values()) and not row["line"],
                                 "%s has lines in pprof -lines but none in the table" % row["function"])
                continue
            key = 0 if sum(v[0] for v in lines.values()) else 1
            ranked = sorted(lines.items(), key=lambda kv: -kv[1][key])
            best = ranked[0][1][key]
            ours = (os.path.normpath(row["file"]), row["line"])
            self.assertIn(ours, lines, "%s: %s:%d not among pprof's lines %r" % (row["function"], ours[0], ours[1], lines))
            self.assertEqual(lines[ours][key], best, "%s: table line %s:%d has %d, pprof's hottest %r has %d"
                             % (row["function"], ours[0], ours[1], lines[ours][key], ranked[0][0], best))
            runner = ranked[1][1][key] if len(ranked) > 1 else 0
            if runner >= 0.9 * best and runner > 0:
                close += 1
                self.assertTrue(row.get("close_line"), "%s: lines %r within 10%% but no close_line" % (row["function"], ranked[:2]))
                self.assertIn(row["close_line"], [k[1] for k, v in ranked if v[key] >= 0.9 * best])
            else:
                self.assertFalse(row.get("close_line"), "%s: close_line %r but pprof's lines %r" % (row["function"], row.get("close_line"), ranked[:2]))
            checked += 1
        self.assertGreater(checked, 10, "only %d rows checked" % checked)
        # The text table shows the same line.
        r = profctl(None, "top", path, "-n", 5, "--sample-index", "samples")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^Type: samples \(count\); top 5 functions by flat; ", r.stdout)
        for row in rows[:5]:
            if row["line"] and not row.get("close_line"):
                self.assertIn("%s:%d" % (row["file"], row["line"]), r.stdout)

    def test_top_options_match_pprof_top(self):
        """top -n N --cum --focus REGEX --sample-index NAME: the rows (names,
        flat, cum, order) of go tool pprof -top -cum -nodecount=N -focus=REGEX."""
        path, _ = self.churn()
        for opts, popts in (([], []), (["--cum"], ["-cum"]),
                            (["--focus", "churn_map|scan_map"], ["-focus=churn_map|scan_map"]),
                            (["--cum", "--focus", "libc"], ["-cum", "-focus=libc"])):
            r = profctl(None, "--json", "top", path, "-n", 7, "--sample-index", "samples", *opts)
            self.assertEqual(r.returncode, 0, r.stderr)
            got = [(x["function"], x["flat"], x["cum"]) for x in json.loads(r.stdout)["rows"]]
            want = pprof_rows(pprof("-top", "-nodefraction=0", "-nodecount=7", "-sample_index=samples", *(popts + [path])))
            self.assertEqual(got, want, "profctl top %s vs pprof -top %s" % (" ".join(opts), " ".join(popts)))
        # --sample-index by name, and the table says which.
        r = profctl(None, "top", path, "--sample-index", "cpu", "-n", 3)
        self.assertRegex(r.stdout, r"(?m)^Type: cpu \(nanoseconds\); top 3 functions by flat; ", r.stdout)
        r = profctl(None, "top", path, "--cum", "-n", 2)
        self.assertRegex(r.stdout, r"(?m)^Type: cpu \(nanoseconds\); top 2 functions by cum; ", r.stdout)
        # C++ names shortened for the table, at most 60 columns.
        self.assertIn("std::_Rb_tree::", r.stdout + profctl(None, "top", path, "-n", 30).stdout)
        for line in profctl(None, "top", path, "-n", 30).stdout.splitlines():
            self.assertLess(len(line), 60 + 50 + 200, line)



class Messages(ProfdTest):
    """Help texts, errors and messages, as a new user meets them."""

    def test_subcommand_help(self):
        """profctl CMD --help prints CMD's help, not the global one."""
        for cmd, must in ((["cpu"], "--hz"), (["heap"], "--sample-bytes"), (["heap", "start"], "--inproc"),
                          (["heap", "stop"], "--pid"), (["status"], "--json"), (["top"], "--folded")):
            r = profctl(None, *(cmd + ["--help"]))
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertTrue(r.stdout.startswith("Usage: profctl %s " % " ".join(cmd)), "%s --help:\n%s" % (cmd, r.stdout))
            self.assertIn(must, r.stdout)
            self.assertNotIn("Commands:", r.stdout, "%s --help printed the global help" % cmd)
        r = profctl(None, "--help")
        self.assertIn("Commands:", r.stdout)
        # A usage error points to the command's help.
        r = profctl(None, "cpu", "--pid", "1", "--bogus")
        self.assertEqual(r.returncode, 2)
        self.assertIn("Try 'profctl cpu --help'.", r.stderr)

    def test_profd_mistyped_option(self):
        """profd --bogus: one line naming it, pointing to --help, exit 2."""
        for args, name in ((["--bogus"], "--bogus"), (["--max-hz"], "--max-hz"), (["-x"], "-x")):
            r = run([test_cpu.PROFD] + args)
            self.assertEqual(r.returncode, 2, r.stderr)
            lines = r.stderr.strip().splitlines()
            self.assertEqual(len(lines), 1, "profd %s:\n%s" % (args, r.stderr))
            self.assertIn("'%s'" % name, lines[0])
            self.assertIn("--help", lines[0])
            self.assertEqual(r.stdout, "")

    def test_profd_not_root(self):
        """profd as nobody: the privilege message first, no libbpf hint."""
        d = tempfile.mkdtemp(prefix="truth-nobody-", dir="/tmp")
        try:
            os.chmod(d, 0o777)
            r = test_cpu.as_nobody([test_cpu.PROFD, "--socket", os.path.join(d, "s.sock")])
        finally:
            shutil.rmtree(d, ignore_errors=True)
        err = r.stderr.decode(errors="replace")
        self.assertEqual(r.returncode, 1, err)
        lines = err.strip().splitlines()
        self.assertTrue(lines and "needs root" in lines[0] and "CAP_BPF" in lines[0], "first line: %r" % err)
        self.assertNotIn("RLIMIT_MEMLOCK", err)
        self.assertNotIn("libbpf", err)

    def test_kernel_thread_names_kernel_option(self):
        """profctl cpu --pid <kthreadd>: the refusal names --kernel."""
        r = profctl(self.daemon, "cpu", "--pid", 2, "--seconds", 1)
        self.assertEqual(r.returncode, 1, r.stdout)
        self.assertIn("kernel thread", r.stderr)
        self.assertIn("--kernel", r.stderr)

    def test_json_errors(self):
        """--json: errors are one JSON object on stdout, stderr empty."""
        r = profctl(self.daemon, "--json", "cpu", "--pid", 99999999, "--seconds", 1)
        self.assertEqual(r.returncode, 1)
        d = json.loads(r.stdout)
        self.assertEqual(d.get("http_status"), 404, d)
        self.assertIn("99999999", d["error"])
        self.assertEqual(r.stderr, "")
        r = profctl(self.daemon, "cpu", "--pid", "abc", "--json")
        self.assertEqual(r.returncode, 2)
        d = json.loads(r.stdout)
        self.assertIn("--pid", d["error"])
        self.assertIn("profctl cpu --help", d.get("hint", ""))
        self.assertEqual(r.stderr, "")
        r = profctl(None, "--socket", "/nonexistent/profd.sock", "--json", "status")
        self.assertEqual(r.returncode, 1)
        self.assertIn("cannot connect", json.loads(r.stdout)["error"])

    def test_status_readable(self):
        """profctl status: a summary in lines, on a terminal or into a pipe;
        --json, the document."""
        master, slave = pty.openpty()
        try:
            r = subprocess.run([test_cpu.PROFCTL, "--socket", self.daemon.sock, "status"], stdout=slave,
                               stderr=subprocess.PIPE, timeout=30)
            os.close(slave)
            slave = None
            chunks = []
            while True:
                try:
                    b = os.read(master, 65536)
                except OSError:     # EIO: the other side is closed
                    break
                if not b:
                    break
                chunks.append(b)
        finally:
            if slave is not None:
                os.close(slave)
            os.close(master)
        out = b"".join(chunks).decode(errors="replace").replace("\r\n", "\n")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(out, r"^profd \S+, up ", out)
        for key in ("CPU:", "Unwind:", "Symbols:", "Heap:", "HTTP:"):
            self.assertRegex(out, r"(?m)^%s " % key, out)
        with self.assertRaises(ValueError):
            json.loads(out)
        for args in (["--json", "status"], ["status", "--json"]):
            r = profctl(self.daemon, *args)
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertIn("version", json.loads(r.stdout), args)
        # Into a pipe too, without --json: the same summary, not the document.
        r = profctl(self.daemon, "status")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"^profd \S+, up ", r.stdout)

    def test_empty_heap_hint(self):
        """An empty heap table says why: the sampling interval."""
        import test_heap
        w = test_heap.CmdWorkload("heapwl")
        try:
            r = profctl(self.daemon, "heap", "--pid", w.pid, "--seconds", 1,
                        "-o", os.path.join(test_cpu.ART, "truth_empty_heap.pb.gz"))
            rj = profctl(self.daemon, "--json", "heap", "--pid", w.pid, "--seconds", 0,
                         "-o", os.path.join(test_cpu.ART, "truth_empty_heap2.pb.gz"))
            # One-off pulls: nothing left tracked.
            self.assertEqual(test_heap.heap_status(self.daemon)["tracked"], 0)
        finally:
            w.stop()
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^Type: inuse_space \(bytes\); top 0 functions by flat; ", r.stdout)
        self.assertRegex(r.stdout, r"(?m)^hint: no allocation was sampled: profd samples one allocation per 128\.00KiB", r.stdout)
        self.assertIn("--sample-bytes", r.stdout)
        self.assertEqual(rj.returncode, 0, rj.stderr)
        self.assertIn("--sample-bytes", json.loads(rj.stdout).get("hint", ""), rj.stdout)

    def test_index_lists_unwind_and_mode(self):
        """GET /debug/pprof/: every parameter, unwind and mode included."""
        r = self.daemon.get("/debug/pprof/")
        self.assertEqual(r.status, 200)
        text = r.text()
        for want in ("unwind=fp", "mode=inproc", "kernel=1", "sample_bytes=", "/v1/heap/stop"):
            self.assertIn(want, text)

    def test_cpu_table_names_type(self):
        """profctl cpu's table says what it counts."""
        with Workload("split", seconds=30, wait_line="split ready") as w:
            r = profctl(self.daemon, "cpu", "--pid", w.pid, "--seconds", 1, "-o",
                        os.path.join(test_cpu.ART, "truth_type.pb.gz"))
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertRegex(r.stdout, r"(?m)^Type: cpu \(nanoseconds\); top \d+ functions by flat; \d+ samples", r.stdout)


if __name__ == "__main__":
    unittest.main()
