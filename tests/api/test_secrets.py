"""The embedded secret store (Barbican's v1 API on Hydria's endpoint).

Scoping (another project's secret is "not found", never shown), encryption at
rest (the payload is not in the database file, the key file is 0600), the
payload round trip as text and base64 (PEM, DER, PKCS12), Barbican's listing,
containers, and Barbican's error body for every refusal.
"""

from __future__ import annotations

import base64
import datetime as dt
import stat
from typing import Any

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from hydria.config import Settings
from hydria.core.secrets import SecretAccess, SecretNotFound
from hydria.db.engine import Database
from hydria.services.secrets import embedded_store
from tests.api.conftest import snapshot

A = {"X-Project-Id": "project-a"}
B = {"X-Project-Id": "project-b"}
B_ADMIN = {"X-Project-Id": "project-b", "X-Roles": "admin"}


def cert_and_key(name: str = "www.example.com") -> tuple[bytes, bytes, Any, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return pem, key_pem, cert, key


def assert_barbican_fault(r: httpx.Response, status: int, *fragments: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"code", "title", "description"}, body
    assert body["code"] == status
    for fragment in fragments:
        assert fragment in body["description"], body


def store(client: Any, headers: dict[str, str] | None = None, **body: Any) -> str:
    r = client.post("/v1/secrets/", json=body, headers=headers or A)
    assert r.status_code == 201, r.text
    ref = r.json()["secret_ref"]
    assert r.headers["location"] == ref
    return str(ref)


def test_text_payload_round_trip_and_metadata(client: Any) -> None:
    pem, _, _, _ = cert_and_key()
    ref = store(
        client,
        name="cert",
        payload=pem.decode(),
        payload_content_type="text/plain",
        secret_type="certificate",
    )
    assert ref.startswith("http://testserver/v1/secrets/")
    meta = client.get(ref, headers={**A, "Accept": "application/json"}).json()
    assert meta["name"] == "cert" and meta["secret_type"] == "certificate"
    assert meta["content_types"] == {"default": "text/plain"}
    assert meta["status"] == "ACTIVE" and meta["secret_ref"] == ref
    r = client.get(ref + "/payload", headers={**A, "Accept": "text/plain"})
    assert r.status_code == 200 and r.text == pem.decode().strip()
    assert r.headers["content-type"].startswith("text/plain")
    # the older way (Accept other than JSON on the secret itself) answers the payload too
    assert client.get(ref, headers={**A, "Accept": "text/plain"}).text == pem.decode().strip()


def test_binary_payloads_der_and_pkcs12(client: Any) -> None:
    _, _, cert, key = cert_and_key()
    der = cert.public_bytes(serialization.Encoding.DER)
    bundle = pkcs12.serialize_key_and_certificates(
        b"x", key, cert, None, serialization.BestAvailableEncryption(b"pw")
    )
    for data in (der, bundle):
        ref = store(
            client,
            payload=base64.b64encode(data).decode(),
            payload_content_type="application/octet-stream",
            payload_content_encoding="base64",
        )
        r = client.get(ref + "/payload", headers={**A, "Accept": "application/octet-stream"})
        assert r.status_code == 200 and r.content == data
        assert client.get(ref + "/payload", headers=A).content == data  # no Accept: octets
        assert client.get(ref + "/payload", headers={**A, "Accept": "*/*"}).content == data
        assert_barbican_fault(
            client.get(ref + "/payload", headers={**A, "Accept": "text/plain"}), 406
        )
        assert_barbican_fault(
            client.get(ref + "/payload", headers={**A, "Accept": "image/png"}), 406
        )


def test_another_project_cannot_read_list_or_delete(client: Any, db: Database) -> None:
    ref = store(client, name="mine", payload="s3cret", payload_content_type="text/plain")
    secret_id = ref.rsplit("/", 1)[1]
    cref = client.post(
        "/v1/containers",
        headers=A,
        json={"type": "generic", "secret_refs": [{"name": "x", "secret_ref": ref}]},
    ).json()["container_ref"]
    for other in (B, B_ADMIN):
        for path in (ref, ref + "/payload", cref):
            r = client.get(path, headers={**other, "Accept": "application/json"})
            assert_barbican_fault(r, 404, "not found")
        assert client.get("/v1/secrets", headers=other).json() == {"secrets": [], "total": 0}
        assert client.get("/v1/containers", headers=other).json()["total"] == 0
        before = snapshot(db)
        assert_barbican_fault(client.delete(ref, headers=other), 404)
        assert_barbican_fault(client.delete(cref, headers=other), 404)
        # B cannot take A's secret into a container of its own either
        r = client.post(
            "/v1/containers",
            headers=other,
            json={
                "type": "certificate",
                "secret_refs": [{"name": "certificate", "secret_ref": ref}],
            },
        )
        assert_barbican_fault(r, 404, "doesn't exist")
        assert snapshot(db) == before
    # the same id asked through a different case or form finds nothing either
    assert_barbican_fault(client.get(f"/v1/secrets/{secret_id.upper()}", headers=B), 404)
    assert client.get(ref + "/payload", headers=A).content == b"s3cret"


def test_encrypted_at_rest_and_key_file_private(
    client: Any, db: Database, settings: Settings
) -> None:
    marker = "hydria-plaintext-marker-0123456789"
    ref = store(client, payload=marker, payload_content_type="text/plain")
    binary = b"\x00\x01binary-marker-9876543210\xff"
    store(
        client,
        payload=base64.b64encode(binary).decode(),
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
    )
    db.dispose()  # flush SQLite's WAL into the file before reading its bytes
    path = settings.state_dir / "hydria.db"
    files = [p for p in settings.state_dir.iterdir() if p.name.startswith("hydria.db")]
    raw = b"".join(p.read_bytes() for p in files)
    assert path.exists() and raw
    assert marker.encode() not in raw and b"binary-marker-9876543210" not in raw
    assert base64.b64encode(marker.encode()) not in raw
    key_file = settings.secret_key_path
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert client.get(ref + "/payload", headers=A).content == marker.encode()


def test_listing_pages_and_name_filter(client: Any) -> None:
    refs = [
        store(client, name=f"s{i % 3}", payload="x", payload_content_type="text/plain")
        for i in range(7)
    ]
    page = client.get("/v1/secrets?limit=3&offset=0", headers=A).json()
    assert [s["secret_ref"] for s in page["secrets"]] == refs[:3]
    assert page["total"] == 7 and "previous" not in page
    assert "limit=3" in page["next"] and "offset=3" in page["next"]
    page = client.get("/v1/secrets?limit=3&offset=3", headers=A).json()
    assert [s["secret_ref"] for s in page["secrets"]] == refs[3:6]
    assert "offset=0" in page["previous"] and "offset=6" in page["next"]
    named = client.get("/v1/secrets?name=s1", headers=A).json()
    assert named["total"] == 2 and all(s["name"] == "s1" for s in named["secrets"])
    # Barbican's lenient paging: nonsense falls back to the defaults, never a 5xx
    assert client.get("/v1/secrets?limit=x&offset=-4", headers=A).json()["total"] == 7
    huge = client.get(f"/v1/secrets?limit={10**30}&offset={10**30}", headers=A).json()
    assert huge["secrets"] == [] and huge["total"] == 7


def test_listing_filters_by_type_and_containers_page_alike(client: Any) -> None:
    """Secrets and containers share one offset pager: each filter and link applies to both."""
    store(client, name="k", payload="x", payload_content_type="text/plain", secret_type="opaque")
    store(
        client,
        name="k",
        payload="y",
        payload_content_type="text/plain",
        secret_type="passphrase",
        bit_length=256,
    )
    opaque = client.get("/v1/secrets?secret_type=opaque", headers=A).json()
    assert opaque["total"] == 1 and opaque["secrets"][0]["secret_type"] == "opaque"
    assert client.get("/v1/secrets?bits=256", headers=A).json()["total"] == 1
    assert client.get("/v1/secrets?name=k&bits=128", headers=A).json()["total"] == 0
    ref = store(client, payload="z", payload_content_type="text/plain")
    crefs = [
        client.post(
            "/v1/containers",
            headers=A,
            json={
                "type": "generic",
                "name": f"c{i}",
                "secret_refs": [{"name": "x", "secret_ref": ref}],
            },
        ).json()["container_ref"]
        for i in range(3)
    ]
    page = client.get("/v1/containers?limit=2&offset=1", headers=A).json()
    assert [c["container_ref"] for c in page["containers"]] == crefs[1:3]
    assert page["total"] == 3 and "next" not in page
    assert "/v1/containers?" in page["previous"] and "offset=0" in page["previous"]
    assert client.get("/v1/containers?type=certificate", headers=A).json() == {
        "containers": [],
        "total": 0,
    }
    named = client.get("/v1/containers?name=c2", headers=A).json()
    assert [c["container_ref"] for c in named["containers"]] == crefs[2:]


def test_certificate_container_read_by_the_store(
    client: Any, db: Database, settings: Settings
) -> None:
    pem, key_pem, _, _ = cert_and_key()
    cert_ref = store(client, payload=pem.decode(), payload_content_type="text/plain")
    key_ref = store(client, payload=key_pem.decode(), payload_content_type="text/plain")
    pass_ref = store(
        client, payload="pw", payload_content_type="text/plain", secret_type="passphrase"
    )
    r = client.post(
        "/v1/containers/",
        headers=A,
        json={
            "name": "tls",
            "type": "certificate",
            "secret_refs": [
                {"name": "certificate", "secret_ref": cert_ref},
                {"name": "private_key", "secret_ref": key_ref},
                {"name": "private_key_passphrase", "secret_ref": pass_ref},
            ],
        },
    )
    assert r.status_code == 201, r.text
    cref = r.json()["container_ref"]
    shown = client.get(cref, headers=A).json()
    assert shown["type"] == "certificate" and shown["name"] == "tls"
    assert {i["name"]: i["secret_ref"] for i in shown["secret_refs"]} == {
        "certificate": cert_ref,
        "private_key": key_ref,
        "private_key_passphrase": pass_ref,
    }
    assert client.get("/v1/containers", headers=A).json()["total"] == 1

    reader = embedded_store(settings, db)
    got = reader.certificate(cref, SecretAccess("project-a"))
    assert got.certificate == pem.strip() and got.private_key == key_pem.strip()
    assert got.private_key_passphrase == b"pw" and got.intermediates is None
    assert reader.secret(cert_ref, SecretAccess("project-a")) == pem.strip()
    direct = reader.certificate(cert_ref, SecretAccess("project-a"))
    assert direct.pkcs12 and direct.certificate == pem.strip()
    for bad in (
        lambda: reader.certificate(cref, SecretAccess("project-b")),
        lambda: reader.secret(cert_ref, SecretAccess("project-b")),
        lambda: reader.secret(cref, SecretAccess("project-a")),
        lambda: reader.certificate("nonsense/at/all", SecretAccess("project-a")),
    ):
        with pytest.raises(SecretNotFound):
            bad()

    assert client.delete(cref, headers=A).status_code == 204
    assert_barbican_fault(client.get(cref, headers=A), 404)
    assert client.delete(cert_ref, headers=A).status_code == 204
    assert_barbican_fault(client.get(cert_ref + "/payload", headers=A), 404)


@pytest.mark.parametrize(
    ("body", "status", "fragment"),
    [
        ({"payload": "x"}, 400, "payload_content_type"),
        ({"payload": "x", "payload_content_type": "image/png"}, 400, "payload_content_type"),
        ({"payload": "", "payload_content_type": "text/plain"}, 400, "non empty"),
        (
            {
                "payload": "x",
                "payload_content_type": "text/plain",
                "payload_content_encoding": "base64",
            },
            400,
            "payload_content_encoding",
        ),
        (
            {"payload": "eA==", "payload_content_type": "application/octet-stream"},
            400,
            "payload_content_encoding",
        ),
        (
            {
                "payload": "not base64!",
                "payload_content_type": "application/octet-stream",
                "payload_content_encoding": "base64",
            },
            400,
            "Invalid payload",
        ),
        ({"payload": 5, "payload_content_type": "text/plain"}, 400, "string"),
        ({"payload_content_type": "text/plain"}, 400, "payload must be provided"),
        ({"secret_type": "nonsense"}, 400, "secret_type"),
        ({"name": "n" * 256}, 400, "name"),
        ({"bit_length": 0}, 400, "bit_length"),
        ({"bit_length": True}, 400, "bit_length"),
        ({"expiration": "yesterday"}, 400, "Invalid date"),
        ({"expiration": "2001-01-01T00:00:00Z"}, 400, "before current time"),
        ({"expiration": "9999-12-31T23:59:59-05:00"}, 400, "Invalid date"),
        ({"algorithm": None}, 400, "algorithm"),
        (
            {"payload": "x", "payload_content_type": "text/plain; charset=latin1"},
            400,
            "payload_content_type",
        ),
        ({"payload": "x" * 20_001, "payload_content_type": "text/plain"}, 413, "too large"),
        ([], 400, "JSON object"),
    ],
)
def test_bad_secrets_are_refused_and_change_nothing(
    client: Any, db: Database, body: Any, status: int, fragment: str
) -> None:
    before = snapshot(db)
    assert_barbican_fault(client.post("/v1/secrets", json=body, headers=A), status, fragment)
    assert snapshot(db) == before


def test_bad_containers_are_refused(client: Any, db: Database) -> None:
    ref = store(client, payload="x", payload_content_type="text/plain")
    other = store(client, payload="y", payload_content_type="text/plain")
    missing = ref.rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    cases: list[tuple[Any, int, str]] = [
        ({"secret_refs": []}, 400, "type"),
        ({"type": "bag"}, 400, "type"),
        (
            {"type": "certificate", "secret_refs": [{"name": "private_key", "secret_ref": ref}]},
            400,
            "certificate",
        ),
        (
            {
                "type": "certificate",
                "secret_refs": [
                    {"name": "certificate", "secret_ref": ref},
                    {"name": "cat", "secret_ref": other},
                ],
            },
            400,
            "only",
        ),
        (
            {
                "type": "generic",
                "secret_refs": [
                    {"name": "a", "secret_ref": ref},
                    {"name": "a", "secret_ref": other},
                ],
            },
            400,
            "Duplicate reference names",
        ),
        (
            {
                "type": "generic",
                "secret_refs": [{"name": "a", "secret_ref": ref}, {"name": "b", "secret_ref": ref}],
            },
            400,
            "Duplicate secret ids",
        ),
        (
            {
                "type": "generic",
                "secret_refs": [{"name": "a", "secret_ref": "http://elsewhere/v1/secrets/x"}],
            },
            400,
            "hostname",
        ),
        (
            {"type": "generic", "secret_refs": [{"name": "a", "secret_ref": missing}]},
            404,
            "doesn't exist",
        ),
        ({"type": "generic", "secret_refs": "nope"}, 400, "array"),
    ]
    before = snapshot(db)
    for body, status, fragment in cases:
        assert_barbican_fault(client.post("/v1/containers", json=body, headers=A), status, fragment)
    assert snapshot(db) == before


def test_bodies_that_are_not_json(client: Any, db: Database) -> None:
    before = snapshot(db)
    assert_barbican_fault(
        client.post(
            "/v1/secrets", content=b"{nope", headers={**A, "Content-Type": "application/json"}
        ),
        400,
    )
    assert_barbican_fault(
        client.post("/v1/secrets", content=b"x", headers={**A, "Content-Type": "text/plain"}), 415
    )
    assert_barbican_fault(
        client.post(
            "/v1/containers", content=b"", headers={**A, "Content-Type": "application/json"}
        ),
        400,
    )
    assert_barbican_fault(
        client.post(
            "/v1/secrets", content=b"x" * 70_000, headers={**A, "Content-Type": "application/json"}
        ),
        413,
    )
    assert snapshot(db) == before


def test_unknown_ids_and_version_documents(client: Any) -> None:
    assert_barbican_fault(client.get("/v1/secrets/not-a-uuid", headers=A), 404)
    assert_barbican_fault(client.delete("/v1/containers/nope", headers=A), 404)
    assert_barbican_fault(client.get("/v1/nothing", headers=A), 404)
    assert client.get("/v1").json()["version"]["id"] == "v1"
    r = client.get("/", headers={"OpenStack-API-Version": "key-manager 1.1"})
    assert r.status_code == 300
    assert r.json()["versions"][0]["links"][0]["href"] == "http://testserver/v1/"
    assert "versions" in client.get("/").json()  # Octavia's list for everyone else


def test_put_payload_to_a_secret_made_without_one(client: Any) -> None:
    ref = store(client, name="later")
    assert "content_types" not in client.get(ref, headers=A).json()
    assert_barbican_fault(client.get(ref + "/payload", headers=A), 404)
    r = client.put(ref, content=b"late", headers={**A, "Content-Type": "text/plain"})
    assert r.status_code == 204, r.text
    assert client.get(ref + "/payload", headers=A).content == b"late"
    assert_barbican_fault(
        client.put(ref, content=b"again", headers={**A, "Content-Type": "text/plain"}), 409
    )
    assert_barbican_fault(
        client.put(ref, content=b"x", headers={**A, "Content-Type": "image/png"}), 415
    )


def test_keystone_mode_token_project_and_barbicans_roles(
    db: Database, notifier: Any, tmp_path: Any
) -> None:
    """Under Keystone the token's project scopes everything; readers list and show,
    members (and admins) store, decrypt and delete; an admin of another project
    (even with ``admin``) still finds nothing of A's, as Barbican's defaults."""
    from fastapi.testclient import TestClient

    from hydria.api.app import create_app
    from tests.support.identity import HeaderIdentity, keystone_settings

    app = create_app(db, notifier, keystone_settings(tmp_path), authenticator=HeaderIdentity)
    member = {"X-Project-Id": "pa", "X-Roles": "member,reader", "X-User-Id": "alice"}
    reader = {"X-Project-Id": "pa", "X-Roles": "reader"}
    nobody = {"X-Project-Id": "pa", "X-Roles": ""}
    admin_b = {"X-Project-Id": "pb", "X-Roles": "admin,member,reader"}
    with TestClient(app) as c:
        r = c.post(
            "/v1/secrets",
            headers=member,
            json={"payload": "k", "payload_content_type": "text/plain"},
        )
        assert r.status_code == 201, r.text
        ref = r.json()["secret_ref"]
        assert c.get(ref, headers=member).json()["creator_id"] == "alice"
        assert c.get(ref, headers=reader).status_code == 200
        assert c.get("/v1/secrets", headers=reader).json()["total"] == 1
        assert_barbican_fault(c.get(ref + "/payload", headers=reader), 403)
        assert_barbican_fault(c.post("/v1/secrets", headers=reader, json={}), 403)
        assert_barbican_fault(c.get("/v1/secrets", headers=nobody), 403)
        assert_barbican_fault(c.get(ref, headers=admin_b), 404)
        assert_barbican_fault(c.get(ref + "/payload", headers=admin_b), 404)
        assert c.get("/v1/secrets", headers=admin_b).json()["total"] == 0
        assert c.get(ref + "/payload", headers=member).content == b"k"
        assert c.delete(ref, headers=member).status_code == 204


def test_a_payload_another_key_sealed_is_503_not_500(
    client: Any, db: Database, notifier: Any, settings: Settings
) -> None:
    """An API process with another deployment's key file cannot open the payload:
    the store is unavailable to it (503), which is not the caller's fault."""
    import warnings

    from hydria.api.app import create_app

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from fastapi.testclient import TestClient

    ref = store(client, payload="sealed with the first key", payload_content_type="text/plain")
    other = settings.model_copy(update={"state_dir": settings.state_dir / "other"})
    other.state_dir.mkdir()
    with TestClient(create_app(db, notifier, other)) as second:
        r = second.get(ref + "/payload", headers=A)
    assert r.status_code == 503, r.text
    assert "sealed with the first key" not in r.text
