"""A certificate rotation's claim lapses by itself: a housekeeper killed in the
middle of one does not leave the amphora unrotatable for ever."""

from __future__ import annotations

import datetime as dt

from hydria.core import constants as c
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.housekeeping.certs import CertRotator
from tests.support.factories import make_lb, uid


def _amphora(db: Database, *, busy: bool, busy_until: dt.datetime | None) -> str:
    amp_id = uid()
    with db.session() as s:
        s.add(
            m.Amphora(
                id=amp_id,
                load_balancer_id=make_lb(db, status=c.ACTIVE),
                status=c.AMPHORA_ALLOCATED,
                role=c.ROLE_STANDALONE,
                lb_network_ip="127.43.1.1",
                cert_busy=busy,
                cert_busy_until=busy_until,
                cert_expiration=m.utcnow() + dt.timedelta(days=1),
            )
        )
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


class FakeAgent:
    """Records certificate pushes; ``during`` runs inside one (another housekeeper)."""

    def __init__(self, during=None) -> None:  # type: ignore[no-untyped-def]
        self.pushed: list[str] = []
        self.during = during

    def put_certificate(self, ip: str, port: int, cert: str, key: str) -> None:
        self.pushed.append(ip)
        if self.during:
            self.during()


def _rotator(db: Database, tmp_path, agent: FakeAgent) -> CertRotator:  # type: ignore[no-untyped-def]
    from hydria.drivers.certs.local_ca import ControllerCA

    return CertRotator(
        db,
        ControllerCA.load_or_create(tmp_path / "pki"),
        agent,  # type: ignore[arg-type]
        agent_port=9443,
        cert_days=90,
    )


def test_a_lapsed_claim_is_taken_and_the_certificate_rotated(any_db: Database, tmp_path):
    amp = _amphora(any_db, busy=True, busy_until=m.utcnow() - dt.timedelta(seconds=1))
    agent = FakeAgent()
    assert _rotator(any_db, tmp_path, agent).rotate_due() == 1
    assert agent.pushed == ["127.43.1.1"]
    with any_db.session() as s:
        row = s.get(m.Amphora, amp)
        assert not row.cert_busy and row.cert_busy_until is None
        assert row.cert_expiration > m.utcnow() + dt.timedelta(days=80)


def test_a_held_claim_is_left_alone(any_db: Database, tmp_path):
    _amphora(any_db, busy=True, busy_until=m.utcnow() + dt.timedelta(minutes=4))
    agent = FakeAgent()
    assert _rotator(any_db, tmp_path, agent).rotate_due() == 0
    assert agent.pushed == []


def test_an_overrun_claim_does_not_clear_its_successors(any_db: Database, tmp_path):
    amp = _amphora(any_db, busy=False, busy_until=None)
    theirs = m.utcnow() + dt.timedelta(minutes=9)

    def another_housekeeper_takes_over() -> None:
        with any_db.session() as s:
            s.get(m.Amphora, amp).cert_busy_until = theirs

    _rotator(any_db, tmp_path, FakeAgent(another_housekeeper_takes_over)).rotate_due()
    with any_db.session() as s:
        row = s.get(m.Amphora, amp)
        assert row.cert_busy and row.cert_busy_until == theirs
