"""What a TLS reference resolves to, whichever store keeps it.

Listeners and pools name their certificates, CAs and CRLs by reference, as in
Octavia: the URL of a Barbican container or secret
(``http://host:9311/v1/containers/<uuid>``). The stores behind the seam in
``hydria.drivers.secrets`` (Hydria's embedded store, a real Barbican) hand back
these plain values; checking that the material is sound is not their job.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal
from urllib.parse import urlsplit

from hydria.core.errors import HydriaError

RefKind = Literal["containers", "secrets"]
#: The names of a certificate container's secrets (Barbican's)
CERTIFICATE_PARTS = ("certificate", "private_key", "intermediates", "private_key_passphrase")


@dataclass(frozen=True, slots=True)
class SecretRef:
    """A reference taken apart: which collection, which id, as given."""

    kind: RefKind
    uuid: str
    href: str


@dataclass(frozen=True, slots=True)
class CertificateContainer:
    """A ``certificate`` container's parts as bytes, exactly as stored.

    A PKCS12 secret named directly (no container) comes back with the whole
    bundle in ``certificate`` and ``pkcs12`` set; turning it into PEM, checking
    that key and certificate match and that nothing has expired is the caller's.
    """

    certificate: bytes
    private_key: bytes | None = None
    intermediates: bytes | None = None
    private_key_passphrase: bytes | None = None
    pkcs12: bool = False

    @classmethod
    def from_parts(cls, parts: dict[str, bytes], ref: str) -> CertificateContainer:
        """A container from its named secrets' payloads, as any store reads them."""
        if "certificate" not in parts:
            raise SecretNotFound(f"Container {ref} holds no certificate.")
        return cls(
            certificate=parts["certificate"],
            private_key=parts.get("private_key"),
            intermediates=parts.get("intermediates"),
            private_key_passphrase=parts.get("private_key_passphrase"),
        )


@dataclass(frozen=True, slots=True)
class SecretAccess:
    """On whose behalf a store is read: the API passes the caller's project
    (and token, where the store checks it itself); the controller passes the
    load balancer's project and no token (it reads as the service)."""

    project_id: str
    token: str | None = None


class SecretNotFound(HydriaError):
    """No such secret or container, or not one this project may read."""


class SecretForbidden(HydriaError):
    """The secret exists but this caller may not read it."""


class SecretStoreUnavailable(HydriaError):
    """The store could not be asked (Barbican away, or Keystone): try again later,
    never the user's fault."""


def parse_ref(href: str) -> SecretRef | None:
    """Take ``.../v1/containers/<id>`` or ``.../v1/secrets/<id>`` apart; ``None``
    for anything else (a bare id counts as a container, as Octavia's Barbican
    driver takes it)."""
    path = urlsplit(href).path if "://" in href else href
    parts = [p for p in path.split("/") if p]
    if len(parts) == 1:
        return SecretRef("containers", parts[0], href)
    if len(parts) >= 2 and parts[-2] in ("containers", "secrets"):
        kind: RefKind = "containers" if parts[-2] == "containers" else "secrets"
        return SecretRef(kind, parts[-1], href)
    return None
