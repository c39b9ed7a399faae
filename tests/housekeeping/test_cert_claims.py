"""A certificate rotation's claim lapses by itself: a housekeeper killed in the
middle of one does not leave the amphora unrotatable for ever."""

from __future__ import annotations

import datetime as dt

import pytest

from hydria.core import constants as c
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.housekeeping.certs import CertRotator
from tests.support.factories import make_lb, uid

pytestmark = pytest.mark.postgres


def _amphora(db: Database, *, busy: bool, busy_until: dt.datetime | None) -> str:
    amp_id = uid()
    with db.session() as s:
        s.add(m.Amphora(id=amp_id, load_balancer_id=make_lb(db, status=c.ACTIVE),
                        status=c.AMPHORA_ALLOCATED, role=c.ROLE_STANDALONE,
                        lb_network_ip="127.43.1.1", cert_busy=busy, cert_busy_until=busy_until,
                        cert_expiration=m.utcnow() + dt.timedelta(days=1)))
    return amp_id


def test_a_claim_blocks_others_until_it_lapses(any_db: Database):
    now = m.utcnow()
    held = _amphora(any_db, busy=True, busy_until=now + dt.timedelta(minutes=4))
    lapsed = _amphora(any_db, busy=True, busy_until=now - dt.timedelta(seconds=1))
    legacy = _amphora(any_db, busy=True, busy_until=None)  # claimed before 0004: no end
    free = _amphora(any_db, busy=False, busy_until=None)
    rotator = CertRotator(any_db, None, None, agent_port=9443)  # type: ignore[arg-type]
    due = {amp_id for amp_id, _ in rotator.due()}
    assert due == {lapsed, legacy, free}
    assert held not in due
