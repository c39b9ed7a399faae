"""The one write pattern, and what every service needs injected.

``write(env)``: one transaction; the load balancers it touched are notified
only after the commit succeeded. ``Env`` carries the database, the notifier,
the settle board readers wait on, and the settings (quota defaults), made once
at start-up (``hydria.api.deps``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from hydria.config import Settings
from hydria.core import constants as c
from hydria.db.engine import Database
from hydria.db.models import LoadBalancer
from hydria.db.notify import Notifier
from hydria.db.settle import SettleWatch
from hydria.db.transitions import begin_change


@dataclass(frozen=True)
class Env:
    db: Database
    notifier: Notifier
    settings: Settings
    # where TLS references are read (hydria.services.tls.SecretReader); None: nowhere
    secrets: Any = None
    # what a GET of a pending object waits on (hydria.api.settle); None: nothing waits
    settle: SettleWatch | None = None

    @property
    def quota_defaults(self) -> Mapping[str, int]:
        return self.settings.quota_defaults


class Unit:
    """A transaction plus the load balancers to wake once it has committed."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.touched: list[str] = []

    def change(self, lb: LoadBalancer, to_status: str = c.PENDING_UPDATE) -> None:
        """Lock ``lb`` for a change (409 if it is PENDING_*) and remember to notify."""
        begin_change(self.session, lb, to_status)
        self.touch(lb.id)

    def touch(self, lb_id: str) -> None:
        if lb_id not in self.touched:
            self.touched.append(lb_id)


@contextmanager
def write(env: Env) -> Iterator[Unit]:
    with env.db.session() as session:
        unit = Unit(session)
        yield unit
    for lb_id in unit.touched:
        env.notifier.notify(lb_id)


@contextmanager
def read(env: Env) -> Iterator[Session]:
    """A read-only unit: it takes no write lock (see ``Database.read``)."""
    with env.db.read() as session:
        yield session
