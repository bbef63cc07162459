"""Readers for the profiles profd serves, standard library only.

- parse_raw(text): parses the output of `go tool pprof -raw FILE` (the text
  form of google/pprof's Profile.String()).
- decode_proto(data): a minimal protobuf decoder for profile.proto (gzip or
  not), used to check what -raw cannot show unambiguously (numeric vs string
  labels, build ids, has_* flags, default_sample_type).
"""

import gzip
import re

# --------------------------------------------------------------------------
# go tool pprof -raw
# --------------------------------------------------------------------------


class Line:
    __slots__ = ("function", "file", "line", "start_line")

    def __init__(self, function, file, line, start_line):
        self.function = function
        self.file = file
        self.line = line
        self.start_line = start_line

    def __repr__(self):
        return "%s %s:%d" % (self.function, self.file, self.line)


class Location:
    __slots__ = ("id", "address", "mapping_id", "folded", "lines")

    def __init__(self, id, address, mapping_id, folded):
        self.id = id
        self.address = address
        self.mapping_id = mapping_id
        self.folded = folded
        self.lines = []  # innermost first

    def __repr__(self):
        return "loc %d %#x M=%s %r" % (self.id, self.address, self.mapping_id, self.lines)


class Mapping:
    __slots__ = ("id", "start", "limit", "offset", "file", "build_id", "bits")

    def __repr__(self):
        return "map %d %#x/%#x/%#x %s %s %s" % (
            self.id, self.start, self.limit, self.offset, self.file, self.build_id, self.bits)


class Sample:
    __slots__ = ("values", "location_ids", "labels", "profile")

    def __init__(self, values, location_ids):
        self.values = values
        self.location_ids = location_ids
        # key -> list of values (strings as printed; numeric labels are
        # printed as "123" or "123 unit").
        self.labels = {}

    def locations(self):
        return [self.profile.locations[i] for i in self.location_ids]

    def frames(self):
        """Lines of the stack, leaf (innermost) first, inlined frames expanded."""
        out = []
        for loc in self.locations():
            out.extend(loc.lines)
        return out

    def functions(self):
        return [l.function for l in self.frames()]

    def leaf(self):
        fr = self.frames()
        return fr[0] if fr else None

    def label(self, key):
        v = self.labels.get(key)
        return v[0] if v else None

    def num_label(self, key):
        v = self.label(key)
        if v is None:
            return None
        try:
            return int(v.split(" ")[0])
        except ValueError:
            return None

    def __repr__(self):
        return "sample %r @ %s %r" % (self.values, " <- ".join(self.functions()), self.labels)


class Profile:
    def __init__(self):
        self.comments = []
        self.period_type = None  # (type, unit)
        self.period = None
        self.time = None
        self.duration = None
        self.sample_types = []  # [(type, unit)]
        self.default_sample_type = None
        self.samples = []
        self.locations = {}
        self.mappings = {}

    def total(self, index=0):
        return sum(s.values[index] for s in self.samples)

    def mapping_of(self, loc):
        return self.mappings.get(loc.mapping_id)


_SAMPLE_RE = re.compile(r"^\s*(-?\d+(?:\s+-?\d+)*):\s*((?:\d+\s*)*)$")
_LOC_RE = re.compile(r"^\s*(\d+): (0x[0-9a-f]+|0) (?:M=(\d+) )?(\[F\] )?(.*)$")
_LINE_RE = re.compile(r"^(.*) (\S*):(-?\d+) s=(-?\d+)(?:\(.*\))?$")
_MAP_RE = re.compile(r"^(\d+): (0x[0-9a-f]+|0)/(0x[0-9a-f]+|0)/(0x[0-9a-f]+|0) (.*)$")
# Keys may contain "::" (pprof's own, e.g. pprof::base in -diff_base output).
_LABEL_RE = re.compile(r"(?:^|\s)((?:[^\s:\[\]]|::)+):\[([^\]]*)\]")


class RawParseError(Exception):
    pass


def _parse_line_text(text, where):
    """'func file:line s=N' (or '??') -> Line."""
    text = text.strip()
    if text == "??":
        return Line("??", "", 0, 0)
    m = _LINE_RE.match(text)
    if not m:
        raise RawParseError("bad location line %r (%s)" % (text, where))
    return Line(m.group(1), m.group(2), int(m.group(3)), int(m.group(4)))


def parse_raw(text):
    p = Profile()
    section = "header"
    cur_sample = None
    cur_loc = None
    for n, raw in enumerate(text.splitlines(), 1):
        where = "line %d" % n
        if not raw.strip():
            continue
        if section == "header":
            if raw.startswith("Comment: "):
                p.comments.append(raw[len("Comment: "):])
            elif raw.startswith("PeriodType: "):
                parts = raw.split()
                p.period_type = (parts[1], parts[2] if len(parts) > 2 else "")
            elif raw.startswith("Period: "):
                p.period = int(raw.split()[1])
            elif raw.startswith("Time: "):
                p.time = raw[len("Time: "):]
            elif raw.startswith("Duration: "):
                p.duration = raw[len("Duration: "):]
            elif raw == "Samples:":
                section = "sampletypes"
            else:
                raise RawParseError("unexpected header %r (%s)" % (raw, where))
            continue
        if section == "sampletypes":
            for st in raw.split():
                dflt = st.endswith("[dflt]")
                if dflt:
                    st = st[: -len("[dflt]")]
                t, _, u = st.partition("/")
                p.sample_types.append((t, u))
                if dflt:
                    p.default_sample_type = t
            section = "samples"
            continue
        if raw == "Locations":
            section = "locations"
            continue
        if raw == "Mappings":
            section = "mappings"
            continue
        if section == "samples":
            m = _SAMPLE_RE.match(raw)
            if m:
                values = [int(v) for v in m.group(1).split()]
                ids = [int(v) for v in m.group(2).split()]
                if len(values) != len(p.sample_types):
                    raise RawParseError("%d values for %d sample types (%s)"
                                        % (len(values), len(p.sample_types), where))
                cur_sample = Sample(values, ids)
                cur_sample.profile = p
                p.samples.append(cur_sample)
                continue
            if raw.startswith(" ") and cur_sample is not None:
                found = _LABEL_RE.findall(raw)
                if not found:
                    raise RawParseError("bad label line %r (%s)" % (raw, where))
                for k, v in found:
                    # -raw prints "[v1 v2]": ambiguous when a string value
                    # has a space, so keep the bracket's content as one
                    # value (profd sets one value per key). A numeric label
                    # with a unit prints as "[123 unit]"; num_label() below
                    # reads the number.
                    cur_sample.labels.setdefault(k, []).append(v)
                continue
            raise RawParseError("bad sample line %r (%s)" % (raw, where))
        if section == "locations":
            m = _LOC_RE.match(raw)
            if m and not raw.startswith("             " + " "):
                # "%6d: %#x " -- a new location.
                lid = int(m.group(1))
                addr = int(m.group(2), 16) if m.group(2) != "0" else 0
                cur_loc = Location(lid, addr, int(m.group(3)) if m.group(3) else None, bool(m.group(4)))
                if lid in p.locations:
                    raise RawParseError("duplicate location id %d" % lid)
                p.locations[lid] = cur_loc
                rest = m.group(5)
                if rest.strip():
                    cur_loc.lines.append(_parse_line_text(rest, where))
                continue
            if raw.startswith("             ") and cur_loc is not None:
                cur_loc.lines.append(_parse_line_text(raw, where))
                continue
            raise RawParseError("bad location %r (%s)" % (raw, where))
        if section == "mappings":
            m = _MAP_RE.match(raw)
            if not m:
                raise RawParseError("bad mapping %r (%s)" % (raw, where))
            mp = Mapping()
            mp.id = int(m.group(1))
            mp.start = int(m.group(2), 16) if m.group(2) != "0" else 0
            mp.limit = int(m.group(3), 16) if m.group(3) != "0" else 0
            mp.offset = int(m.group(4), 16) if m.group(4) != "0" else 0
            rest = m.group(5)
            bm = re.search(r"((?:\[(?:FN|FL|LN|IN)\])*)\s*$", rest)
            mp.bits = bm.group(1)
            rest = rest[: bm.start()].rstrip() if bm.group(1) else rest.rstrip()
            # "file buildid" -- the file name may contain spaces, the build id
            # is hex (or empty).
            fm = re.match(r"^(.*?)(?: ([0-9a-fA-F]+))?$", rest)
            mp.file = fm.group(1).strip()
            mp.build_id = fm.group(2) or ""
            p.mappings[mp.id] = mp
            continue
    if section not in ("locations", "mappings"):
        raise RawParseError("truncated -raw output (ended in section %s)" % section)
    for s in p.samples:
        for lid in s.location_ids:
            if lid not in p.locations:
                raise RawParseError("sample refers to unknown location %d" % lid)
    for loc in p.locations.values():
        if loc.mapping_id is not None and loc.mapping_id not in p.mappings:
            raise RawParseError("location %d refers to unknown mapping %d" % (loc.id, loc.mapping_id))
    return p


# --------------------------------------------------------------------------
# protobuf
# --------------------------------------------------------------------------


def _varint(buf, i):
    shift = 0
    v = 0
    while True:
        if i >= len(buf):
            raise ValueError("truncated varint")
        b = buf[i]
        i += 1
        v |= (b & 0x7F) << shift
        if not b & 0x80:
            return v, i
        shift += 7
        if shift > 70:
            raise ValueError("varint too long")


def _fields(buf):
    """Yields (field number, wire type, value) of one message."""
    i = 0
    while i < len(buf):
        key, i = _varint(buf, i)
        fn, wt = key >> 3, key & 7
        if wt == 0:
            v, i = _varint(buf, i)
        elif wt == 1:
            v = int.from_bytes(buf[i:i + 8], "little")
            i += 8
        elif wt == 2:
            n, i = _varint(buf, i)
            v = buf[i:i + n]
            if len(v) != n:
                raise ValueError("truncated field %d" % fn)
            i += n
        elif wt == 5:
            v = int.from_bytes(buf[i:i + 4], "little")
            i += 4
        else:
            raise ValueError("unsupported wire type %d" % wt)
        yield fn, wt, v


def _signed(v):
    return v - (1 << 64) if v >= 1 << 63 else v


def _packed(wt, v):
    """Repeated scalar field: packed (wt 2) or one unpacked value."""
    if wt == 2:
        out = []
        i = 0
        while i < len(v):
            x, i = _varint(v, i)
            out.append(x)
        return out
    return [v]


def _msg(buf, spec):
    """Decodes a message into a dict: spec maps field number to
    (name, kind) with kind in 'int', 'sint'(int64), 'ints'(repeated),
    'sints', 'msg:<spec name>', 'msgs:<spec name>'."""
    out = {}
    for name, kind in spec.values():
        if kind.startswith(("ints", "sints", "msgs")):
            out[name] = []
        else:
            out[name] = {"bool": False, "int": 0, "sint": 0}.get(kind)
    for fn, wt, v in _fields(buf):
        if fn not in spec:
            continue
        name, kind = spec[fn]
        if kind == "int":
            out[name] = v
        elif kind == "sint":
            out[name] = _signed(v)
        elif kind == "ints":
            out[name].extend(_packed(wt, v))
        elif kind == "sints":
            out[name].extend(_signed(x) for x in _packed(wt, v))
        elif kind == "bool":
            out[name] = bool(v)
        elif kind.startswith("msgs:"):
            out[name].append(_msg(v, _SPECS[kind[5:]]))
        elif kind.startswith("msg:"):
            out[name] = _msg(v, _SPECS[kind[4:]])
    return out


_SPECS = {
    "ValueType": {1: ("type", "int"), 2: ("unit", "int")},
    "Label": {1: ("key", "int"), 2: ("str", "int"), 3: ("num", "sint"), 4: ("num_unit", "int")},
    "Sample": {1: ("location_id", "ints"), 2: ("value", "sints"), 3: ("label", "msgs:Label")},
    "Mapping": {1: ("id", "int"), 2: ("memory_start", "int"), 3: ("memory_limit", "int"),
                4: ("file_offset", "int"), 5: ("filename", "int"), 6: ("build_id", "int"),
                7: ("has_functions", "bool"), 8: ("has_filenames", "bool"),
                9: ("has_line_numbers", "bool"), 10: ("has_inline_frames", "bool")},
    "Line": {1: ("function_id", "int"), 2: ("line", "sint"), 3: ("column", "sint")},
    "Location": {1: ("id", "int"), 2: ("mapping_id", "int"), 3: ("address", "int"),
                 4: ("line", "msgs:Line"), 5: ("is_folded", "bool")},
    "Function": {1: ("id", "int"), 2: ("name", "int"), 3: ("system_name", "int"),
                 4: ("filename", "int"), 5: ("start_line", "sint")},
}

_PROFILE_SPEC = {
    1: ("sample_type", "msgs:ValueType"), 2: ("sample", "msgs:Sample"),
    3: ("mapping", "msgs:Mapping"), 4: ("location", "msgs:Location"),
    5: ("function", "msgs:Function"), 7: ("drop_frames", "int"), 8: ("keep_frames", "int"),
    9: ("time_nanos", "sint"), 10: ("duration_nanos", "sint"), 11: ("period_type", "msg:ValueType"),
    12: ("period", "sint"), 13: ("comment", "ints"), 14: ("default_sample_type", "int"),
}


def decode_proto(data):
    """Decodes a (gzipped) profile.proto into nested dicts with string
    indexes resolved where they name strings ('type', 'unit', 'key', 'str',
    'num_unit', 'filename', 'build_id', 'name', 'system_name')."""
    if data[:2] == b"\x1f\x8b":
        data = gzip.decompress(data)
    strings = []
    for fn, wt, v in _fields(data):
        if fn == 6:
            strings.append(v.decode("utf-8"))
    p = _msg(data, _PROFILE_SPEC)
    if not strings or strings[0] != "":
        raise ValueError("string_table[0] must be the empty string")

    def s(i):
        if i >= len(strings):
            raise ValueError("string index %d out of range (%d strings)" % (i, len(strings)))
        return strings[i]

    for vt in p["sample_type"] + ([p["period_type"]] if p["period_type"] else []):
        vt["type"], vt["unit"] = s(vt["type"]), s(vt["unit"])
    for smp in p["sample"]:
        for lb in smp["label"]:
            lb["key"] = s(lb["key"])
            lb["str"] = s(lb["str"]) if lb["str"] else None
            lb["num_unit"] = s(lb["num_unit"]) if lb["num_unit"] else None
    for m in p["mapping"]:
        m["filename"], m["build_id"] = s(m["filename"]), s(m["build_id"])
    for f in p["function"]:
        f["name"], f["system_name"], f["filename"] = s(f["name"]), s(f["system_name"]), s(f["filename"])
    p["default_sample_type"] = s(p["default_sample_type"]) if p["default_sample_type"] else None
    p["comment"] = [s(c) for c in p["comment"]]
    p["string_table"] = strings
    return p
