"""An in-memory ``SecretStore`` (``hydria.drivers.secrets.base``) for unit and API
tests: containers and secrets by reference, each owned by a project."""

from __future__ import annotations

import uuid

from hydria.core.secrets import (
    CertificateContainer,
    SecretAccess,
    SecretForbidden,
    SecretNotFound,
    parse_ref,
)

BASE = "http://127.0.0.1:9311/v1"


class MemorySecretStore:
    def __init__(self) -> None:
        self.containers: dict[str, tuple[str, CertificateContainer]] = {}
        self.secrets: dict[str, tuple[str, bytes]] = {}
        self.reads = 0

    def add_certificate(self, project_id: str, container: CertificateContainer) -> str:
        uid = str(uuid.uuid4())
        self.containers[uid] = (project_id, container)
        return f"{BASE}/containers/{uid}"

    def add_secret(self, project_id: str, payload: bytes) -> str:
        uid = str(uuid.uuid4())
        self.secrets[uid] = (project_id, payload)
        return f"{BASE}/secrets/{uid}"

    def certificate(self, ref: str, access: SecretAccess) -> CertificateContainer:
        self.reads += 1
        parsed = parse_ref(ref)
        if parsed is None:
            raise SecretNotFound(ref)
        if parsed.kind == "secrets":  # a PKCS12 secret named directly
            owner, payload = self._secret(parsed.uuid, access)
            return CertificateContainer(certificate=payload, pkcs12=True)
        found = self.containers.get(parsed.uuid)
        if found is None:
            raise SecretNotFound(ref)
        if found[0] != access.project_id:
            raise SecretForbidden(ref)
        return found[1]

    def _secret(self, uid: str, access: SecretAccess) -> tuple[str, bytes]:
        found = self.secrets.get(uid)
        if found is None:
            raise SecretNotFound(uid)
        if found[0] != access.project_id:
            raise SecretForbidden(uid)
        return found

    def secret(self, ref: str, access: SecretAccess) -> bytes:
        self.reads += 1
        parsed = parse_ref(ref)
        if parsed is None or parsed.kind != "secrets":
            raise SecretNotFound(ref)
        return self._secret(parsed.uuid, access)[1]
