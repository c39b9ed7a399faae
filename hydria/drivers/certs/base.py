"""The certificate seam: who vouches for an amphora's agent.

The controller and housekeeping see only this Protocol. ``local_ca`` keeps a
controller CA in PEM files; a Barbican- or Vault-backed authority would
implement the same two members. (Listener certificates for TERMINATED_HTTPS,
when they come, are a store of their own beside this one.)
"""

from __future__ import annotations

from typing import Protocol


class CertificateAuthority(Protocol):
    @property
    def ca_cert_pem(self) -> str:
        """The CA certificate an agent trusts its controllers by."""
        ...

    def issue_server_cert(self, amphora_id: str, ip: str, *, days: int = 365) -> tuple[str, str]:
        """(certificate PEM, key PEM) for an agent listening on ``ip``."""
        ...
