"""A UDP echo back-end that names itself: ``<name>:<datagram>`` back to the sender."""

from __future__ import annotations

import socket
import threading


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


class UDPEchoBackend:
    def __init__(self, name: str, host: str = "127.0.0.1", port: int = 0) -> None:
        self.name = name
        self.sock = socket.socket(_family(host), socket.SOCK_DGRAM)
        self.sock.bind((host, port))
        self.host, self.port = self.sock.getsockname()[:2]
        self.received = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(0.1)
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(65535)
            except TimeoutError:
                continue
            except OSError:
                return
            self.received += 1
            try:
                self.sock.sendto(self.name.encode() + b":" + data, peer)
            except OSError:
                pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


def udp_ask(
    host: str, port: int, payload: bytes = b"hi", *, timeout: float = 2.0, source: str = "127.0.0.1"
) -> str | None:
    """One datagram from a fresh socket (a new session); the answer, or None."""
    with socket.socket(_family(host), socket.SOCK_DGRAM) as sock:
        sock.bind((source, 0))
        sock.settimeout(timeout)
        sock.sendto(payload, (host, port))
        try:
            return sock.recv(65535).decode()
        except (TimeoutError, ConnectionRefusedError):
            return None
