#!/usr/bin/env python3
"""A receiver for Pyroscope's Push API, for the fleet tests.

No Pyroscope can be installed on these machines, so this stands in for one:
it decodes each POST /push.v1.PusherService/Push as a PushRequest with
Python classes generated at test time (protoc --python_out, Debian's
protobuf-compiler and python3-protobuf) from profd's proto/push.proto — the
subset of Pyroscope's published push.proto with the same field numbers —
validates it as Pyroscope's distributor would (Content-Type, labels
__name__ and service_name, label names valid, one raw gzip pprof and a UUID
ID per sample) and records what arrived. It stores nothing else and
queries nothing: it cannot tell whether a real Pyroscope would ingest the
profile beyond that, which `go tool pprof -raw` on every recorded
raw_profile checks instead.

plan(): the answers to give, in order, before answering 200 again:
an HTTP status (429, 500, ...), ("slow", seconds) (then 200), or "drop"
(close the connection without an answer).
"""

import http.server
import importlib
import os
import re
import socket
import subprocess
import sys
import threading
import time

PUSH_PATH = "/push.v1.PusherService/Push"
UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
LABEL_NAME_RE = re.compile(r"^[a-zA-Z_][a-zA-Z0-9_]*$")

_pb2 = None


def have_protobuf():
    """Imports google.protobuf, from Debian's python3-protobuf also when
    python3 is another build of the same Python (pyenv on PATH)."""
    try:
        import google.protobuf  # noqa: F401
        return True
    except ImportError:
        pass
    deb = "/usr/lib/python3/dist-packages"
    if os.path.isdir(os.path.join(deb, "google", "protobuf")) and deb not in sys.path:
        sys.path.append(deb)
        sys.modules.pop("google", None)
        try:
            import google.protobuf  # noqa: F401,F811
            return True
        except ImportError:
            pass
    return False


def push_pb2(proto_dir, gen_dir):
    """Generates (once) and imports push_pb2 from proto_dir/push.proto."""
    global _pb2
    if _pb2 is None:
        os.makedirs(gen_dir, exist_ok=True)
        subprocess.run(["protoc", "--proto_path=" + proto_dir, "--python_out=" + gen_dir,
                        os.path.join(proto_dir, "push.proto")], check=True, capture_output=True)
        sys.path.insert(0, gen_dir)
        _pb2 = importlib.import_module("push_pb2")
    return _pb2


class Received:
    """One pushed sample: labels (dict), id, raw (bytes), headers, t."""

    def __init__(self, labels, sid, raw, headers, t):
        self.labels = labels
        self.id = sid
        self.raw = raw
        self.headers = headers
        self.t = t

    def __repr__(self):
        return "<%s %s %d bytes>" % (self.labels.get("service_name"), self.id, len(self.raw))


class Receiver:
    def __init__(self, proto_dir, gen_dir, port=0):
        self.pb2 = push_pb2(proto_dir, gen_dir)
        self.lock = threading.Lock()
        self.received = []      # Received, in arrival order (accepted only)
        self.requests = []      # (t, status) of every request
        self.invalid = []       # why a request was invalid
        self._plan = []
        self.port = port
        self.server = None
        self.thread = None

    def plan(self, answers):
        with self.lock:
            self._plan = list(answers)

    def start(self):
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def answer(self, status, body=b"", ctype="application/proto"):
                self.send_response(status)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                now = time.monotonic()
                with recv.lock:
                    step = recv._plan.pop(0) if recv._plan else 200
                if step == "drop":
                    with recv.lock:
                        recv.requests.append((now, 0))
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                if isinstance(step, tuple) and step[0] == "slow":
                    time.sleep(step[1])
                    step = 200
                if step != 200:
                    with recv.lock:
                        recv.requests.append((now, step))
                    self.answer(step, b'{"code":"unavailable","message":"planned failure"}',
                                "application/json")
                    return
                why = recv.validate(self.path, self.headers, body)
                with recv.lock:
                    recv.requests.append((now, 400 if why else 200))
                if why:
                    with recv.lock:
                        recv.invalid.append(why)
                    self.answer(400, ('{"code":"invalid_argument","message":"%s"}' % why).encode(),
                                "application/json")
                    return
                self.answer(200, b"")

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.allow_reuse_address = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None

    @property
    def url(self):
        return "http://127.0.0.1:%d" % self.port

    def validate(self, path, headers, body):
        """None when the request is a valid PushRequest (recording its
        samples), else why not."""
        if path != PUSH_PATH:
            return "path %s" % path
        if headers.get("Content-Type") != "application/proto":
            return "content-type %s" % headers.get("Content-Type")
        req = self.pb2.PushRequest()
        try:
            req.ParseFromString(body)
        except Exception as e:  # noqa: BLE001 - any decode error is the finding
            return "not a PushRequest: %s" % e
        if not req.series:
            return "no series"
        got = []
        for s in req.series:
            labels = {}
            for lp in s.labels:
                if not LABEL_NAME_RE.match(lp.name):
                    return "bad label name %r" % lp.name
                if lp.name in labels:
                    return "label %s twice" % lp.name
                labels[lp.name] = lp.value
            if not labels.get("__name__") or not labels.get("service_name"):
                return "series without __name__ or service_name: %r" % labels
            if not s.samples:
                return "series without samples"
            for smp in s.samples:
                if not UUID_RE.match(smp.ID):
                    return "sample ID %r is not a UUID" % smp.ID
                if smp.raw_profile[:2] != b"\x1f\x8b":
                    return "raw_profile is not gzip"
                got.append(Received(labels, smp.ID, bytes(smp.raw_profile),
                                    {k.lower(): v for k, v in headers.items()}, time.monotonic()))
        with self.lock:
            self.received.extend(got)
        return None

    def snapshot(self):
        with self.lock:
            return list(self.received), list(self.requests), list(self.invalid)
