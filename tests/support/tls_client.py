"""A TLS client for the tests that talk to a TERMINATED_HTTPS listener: which
certificate a handshake got, one request on a fresh connection, whether the
handshake was refused, and requests in a loop while something changes.

One description of each, shared by the amphora-level tests (tests/agent) and the
end-to-end ones (tests/e2e); server-side helpers live in ``tls_backend`` and the
certificates in ``tls_certs``.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from pathlib import Path
from types import TracebackType
from typing import Any

from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.support.tls_certs import Leaf


def client_ctx(
    cert: Leaf | None = None, folder: Path | None = None, alpn: list[str] | None = None
) -> ssl.SSLContext:
    """A client that trusts any server (the tests check the served certificate
    themselves) and shows ``cert`` (written into ``folder``) when asked for one."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert is not None:
        assert folder is not None, "a client certificate needs a folder to be written to"
        crt, key = cert.write(folder, str(cert.cert.serial_number))
        ctx.load_cert_chain(str(crt), str(key))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def served_cert(host: str, port: int, sni: str | None) -> x509.Certificate:
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        client_ctx().wrap_socket(raw, server_hostname=sni) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def served_cn(host: str, port: int, sni: str | None) -> str:
    """The common name of the certificate the server chose for ``sni``."""
    name = served_cert(host, port, sni).subject
    return str(name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def negotiated_alpn(host: str, port: int, offered: list[str]) -> str | None:
    with (
        socket.create_connection((host, port), timeout=5) as raw,
        client_ctx(alpn=offered).wrap_socket(raw, server_hostname="www.example") as conn,
    ):
        return conn.selected_alpn_protocol()


def request(
    host: str,
    port: int,
    ctx: ssl.SSLContext | None,
    path: str = "/",
    sni: str | None = "www.example",
) -> tuple[int, bytes]:
    """One HTTP/1.1 GET on a new connection (over TLS when ``ctx`` is given):
    the status and the body."""
    with socket.create_connection((host, port), timeout=5) as raw:
        conn = raw if ctx is None else ctx.wrap_socket(raw, server_hostname=sni)
        with conn:
            conn.sendall(
                f"GET {path} HTTP/1.1\r\nHost: www.example\r\nConnection: close\r\n\r\n".encode()
            )
            data = b""
            while chunk := conn.recv(65536):
                data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head.startswith(b"HTTP/") else 0
    return status, body if status else data[:300]


def get_json(
    host: str,
    port: int,
    ctx: ssl.SSLContext | None,
    path: str = "/",
    sni: str | None = "www.example",
) -> dict[str, Any]:
    """A ``HeaderBackend``'s answer (its name, the path and the headers it got)."""
    status, body = request(host, port, ctx, path, sni)
    assert status == 200, body[:300]
    out: dict[str, Any] = json.loads(body)
    return out


def refused(host: str, port: int, ctx: ssl.SSLContext) -> bool:
    """The handshake (or, under TLS 1.3, the first read after it) fails."""
    try:
        get_json(host, port, ctx)
    except (OSError, AssertionError, ValueError):  # ssl.SSLError is an OSError
        return True
    return False


class RequestLoop:
    """``threads`` clients sending HTTPS requests until the block ends; every
    failure is counted (for "no request lost while ... changes")."""

    def __init__(self, host: str, port: int, threads: int = 3) -> None:
        self.host, self.port = host, port
        self.ok = 0
        self.errors: list[str] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run) for _ in range(threads)]

    def _run(self) -> None:
        ctx = client_ctx()
        while not self._stop.is_set():
            try:
                get_json(self.host, self.port, ctx)
            except Exception as exc:  # noqa: BLE001 - every failure counts
                with self._lock:
                    self.errors.append(repr(exc))
            else:
                with self._lock:
                    self.ok += 1

    def __enter__(self) -> RequestLoop:
        for t in self._threads:
            t.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        for t in self._threads:
            t.join()
