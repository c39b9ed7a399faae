"""The ``barbican`` secret-store driver against a real Barbican 23 behind a real Keystone.

A user of project A stores a certificate, its key and a PKCS12 bundle and makes
a ``certificate`` container with python-barbicanclient (as users do). Hydria's
driver, as its service user, then:

- cannot read them before the user named them (Barbican keeps them to A);
- reads them with the user's token (the API-time check) and, as Octavia's
  ``barbican_acl`` manager does, puts the service user on their read ACLs;
- afterwards reads them with no token at all (the controller);
- refuses another project's user (403) and an unknown id (404);
- finds Barbican through Keystone's catalogue (``key-manager``), and through
  ``HYDRIA_BARBICAN_ENDPOINT``; ``hydria.cli.wiring.secret_store`` picks it.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from barbicanclient import client as barbican_client
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from hydria.cli import wiring
from hydria.config import Settings
from hydria.core.secrets import SecretAccess, SecretForbidden, SecretNotFound
from hydria.core.service_user import ServiceUser
from hydria.drivers.secrets.barbican import BarbicanOptions, BarbicanStore
from tests.api.test_secrets import cert_and_key
from tests.support.backends import free_port
from tests.support.barbican import running_barbican
from tests.support.keystone import Keystone, running_keystone

pytestmark = [pytest.mark.integration, pytest.mark.keystone, pytest.mark.barbican]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Keystone, str]]:
    folder = tmp_path_factory.mktemp("barbican")
    with (
        running_keystone(folder / "keystone", free_port()) as ks,
        running_barbican(folder / "barbican", ks) as url,
    ):
        yield ks, url


def user_client(ks: Keystone, project: str, role: str) -> Any:
    auth = v3.Password(**ks.auth(project, role))
    return barbican_client.Client(session=ks_session.Session(auth=auth))


def options(ks: Keystone, endpoint: str = "") -> BarbicanOptions:
    user = ServiceUser(ks.url, ks.service_user, ks.service_password, project_name="service")
    return BarbicanOptions(user, endpoint=endpoint)


def test_reads_as_octavia_does(stack: tuple[Keystone, str]) -> None:
    ks, url = stack
    pem, key_pem, cert, key = cert_and_key()
    user = user_client(ks, "project-a", "member")
    cert_ref = user.secrets.create(
        name="cert", payload=pem.decode(), payload_content_type="text/plain"
    ).store()
    key_ref = user.secrets.create(
        name="key", payload=key_pem.decode(), payload_content_type="text/plain"
    ).store()
    bundle = pkcs12.serialize_key_and_certificates(
        b"x", key, cert, None, serialization.NoEncryption()
    )
    p12_ref = user.secrets.create(
        name="p12",
        payload=base64.b64encode(bundle).decode(),
        payload_content_type="application/octet-stream",
        payload_content_encoding="base64",
    ).store()
    container = user.containers.create_certificate(
        name="tls", certificate=user.secrets.get(cert_ref), private_key=user.secrets.get(key_ref)
    )
    container_ref = container.store()

    store = BarbicanStore(options(ks))  # the catalogue's key-manager endpoint
    service = SecretAccess(project_id=ks.project_ids["project-a"])
    with pytest.raises(SecretForbidden):  # Barbican keeps A's secrets to A
        store.certificate(container_ref, service)

    token = ks.token("project-a", "member")
    as_user = SecretAccess(project_id=ks.project_ids["project-a"], token=token)
    got = store.certificate(container_ref, as_user)
    assert got.certificate.strip() == pem.strip()
    assert got.private_key is not None and got.private_key.strip() == key_pem.strip()
    assert store.certificate(p12_ref, as_user).certificate == bundle

    # the controller: no token, the service user through the ACLs just granted
    again = BarbicanStore(options(ks, endpoint=url + "/v1"))  # the setting, /v1 and all
    got = again.certificate(container_ref, service)
    assert got.certificate.strip() == pem.strip() and not got.pkcs12
    direct = again.certificate(p12_ref, service)
    assert direct.pkcs12 and direct.certificate == bundle
    assert again.secret(cert_ref, service).strip() == pem.strip()

    # another project's user may not name A's material; unknown ids are not found
    other = SecretAccess(
        project_id=ks.project_ids["project-b"], token=ks.token("project-b", "member")
    )
    with pytest.raises(SecretForbidden):
        store.certificate(container_ref, other)
    missing = url + "/v1/secrets/00000000-0000-0000-0000-000000000000"
    with pytest.raises(SecretNotFound):
        store.secret(missing, as_user)
    with pytest.raises(SecretNotFound):
        store.secret(container_ref, as_user)  # a container is not a secret


def test_wiring_picks_the_driver(stack: tuple[Keystone, str], tmp_path: Path) -> None:
    ks, _ = stack
    settings = Settings(
        state_dir=tmp_path,
        secret_store="barbican",
        keystone_url=ks.url,
        keystone_username=ks.service_user,
        keystone_password=ks.service_password,
    )
    db: Any = None  # the barbican store needs no database
    assert isinstance(wiring.secret_store(settings, db), BarbicanStore)
    with pytest.raises(SystemExit, match="HYDRIA_KEYSTONE_URL"):
        wiring.secret_store(Settings(state_dir=tmp_path, secret_store="barbican"), db)
