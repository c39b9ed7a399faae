"""The embedded secret store's reader: ``SecretStore`` over Hydria's own tables.

It meets ``hydria.drivers.secrets.base.SecretStore`` structurally (``db`` sits
below ``drivers``' Protocol only by name), so the services (checking a
listener's references at API time) and the controller (sending the material
to amphorae) read the same rows. Reads are scoped: a secret or container is
found only in the project of the ``SecretAccess`` (another project's is
``SecretNotFound``, never a hint that it exists), and an expired secret is
gone, as in Barbican. The API's writes are in ``hydria.services.secrets``.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from hydria.core.secrets import (
    CERTIFICATE_PARTS,
    CertificateContainer,
    SecretAccess,
    SecretNotFound,
    SecretRef,
    parse_ref,
)
from hydria.db.engine import Database
from hydria.db.models import SecretContainer, StoredSecret, utcnow
from hydria.db.secret_box import SecretBox

# the parts of a ``certificate`` container, as Barbican names them


def is_uuid(text: str) -> bool:
    try:
        return str(uuid.UUID(text)) == text.lower()
    except ValueError:
        return False


def live_secret(
    session: Session, secret_id: str, project_id: str, *, now: dt.datetime | None = None
) -> StoredSecret | None:
    """The project's secret with that id, unless it has expired."""
    if not is_uuid(secret_id):
        return None
    row = session.scalar(
        select(StoredSecret).where(
            StoredSecret.id == secret_id.lower(), StoredSecret.project_id == project_id
        )
    )
    if row is None or (row.expiration is not None and row.expiration <= (now or utcnow())):
        return None
    return row


def container_row(session: Session, container_id: str, project_id: str) -> SecretContainer | None:
    if not is_uuid(container_id):
        return None
    return session.scalar(
        select(SecretContainer).where(
            SecretContainer.id == container_id.lower(), SecretContainer.project_id == project_id
        )
    )


class EmbeddedSecretStore:
    """Hydria's own store, read as ``SecretStore``."""

    def __init__(self, db: Database, box: SecretBox) -> None:
        self.db = db
        self.box = box

    def payload_of(self, row: StoredSecret) -> bytes | None:
        if row.ciphertext is None:
            return None
        return self.box.open(row.id, row.ciphertext)

    def certificate(self, ref: str, access: SecretAccess) -> CertificateContainer:
        parsed = _parse(ref)
        with self.db.session() as session:
            if parsed.kind == "secrets":  # a PKCS12 bundle named directly
                return CertificateContainer(
                    certificate=self._payload(session, parsed.uuid, access, ref), pkcs12=True
                )
            container = container_row(session, parsed.uuid, access.project_id)
            if container is None:
                raise SecretNotFound(f"Container {ref} not found.")
            parts: dict[str, bytes] = {}
            for item in container.secret_refs:
                if item["name"] in CERTIFICATE_PARTS:
                    parts[item["name"]] = self._payload(session, item["secret_id"], access, ref)
            return CertificateContainer.from_parts(parts, ref)

    def secret(self, ref: str, access: SecretAccess) -> bytes:
        parsed = _parse(ref)
        if parsed.kind != "secrets":
            raise SecretNotFound(f"{ref} is not a secret.")
        with self.db.session() as session:
            return self._payload(session, parsed.uuid, access, ref)

    def _payload(self, session: Session, secret_id: str, access: SecretAccess, ref: str) -> bytes:
        row = live_secret(session, secret_id, access.project_id)
        payload = None if row is None else self.payload_of(row)
        if payload is None:
            raise SecretNotFound(f"Secret {secret_id} of {ref} not found.")
        return payload


def _parse(ref: str) -> SecretRef:
    parsed = parse_ref(ref)
    if parsed is None:
        raise SecretNotFound(f"{ref} is not a secret or container reference.")
    return parsed
