"""TERMINATED_HTTPS and TLS pools on a real amphora: the controller's own steps
(``controller.tls.resolve`` from a secret store, ``render``, ``PUT /1.0/tls`` and
``PUT /1.0/config`` over the agent's mutual TLS) and real TLS clients against
real HAProxy.

SNI picks the certificate, no SNI gets the default; back-ends see
``X-Forwarded-Proto: https``; h2 is negotiated by ALPN; MANDATORY client
authentication refuses no certificate, another CA's and a revoked one, and
passes a good one's DN to the back-end; a TLS pool shows Hydria's client
certificate to a member that demands it and verifies the member with the given
CA (a wrong CA takes the member DOWN through its health monitor); a new default
certificate under load loses no request; material is 0600 and pruned.
"""

from __future__ import annotations

import json
import os
import socket
import ssl
import stat
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from hydria.controller import tls
from hydria.core import graph as g
from hydria.core.secrets import CertificateContainer
from hydria.render.haproxy import render
from tests.support.backends import free_port
from tests.support.secret_store import MemorySecretStore
from tests.support.tls_backend import HeaderBackend
from tests.support.tls_certs import CA, Leaf

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]

PROJECT = "p1"
SERVER_CA = CA("Listener CA")
CLIENT_CA = CA("Client CA")
OTHER_CA = CA("Other CA")
MEMBER_CA = CA("Member CA")
DEFAULT = SERVER_CA.issue("default.example")
CERT_A = SERVER_CA.issue("a.example")
CERT_B = SERVER_CA.issue("b.example")
GOOD_CLIENT = CLIENT_CA.issue("alice", client=True)
REVOKED_CLIENT = CLIENT_CA.issue("mallory", client=True)
CLIENT_CA.revoke(REVOKED_CLIENT)
STRANGER = OTHER_CA.issue("eve", client=True)
HYDRIA_CLIENT = CLIENT_CA.issue("hydria", client=True)
MEMBER_CERT = MEMBER_CA.issue("member.example", ips=("127.0.0.1",))


def _container(store: MemorySecretStore, leaf: Leaf) -> str:
    return store.add_certificate(
        PROJECT, CertificateContainer(certificate=leaf.cert_pem, private_key=leaf.key_pem())
    )


class Site:
    """One load balancer graph on the amphora, redeployed at will."""

    def __init__(self, amphora: Any, store: MemorySecretStore, vip: str) -> None:
        self.amphora, self.store, self.vip = amphora, store, vip
        self.version = 0

    def deploy(self, lb: g.LoadBalancer) -> str:
        self.version += 1
        resolved, files = tls.resolve(lb, self.store)
        info = self.amphora.client.info(self.amphora.ip, self.amphora.port)
        options = g.RenderOptions(
            stats_socket=info["stats_socket"],
            tls_dir=info["tls_material_dir"],
            max_connections=2000,
        )
        text = render(
            resolved,
            g.Amphora(id=self.amphora.id, lb_network_ip=self.amphora.ip),
            options,
            version=self.version,
        )
        self.amphora.client.put_tls(self.amphora.ip, self.amphora.port, files)
        self.amphora.client.put_config(self.amphora.ip, self.amphora.port, text, self.version)
        return text


def _client_ctx(
    cert: Leaf | None = None, tmp: Path | None = None, alpn: list[str] | None = None
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert is not None and tmp is not None:
        crt, key = cert.write(tmp, cert.cert.serial_number.__str__())
        ctx.load_cert_chain(str(crt), str(key))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def _served_cn(vip: str, port: int, sni: str | None) -> str:
    with (
        socket.create_connection((vip, port), timeout=5) as raw,
        _client_ctx().wrap_socket(raw, server_hostname=sni) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _get(
    vip: str, port: int, ctx: ssl.SSLContext, path: str = "/", sni: str | None = "www.example"
) -> dict[str, Any]:
    """One HTTPS/1.1 request on a new connection; the back-end's JSON answer."""
    with (
        socket.create_connection((vip, port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=sni) as conn,
    ):
        conn.sendall(
            f"GET {path} HTTP/1.1\r\nHost: www.example\r\nConnection: close\r\n\r\n".encode()
        )
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1]) if head else 0
    assert status == 200, data[:300]
    out: dict[str, Any] = json.loads(body)
    return out


def _refused(vip: str, port: int, ctx: ssl.SSLContext) -> bool:
    """The handshake (or, under TLS 1.3, the first read after it) fails."""
    try:
        _get(vip, port, ctx)
    except (ssl.SSLError, ConnectionError, OSError, AssertionError, ValueError):
        return True
    return False


def _vip() -> str:
    return f"127.44.252.{os.getpid() % 200 + 10}"


@pytest.fixture
def store() -> MemorySecretStore:
    return MemorySecretStore()


@pytest.fixture
def backend() -> Iterator[HeaderBackend]:
    b = HeaderBackend("plain")
    yield b
    b.stop()


def _lb(vip: str, listeners: list[g.Listener], pools: list[g.Pool]) -> g.LoadBalancer:
    return g.LoadBalancer(
        id="lb-tls",
        vip_address=vip,
        project_id=PROJECT,
        listeners=tuple(listeners),
        pools=tuple(pools),
    )


def _pool(backend: HeaderBackend, **kw: Any) -> g.Pool:
    return g.Pool(
        id=kw.pop("id", "pool-1"),
        protocol="HTTP",
        lb_algorithm="ROUND_ROBIN",
        members=(g.Member("m1", backend.host, backend.port),),
        **kw,
    )


def _https(port: int, store: MemorySecretStore, **kw: Any) -> g.Listener:
    return g.Listener(
        id=kw.pop("id", "l-https"),
        protocol="TERMINATED_HTTPS",
        protocol_port=port,
        default_pool_id=kw.pop("pool", "pool-1"),
        default_tls_container_ref=kw.pop("default", None) or _container(store, DEFAULT),
        sni_container_refs=kw.pop("sni", ()),
        tls_versions=("TLSv1.2", "TLSv1.3"),
        alpn_protocols=("h2", "http/1.1", "http/1.0"),
        insert_headers=kw.pop("insert_headers", (("X-Forwarded-Proto", "True"),)),
        **kw,
    )


def test_sni_default_headers_alpn_and_hsts(amphora, store, backend, tmp_path):
    vip = _vip()
    port = free_port(vip)
    site = Site(amphora, store, vip)
    listener = _https(
        port,
        store,
        sni=(_container(store, CERT_A), _container(store, CERT_B)),
        hsts_max_age=600,
        hsts_include_subdomains=True,
    )
    text = site.deploy(_lb(vip, [listener], [_pool(backend)]))
    assert "ssl crt " in text and "alpn h2,http/1.1,http/1.0" in text

    assert _served_cn(vip, port, "a.example") == "a.example"
    assert _served_cn(vip, port, "b.example") == "b.example"
    assert _served_cn(vip, port, None) == "default.example"
    assert _served_cn(vip, port, "unknown.example") == "default.example"

    seen = _get(vip, port, _client_ctx())
    assert seen["headers"]["x-forwarded-proto"] == "https"

    with (
        socket.create_connection((vip, port), timeout=5) as raw,
        _client_ctx(alpn=["h2", "http/1.1"]).wrap_socket(raw, server_hostname="a.example") as conn,
    ):
        assert conn.selected_alpn_protocol() == "h2"
    with (
        socket.create_connection((vip, port), timeout=5) as raw,
        _client_ctx(alpn=["http/1.1"]).wrap_socket(raw, server_hostname="a.example") as conn,
    ):
        assert conn.selected_alpn_protocol() == "http/1.1"
        conn.sendall(b"GET / HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
        answer = b""
        while chunk := conn.recv(65536):
            answer += chunk
    assert b"strict-transport-security: max-age=600; includesubdomains;" in answer.lower()

    # the material: 0600 files in a 0700 folder, named by digest, nothing else there
    folder = Path(amphora.client.info(amphora.ip, amphora.port)["tls_material_dir"])
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    files = sorted(folder.iterdir())
    assert len(files) == 3
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)


def test_mandatory_client_authentication_with_crl(amphora, store, backend, tmp_path):
    vip = _vip()
    port = free_port(vip)
    site = Site(amphora, store, vip)
    listener = _https(
        port,
        store,
        client_authentication="MANDATORY",
        client_ca_tls_container_ref=store.add_secret(PROJECT, CLIENT_CA.cert_pem),
        client_crl_container_ref=store.add_secret(PROJECT, CLIENT_CA.crl_pem()),
        insert_headers=(
            ("X-Forwarded-Proto", "true"),
            ("X-SSL-Client-DN", "true"),
            ("X-SSL-Client-CN", "true"),
            ("X-SSL-Client-Verify", "true"),
            ("X-SSL-Client-Has-Cert", "true"),
            ("X-SSL-Issuer", "true"),
        ),
    )
    site.deploy(_lb(vip, [listener], [_pool(backend)]))

    assert _refused(vip, port, _client_ctx())  # no certificate
    assert _refused(vip, port, _client_ctx(STRANGER, tmp_path))  # another CA's
    assert _refused(vip, port, _client_ctx(REVOKED_CLIENT, tmp_path))  # revoked (CRL)
    seen = _get(vip, port, _client_ctx(GOOD_CLIENT, tmp_path))["headers"]
    assert "CN=alice" in seen["x-ssl-client-dn"] and "O=Hydria" in seen["x-ssl-client-dn"]
    assert seen["x-ssl-client-cn"].strip('"') == "alice"
    assert seen["x-ssl-client-verify"] == "0" and seen["x-ssl-client-has-cert"] == "1"
    assert "Client CA" in seen["x-ssl-issuer"]

    # OPTIONAL: no certificate passes (and says so), a good one still reaches the header
    site.deploy(_lb(vip, [replace(listener, client_authentication="OPTIONAL")], [_pool(backend)]))
    assert _get(vip, port, _client_ctx())["headers"]["x-ssl-client-has-cert"] == "0"
    assert (
        "CN=alice"
        in _get(vip, port, _client_ctx(GOOD_CLIENT, tmp_path))["headers"]["x-ssl-client-dn"]
    )


def _server_status(amphora: Any, pool_id: str) -> list[str]:
    rows = amphora.client.stats(amphora.ip, amphora.port)["rows"]
    return [
        r["status"]
        for r in rows
        if r.get("pxname") == pool_id and r.get("svname") not in ("FRONTEND", "BACKEND")
    ]


def test_tls_pool_shows_hydrias_certificate_and_verifies_the_member(amphora, store, tmp_path):
    crt, key = MEMBER_CERT.write(tmp_path, "member")
    client_ca = tmp_path / "client-ca.pem"
    client_ca.write_bytes(CLIENT_CA.cert_pem)
    member = HeaderBackend("tls-member", cert=crt, key=key, client_ca=client_ca)
    try:
        vip = _vip()
        port = free_port(vip)
        site = Site(amphora, store, vip)
        monitor = g.HealthMonitor(
            id="hm1", type="TLS-HELLO", delay=1, timeout=1, max_retries=1, max_retries_down=1
        )
        pool = _pool(
            member,
            tls_enabled=True,
            tls_container_ref=_container(store, HYDRIA_CLIENT),
            ca_tls_container_ref=store.add_secret(PROJECT, MEMBER_CA.cert_pem),
            tls_versions=("TLSv1.2", "TLSv1.3"),
            alpn_protocols=("http/1.1",),
            health_monitor=monitor,
        )
        plain = g.Listener(
            id="l-http", protocol="HTTP", protocol_port=port, default_pool_id="pool-1"
        )
        site.deploy(_lb(vip, [plain], [pool]))
        _wait(lambda: _server_status(amphora, "pool-1") == ["UP"])
        with socket.create_connection((vip, port), timeout=5) as conn:
            conn.sendall(b"GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n")
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
        assert b" 200 " in answer.split(b"\r\n", 1)[0]
        assert json.loads(answer.partition(b"\r\n\r\n")[2])["peer"]["commonName"] == "hydria"

        # the member checked against a CA that did not sign it: the monitor takes it down
        wrong = replace(pool, ca_tls_container_ref=store.add_secret(PROJECT, OTHER_CA.cert_pem))
        site.deploy(_lb(vip, [plain], [wrong]))
        _wait(lambda: _server_status(amphora, "pool-1") == ["DOWN"])
        # and an HTTPS monitor does the same over the pool's TLS
        https_hm = replace(
            monitor, type="HTTPS", http_method="GET", url_path="/", expected_codes="200"
        )
        site.deploy(_lb(vip, [plain], [replace(pool, health_monitor=https_hm)]))
        _wait(lambda: _server_status(amphora, "pool-1") == ["UP"])
        site.deploy(_lb(vip, [plain], [replace(wrong, health_monitor=https_hm)]))
        _wait(lambda: _server_status(amphora, "pool-1") == ["DOWN"])
    finally:
        member.stop()


def _wait(check: Any, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.2)


def test_new_default_certificate_under_load_loses_nothing(amphora, store, backend):
    vip = _vip()
    port = free_port(vip)
    site = Site(amphora, store, vip)
    listener = _https(port, store)
    site.deploy(_lb(vip, [listener], [_pool(backend)]))
    folder = Path(amphora.client.info(amphora.ip, amphora.port)["tls_material_dir"])
    first_files = set(folder.iterdir())

    stop = threading.Event()
    results = {"ok": 0, "failed": 0}
    errors: list[str] = []

    def loop() -> None:
        ctx = _client_ctx()
        while not stop.is_set():
            try:
                _get(vip, port, ctx)
                results["ok"] += 1
            except Exception as exc:  # noqa: BLE001 - every failure is counted
                results["failed"] += 1
                errors.append(repr(exc))

    threads = [threading.Thread(target=loop) for _ in range(4)]
    for t in threads:
        t.start()
    try:
        time.sleep(0.5)
        rotated = SERVER_CA.issue("default.example")
        for _ in range(3):
            rotated = SERVER_CA.issue("default.example")
            site.deploy(
                _lb(
                    vip,
                    [replace(listener, default_tls_container_ref=_container(store, rotated))],
                    [_pool(backend)],
                )
            )
            time.sleep(0.4)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert results["failed"] == 0, errors[:5]
    assert results["ok"] > 20
    with (
        socket.create_connection((vip, port), timeout=5) as raw,
        _client_ctx().wrap_socket(raw, server_hostname=None) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    assert x509.load_der_x509_certificate(der).serial_number == rotated.cert.serial_number
    # the replaced certificates' files are gone; only the running one is left
    now = set(folder.iterdir())
    assert len(now) == 1 and not (now & first_files)
