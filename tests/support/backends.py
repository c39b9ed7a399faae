"""Real back-end servers for tests: HTTP servers that say who they are, and a
TCP echo server, each on its own loopback address and port, in threads."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class _NamedHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        if self.path.startswith("/slow/"):  # /slow/<ms>: a request that stays in flight
            self.server.slow_started.set()  # type: ignore[attr-defined]
            time.sleep(int(self.path.rsplit("/", 1)[1]) / 1000)
        elif self.path == "/held":  # answered when the test says so (30 s at most)
            self.server.held_started.set()  # type: ignore[attr-defined]
            self.server.release_held.wait(30)  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


class HTTPBackend:
    """``GET /anything`` answers 200 with the backend's name; ``GET /slow/<ms>`` too,
    that much later (``slow_started`` is set when one arrives); ``GET /held`` when
    ``release_held`` is set (``held_started`` says one arrived)."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name = name
        self.server = ThreadingHTTPServer((host, port), _NamedHandler)
        self.server.daemon_threads = True
        self.server.name = name  # type: ignore[attr-defined]
        self.slow_started = self.server.slow_started = threading.Event()  # type: ignore[attr-defined]
        self.held_started = self.server.held_started = threading.Event()  # type: ignore[attr-defined]
        self.release_held = self.server.release_held = threading.Event()  # type: ignore[attr-defined]
        self.host, self.port = self.server.server_address[:2]
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self.release_held.set()
        self.server.shutdown()
        self.server.server_close()


class _EchoHandler(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        prefix = self.server.name.encode() + b":"  # type: ignore[attr-defined]
        while data := self.request.recv(65536):
            self.request.sendall(prefix + data)


class _EchoServer(socketserver.ThreadingTCPServer):
    allow_reuse_address = True
    daemon_threads = True


class TCPEchoBackend:
    """Echoes every chunk back prefixed with ``name:``."""

    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name = name
        self.server = _EchoServer((host, port), _EchoHandler)
        self.server.name = name  # type: ignore[attr-defined]
        self.host, self.port = self.server.server_address[:2]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def tcp_echo(host: str, port: int, payload: bytes, timeout: float = 5.0) -> bytes:
    with socket.create_connection((host, port), timeout=timeout) as s:
        s.sendall(payload)
        return s.recv(65536)
