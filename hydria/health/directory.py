"""Which amphorae exist and their management addresses, for the receiver.

The receiver drops a heartbeat from an amphora the database does not know
(or knows as DELETED) before any cryptography, and one that does not come
from the amphora's management address. It reads this directory, a dict that
a thread rebuilds from the database every ``refresh_interval`` seconds, or
soon after the receiver met an id it did not know (a new amphora's first
heartbeats may be dropped until then; nothing depends on them). Each refresh
also seeds the sequence tracker with the recorded ``seq`` of amphorae it does
not track yet, so a restarted health manager knows where each one stood.
"""

from __future__ import annotations

import ipaddress
import logging
import threading

from sqlalchemy import select

from hydria.core import constants as c
from hydria.db.engine import Database
from hydria.db.models import Amphora, AmphoraHealth
from hydria.health.seqs import SeqTracker

log = logging.getLogger("hydria.health.directory")


def normal_address(text: str) -> str:
    """One spelling per address (``::ffff:127.0.0.1`` is ``127.0.0.1``)."""
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return text
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        return str(ip.ipv4_mapped)
    return str(ip)


class AmphoraDirectory:
    def __init__(self, db: Database, seqs: SeqTracker, *, refresh_interval: float = 2.0,
                 min_gap: float = 0.25) -> None:
        self.db = db
        self.seqs = seqs
        self.refresh_interval = refresh_interval
        self.min_gap = min_gap
        self._addresses: dict[str, str] = {}
        self._wake = threading.Event()

    def address(self, amphora_id: str) -> str | None:
        """The management address of a live amphora, or None."""
        return self._addresses.get(amphora_id)

    def wake(self) -> None:
        """An unknown id was seen: look again soon."""
        self._wake.set()

    def refresh(self) -> int:
        with self.db.session() as session:
            rows = session.execute(
                select(Amphora.id, Amphora.lb_network_ip, AmphoraHealth.seq)
                .outerjoin(AmphoraHealth, AmphoraHealth.amphora_id == Amphora.id)
                .where(Amphora.status != c.DELETED, Amphora.lb_network_ip.is_not(None))).all()
        for amp_id, _, seq in rows:
            self.seqs.seed(amp_id, seq or 0)
        # one assignment: the receiver reads either the old dict or the new one
        self._addresses = {amp_id: normal_address(ip) for amp_id, ip, _ in rows if ip}
        return len(rows)

    def run(self, stop: threading.Event) -> None:
        failing = False
        rounds = 0
        while not stop.is_set():
            try:
                self.refresh()
                rounds += 1
                if rounds % 64 == 0:
                    self.seqs.retain(self._addresses)
                failing = False
            except Exception:  # the database may be away: keep the last directory
                if not failing:
                    log.exception("event=amphora_directory_refresh_failed")
                failing = True
            self._wake.wait(self.refresh_interval)
            self._wake.clear()
            stop.wait(self.min_gap)
