"""TERMINATED_HTTPS listeners and TLS pools through the API, with an in-memory
secret store: Octavia's rules, defaults and PUT semantics, and bad material
refused with a 400 that names the check before anything is written."""

from __future__ import annotations

from typing import Any

import pytest

from hydria.api.app import create_app
from hydria.core import constants as c
from hydria.core.secrets import CertificateContainer, SecretAccess
from tests.api.conftest import BASE, Api, assert_fault, snapshot
from tests.support.identity import HeaderIdentity, keystone_settings
from tests.support.secret_store import MemorySecretStore
from tests.support.tls_certs import CA

PROJECT = c.DEFAULT_PROJECT_ID
CA_ONE = CA("API Test CA")
SERVER = CA_ONE.issue("www.example.com")


@pytest.fixture
def store() -> MemorySecretStore:
    return MemorySecretStore()


@pytest.fixture
def app(db: Any, notifier: Any, settings: Any, store: MemorySecretStore) -> Any:
    return create_app(db, notifier, settings, secret_store=store)


def good_cert(store: MemorySecretStore, project: str = PROJECT) -> str:
    return store.add_certificate(
        project, CertificateContainer(certificate=SERVER.cert_pem, private_key=SERVER.key_pem())
    )


def post_listener(client: Any, lb_id: str, **fields: Any) -> Any:
    body = {
        "loadbalancer_id": lb_id,
        "protocol": "TERMINATED_HTTPS",
        "protocol_port": 443,
        **fields,
    }
    return client.post(f"{BASE}/listeners", json={"listener": body})


def test_terminated_https_listener_gets_octavias_defaults(client, api, store):
    lb = api.lb()
    ref = good_cert(store)
    sni = good_cert(store)
    r = post_listener(
        client,
        lb["id"],
        default_tls_container_ref=ref,
        sni_container_refs=[sni],
        insert_headers={"X-Forwarded-Proto": "true"},
    )
    assert r.status_code == 201, r.text
    li = r.json()["listener"]
    assert li["protocol"] == "TERMINATED_HTTPS"
    assert li["default_tls_container_ref"] == ref and li["sni_container_refs"] == [sni]
    assert li["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert li["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]
    assert li["tls_ciphers"] == c.DEFAULT_TLS_CIPHERS
    assert li["client_authentication"] == "NONE" and li["hsts_max_age"] is None
    assert li["hsts_include_subdomains"] is False and li["hsts_preload"] is False
    api.settle()
    shown = client.get(f"{BASE}/listeners/{li['id']}").json()["listener"]
    assert shown["sni_container_refs"] == [sni] and shown["tls_versions"] == li["tls_versions"]


def test_put_changes_unsets_and_puts_defaults_back(client, api, store):
    lb = api.lb()
    ca = store.add_secret(PROJECT, CA_ONE.cert_pem)
    li = post_listener(
        client,
        lb["id"],
        default_tls_container_ref=good_cert(store),
        tls_versions=["TLSv1.3"],
        alpn_protocols=["http/1.1"],
        tls_ciphers="ECDHE-ECDSA-AES128-GCM-SHA256",
    ).json()["listener"]
    api.settle()
    url = f"{BASE}/listeners/{li['id']}"
    new_ref = good_cert(store)
    r = client.put(
        url,
        json={
            "listener": {
                "default_tls_container_ref": new_ref,
                "client_authentication": "MANDATORY",
                "client_ca_tls_container_ref": ca,
                "hsts_max_age": 3600,
                "hsts_preload": True,
            }
        },
    )
    assert r.status_code == 200, r.text
    got = r.json()["listener"]
    assert got["default_tls_container_ref"] == new_ref
    assert got["client_authentication"] == "MANDATORY" and got["hsts_max_age"] == 3600
    assert got["tls_versions"] == ["TLSv1.3"]  # not given: kept
    api.settle()
    r = client.put(
        url,
        json={
            "listener": {
                "tls_versions": None,
                "alpn_protocols": None,
                "tls_ciphers": None,
                "hsts_preload": None,
            }
        },
    )
    got = r.json()["listener"]
    assert got["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert got["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]
    assert got["tls_ciphers"] == c.DEFAULT_TLS_CIPHERS and got["hsts_preload"] is False
    api.settle()
    # unset the CA while MANDATORY still needs it: refused, nothing changes
    r = client.put(url, json={"listener": {"client_ca_tls_container_ref": None}})
    assert_fault(r, 400, "Client authentication setting MANDATORY requires a client CA")
    r = client.put(
        url, json={"listener": {"client_authentication": None, "client_ca_tls_container_ref": None}}
    )
    assert r.status_code == 200, r.text
    assert r.json()["listener"]["client_ca_tls_container_ref"] is None
    api.settle()
    r = client.put(url, json={"listener": {"default_tls_container_ref": None}})
    assert_fault(r, 400, "An SNI or default certificate container reference must be provided")


def bad_containers(store: MemorySecretStore) -> list[tuple[str, str]]:
    expired = CA_ONE.issue("old.example.com", expired=True)
    other = CA_ONE.issue("other.example.com")
    return [
        (
            store.add_certificate(
                PROJECT,
                CertificateContainer(
                    certificate=b"not a certificate", private_key=SERVER.key_pem()
                ),
            ),
            "neither PEM nor DER",
        ),
        (
            store.add_certificate(
                PROJECT,
                CertificateContainer(certificate=SERVER.cert_pem, private_key=other.key_pem()),
            ),
            "the private key does not match the certificate",
        ),
        (
            store.add_certificate(
                PROJECT,
                CertificateContainer(certificate=expired.cert_pem, private_key=expired.key_pem()),
            ),
            "the certificate expired on",
        ),
        (
            store.add_certificate(
                PROJECT,
                CertificateContainer(
                    certificate=SERVER.cert_pem,
                    private_key=SERVER.key_pem(b"right"),
                    private_key_passphrase=b"wrong",
                ),
            ),
            "the private key passphrase is wrong",
        ),
        (
            store.add_certificate(
                PROJECT,
                CertificateContainer(
                    certificate=SERVER.cert_pem, private_key=SERVER.key_pem(b"right")
                ),
            ),
            "encrypted and no passphrase",
        ),
        (
            store.add_certificate(PROJECT, CertificateContainer(certificate=SERVER.cert_pem)),
            "no private key",
        ),
        (store.add_secret(PROJECT, SERVER.pkcs12(b"right")) + "", "PKCS12"),
        (
            store.add_certificate(
                "another-project",
                CertificateContainer(certificate=SERVER.cert_pem, private_key=SERVER.key_pem()),
            ),
            "belongs to another project",
        ),
        (f"{BASE}/v1/containers/0b0e5a0e-3a86-4c6e-9d55-5b6a0e0e0e0e", "no such secret"),
    ]


def test_bad_material_is_400_naming_the_check_and_writes_nothing(client, api, db, store):
    lb = api.lb()
    for ref, fragment in bad_containers(store):
        before = snapshot(db)
        r = post_listener(client, lb["id"], default_tls_container_ref=ref)
        assert_fault(r, 400, fragment, "default_tls_container_ref")
        r = post_listener(
            client, lb["id"], default_tls_container_ref=good_cert(store), sni_container_refs=[ref]
        )
        assert_fault(r, 400, fragment, "sni_container_refs")
        assert snapshot(db) == before


def test_pkcs12_with_its_passphrase_is_taken(client, api, store):
    lb = api.lb()
    p12 = store.add_certificate(
        PROJECT,
        CertificateContainer(
            certificate=SERVER.pkcs12(b"pw"), private_key_passphrase=b"pw", pkcs12=True
        ),
    )
    r = post_listener(client, lb["id"], default_tls_container_ref=p12)
    assert r.status_code == 201, r.text


def test_client_ca_and_crl_checks(client, api, db, store):
    lb = api.lb()
    cert = good_cert(store)
    not_ca = store.add_secret(PROJECT, SERVER.cert_pem)
    ca = store.add_secret(PROJECT, CA_ONE.cert_pem)
    bad_crl = store.add_secret(PROJECT, b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
    foreign_crl = store.add_secret(PROJECT, CA("Someone else").crl_pem())
    before = snapshot(db)
    cases = [
        ({"client_ca_tls_container_ref": not_ca}, "is not a CA"),
        (
            {"client_ca_tls_container_ref": ca, "client_crl_container_ref": bad_crl},
            "neither a PEM nor a DER X.509 CRL",
        ),
        (
            {"client_ca_tls_container_ref": ca, "client_crl_container_ref": foreign_crl},
            "was not issued by the CA",
        ),
        (
            {"client_crl_container_ref": store.add_secret(PROJECT, CA_ONE.crl_pem())},
            "A client authentication CA reference is required",
        ),
        ({"client_authentication": "OPTIONAL"}, "requires a client CA container reference"),
        ({"client_authentication": "SOMETIMES"}, "client_authentication"),
        ({"alpn_protocols": ["spdy/3"]}, "Invalid ALPN protocol: spdy/3"),
        ({"alpn_protocols": []}, "Empty ALPN protocol list"),
        ({"tls_versions": ["TLSv9"]}, "Invalid TLS versions: TLSv9"),
        ({"tls_ciphers": "AES128 ; rm"}, "Invalid characters in cipher string"),
        ({"hsts_include_subdomains": True}, "only make sense if hsts_max_age is set"),
    ]
    for fields, fragment in cases:
        r = post_listener(client, lb["id"], default_tls_container_ref=cert, **fields)
        assert_fault(r, 400, fragment)
    assert snapshot(db) == before
    r = post_listener(
        client,
        lb["id"],
        default_tls_container_ref=cert,
        client_authentication="MANDATORY",
        client_ca_tls_container_ref=ca,
        client_crl_container_ref=store.add_secret(PROJECT, CA_ONE.crl_pem()),
        insert_headers={"X-SSL-Client-DN": "true", "X-SSL-Client-Verify": "true"},
    )
    assert r.status_code == 201, r.text


def test_ssl_headers_only_on_terminated_https(client, api):
    lb = api.lb()
    r = client.post(
        f"{BASE}/listeners",
        json={
            "listener": {
                "loadbalancer_id": lb["id"],
                "protocol": "HTTP",
                "protocol_port": 80,
                "insert_headers": {"X-SSL-Client-DN": "true"},
            }
        },
    )
    assert_fault(r, 400, "X-SSL-Client-DN")


def test_tls_pool_defaults_material_and_put(client, api, db, store):
    lb = api.lb()
    client_cert = CA_ONE.issue("hydria-client", client=True)
    cert = store.add_certificate(
        PROJECT,
        CertificateContainer(certificate=client_cert.cert_pem, private_key=client_cert.key_pem()),
    )
    ca = store.add_secret(PROJECT, CA_ONE.cert_pem)
    crl = store.add_secret(PROJECT, CA_ONE.crl_pem())
    r = client.post(
        f"{BASE}/pools",
        json={
            "pool": {
                "loadbalancer_id": lb["id"],
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
                "tls_enabled": True,
                "tls_container_ref": cert,
                "ca_tls_container_ref": ca,
                "crl_container_ref": crl,
            }
        },
    )
    assert r.status_code == 201, r.text
    pool = r.json()["pool"]
    assert pool["tls_enabled"] is True and pool["tls_container_ref"] == cert
    assert pool["tls_versions"] == ["TLSv1.2", "TLSv1.3"]
    assert pool["alpn_protocols"] == ["h2", "http/1.1", "http/1.0"]
    assert pool["tls_ciphers"] == c.DEFAULT_TLS_CIPHERS
    api.settle()
    url = f"{BASE}/pools/{pool['id']}"
    assert_fault(
        client.put(url, json={"pool": {"ca_tls_container_ref": None}}),
        400,
        "A CA reference cannot be removed when a certificate revocation list",
    )
    before = snapshot(db)
    assert_fault(
        client.put(
            url,
            json={
                "pool": {"ca_tls_container_ref": store.add_secret(PROJECT, client_cert.cert_pem)}
            },
        ),
        400,
        "is not a CA",
        "ca_tls_container_ref",
    )
    assert_fault(
        client.put(
            url,
            json={
                "pool": {
                    "tls_container_ref": store.add_certificate(
                        "another-project",
                        CertificateContainer(
                            certificate=client_cert.cert_pem, private_key=client_cert.key_pem()
                        ),
                    )
                }
            },
        ),
        400,
        "belongs to another project",
        "tls_container_ref",
    )
    assert snapshot(db) == before
    r = client.put(url, json={"pool": {"crl_container_ref": None, "ca_tls_container_ref": None}})
    assert r.status_code == 200, r.text
    assert r.json()["pool"]["ca_tls_container_ref"] is None


def test_without_a_store_references_are_refused(db, notifier, settings, api):
    from fastapi.testclient import TestClient

    app = create_app(db, notifier, settings)
    lb = api.lb()
    with TestClient(app) as plain:
        r = post_listener(plain, lb["id"], default_tls_container_ref="http://x/v1/containers/1")
    assert_fault(r, 400, "no secret store is configured")


@pytest.mark.parametrize("protocol", ["UDP", "TCP", "HTTP"])
def test_refs_on_other_protocols(client, api, store, protocol):
    lb = api.lb()
    r = client.post(
        f"{BASE}/listeners",
        json={
            "listener": {
                "loadbalancer_id": lb["id"],
                "protocol": protocol,
                "protocol_port": 8443,
                "default_tls_container_ref": good_cert(store),
            }
        },
    )
    fragment = (
        "does not support TLS"
        if protocol == "UDP"
        else f"Certificate container references are not allowed on {protocol}"
    )
    assert r.status_code in (400, 501), r.text
    if r.status_code == 400:
        assert fragment in r.json()["faultstring"]


def test_with_the_embedded_store_in_the_same_database(db, notifier, settings, api):
    """The embedded store lives in Hydria's database: the API reads it outside its
    write transaction (inside, SQLite's one writer would wait for itself)."""
    from fastapi.testclient import TestClient

    from hydria.services.secrets import embedded_store

    app = create_app(db, notifier, settings, secret_store=embedded_store(settings, db))
    lb = api.lb()
    with TestClient(app) as tc:

        def secret(payload: bytes) -> str:
            r = tc.post(
                "/v1/secrets",
                json={
                    "name": "s",
                    "payload": payload.decode(),
                    "payload_content_type": "text/plain",
                },
            )
            assert r.status_code == 201, r.text
            return str(r.json()["secret_ref"])

        r = tc.post(
            "/v1/containers",
            json={
                "type": "certificate",
                "name": "c",
                "secret_refs": [
                    {"name": "certificate", "secret_ref": secret(SERVER.cert_pem)},
                    {"name": "private_key", "secret_ref": secret(SERVER.key_pem())},
                ],
            },
        )
        assert r.status_code == 201, r.text
        container = r.json()["container_ref"]
        r = post_listener(tc, lb["id"], default_tls_container_ref=container)
        assert r.status_code == 201, r.text
        api.settle()
        li = r.json()["listener"]
        r = tc.put(
            f"{BASE}/listeners/{li['id']}",
            json={
                "listener": {
                    "client_ca_tls_container_ref": secret(CA_ONE.cert_pem),
                    "client_authentication": "OPTIONAL",
                }
            },
        )
        assert r.status_code == 200, r.text
        r = tc.post(
            f"{BASE}/pools",
            json={
                "pool": {
                    "listener_id": li["id"],
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "tls_enabled": True,
                    "ca_tls_container_ref": secret(CA_ONE.cert_pem),
                }
            },
        )
        assert r.status_code in (201, 409), r.text  # 409: the listener is still pending


class RecordingStore(MemorySecretStore):
    """Remembers on whose behalf each reference was read."""

    def __init__(self) -> None:
        super().__init__()
        self.accesses: list[SecretAccess] = []

    def certificate(self, ref: str, access: SecretAccess) -> CertificateContainer:
        self.accesses.append(access)
        return super().certificate(ref, access)

    def secret(self, ref: str, access: SecretAccess) -> bytes:
        self.accesses.append(access)
        return super().secret(ref, access)


def test_references_are_read_with_the_callers_token(db, notifier, subnet_id, tmp_path):
    """Under Keystone the store gets the caller's token (a real Barbican reads as the
    user and grants the service its read ACL with it, as Octavia's API does); without
    it Barbican refused every user's own secret ("belongs to another project")."""
    from fastapi.testclient import TestClient

    store = RecordingStore()
    settings = keystone_settings(tmp_path)
    app = create_app(db, notifier, settings, authenticator=HeaderIdentity, secret_store=store)
    with TestClient(app, headers={"X-Auth-Token": "the-users-token"}) as tc:
        api = Api(tc, db, subnet_id)
        lb = api.lb()
        r = post_listener(tc, lb["id"], default_tls_container_ref=good_cert(store))
        assert r.status_code == 201, r.text
        api.settle()
        listener_id = r.json()["listener"]["id"]
        r = tc.put(
            f"{BASE}/listeners/{listener_id}",
            json={"listener": {"sni_container_refs": [good_cert(store)]}},
        )
        assert r.status_code == 200, r.text
        api.settle()
        ca = store.add_secret(PROJECT, CA_ONE.cert_pem)
        r = tc.post(
            f"{BASE}/pools",
            json={
                "pool": {
                    "loadbalancer_id": lb["id"],
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "tls_enabled": True,
                    "ca_tls_container_ref": ca,
                }
            },
        )
        assert r.status_code == 201, r.text
    assert len(store.accesses) >= 3
    assert {(a.project_id, a.token) for a in store.accesses} == {(PROJECT, "the-users-token")}


def test_without_keystone_no_token_is_passed_on(db, notifier, settings, subnet_id):
    """Under noauth an X-Auth-Token header means nothing: it is not handed to the store."""
    from fastapi.testclient import TestClient

    store = RecordingStore()
    app = create_app(db, notifier, settings, secret_store=store)
    with TestClient(app, headers={"X-Auth-Token": "ignored"}) as tc:
        lb = Api(tc, db, subnet_id).lb()
        r = post_listener(tc, lb["id"], default_tls_container_ref=good_cert(store))
        assert r.status_code == 201, r.text
    assert store.accesses and all(a.token is None for a in store.accesses)
