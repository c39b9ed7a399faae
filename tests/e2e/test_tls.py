"""TLS through the real ``openstack`` CLI against a real ``hydria up``: certificates
stored with ``openstack secret store`` and ``openstack secret container create`` in
the embedded store, TERMINATED_HTTPS listeners and a TLS pool built with
``openstack loadbalancer``, real TLS clients at the VIP.

SNI host A gets certificate A, B gets B, no SNI the default; back-ends see
``X-Forwarded-Proto: https``; h2 negotiates; MANDATORY client authentication
refuses no certificate, another CA's and a revoked one, and passes a good one's
DN; a TLS pool reaches a member that demands Hydria's certificate and is checked
with the given CA, and with a wrong CA the monitor puts the member in ERROR;
a new default certificate under load loses no request; bad material is a 400.
"""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.support.tls_backend import HeaderBackend
from tests.support.tls_certs import CA, Leaf

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]

SERVER_CA = CA("E2E Listener CA")
CLIENT_CA = CA("E2E Client CA")
OTHER_CA = CA("E2E Other CA")
MEMBER_CA = CA("E2E Member CA")


class Secrets:
    """``openstack secret`` as a user types it."""

    def __init__(self, hydria: Any, folder: Path) -> None:
        self.folder = folder
        # the key-manager API is Barbican's /v1 on Hydria's endpoint
        self.cli = [*_cli(hydria)[:-1], hydria.endpoint + "/v1"]

    def os_(self, *args: str) -> Any:
        res = subprocess.run(
            [*self.cli, *args, "-f", "json"], capture_output=True, text=True, timeout=120
        )
        assert res.returncode == 0, res.stderr
        return json.loads(res.stdout)

    def store(self, name: str, payload: bytes) -> str:
        out = self.os_(
            "secret",
            "store",
            "--name",
            name,
            "--payload-content-type",
            "text/plain",
            "--payload",
            payload.decode(),
        )
        return str(out["Secret href"])

    def certificate(self, name: str, leaf: Leaf) -> str:
        cert = self.store(f"{name}-cert", leaf.cert_pem)
        key = self.store(f"{name}-key", leaf.key_pem())
        out = self.os_(
            "secret",
            "container",
            "create",
            "--name",
            name,
            "--type",
            "certificate",
            "--secret",
            f"certificate={cert}",
            "--secret",
            f"private_key={key}",
        )
        return str(out["Container href"])


@pytest.fixture
def secrets(hydria: Any, tmp_path: Path) -> Secrets:
    return Secrets(hydria, tmp_path)


@pytest.fixture
def header_backend() -> Iterator[HeaderBackend]:
    b = HeaderBackend("plain")
    yield b
    b.stop()


def _ctx(
    cert: Leaf | None = None, folder: Path | None = None, alpn: list[str] | None = None
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    if cert is not None and folder is not None:
        crt, key = cert.write(folder, str(cert.cert.serial_number))
        ctx.load_cert_chain(str(crt), str(key))
    if alpn:
        ctx.set_alpn_protocols(alpn)
    return ctx


def _cn(vip: str, port: int, sni: str | None) -> str:
    with (
        socket.create_connection((vip, port), timeout=5) as raw,
        _ctx().wrap_socket(raw, server_hostname=sni) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    name = x509.load_der_x509_certificate(der).subject
    return str(name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _get(vip: str, port: int, ctx: ssl.SSLContext | None) -> dict[str, Any]:
    with socket.create_connection((vip, port), timeout=5) as raw:
        conn = raw if ctx is None else ctx.wrap_socket(raw, server_hostname="www.example")
        conn.sendall(b"GET / HTTP/1.1\r\nHost: www.example\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
        conn.close()
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), data[:300]
    out: dict[str, Any] = json.loads(body)
    return out


def _refused(vip: str, port: int, ctx: ssl.SSLContext) -> bool:
    try:
        _get(vip, port, ctx)
    except (OSError, AssertionError, ValueError):
        return True
    return False


def _wait(check: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.25)


def test_terminated_https_through_the_cli(hydria, secrets, header_backend, tmp_path):
    os_ = hydria.openstack
    default = secrets.certificate("default", SERVER_CA.issue("default.example"))
    cert_a = secrets.certificate("a", SERVER_CA.issue("a.example"))
    cert_b = secrets.certificate("b", SERVER_CA.issue("b.example"))
    lb = os_("loadbalancer", "create", "--name", "tls", "--vip-subnet-id", "public", "--wait")
    vip = lb["vip_address"]
    li = os_(
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "TERMINATED_HTTPS",
        "--protocol-port",
        "443",
        "--default-tls-container-ref",
        default,
        "--sni-container-refs",
        cert_a,
        cert_b,
        "--insert-headers",
        "X-Forwarded-Proto=true",
        "--wait",
        lb["id"],
    )
    assert li["tls_versions"] in (
        ["TLSv1.2", "TLSv1.3"],
        "TLSv1.2\nTLSv1.3",
        "['TLSv1.2', 'TLSv1.3']",
    ) or "TLSv1.2" in str(li["tls_versions"])
    pool = os_(
        "loadbalancer",
        "pool",
        "create",
        "--protocol",
        "HTTP",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--listener",
        li["id"],
        "--wait",
    )
    os_(
        "loadbalancer",
        "member",
        "create",
        "--address",
        header_backend.host,
        "--protocol-port",
        str(header_backend.port),
        "--wait",
        pool["id"],
    )

    assert _cn(vip, 443, "a.example") == "a.example"
    assert _cn(vip, 443, "b.example") == "b.example"
    assert _cn(vip, 443, None) == "default.example"
    assert _get(vip, 443, _ctx())["headers"]["x-forwarded-proto"] == "https"
    with (
        socket.create_connection((vip, 443), timeout=5) as raw,
        _ctx(alpn=["h2", "http/1.1"]).wrap_socket(raw, server_hostname="a.example") as c,
    ):
        assert c.selected_alpn_protocol() == "h2"

    # MANDATORY client authentication with a CRL, on a second listener
    revoked = CLIENT_CA.issue("mallory", client=True)
    CLIENT_CA.revoke(revoked)
    ca_ref = secrets.store("client-ca", CLIENT_CA.cert_pem)
    crl_ref = secrets.store("client-crl", CLIENT_CA.crl_pem())
    mtls = os_(
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "TERMINATED_HTTPS",
        "--protocol-port",
        "8443",
        "--default-tls-container-ref",
        default,
        "--client-authentication",
        "MANDATORY",
        "--client-ca-tls-container-ref",
        ca_ref,
        "--client-crl-container-ref",
        crl_ref,
        "--default-pool",
        pool["id"],
        "--insert-headers",
        "X-SSL-Client-DN=true",
        "--wait",
        lb["id"],
    )
    assert mtls["client_authentication"] == "MANDATORY"
    assert _refused(vip, 8443, _ctx())
    assert _refused(vip, 8443, _ctx(OTHER_CA.issue("eve", client=True), tmp_path))
    assert _refused(vip, 8443, _ctx(revoked, tmp_path))
    dn = _get(vip, 8443, _ctx(CLIENT_CA.issue("alice", client=True), tmp_path))["headers"][
        "x-ssl-client-dn"
    ]
    assert "CN=alice" in dn

    # bad material is refused with a 400 that says which check failed
    mismatched = secrets.store("mismatch-key", SERVER_CA.issue("x.example").key_pem())
    bad = secrets.os_(
        "secret",
        "container",
        "create",
        "--name",
        "bad",
        "--type",
        "certificate",
        "--secret",
        f"certificate={secrets.store('mismatch-cert', SERVER_CA.issue('y.example').cert_pem)}",
        "--secret",
        f"private_key={mismatched}",
    )["Container href"]
    res = subprocess.run(
        [
            *_cli(hydria),
            "loadbalancer",
            "listener",
            "set",
            "--default-tls-container-ref",
            bad,
            li["id"],
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert res.returncode != 0
    assert "the private key does not match the certificate" in res.stderr

    # rotation under load: a new default certificate, no request lost
    stop = threading.Event()
    counts = {"ok": 0, "failed": 0}
    errors: list[str] = []

    def loop() -> None:
        ctx = _ctx()
        while not stop.is_set():
            try:
                _get(vip, 443, ctx)
                counts["ok"] += 1
            except Exception as exc:  # noqa: BLE001 - every failure counts
                counts["failed"] += 1
                errors.append(repr(exc))

    threads = [threading.Thread(target=loop) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        new_leaf = SERVER_CA.issue("default.example")
        new_default = secrets.certificate("default-2", new_leaf)
        os_(
            "loadbalancer",
            "listener",
            "set",
            "--default-tls-container-ref",
            new_default,
            "--wait",
            li["id"],
            parse=False,
        )
        time.sleep(0.5)
    finally:
        stop.set()
        for t in threads:
            t.join(10)
    assert counts["failed"] == 0, errors[:5]
    assert counts["ok"] > 10
    with (
        socket.create_connection((vip, 443), timeout=5) as raw,
        _ctx().wrap_socket(raw, server_hostname=None) as conn,
    ):
        der = conn.getpeercert(binary_form=True)
    assert der is not None
    assert x509.load_der_x509_certificate(der).serial_number == new_leaf.cert.serial_number
    os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)


def _cli(hydria: Any) -> list[str]:
    from tests.support.hydria_proc import BIN

    return [str(BIN / "openstack"), "--os-auth-type", "none", "--os-endpoint", hydria.endpoint]


def test_tls_pool_through_the_cli(hydria, secrets, tmp_path):
    os_ = hydria.openstack
    member_cert = MEMBER_CA.issue("member.example", ips=("127.0.0.1",))
    crt, key = member_cert.write(tmp_path, "member")
    trusted = tmp_path / "client-ca.pem"
    trusted.write_bytes(CLIENT_CA.cert_pem)
    member = HeaderBackend("tls-member", cert=crt, key=key, client_ca=trusted)
    try:
        hydria_cert = secrets.certificate("hydria-client", CLIENT_CA.issue("hydria", client=True))
        member_ca = secrets.store("member-ca", MEMBER_CA.cert_pem)
        lb = os_("loadbalancer", "create", "--vip-subnet-id", "public", "--wait")
        vip = lb["vip_address"]
        li = os_(
            "loadbalancer",
            "listener",
            "create",
            "--protocol",
            "HTTP",
            "--protocol-port",
            "80",
            "--wait",
            lb["id"],
        )
        pool = os_(
            "loadbalancer",
            "pool",
            "create",
            "--protocol",
            "HTTP",
            "--lb-algorithm",
            "ROUND_ROBIN",
            "--listener",
            li["id"],
            "--enable-tls",
            "--tls-container-ref",
            hydria_cert,
            "--ca-tls-container-ref",
            member_ca,
            "--wait",
        )
        assert pool["tls_enabled"] is True
        m = os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            member.host,
            "--protocol-port",
            str(member.port),
            "--wait",
            pool["id"],
        )
        os_(
            "loadbalancer",
            "healthmonitor",
            "create",
            "--type",
            "TLS-HELLO",
            "--delay",
            "1",
            "--timeout",
            "1",
            "--max-retries",
            "1",
            "--max-retries-down",
            "1",
            "--wait",
            pool["id"],
        )
        seen = _get(vip, 80, None)
        assert seen["peer"]["commonName"] == "hydria"

        def member_status() -> str:
            return str(
                os_("loadbalancer", "member", "show", pool["id"], m["id"])["operating_status"]
            )

        _wait(lambda: member_status() == "ONLINE")
        wrong = secrets.store("wrong-ca", OTHER_CA.cert_pem)
        os_(
            "loadbalancer",
            "pool",
            "set",
            "--ca-tls-container-ref",
            wrong,
            "--wait",
            pool["id"],
            parse=False,
        )
        _wait(lambda: member_status() == "ERROR")
        os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
    finally:
        member.stop()
