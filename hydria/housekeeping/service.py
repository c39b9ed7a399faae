"""``hydria housekeeping``: the periodic sweeps of ``hydria.housekeeping.sweep``.

Each sweep reads what it needs, asks a pure function what to remove, and
removes it with conditional statements, so several housekeepers (one per
host, as the ``local`` compute driver only sees its own host) never fight.
"""

from __future__ import annotations

import datetime as dt
import logging
import threading

from sqlalchemy import and_, delete, select

from hydria.core import constants as c
from hydria.db.engine import Database
from hydria.db.models import AddressAllocation, Amphora, AmphoraHealth, LoadBalancer, utcnow
from hydria.drivers.compute.base import ComputeDriver, LeavesStrays
from hydria.housekeeping import sweep
from hydria.housekeeping.certs import CertRotator
from hydria.housekeeping.spares import SparePool
from hydria.housekeeping.tls_expiry import TlsExpiryWatch

log = logging.getLogger("hydria.housekeeping")


class Housekeeper:
    def __init__(
        self,
        db: Database,
        compute: ComputeDriver,
        *,
        interval: float = 30.0,
        retention: dt.timedelta = dt.timedelta(days=7),
        certs: CertRotator | None = None,
        spares: SparePool | None = None,
        stray_grace: float = 60.0,
        tls_expiry: TlsExpiryWatch | None = None,
    ) -> None:
        self.db = db
        self.compute = compute
        self.interval = interval
        self.retention = retention
        self.certs = certs
        self.spares = spares
        self.stray_grace = stray_grace
        self.tls_expiry = tls_expiry

    def run(self, stop: threading.Event) -> None:
        log.info("event=housekeeping_start interval=%.0fs", self.interval)
        if self.spares is not None and self.spares.size > 0:
            # spares are refilled at once after a claim, not on the slow sweep
            threading.Thread(
                target=self.spares.run, args=(stop,), name="spare-pool", daemon=True
            ).start()
        while not stop.wait(self.interval):
            try:
                self.sweep_once()
            except Exception:  # the database may be away: try again next time
                log.exception("event=housekeeping_failed")
            if self.tls_expiry is not None:
                try:  # on its own interval: it reads every certificate from the store
                    self.tls_expiry.check_due()
                except Exception:
                    log.exception("event=certificate_expiry_check_failed")

    def sweep_once(self) -> dict[str, int]:
        return {
            "orphans": self.collect_orphans(),
            "addresses": self.release_leaked_addresses(),
            "purged": self.purge_expired(),
            "certificates": self.certs.rotate_due() if self.certs else 0,
        }

    def collect_orphans(self) -> int:
        """Instances without a live amphora row, and (``netns``) namespaces that
        lost their folder, once older than ``stray_grace``."""
        strays = 0
        if isinstance(self.compute, LeavesStrays):
            strays = len(self.compute.delete_strays(self.stray_grace))
        ids = self.compute.list_ids()
        if not ids:
            return strays
        with self.db.session() as session:
            status = dict(
                session.execute(select(Amphora.id, Amphora.status).where(Amphora.id.in_(ids))).all()
            )
        orphans = sweep.orphan_instances(ids, {k: str(v) for k, v in status.items()})
        for amp_id in orphans:
            log.warning("event=orphan_amphora_deleted amphora=%s", amp_id)
            self.compute.delete(amp_id)
        return len(orphans) + strays

    def release_leaked_addresses(self) -> int:
        with self.db.session() as session:
            allocations = list(
                session.execute(
                    select(
                        AddressAllocation.pool,
                        AddressAllocation.address,
                        AddressAllocation.owner_id,
                    )
                ).tuples()
            )
            live = set(
                session.scalars(
                    select(LoadBalancer.id).where(LoadBalancer.provisioning_status != c.DELETED)
                )
            )
            live |= set(session.scalars(select(Amphora.id).where(Amphora.status != c.DELETED)))
            leaked = sweep.leaked_allocations(allocations, live)
            for pool, address in leaked:
                # conditional on the owner: an address re-allocated meanwhile stays
                owner = next(o for p, a, o in allocations if (p, a) == (pool, address))
                session.execute(
                    delete(AddressAllocation).where(
                        and_(
                            AddressAllocation.pool == pool,
                            AddressAllocation.address == address,
                            AddressAllocation.owner_id == owner,
                        )
                    )
                )
                log.warning("event=leaked_address_released pool=%s address=%s", pool, address)
        return len(leaked)

    def purge_expired(self) -> int:
        now = utcnow()
        with self.db.session() as session:
            amps = sweep.expired(
                session.execute(
                    select(Amphora.id, Amphora.updated_at).where(Amphora.status == c.DELETED)
                ).all(),
                now,
                self.retention,
            )
            if amps:
                session.execute(delete(AmphoraHealth).where(AmphoraHealth.amphora_id.in_(amps)))
                session.execute(
                    delete(Amphora).where(Amphora.id.in_(amps), Amphora.status == c.DELETED)
                )
            lbs = sweep.expired(
                session.execute(
                    select(LoadBalancer.id, LoadBalancer.updated_at).where(
                        LoadBalancer.provisioning_status == c.DELETED
                    )
                ).all(),
                now,
                self.retention,
            )
            if lbs:
                # amphorae rows of purged load balancers go first (foreign key)
                session.execute(
                    delete(Amphora).where(
                        Amphora.load_balancer_id.in_(lbs), Amphora.status == c.DELETED
                    )
                )
                session.execute(
                    delete(LoadBalancer).where(
                        LoadBalancer.id.in_(lbs), LoadBalancer.provisioning_status == c.DELETED
                    )
                )
        if amps or lbs:
            log.info("event=purged amphorae=%s load_balancers=%s", len(amps), len(lbs))
        return len(amps) + len(lbs)
