"""The amphora's metrics proxy: PROMETHEUS listeners' scrapes under Octavia's names.

HAProxy keeps the listener's port, ``allowed_cidrs`` and the ``/metrics`` path;
it hands the request to this small HTTP server on a unix socket beside its stats
socket (``hydria.core.prometheus.sockets``). Each request reads HAProxy's own
exporter (a hidden frontend on the other socket), rewrites it with
``hydria.core.prometheus.octavia_metrics`` and answers (a tenant scrapes it: the
agent's own counters are served to operators on its mutual-TLS API instead); if HAProxy's
exporter cannot be read, 502. Threads, one per request; it stops with the agent.
"""

from __future__ import annotations

import http.client
import logging
import os
import socket
import socketserver
import threading
from http.server import BaseHTTPRequestHandler
from typing import Any

from hydria.agent.wakeups import QuietServer
from hydria.core.prometheus import host_usage, octavia_metrics

log = logging.getLogger("hydria.agent.prometheus")


class _UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float) -> None:
        super().__init__("localhost", timeout=timeout)
        self.unix_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        sock.connect(self.unix_path)
        self.sock = sock


def read_exporter(path: str, *, timeout: float = 10.0) -> str:
    """HAProxy's exposition text from its exporter on the unix socket ``path``."""
    conn = _UnixHTTPConnection(path, timeout)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        body = response.read()
        if response.status != 200:
            raise OSError(f"HAProxy's exporter answered {response.status}")
        return body.decode("utf-8", errors="replace")
    finally:
        conn.close()


class _Handler(BaseHTTPRequestHandler):
    server: MetricsProxy
    protocol_version = "HTTP/1.1"

    def address_string(self) -> str:  # a unix socket's peer has no address
        return "haproxy"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base's name)
        log.debug("event=metrics_request " + format, *args)

    def do_GET(self) -> None:  # noqa: N802 (the base class's name)
        try:
            cpu, memory = host_usage()
            text = octavia_metrics(
                read_exporter(self.server.exporter_socket), cpu=cpu, memory=memory
            )
            body = text.encode()
            status, kind = 200, "text/plain; version=0.0.4; charset=utf-8"
        except (OSError, http.client.HTTPException) as exc:
            log.warning("event=metrics_exporter_unreadable reason=%s", exc)
            body, status, kind = b"HAProxy's exporter cannot be read\n", 502, "text/plain"
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)


class MetricsProxy(QuietServer, socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(
        self,
        proxy_socket: str,
        exporter_socket: str,
    ) -> None:
        if os.path.exists(proxy_socket):
            os.unlink(proxy_socket)  # a dead agent's socket
        super().__init__(proxy_socket, _Handler)
        self.exporter_socket = exporter_socket
        self.proxy_socket = proxy_socket
        self._thread: threading.Thread | None = None

    def start(self) -> MetricsProxy:
        self._thread = threading.Thread(
            target=self.serve_forever,
            daemon=True,
            name="metrics-proxy",
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._thread is not None:
            self.shutdown()
            self._thread.join(timeout=5)
        self.server_close()
        try:
            os.unlink(self.proxy_socket)
        except OSError:
            pass
