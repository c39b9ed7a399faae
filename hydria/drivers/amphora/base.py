"""What the controller and housekeeping ask of an amphora's agent.

``AgentClient`` (HTTPS with mutual TLS to ``hydria amphora-agent``) is the one
implementation; an agent of another kind (a VM image with a different API)
would implement the same calls. Transport failures raise
``hydria.core.errors.AmphoraUnreachable`` (temporary), a configuration HAProxy
refuses raises ``ConfigRejected`` (permanent), and a push older than what the
amphora runs raises ``StaleConfig``.
"""

from __future__ import annotations

from typing import Any, Protocol


class StaleConfig(Exception):
    """The amphora already runs a newer configuration version."""


class AmphoraAgent(Protocol):
    def info(self, ip: str, port: int, *, timeout: float | None = None) -> dict[str, Any]:
        """The agent's state: its configuration version, HAProxy's, the certificate's."""
        ...

    def wait_ready(self, ip: str, port: int, *, timeout: float) -> dict[str, Any]:
        """``info`` once the agent answers, polling until ``timeout``."""
        ...

    def put_config(self, ip: str, port: int, text: str, version: int) -> dict[str, Any]:
        """Check, swap in and load HAProxy configuration ``version``."""
        ...

    def put_udp(self, ip: str, port: int, doc: dict[str, Any], version: int) -> dict[str, Any]:
        """Hand over the UDP listeners' part (``PUT /1.0/udp``), before ``put_config``."""
        ...

    def put_tls(self, ip: str, port: int, files: dict[str, str]) -> None:
        """Hand over listener and pool TLS material (``PUT /1.0/tls``), before the
        configuration that names it. The content is never logged."""
        ...

    def put_vrrp(self, ip: str, port: int, text: str) -> dict[str, Any]:
        """keepalived's configuration for an ACTIVE_STANDBY amphora."""
        ...

    def put_certificate(self, ip: str, port: int, cert_pem: str, key_pem: str) -> None:
        """Replace the agent's server certificate (new handshakes use it)."""
        ...

    def delete_config(
        self, ip: str, port: int, *, drain: float = 0.0, connect_timeout: float | None = None
    ) -> None:
        """Stop HAProxy; with ``drain``, let requests in flight finish first."""
        ...

    def stats(self, ip: str, port: int) -> dict[str, Any]:
        """HAProxy's counters as the agent reads them."""
        ...
