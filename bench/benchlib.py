"""Helpers the benchmarks share: HTTP over profd's Unix socket, CPU time."""
import http.client
import os
import socket


class UnixConn(http.client.HTTPConnection):
    def __init__(self, path, timeout=300):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(self.path)


def req(sock, method, url):
    """One request on a new connection: (status, body)."""
    c = UnixConn(sock)
    c.request(method, url)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def get(sock, url):
    return req(sock, "GET", url)


def cpu_of(pid):
    """utime + stime of @pid in seconds (10 ms ticks)."""
    with open("/proc/%d/stat" % pid) as f:
        fl = f.read().rsplit(")", 1)[1].split()
    return (int(fl[11]) + int(fl[12])) / os.sysconf("SC_CLK_TCK")
