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
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from hydria.controller import tls
from hydria.core import graph as g
from hydria.core.secrets import CertificateContainer
from hydria.render.haproxy import render
from tests.support.backends import free_port
from tests.support.secret_store import MemorySecretStore
from tests.support.tls_backend import HeaderBackend
from tests.support.tls_certs import CA, Leaf
from tests.support.tls_client import (
    RequestLoop,
    client_ctx,
    get_json,
    negotiated_alpn,
    refused,
    request,
    served_cert,
    served_cn,
)
from tests.support.wait import wait_for

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

    assert served_cn(vip, port, "a.example") == "a.example"
    assert served_cn(vip, port, "b.example") == "b.example"
    assert served_cn(vip, port, None) == "default.example"
    assert served_cn(vip, port, "unknown.example") == "default.example"

    seen = get_json(vip, port, client_ctx())
    assert seen["headers"]["x-forwarded-proto"] == "https"

    assert negotiated_alpn(vip, port, ["h2", "http/1.1"]) == "h2"
    with (
        socket.create_connection((vip, port), timeout=5) as raw,
        client_ctx(alpn=["http/1.1"]).wrap_socket(raw, server_hostname="a.example") as conn,
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

    assert refused(vip, port, client_ctx())  # no certificate
    assert refused(vip, port, client_ctx(STRANGER, tmp_path))  # another CA's
    assert refused(vip, port, client_ctx(REVOKED_CLIENT, tmp_path))  # revoked (CRL)
    seen = get_json(vip, port, client_ctx(GOOD_CLIENT, tmp_path))["headers"]
    assert "CN=alice" in seen["x-ssl-client-dn"] and "O=Hydria" in seen["x-ssl-client-dn"]
    assert seen["x-ssl-client-cn"].strip('"') == "alice"
    assert seen["x-ssl-client-verify"] == "0" and seen["x-ssl-client-has-cert"] == "1"
    assert "Client CA" in seen["x-ssl-issuer"]

    # OPTIONAL: no certificate passes (and says so), a good one still reaches the header
    site.deploy(_lb(vip, [replace(listener, client_authentication="OPTIONAL")], [_pool(backend)]))
    assert get_json(vip, port, client_ctx())["headers"]["x-ssl-client-has-cert"] == "0"
    assert (
        "CN=alice"
        in get_json(vip, port, client_ctx(GOOD_CLIENT, tmp_path))["headers"]["x-ssl-client-dn"]
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
        wait_for(lambda: _server_status(amphora, "pool-1") == ["UP"], what="member UP")
        assert get_json(vip, port, None, "/x")["peer"]["commonName"] == "hydria"

        # the member checked against a CA that did not sign it: the monitor takes it down
        wrong = replace(pool, ca_tls_container_ref=store.add_secret(PROJECT, OTHER_CA.cert_pem))
        site.deploy(_lb(vip, [plain], [wrong]))
        wait_for(lambda: _server_status(amphora, "pool-1") == ["DOWN"], what="member DOWN")
        # and an HTTPS monitor does the same over the pool's TLS
        https_hm = replace(
            monitor, type="HTTPS", http_method="GET", url_path="/", expected_codes="200"
        )
        site.deploy(_lb(vip, [plain], [replace(pool, health_monitor=https_hm)]))
        wait_for(lambda: _server_status(amphora, "pool-1") == ["UP"], what="member UP")
        site.deploy(_lb(vip, [plain], [replace(wrong, health_monitor=https_hm)]))
        wait_for(lambda: _server_status(amphora, "pool-1") == ["DOWN"], what="member DOWN")
    finally:
        member.stop()


def test_new_default_certificate_under_load_loses_nothing(amphora, store, backend):
    vip = _vip()
    port = free_port(vip)
    site = Site(amphora, store, vip)
    listener = _https(port, store)
    site.deploy(_lb(vip, [listener], [_pool(backend)]))
    folder = Path(amphora.client.info(amphora.ip, amphora.port)["tls_material_dir"])
    first_files = set(folder.iterdir())

    with RequestLoop(vip, port, threads=4) as load:
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
    assert load.errors == []
    assert load.ok > 20
    assert served_cert(vip, port, None).serial_number == rotated.cert.serial_number
    # the replaced certificates' files are gone; only the running one is left
    now = set(folder.iterdir())
    assert len(now) == 1 and not (now & first_files)


def _policy(pid: str, position: int, action: str, *rules: g.L7Rule, pool: str | None = None):
    return g.L7Policy(
        id=pid, action=action, position=position, redirect_pool_id=pool, rules=tuple(rules)
    )


def test_ssl_rules_route_and_reject_with_optional_client_certificates(amphora, store, tmp_path):
    """SSL_CONN_HAS_CERT, SSL_VERIFY_RESULT and SSL_DN_FIELD on real handshakes, as
    Octavia's templates mean them: ``ssl_c_used``, ``ssl_c_verify eq N`` and
    ``ssl_c_s_dn(<field>)`` with the compare type's matcher; OPTIONAL still verifies
    a certificate that is shown (a stranger's or a revoked one never gets a request
    in), so a request with a certificate always has verify result 0."""
    backends = {name: HeaderBackend(name) for name in ("anon", "verified", "admins")}
    try:
        vip = _vip()
        port = free_port(vip)
        site = Site(amphora, store, vip)
        pools = [_pool(b, id=f"pool-{name}") for name, b in backends.items()]
        rule = g.L7Rule
        policies = (
            # a verify result other than 0 is refused (inverted: never true after a
            # handshake HAProxy accepted; would refuse everything were invert lost)
            _policy(
                "p-unverified",
                1,
                "REJECT",
                rule("r-v", "SSL_VERIFY_RESULT", "EQUAL_TO", "0", invert=True),
            ),
            _policy(
                "p-admins",
                2,
                "REDIRECT_TO_POOL",
                rule("r-dn", "SSL_DN_FIELD", "STARTS_WITH", "admin", key="CN"),
                rule("r-o", "SSL_DN_FIELD", "EQUAL_TO", "Hydria", key="O"),
                pool="pool-admins",
            ),
            _policy(
                "p-verified",
                3,
                "REDIRECT_TO_POOL",
                rule("r-cert", "SSL_CONN_HAS_CERT", "EQUAL_TO", "True"),
                rule("r-ok", "SSL_VERIFY_RESULT", "EQUAL_TO", "0"),
                pool="pool-verified",
            ),
            _policy(
                "p-private",
                4,
                "REJECT",
                rule("r-nocert", "SSL_CONN_HAS_CERT", "EQUAL_TO", "True", invert=True),
                rule("r-path", "PATH", "STARTS_WITH", "/private"),
            ),
        )
        listener = _https(
            port,
            store,
            pool="pool-anon",
            client_authentication="OPTIONAL",
            client_ca_tls_container_ref=store.add_secret(PROJECT, CLIENT_CA.cert_pem),
            client_crl_container_ref=store.add_secret(PROJECT, CLIENT_CA.crl_pem()),
            l7policies=policies,
        )
        text = site.deploy(_lb(vip, [listener], pools))
        assert "acl r-cert ssl_c_used" in text and "acl r-ok ssl_c_verify eq 0" in text
        assert "acl r-dn ssl_c_s_dn(CN) -m beg admin" in text

        def served(ctx: ssl.SSLContext, path: str = "/") -> str | int:
            status, body = request(vip, port, ctx, path)
            return str(json.loads(body)["name"]) if status == 200 else status

        anonymous = client_ctx()
        assert served(anonymous) == "anon"
        assert served(anonymous, "/private/x") == 403
        alice = client_ctx(GOOD_CLIENT, tmp_path)
        assert served(alice) == "verified" and served(alice, "/private/x") == "verified"
        admin = client_ctx(CLIENT_CA.issue("admin-7", client=True), tmp_path)
        assert served(admin) == "admins"
        outsider = client_ctx(OTHER_CA.issue("admin-8", client=True), tmp_path)
        assert refused(vip, port, outsider)  # another CA's: no request at all
        assert refused(vip, port, client_ctx(REVOKED_CLIENT, tmp_path))
    finally:
        for b in backends.values():
            b.stop()


def test_a_certificate_that_expired_after_acceptance_is_still_served(amphora, store, backend):
    """The API refuses an expired certificate; one that expires later is not taken
    off the listener (the controller still loads it, HAProxy serves it): clients
    that check dates refuse the handshake, the others are served, and housekeeping
    (``hydria.housekeeping.tls_expiry``) is where the operator sees it coming."""
    vip = _vip()
    port = free_port(vip)
    site = Site(amphora, store, vip)
    old = SERVER_CA.issue("old.example", expired=True)
    listener = _https(port, store, default=_container(store, old))
    site.deploy(_lb(vip, [listener], [_pool(backend)]))
    served = served_cert(vip, port, "old.example")
    assert served.not_valid_after_utc == old.cert.not_valid_after_utc
    assert get_json(vip, port, client_ctx(), sni="old.example")["headers"]
    checking = ssl.create_default_context(cadata=SERVER_CA.cert_pem.decode())
    checking.check_hostname = False
    assert refused(vip, port, checking)
