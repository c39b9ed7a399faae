"""The agent's HTTPS API (``hydria.wire.agent_api``), with mutual TLS.

The standard library's threading HTTP server is enough for a handful of
requests a minute from controllers, and it keeps an amphora's start-up at a
tenth of a second. The TLS handshake runs in the request's own thread, so a
client that never finishes one cannot stall the others; it gets
``HANDSHAKE_SECONDS`` to finish, and at most ``MAX_CONNECTIONS`` connections
are served at once, so a flood of idle peers on the management network costs
bounded threads, not the agent. Only clients whose certificate the controller
CA signed get past the handshake.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import ssl
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from hydria.agent import tls_files
from hydria.agent.config_store import ConfigStore, StaleVersion
from hydria.agent.haproxy import ConfigInvalid, HAProxyError
from hydria.agent.keepalived import Keepalived, KeepalivedError
from hydria.agent.refusals import Refusals
from hydria.agent.udp import StaleUdpVersion, UdpStore
from hydria.agent.wakeups import QuietServer
from hydria.core.udp import UdpConfig
from hydria.wire.agent_api import API_VERSION, MAX_CONFIG_BYTES, MAX_DRAIN_SECONDS, PREFIX

log = logging.getLogger("hydria.agent")

HANDSHAKE_SECONDS = 5
REQUEST_SECONDS = 30
# controllers make a few calls at a time; this is room for many of them
MAX_CONNECTIONS = 64


def server_tls_context(cert: Path, key: Path, ca: Path) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.load_cert_chain(str(cert), str(key))
    ctx.load_verify_locations(cafile=str(ca))
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def _check_signed_by(cert_pem: str, ca_path: Path) -> None:
    """Refuse a certificate our CA did not sign (a stray push must not lock us out)."""
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature

    cert = x509.load_pem_x509_certificate(cert_pem.encode())
    ca = x509.load_pem_x509_certificate(ca_path.read_bytes())
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise ValueError(f"not signed by this amphora's CA ({type(exc).__name__})") from exc


class AgentState:
    """What the handlers need: the amphora's id, its configuration, HAProxy, and
    where its TLS material lives (for rotation)."""

    def __init__(
        self,
        amphora_id: str,
        store: ConfigStore,
        *,
        tls_paths: tuple[Path, Path, Path] | None = None,
        on_rotated: Callable[[str, str], None] | None = None,
        vrrp: Keepalived | None = None,
        heartbeat_seq: Callable[[], int] | None = None,
        udp: UdpStore | None = None,
        log_socket: str | None = None,
    ) -> None:
        self.amphora_id = amphora_id
        # the last heartbeat sequence number sent: the health manager asks for it
        # before it believes a heartbeat far ahead of the last one it saw
        self.heartbeat_seq = heartbeat_seq
        self.udp = udp
        self.log_socket = log_socket
        self.store = store
        self.vrrp = vrrp
        self.tls_paths = tls_paths
        self.on_rotated = on_rotated
        self.haproxy_version = store.haproxy.version()
        # peers turned away at the TLS handshake (no certificate, or one this
        # amphora's CA did not sign): counted by reason, shown in /1.0/info and
        # in the metrics proxy's Prometheus text
        self.refusals = Refusals()

    @property
    def tls_refused(self) -> int:
        return self.refusals.total()

    def info(self) -> dict[str, Any]:
        return {
            "amphora_id": self.amphora_id,
            "api_version": API_VERSION,
            "haproxy_version": self.haproxy_version,
            "config_version": self.store.version(),
            "haproxy_running": self.store.haproxy.running(),
            # configurations applied as member changes through HAProxy's runtime API
            "runtime_changes": self.store.runtime_changes,
            "stats_socket": str(self.store.layout.stats_socket),
            "vrrp_check_script": str(self.vrrp.check_script) if self.vrrp else None,
            "vrrp_running": self.vrrp.running() if self.vrrp else False,
            "heartbeat_seq": None if self.heartbeat_seq is None else self.heartbeat_seq(),
            "tls_refused": self.tls_refused,
            "tls_refused_by_reason": self.refusals.by_reason(),
            "ping_check": str(self.store.layout.ping_check),
            "tls_material_dir": str(self.store.layout.certs_dir),
            **(self.udp.info() if self.udp is not None else {}),
            "log_socket": self.log_socket,
            "binds_any_address": binds_any_address(),
        }


def binds_any_address(proc_sys: Path = Path("/proc/sys/net")) -> bool:
    """HAProxy may bind an address this amphora does not hold yet (``ip_nonlocal_bind``
    for both families): the controller then plugs the VIP while HAProxy starts,
    instead of before (``netns`` amphorae set it at boot; the host's is left alone)."""
    try:
        return all(
            (proc_sys / family / "ip_nonlocal_bind").read_text().strip() == "1"
            for family in ("ipv4", "ipv6")
        )
    except OSError:
        return False


class AgentServer(QuietServer, ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], tls: ssl.SSLContext, state: AgentState) -> None:
        self.address_family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.tls = tls
        self.state = state
        self._slots = threading.BoundedSemaphore(MAX_CONNECTIONS)
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            log.warning("event=connection_refused peer=%s reason=busy", client_address)
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:  # the thread did not start: its slot is ours to give back
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    def finish_request(self, request: Any, client_address: Any) -> None:
        request.settimeout(HANDSHAKE_SECONDS)
        # headers and body go out in separate writes: without this, Nagle and the
        # peer's delayed ACK add 40 ms to every answer
        request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            conn = self.tls.wrap_socket(request, server_side=True)
        except (ssl.SSLError, OSError) as exc:
            kind = self.state.refusals.count(exc)
            log.warning("event=tls_refused peer=%s kind=%s reason=%s", client_address, kind, exc)
            return
        conn.settimeout(REQUEST_SECONDS)
        try:
            _Handler(conn, client_address, self)  # the one handler this server is built with
        finally:
            try:
                conn.close()
            except OSError:
                pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: AgentServer
    server_version = "hydria-agent"

    def log_message(self, fmt: str, *args: Any) -> None:
        log.debug("event=request %s", fmt % args)

    def _send(self, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _route(self) -> tuple[str, dict[str, list[str]]]:
        parts = urlsplit(self.path)
        path = parts.path
        if not path.startswith(PREFIX + "/"):
            return "", {}
        return path[len(PREFIX) :], parse_qs(parts.query)

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > MAX_CONFIG_BYTES:
            self._send(413, {"error": "body too large or without a valid Content-Length"})
            self.close_connection = True
            return None
        return self.rfile.read(length)

    def do_GET(self) -> None:
        path, _ = self._route()
        state = self.server.state
        if path == "/info":
            self._send(200, state.info())
        elif path == "/metrics":
            # operators only (this API is mutual TLS): a tenant's PROMETHEUS
            # listener never shows who knocks on the management port
            data = state.refusals.exposition().encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)
        elif path == "/stats":
            rows = state.store.haproxy.show_stat()
            self._send(200, {"haproxy_running": state.store.haproxy.running(), "rows": rows})
        else:
            self._send(404, {"error": f"no such path {self.path}"})

    def do_PUT(self) -> None:
        path, query = self._route()
        if path == "/certificate":
            self._put_certificate()
            return
        if path == "/udp":
            self._put_udp(query)
            return
        if path == "/vrrp":
            self._put_vrrp()
            return
        if path == "/tls":
            self._put_tls()
            return
        if path != "/config":
            self._send(404, {"error": f"no such path {self.path}"})
            return
        body = self._body()
        if body is None:
            return
        try:
            version = int(query.get("version", [""])[0])
        except ValueError:
            self._send(400, {"error": "version must be an integer"})
            return
        store = self.server.state.store
        self._apply("config", lambda: store.apply(body, version), version, store.version)

    def _apply(
        self, kind: str, apply: Callable[[], int], version: int, current: Callable[[], int | None]
    ) -> None:
        """Run one versioned apply (``config`` or ``udp``) and answer it (module docstring
        of ``hydria.wire.agent_api``): 409 stale, 400 refused, 503 failed to load."""
        field = "config_version" if kind == "config" else f"{kind}_config_version"
        try:
            running = apply()
        except (StaleVersion, StaleUdpVersion) as exc:
            self._send(HTTPStatus.CONFLICT, {"error": str(exc), "config_version": current()})
            return
        except ConfigInvalid as exc:
            log.warning("event=%s_refused version=%s reason=%s", kind, version, exc)
            self._send(400, {"error": str(exc), "details": exc.details})
            return
        except HAProxyError as exc:
            log.error(
                "event=%s_apply_failed version=%s reason=%s details=%s",
                kind,
                version,
                exc,
                exc.details,
            )
            self._send(503, {"error": str(exc), "details": exc.details})
            return
        log.info("event=%s_applied version=%s", kind, running)
        self._send(200, {field: running})

    def _put_udp(self, query: dict[str, list[str]]) -> None:
        body = self._body()
        if body is None:
            return
        udp = self.server.state.udp
        try:
            version = int(query.get("version", [""])[0])
            doc = UdpConfig.from_dict(json.loads(body))
        except (ValueError, TypeError, KeyError) as exc:
            self._send(400, {"error": f"version and a UDP configuration are needed: {exc}"})
            return
        if udp is None or not udp.can_run(doc):
            self._send(
                400,
                {
                    "error": f"this amphora cannot run the UDP engine {doc.engine}",
                    "details": f"engines here: {', '.join(udp.engines()) if udp else 'none'}",
                },
            )
            return
        self._apply("udp", lambda: udp.apply(doc, version), version, udp.version)

    def _put_tls(self) -> None:
        body = self._body()
        if body is None:
            return
        try:
            doc = json.loads(body)
            files = doc["files"]
            if not isinstance(files, dict):
                raise TypeError("files must be an object")
            with self.server.state.store.lock:  # never beside a configuration swap
                written = tls_files.write(self.server.state.store.layout.certs_dir, files)
        except (ValueError, KeyError, TypeError) as exc:
            # the message names a file at most, never its content
            self._send(400, {"error": f"TLS material refused: {exc}"[:300]})
            return
        log.info("event=tls_material_written files=%d new=%d", len(files), written)
        self._send(200, {"written": written})

    def _put_vrrp(self) -> None:
        body = self._body()
        if body is None:
            return
        vrrp = self.server.state.vrrp
        if vrrp is None:
            self._send(400, {"error": "this amphora runs no keepalived"})
            return
        try:
            with self.server.state.store.lock:  # never beside a HAProxy change or restart
                changed = vrrp.apply(body.decode("utf-8"))
        except (UnicodeDecodeError, KeepalivedError) as exc:
            details = exc.details if isinstance(exc, KeepalivedError) else ""
            log.warning("event=vrrp_refused reason=%s", exc)
            self._send(400, {"error": str(exc), "details": details})
            return
        log.info("event=vrrp_applied changed=%s", changed)
        self._send(200, {"vrrp_running": vrrp.running(), "changed": changed})

    def _put_certificate(self) -> None:
        body = self._body()
        if body is None:
            return
        paths = self.server.state.tls_paths
        try:
            doc = json.loads(body)
            cert_pem, key_pem = str(doc["cert_pem"]), str(doc["key_pem"])
        except (ValueError, KeyError, TypeError):
            self._send(400, {"error": "body must be JSON with cert_pem and key_pem"})
            return
        if paths is None:
            self._send(400, {"error": "this agent has no certificate files to rotate"})
            return
        cert_path, key_path, ca_path = paths
        staged = (
            cert_path.with_name(cert_path.name + ".new"),
            key_path.with_name(key_path.name + ".new"),
        )
        for path, text in zip(staged, (cert_pem, key_pem), strict=True):
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as fh:
                fh.write(text)
        try:
            ctx = server_tls_context(staged[0], staged[1], ca_path)
            _check_signed_by(cert_pem, ca_path)
        except (ssl.SSLError, ValueError, OSError) as exc:
            for path in staged:
                path.unlink(missing_ok=True)
            self._send(400, {"error": f"certificate refused: {exc}"})
            return
        staged[0].replace(cert_path)
        staged[1].replace(key_path)
        self.server.tls = ctx  # new handshakes use it; open connections finish as they are
        if self.server.state.on_rotated is not None:
            self.server.state.on_rotated(cert_pem, key_pem)
        log.info("event=certificate_rotated")
        self._send(200, {"rotated": True})

    def do_DELETE(self) -> None:
        path, query = self._route()
        if path != "/config":
            self._send(404, {"error": f"no such path {self.path}"})
            return
        try:
            drain = float(query.get("drain", ["0"])[0])
        except ValueError:
            drain = -1.0
        if not 0 <= drain <= MAX_DRAIN_SECONDS:  # also refuses nan and inf
            self._send(400, {"error": f"drain must be 0 to {MAX_DRAIN_SECONDS:g} seconds"})
            return
        self.server.state.store.remove(drain=drain)
        if self.server.state.udp is not None:
            self.server.state.udp.remove()
        self._send(200, {"config_version": None})
