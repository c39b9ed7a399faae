"""Rotating amphora certificates before they expire, without touching HAProxy.

An amphora whose certificate expires within ``renew_before`` gets a new one
from the controller CA through the agent API; the agent swaps its TLS context
for new connections. ``cert_busy`` is taken with a conditional UPDATE, so two
housekeepers never rotate the same amphora at once, and given back on failure
so the next sweep tries again; the claim lapses after ``CLAIM`` by itself, so a
housekeeper killed in the middle does not leave it taken for ever.
"""

from __future__ import annotations

import datetime as dt
import logging

from cryptography import x509
from sqlalchemy import ColumnElement, or_, select, update

from hydria.core import constants as c
from hydria.core.errors import AmphoraUnreachable
from hydria.db.engine import Database, rows_matched
from hydria.db.models import Amphora, utcnow
from hydria.drivers.amphora.base import AmphoraAgent
from hydria.drivers.certs.base import CertificateAuthority

log = logging.getLogger("hydria.housekeeping")

# far longer than one PUT /1.0/certificate takes, short enough to retry the same day
CLAIM = dt.timedelta(minutes=5)


def _free(now: dt.datetime) -> ColumnElement[bool]:
    return or_(
        Amphora.cert_busy.is_(False),
        Amphora.cert_busy_until.is_(None),
        Amphora.cert_busy_until < now,
    )


class CertRotator:
    def __init__(
        self,
        db: Database,
        ca: CertificateAuthority,
        agent: AmphoraAgent,
        *,
        agent_port: int,
        cert_days: int = 365,
        renew_before: dt.timedelta = dt.timedelta(days=30),
    ) -> None:
        self.db = db
        self.ca = ca
        self.agent = agent
        self.agent_port = agent_port
        self.cert_days = cert_days
        self.renew_before = renew_before

    def due(self) -> list[tuple[str, str]]:
        """(id, management address) of serving amphorae whose certificate expires soon."""
        horizon = utcnow() + self.renew_before
        with self.db.session() as session:
            rows = session.execute(
                select(Amphora.id, Amphora.lb_network_ip).where(
                    Amphora.status == c.AMPHORA_ALLOCATED,
                    Amphora.cert_expiration.is_not(None),
                    Amphora.cert_expiration < horizon,
                    _free(utcnow()),
                )
            )
            return [(i, ip) for i, ip in rows if ip]

    def rotate_due(self) -> int:
        done = 0
        for amp_id, ip in self.due():
            if self._rotate(amp_id, ip):
                done += 1
        return done

    def _rotate(self, amp_id: str, ip: str) -> bool:
        now = utcnow()
        until = now + CLAIM
        with self.db.session() as session:
            taken = rows_matched(
                session,
                update(Amphora)
                .where(Amphora.id == amp_id, _free(now))
                .values(cert_busy=True, cert_busy_until=until),
            )
        if not taken:
            return False
        expires: dt.datetime | None = None
        try:
            cert, key = self.ca.issue_server_cert(amp_id, ip, days=self.cert_days)
            self.agent.put_certificate(ip, self.agent_port, cert, key)
            expires = x509.load_pem_x509_certificate(cert.encode()).not_valid_after_utc
            log.info("event=certificate_rotated amphora=%s expires=%s", amp_id, expires.isoformat())
            return True
        except AmphoraUnreachable as exc:
            log.warning("event=certificate_rotation_failed amphora=%s reason=%s", amp_id, exc)
            return False
        finally:
            values: dict[str, object] = {"cert_busy": False, "cert_busy_until": None}
            if expires is not None:
                values["cert_expiration"] = expires.replace(tzinfo=None)
            # only our own claim: one that overran it may have been taken by another
            with self.db.session() as session:
                session.execute(
                    update(Amphora)
                    .where(Amphora.id == amp_id, Amphora.cert_busy_until == until)
                    .values(**values)
                )
