"""Helpers the benchmarks share: HTTP over profd's Unix socket."""
import http.client
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
