"""TERMINATED_HTTPS listeners and TLS pools in the fully populated load balancer create.

Octavia's graph create runs the single creates' checks on each nested listener and
pool, TLS references included; Hydria reads every reference from the secret store
before the transaction, so bad material is a 400 naming the field and nothing at all
(load balancer included) is written or notified."""

from __future__ import annotations

from typing import Any

import pytest

from hydria.api.app import create_app
from hydria.core import constants as c
from hydria.core.secrets import CertificateContainer
from tests.api.conftest import BASE, assert_fault, snapshot
from tests.api.test_tls import CA_ONE, PROJECT, bad_containers, good_cert
from tests.support.secret_store import MemorySecretStore
from tests.support.tls_certs import CA

URL = f"{BASE}/loadbalancers"


@pytest.fixture
def store() -> MemorySecretStore:
    return MemorySecretStore()


@pytest.fixture
def app(db: Any, notifier: Any, settings: Any, store: MemorySecretStore) -> Any:
    return create_app(db, notifier, settings, secret_store=store)


def tls_refs(store: MemorySecretStore) -> dict[str, str]:
    hydria_client = CA_ONE.issue("hydria-client", client=True)
    return {
        "default": good_cert(store),
        "sni": good_cert(store),
        "client_ca": store.add_secret(PROJECT, CA_ONE.cert_pem),
        "client_crl": store.add_secret(PROJECT, CA_ONE.crl_pem()),
        "pool_cert": store.add_certificate(
            PROJECT,
            CertificateContainer(
                certificate=hydria_client.cert_pem, private_key=hydria_client.key_pem()
            ),
        ),
        "pool_ca": store.add_secret(PROJECT, CA_ONE.cert_pem),
        "pool_crl": store.add_secret(PROJECT, CA_ONE.crl_pem()),
    }


def tls_graph(subnet_id: str, refs: dict[str, str]) -> dict[str, Any]:
    """One POST: an HTTPS listener with SNI and optional client certificates whose
    default pool re-encrypts to its members, and a TLS pool shared by name."""
    return {
        "loadbalancer": {
            "name": "tls",
            "vip_subnet_id": subnet_id,
            "listeners": [
                {
                    "name": "https",
                    "protocol": "TERMINATED_HTTPS",
                    "protocol_port": 443,
                    "default_tls_container_ref": refs["default"],
                    "sni_container_refs": [refs["sni"]],
                    "client_authentication": "OPTIONAL",
                    "client_ca_tls_container_ref": refs["client_ca"],
                    "client_crl_container_ref": refs["client_crl"],
                    "tls_versions": ["TLSv1.3"],
                    "hsts_max_age": 600,
                    "insert_headers": {"X-Forwarded-Proto": "true", "X-SSL-Client-DN": "true"},
                    "default_pool": {
                        "name": "secure",
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "tls_enabled": True,
                        "tls_container_ref": refs["pool_cert"],
                        "ca_tls_container_ref": refs["pool_ca"],
                        "crl_container_ref": refs["pool_crl"],
                        "members": [{"address": "10.0.0.1", "protocol_port": 8443}],
                    },
                    "l7policies": [
                        {"action": "REDIRECT_TO_POOL", "redirect_pool": {"name": "plain"}}
                    ],
                }
            ],
            "pools": [
                {
                    "name": "plain",
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "tls_enabled": True,
                    "alpn_protocols": ["http/1.1"],
                }
            ],
        }
    }


def test_tls_listener_and_pools_are_created_in_one_post(client, api, store, notifier):
    refs = tls_refs(store)
    body = tls_graph(api.subnet_id, refs)
    body["loadbalancer"]["listeners"][0]["l7policies"][0]["rules"] = [
        {"type": "SSL_CONN_HAS_CERT", "compare_type": "EQUAL_TO", "value": "True"}
    ]
    r = client.post(URL, json=body)
    assert r.status_code == 201, r.text
    lb = r.json()["loadbalancer"]
    (li,) = lb["listeners"]
    assert li["protocol"] == "TERMINATED_HTTPS"
    assert li["default_tls_container_ref"] == refs["default"]
    assert li["sni_container_refs"] == [refs["sni"]]
    assert li["client_authentication"] == "OPTIONAL"
    assert li["client_ca_tls_container_ref"] == refs["client_ca"]
    assert li["client_crl_container_ref"] == refs["client_crl"]
    assert li["tls_versions"] == ["TLSv1.3"]  # given
    assert li["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]  # Octavia's default
    assert li["tls_ciphers"] == c.DEFAULT_TLS_CIPHERS and li["hsts_max_age"] == 600
    pools = {p["name"]: p for p in lb["pools"]}
    secure, plain = pools["secure"], pools["plain"]
    assert secure["tls_enabled"] is True and secure["tls_container_ref"] == refs["pool_cert"]
    assert secure["ca_tls_container_ref"] == refs["pool_ca"]
    assert secure["crl_container_ref"] == refs["pool_crl"]
    assert secure["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert plain["tls_enabled"] is True and plain["alpn_protocols"] == ["http/1.1"]
    assert plain["tls_ciphers"] == c.DEFAULT_TLS_CIPHERS
    assert li["default_pool_id"] == secure["id"]
    assert notifier.calls == [lb["id"]]
    api.settle()
    shown = client.get(f"{BASE}/listeners/{li['id']}").json()["listener"]
    assert shown["sni_container_refs"] == [refs["sni"]]
    assert shown["client_crl_container_ref"] == refs["client_crl"]
    shown_pool = client.get(f"{BASE}/pools/{secure['id']}").json()["pool"]
    assert shown_pool["tls_container_ref"] == refs["pool_cert"]
    (policy,) = client.get(f"{BASE}/l7policies", params={"listener_id": li["id"]}).json()[
        "l7policies"
    ]
    assert policy["redirect_pool_id"] == plain["id"]


LISTENER = "listeners.0"
POOL = "listeners.0.default_pool"


def _set(body: dict[str, Any], path: str, field: str, value: Any) -> None:
    node: Any = body["loadbalancer"]
    for part in path.split("."):
        node = node[int(part)] if part.isdigit() else node[part]
    node[field] = value


def _post_unchanged(client: Any, api: Any, notifier: Any, body: Any) -> Any:
    before = snapshot(api.db)
    calls = list(notifier.calls)
    r = client.post(URL, json=body)
    assert snapshot(api.db) == before and notifier.calls == calls
    return r


@pytest.mark.parametrize(
    ("path", "field"),
    [
        (LISTENER, "default_tls_container_ref"),
        (LISTENER, "sni_container_refs"),
        (POOL, "tls_container_ref"),
        ("pools.0", "tls_container_ref"),
    ],
)
def test_bad_certificates_anywhere_in_the_graph_write_nothing(
    client, api, store, notifier, path, field
):
    refs = tls_refs(store)
    for ref, fragment in bad_containers(store):
        body = tls_graph(api.subnet_id, refs)
        _set(body, path, field, [ref] if field == "sni_container_refs" else ref)
        r = _post_unchanged(client, api, notifier, body)
        assert_fault(r, 400, fragment, field)


def test_bad_cas_and_crls_in_the_graph_write_nothing(client, api, store, notifier):
    refs = tls_refs(store)
    not_ca = store.add_secret(PROJECT, CA_ONE.issue("leaf.example.com").cert_pem)
    foreign_crl = store.add_secret(PROJECT, CA("Someone else").crl_pem())
    others = store.add_secret("another-project", CA_ONE.cert_pem)
    cases = [
        (LISTENER, "client_ca_tls_container_ref", not_ca, "is not a CA"),
        (LISTENER, "client_crl_container_ref", foreign_crl, "was not issued by the CA"),
        (LISTENER, "client_ca_tls_container_ref", others, "belongs to another project"),
        (POOL, "ca_tls_container_ref", not_ca, "is not a CA"),
        (POOL, "crl_container_ref", foreign_crl, "was not issued by the CA"),
        (POOL, "ca_tls_container_ref", None, "A CA certificate reference is required"),
        (LISTENER, "client_ca_tls_container_ref", None, "requires a client CA container"),
        (LISTENER, "default_tls_container_ref", None, None),  # SNI alone is enough
    ]
    for path, field, value, fragment in cases:
        body = tls_graph(api.subnet_id, refs)
        _set(body, path, field, value)
        if fragment is None:
            r = client.post(URL, json=body)
            assert r.status_code == 201, r.text
            continue
        r = _post_unchanged(client, api, notifier, body)
        assert_fault(r, 400, fragment)


def test_without_a_store_the_references_are_refused(db, notifier, settings, api):
    from fastapi.testclient import TestClient

    body = tls_graph(api.subnet_id, tls_refs(MemorySecretStore()))
    with TestClient(create_app(db, notifier, settings)) as bare:
        before = snapshot(db)
        assert_fault(bare.post(URL, json=body), 400, "no secret store is configured")
        assert snapshot(db) == before
