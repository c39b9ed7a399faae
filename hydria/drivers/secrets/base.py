"""The secret-store seam: what TERMINATED_HTTPS listeners and TLS pools read.

The services call it when a listener or pool names a reference (to refuse bad
material with a 400 before anything is stored); the controller calls it again
when it renders, to send the material to the amphora over the agent's mutual
TLS. Two stores implement it: Hydria's embedded, Barbican-compatible store (its
rows live in Hydria's database, so its reader sits in ``hydria.db`` and meets
this Protocol structurally) and a client of a real Barbican through keystoneauth.
Errors are ``hydria.core.secrets.SecretNotFound`` and ``SecretForbidden``.
"""

from __future__ import annotations

from typing import Protocol

from hydria.core.secrets import CertificateContainer, SecretAccess


class SecretStore(Protocol):
    def certificate(self, ref: str, access: SecretAccess) -> CertificateContainer:
        """The certificate container (or PKCS12 secret) that ``ref`` names."""
        ...

    def secret(self, ref: str, access: SecretAccess) -> bytes:
        """The payload of the secret that ``ref`` names (a CA bundle, a CRL)."""
        ...
