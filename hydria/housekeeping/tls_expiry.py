"""Listener and pool certificates watched for their expiry, after the API accepted them.

The API refuses a certificate that is already expired (or not yet valid) when
a listener or pool is created or updated (``hydria.core.tls_material``); as
in Octavia 19, nothing refuses it later: the controller still loads a
certificate that expired since (HAProxy serves an expired certificate as it
serves any other, and clients that check dates then refuse the handshake), so
an expiry never takes a listener down by itself. Octavia watches only its
amphorae's own certificates; what an operator needs besides is to see the
tenants' certificates coming to their end. So, every ``interval`` seconds of
the housekeeping loop, ``TlsExpiryWatch.check``:

- reads every certificate reference a live listener (default, SNI, client CA)
  or pool (client certificate, CA) names, from the secret store as its
  project, as the controller does (a CA bundle counts by its earliest end);
- sets the gauge ``hydria_certificate_expiry_timestamp_seconds`` (the end of
  validity, epoch seconds) labelled by resource (``listener`` or ``pool``),
  its id, load balancer, project, field and reference: an alert is then
  ``hydria_certificate_expiry_timestamp_seconds - time() < 14 * 86400``;
- logs ``event=certificate_expiring`` (within ``warn_before``) and
  ``event=certificate_expired`` as warnings, once per check.

``classify`` is the pure half: which certificates are expired or expiring at
a given moment. CRLs are not watched (HAProxy keeps using a stale one).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from cryptography import x509
from prometheus_client import Gauge
from sqlalchemy import select

from hydria.core import constants as c
from hydria.core import tls_material
from hydria.core.secrets import SecretAccess
from hydria.db.engine import Database
from hydria.db.models import Listener, Pool
from hydria.drivers.secrets.base import SecretStore

log = logging.getLogger("hydria.housekeeping")

EXPIRY = Gauge(
    "hydria_certificate_expiry_timestamp_seconds",
    "When a certificate a listener or pool serves stops being valid (epoch seconds)",
    ["resource", "id", "load_balancer_id", "project_id", "field", "ref"],
)

#: Fields holding a certificate container, and fields holding a CA bundle.
LISTENER_CERTS = ("default_tls_container_ref", "sni_container_refs")
LISTENER_CAS = ("client_ca_tls_container_ref",)
POOL_CERTS = ("tls_container_ref",)
POOL_CAS = ("ca_tls_container_ref",)


@dataclass(frozen=True)
class Reference:
    """One certificate reference a live listener or pool names."""

    resource: str  # "listener" or "pool"
    id: str
    load_balancer_id: str
    project_id: str
    field: str
    ref: str
    is_ca: bool


@dataclass(frozen=True)
class Expiry:
    reference: Reference
    not_after: dt.datetime


def classify(
    expiries: Iterable[Expiry], now: dt.datetime, warn_before: dt.timedelta
) -> tuple[list[Expiry], list[Expiry]]:
    """(expired, expiring within ``warn_before``) at ``now``; the rest are fine."""
    expired: list[Expiry] = []
    expiring: list[Expiry] = []
    for expiry in expiries:
        if expiry.not_after <= now:
            expired.append(expiry)
        elif expiry.not_after <= now + warn_before:
            expiring.append(expiry)
    return expired, expiring


def _refs(value: object) -> list[str]:
    if isinstance(value, str) and value:
        return [value]
    if isinstance(value, list):
        return [v for v in value if isinstance(v, str) and v]
    return []


def _named(
    resource: str, row: Listener | Pool, certs: tuple[str, ...], cas: tuple[str, ...]
) -> list[Reference]:
    return [
        Reference(
            resource,
            row.id,
            row.load_balancer_id,
            row.project_id,
            field,
            ref,
            is_ca=field in cas,
        )
        for field in (*certs, *cas)
        for ref in _refs(getattr(row, field))
    ]


class TlsExpiryWatch:
    """``store`` is asked at each check (None: no store on this host yet, no check)."""

    def __init__(
        self,
        db: Database,
        store: Callable[[], SecretStore | None],
        *,
        warn_before: dt.timedelta = dt.timedelta(days=30),
        interval: float = 3600.0,
    ) -> None:
        self.db = db
        self.store = store
        self.warn_before = warn_before
        self.interval = interval
        self._next = 0.0  # monotonic time of the next check: the first sweep checks

    def check_due(self) -> int | None:
        """``check`` if ``interval`` has passed since the last one (the sweep is faster)."""
        if time.monotonic() < self._next:
            return None
        self._next = time.monotonic() + self.interval
        return self.check()

    def references(self) -> list[Reference]:
        with self.db.session() as session:
            listeners = session.scalars(
                select(Listener).where(Listener.provisioning_status != c.DELETED)
            )
            found = [
                r for li in listeners for r in _named("listener", li, LISTENER_CERTS, LISTENER_CAS)
            ]
            pools = session.scalars(select(Pool).where(Pool.provisioning_status != c.DELETED))
            found += [r for pool in pools for r in _named("pool", pool, POOL_CERTS, POOL_CAS)]
        return found

    def not_after(self, store: SecretStore, reference: Reference) -> dt.datetime:
        access = SecretAccess(project_id=reference.project_id)
        if reference.is_ca:
            pem = tls_material.ca_bundle(
                store.secret(reference.ref, access),
                field=reference.field,
                ref=reference.ref,
                check_dates=False,
            )
            return min(cert.not_valid_after_utc for cert in x509.load_pem_x509_certificates(pem))
        return tls_material.certificate_bundle(
            store.certificate(reference.ref, access),
            field=reference.field,
            ref=reference.ref,
            check_dates=False,
        ).not_after

    def check(self, now: dt.datetime | None = None) -> int:
        """Read, publish and log every watched certificate; how many are expired or expiring."""
        moment = now or dt.datetime.now(dt.UTC)
        store = self.store()
        if store is None:  # the embedded store's key is not on this host (yet)
            log.info("event=certificate_expiry_check_skipped reason=no_secret_store")
            return 0
        expiries: list[Expiry] = []
        for reference in self.references():
            try:
                expiries.append(Expiry(reference, self.not_after(store, reference)))
            except Exception as exc:  # gone, unreadable, store away: the controller says more
                log.warning(
                    "event=certificate_unreadable resource=%s id=%s field=%s ref=%s error=%s",
                    reference.resource,
                    reference.id,
                    reference.field,
                    reference.ref,
                    type(exc).__name__,
                )
        EXPIRY.clear()  # deleted listeners and pools, replaced references: gone from the gauge
        for expiry in expiries:
            r = expiry.reference
            EXPIRY.labels(r.resource, r.id, r.load_balancer_id, r.project_id, r.field, r.ref).set(
                expiry.not_after.timestamp()
            )
        expired, expiring = classify(expiries, moment, self.warn_before)
        for event, group in (("certificate_expired", expired), ("certificate_expiring", expiring)):
            for expiry in group:
                r = expiry.reference
                log.warning(
                    "event=%s resource=%s id=%s load_balancer=%s field=%s ref=%s "
                    "not_after=%s days_left=%.1f",
                    event,
                    r.resource,
                    r.id,
                    r.load_balancer_id,
                    r.field,
                    r.ref,
                    expiry.not_after.isoformat(),
                    (expiry.not_after - moment).total_seconds() / 86400,
                )
        return len(expired) + len(expiring)
