"""Peers the agent turned away at the TLS handshake, counted by reason.

A refused handshake on the management port is the first trace of someone
probing it: a client certificate another CA signed, no certificate at all,
plain HTTP, a peer that opened a connection and never spoke. The agent counts
each kind apart, shows the counts in ``/1.0/info`` and as Prometheus text at
``/1.0/metrics`` (``hydria_agent_tls_refused_total{reason=...}``), both on the
mutual-TLS API, so an operator's alert can tell a stray health check from a
forged client while a tenant's PROMETHEUS listener never shows them.

``refusal_reason`` is the pure rule from the handshake's exception to a reason;
``Refusals`` holds the counts (the handshakes run in many threads).
"""

from __future__ import annotations

import ssl
import threading
from typing import Final

#: Every reason, in the order the metrics list them (all present, zero or not).
REASONS: Final = (
    "untrusted_certificate",  # a client certificate this amphora's CA did not sign
    "no_certificate",  # TLS without a client certificate
    "not_tls",  # plain HTTP or another protocol on the TLS port
    "peer_alert",  # the peer ended the handshake (it did not trust our certificate)
    "timeout",  # connected and never finished the handshake
    "closed",  # the connection dropped during the handshake
    "other",
)

_NOT_TLS: Final = frozenset(
    {
        "HTTP_REQUEST",
        "HTTPS_PROXY_REQUEST",
        "WRONG_VERSION_NUMBER",
        "UNKNOWN_PROTOCOL",
        "UNSUPPORTED_PROTOCOL",
        "VERSION_TOO_LOW",
        "NO_SHARED_CIPHER",
        "NO_PROTOCOLS_AVAILABLE",
        "RECORD_LAYER_FAILURE",
        "PACKET_LENGTH_TOO_LONG",
    }
)

METRIC: Final = "hydria_agent_tls_refused_total"


def refusal_reason(exc: BaseException) -> str:
    """Which of ``REASONS`` a failed server-side handshake was."""
    if isinstance(exc, ssl.SSLCertVerificationError):
        return "untrusted_certificate"
    if isinstance(exc, TimeoutError):
        return "timeout"
    if isinstance(exc, ssl.SSLEOFError | ssl.SSLZeroReturnError | ConnectionError):
        return "closed"
    if isinstance(exc, ssl.SSLError):
        reason = exc.reason or ""
        if reason == "CERTIFICATE_VERIFY_FAILED":
            return "untrusted_certificate"
        if reason == "PEER_DID_NOT_RETURN_A_CERTIFICATE":
            return "no_certificate"
        if reason in _NOT_TLS:
            return "not_tls"
        if reason.startswith(("TLSV1_ALERT_", "SSLV3_ALERT_", "TLSV13_ALERT_")):
            return "peer_alert"
        return "other"
    if isinstance(exc, OSError):
        return "closed"
    return "other"


class Refusals:
    """Counts of refused handshakes by reason (thread-safe)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = dict.fromkeys(REASONS, 0)

    def count(self, exc: BaseException) -> str:
        reason = refusal_reason(exc)
        with self._lock:
            self._counts[reason] += 1
        return reason

    def by_reason(self) -> dict[str, int]:
        with self._lock:
            return dict(self._counts)

    def total(self) -> int:
        return sum(self.by_reason().values())

    def exposition(self) -> str:
        """The counts as Prometheus text (every reason, so a rate has a zero to start from)."""
        lines = [
            f"# HELP {METRIC} TLS handshakes the amphora agent refused, by reason.",
            f"# TYPE {METRIC} counter",
        ]
        lines += [f'{METRIC}{{reason="{r}"}} {n}' for r, n in self.by_reason().items()]
        return "\n".join(lines) + "\n"
