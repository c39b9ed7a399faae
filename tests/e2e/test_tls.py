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
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.lbs import public_subnet_id, wait_lb
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

    assert served_cn(vip, 443, "a.example") == "a.example"
    assert served_cn(vip, 443, "b.example") == "b.example"
    assert served_cn(vip, 443, None) == "default.example"
    assert get_json(vip, 443, client_ctx())["headers"]["x-forwarded-proto"] == "https"
    assert negotiated_alpn(vip, 443, ["h2", "http/1.1"]) == "h2"

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
    assert refused(vip, 8443, client_ctx())
    assert refused(vip, 8443, client_ctx(OTHER_CA.issue("eve", client=True), tmp_path))
    assert refused(vip, 8443, client_ctx(revoked, tmp_path))
    dn = get_json(vip, 8443, client_ctx(CLIENT_CA.issue("alice", client=True), tmp_path))[
        "headers"
    ]["x-ssl-client-dn"]
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
    with RequestLoop(vip, 443) as load:
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
    assert load.errors == []
    assert load.ok > 10
    assert served_cert(vip, 443, None).serial_number == new_leaf.cert.serial_number
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
        seen = get_json(vip, 80, None)
        assert seen["peer"]["commonName"] == "hydria"

        def member_status() -> str:
            return str(
                os_("loadbalancer", "member", "show", pool["id"], m["id"])["operating_status"]
            )

        wait_for(lambda: member_status() == "ONLINE", what="member ONLINE")
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
        wait_for(lambda: member_status() == "ERROR", what="member ERROR")
        os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
    finally:
        member.stop()


def test_one_post_makes_a_tls_load_balancer_that_serves_https(hydria, secrets, tmp_path):
    """Octavia's fully populated create with a TERMINATED_HTTPS listener (SNI, OPTIONAL
    client certificates with a CRL, SSL_* policies) and a TLS pool: one POST, then
    HTTPS through the VIP, re-encrypted to a member that demands Hydria's certificate.
    (As with Octavia, HAProxy passes the client's SNI on and checks the member's
    certificate against it: the member holds a certificate for that name.)"""
    member_cert = MEMBER_CA.issue("member.example", names=("www.example",), ips=("127.0.0.1",))
    crt, key = member_cert.write(tmp_path, "member")
    trusted = tmp_path / "client-ca.pem"
    trusted.write_bytes(CLIENT_CA.cert_pem)
    member = HeaderBackend("tls-member", cert=crt, key=key, client_ca=trusted)
    verified = HeaderBackend("verified")
    revoked = CLIENT_CA.issue("mallory-2", client=True)
    CLIENT_CA.revoke(revoked)
    try:
        listener = {
            "protocol": "TERMINATED_HTTPS",
            "protocol_port": 443,
            "default_tls_container_ref": secrets.certificate(
                "g-default", SERVER_CA.issue("default.example")
            ),
            "sni_container_refs": [secrets.certificate("g-a", SERVER_CA.issue("a.example"))],
            "client_authentication": "OPTIONAL",
            "client_ca_tls_container_ref": secrets.store("g-client-ca", CLIENT_CA.cert_pem),
            "client_crl_container_ref": secrets.store("g-client-crl", CLIENT_CA.crl_pem()),
            "insert_headers": {"X-Forwarded-Proto": "true", "X-SSL-Client-DN": "true"},
            "default_pool": {
                "name": "secure",
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
                "tls_enabled": True,
                "tls_container_ref": secrets.certificate(
                    "g-hydria", CLIENT_CA.issue("hydria", client=True)
                ),
                "ca_tls_container_ref": secrets.store("g-member-ca", MEMBER_CA.cert_pem),
                "members": [{"address": member.host, "protocol_port": member.port}],
            },
            "l7policies": [
                {
                    "action": "REJECT",
                    "position": 1,
                    "rules": [
                        {
                            "type": "SSL_DN_FIELD",
                            "key": "CN",
                            "compare_type": "EQUAL_TO",
                            "value": "blocked",
                        }
                    ],
                },
                {
                    "action": "REDIRECT_TO_POOL",
                    "position": 2,
                    "redirect_pool": {"name": "verified"},
                    "rules": [
                        {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "True"},
                        {"type": "SSL_VERIFY_RESULT", "compare_type": "EQUAL_TO", "value": "0"},
                    ],
                },
            ],
        }
        body = {
            "loadbalancer": {
                "name": "tls-in-one-post",
                "vip_subnet_id": public_subnet_id(hydria.endpoint),
                "listeners": [listener],
                "pools": [
                    {
                        "name": "verified",
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "members": [{"address": verified.host, "protocol_port": verified.port}],
                    }
                ],
            }
        }
        with hydria.api() as api:
            res = api.post("/lbaas/loadbalancers", json=body)
            assert res.status_code == 201, res.text
            lb = res.json()["loadbalancer"]
            wait_lb(api, lb["id"])
        vip = lb["vip_address"]

        assert served_cn(vip, 443, "a.example") == "a.example"
        assert served_cn(vip, 443, None) == "default.example"
        seen = get_json(vip, 443, client_ctx())  # no certificate: the TLS default pool
        assert seen["name"] == "tls-member" and seen["peer"]["commonName"] == "hydria"
        assert seen["headers"]["x-forwarded-proto"] == "https"
        alice = get_json(vip, 443, client_ctx(CLIENT_CA.issue("alice", client=True), tmp_path))
        assert alice["name"] == "verified" and "CN=alice" in alice["headers"]["x-ssl-client-dn"]
        blocked = client_ctx(CLIENT_CA.issue("blocked", client=True), tmp_path)
        assert request(vip, 443, blocked)[0] == 403
        assert refused(vip, 443, client_ctx(revoked, tmp_path))
        assert refused(vip, 443, client_ctx(OTHER_CA.issue("eve", client=True), tmp_path))
        hydria.openstack("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
    finally:
        member.stop()
        verified.stop()


def test_up_publishes_when_listener_certificates_expire_and_warns_of_the_near_ones(
    tmp_path: Path,
):
    """``hydria up``'s housekeeping reads the certificates a listener serves and
    publishes each one's end on /metrics; one within the warning days is logged."""
    from prometheus_client.parser import text_string_to_metric_families

    from tests.support.hydria_proc import running

    env = {
        "HYDRIA_HOUSEKEEPING_INTERVAL": "0.5",
        "HYDRIA_TLS_EXPIRY_CHECK_INTERVAL": "0.5",
        "HYDRIA_TLS_EXPIRY_WARNING_DAYS": "60",  # the test certificates end in 30
    }
    with running(tmp_path / "state", extra_env=env) as up:
        leaf = SERVER_CA.issue("soon.example")
        ref = Secrets(up, tmp_path).certificate("soon", leaf)
        with up.api() as api:
            subnet = api.get(up.endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
            body = {
                "loadbalancer": {
                    "vip_subnet_id": subnet["id"],
                    "listeners": [
                        {
                            "protocol": "TERMINATED_HTTPS",
                            "protocol_port": 443,
                            "default_tls_container_ref": ref,
                        }
                    ],
                }
            }
            r = api.post("/lbaas/loadbalancers", json=body)
            assert r.status_code == 201, r.text
            listener_id = r.json()["loadbalancer"]["listeners"][0]["id"]

        def published() -> list[Any]:
            text = httpx.get(up.endpoint + "/metrics", timeout=5).text
            return [
                s
                for family in text_string_to_metric_families(text)
                if family.name == "hydria_certificate_expiry_timestamp_seconds"
                for s in family.samples
                if s.labels["id"] == listener_id
            ]

        samples = wait_for(published, what="the listener's certificate on /metrics", timeout=60)
        assert samples[0].labels["field"] == "default_tls_container_ref"
        assert samples[0].labels["ref"] == ref
        assert samples[0].value == leaf.cert.not_valid_after_utc.timestamp()
        wait_for(
            lambda: f"event=certificate_expiring resource=listener id={listener_id}" in up.log(),
            what="a warning in the log",
        )
