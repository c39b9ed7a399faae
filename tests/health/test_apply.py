"""``apply``: a heartbeat and a snapshot of the database in, the writes out."""

from __future__ import annotations

import dataclasses
import datetime as dt

import pytest

from hydria.core import constants as c
from hydria.health.apply import (
    AmphoraKnown,
    Ignored,
    Known,
    ListenerStats,
    LoadBalancerKnown,
    PoolKnown,
    Updates,
    apply,
)
from hydria.wire.heartbeat import Heartbeat, ListenerReport, PoolReport

NOW = dt.datetime(2026, 1, 1, 12, 0, 0)
LB, LST, POOL, M1, M2 = "lb", "lst", "pool", "m1", "m2"


def _known(
    *,
    lb_prov: str = c.ACTIVE,
    lb_up: bool = True,
    lb_op: str = c.ONLINE,
    m1: str = c.ONLINE,
    m2: str = c.ONLINE,
    pool_op: str = c.ONLINE,
    lst_op: str = c.ONLINE,
    m2_prov: str = c.ACTIVE,
    last_seq: int | None = 5,
    status: str = c.AMPHORA_ALLOCATED,
) -> AmphoraKnown:
    pool = PoolKnown(
        POOL, c.ACTIVE, pool_op, True, members=(Known(M1, c.ACTIVE, m1), Known(M2, m2_prov, m2))
    )
    lb = LoadBalancerKnown(
        LB, lb_prov, lb_op, lb_up, listeners=(Known(LST, c.ACTIVE, lst_op),), pools=(pool,)
    )
    return AmphoraKnown("amp", status, last_seq, lb)


def _hb(
    *,
    m1: str | None = "UP",
    m2: str | None = "UP",
    pool: str | None = "UP",
    lst: str | None = "OPEN",
    seq: int = 6,
) -> Heartbeat:
    members = {k: v for k, v in ((M1, m1), (M2, m2)) if v is not None}
    return Heartbeat(
        "amp",
        seq,
        {LST: ListenerReport(lst, 1, 2, 3, 4, 5)} if lst else {},
        {POOL: PoolReport(pool, members)} if pool else {},
    )


@pytest.mark.parametrize(
    ("known", "hb", "want"),
    [
        # all well and already recorded so: nothing to change
        (_known(), _hb(), {}),
        # a member goes down: member ERROR, pool DEGRADED, load balancer DEGRADED
        (
            _known(),
            _hb(m2="DOWN"),
            {
                ("members", M2): c.ERROR,
                ("pools", POOL): c.DEGRADED,
                ("load_balancers", LB): c.DEGRADED,
            },
        ),
        # and comes back
        (
            _known(m2=c.ERROR, pool_op=c.DEGRADED, lb_op=c.DEGRADED),
            _hb(),
            {
                ("members", M2): c.ONLINE,
                ("pools", POOL): c.ONLINE,
                ("load_balancers", LB): c.ONLINE,
            },
        ),
        # every member down: HAProxy says the backend is DOWN -> pool and LB in ERROR
        (
            _known(),
            _hb(m1="DOWN", m2="DOWN", pool="DOWN"),
            {
                ("members", M1): c.ERROR,
                ("members", M2): c.ERROR,
                ("pools", POOL): c.ERROR,
                ("load_balancers", LB): c.ERROR,
            },
        ),
        # no health monitor
        (
            _known(m1=c.OFFLINE, m2=c.OFFLINE),
            _hb(m1="no check", m2="no check"),
            {("members", M1): c.NO_MONITOR, ("members", M2): c.NO_MONITOR},
        ),
        # a disabled member (rendered "disabled") and a draining one
        (
            _known(),
            _hb(m1="MAINT", m2="DRAIN"),
            {("members", M1): c.OFFLINE, ("members", M2): c.DRAINING},
        ),
        # listener at its connection limit
        (
            _known(),
            _hb(lst="FULL"),
            {("listeners", LST): c.DEGRADED, ("load_balancers", LB): c.DEGRADED},
        ),
        # listener missing while it should run
        (_known(), _hb(lst=None), {("listeners", LST): c.ERROR}),
        # listener missing while the load balancer is being updated: OFFLINE, not ERROR
        (_known(lb_prov=c.PENDING_UPDATE), _hb(lst=None), {("listeners", LST): c.OFFLINE}),
        # pool not rendered (disabled): pool and members OFFLINE, LB unaffected
        (
            _known(),
            _hb(pool=None),
            {("pools", POOL): c.OFFLINE, ("members", M1): c.OFFLINE, ("members", M2): c.OFFLINE},
        ),
        # a member still being created is left alone until the amphora runs it
        (_known(m2=c.NO_MONITOR, m2_prov=c.PENDING_CREATE), _hb(m2=None), {}),
        # a disabled load balancer is OFFLINE whatever its pools say
        (
            _known(lb_up=False),
            _hb(lst="STOP"),
            {("listeners", LST): c.OFFLINE, ("load_balancers", LB): c.OFFLINE},
        ),
        # a load balancer being deleted keeps its statuses
        (_known(lb_prov=c.PENDING_DELETE), _hb(m1="DOWN", m2="DOWN", pool="DOWN"), {}),
    ],
)
def test_statuses(known: AmphoraKnown, hb: Heartbeat, want: dict) -> None:
    result = apply(hb, known, received_at=NOW)
    assert isinstance(result, Updates)
    assert result.statuses == want
    assert (result.amphora_id, result.seq, result.received_at) == ("amp", hb.seq, NOW)


def test_counters_only_for_known_listeners() -> None:
    hb = dataclasses.replace(
        _hb(),
        listeners={
            LST: ListenerReport("OPEN", 1, 2, 3, 4, 5),
            "ghost": ListenerReport("OPEN", 9, 9, 9, 9, 9),
        },
    )
    result = apply(hb, _known(), received_at=NOW)
    assert isinstance(result, Updates)
    assert result.listener_stats == (ListenerStats(LST, ListenerReport("OPEN", 1, 2, 3, 4, 5)),)


@pytest.mark.parametrize(
    ("config_version", "applied", "moves"),
    [
        (None, 0, True),  # nothing converged yet: whatever the amphora sees is news
        (3, 3, True),
        (4, 3, True),  # the amphora already runs a newer push than the database converged
        (2, 3, False),  # taken before the last push landed
        (None, 3, False),  # a replacement amphora that has no configuration yet
    ],
)
def test_heartbeat_from_an_older_configuration_moves_no_status(
    config_version: int | None, applied: int, moves: bool
) -> None:
    known = _known()
    known = dataclasses.replace(
        known, load_balancer=dataclasses.replace(known.load_balancer, applied_generation=applied)
    )  # type: ignore[arg-type]
    hb = dataclasses.replace(_hb(lst=None, pool=None), config_version=config_version)
    result = apply(hb, known, received_at=NOW)
    assert isinstance(result, Updates)
    assert bool(result.statuses) is moves
    assert result.seq == hb.seq  # liveness is recorded either way


def test_pending_delete_still_records_counters_and_liveness() -> None:
    result = apply(_hb(), _known(lb_prov=c.PENDING_DELETE), received_at=NOW)
    assert isinstance(result, Updates) and result.statuses == {} and result.listener_stats


@pytest.mark.parametrize(
    ("known", "seq", "reason"),
    [
        (None, 6, "unknown_amphora"),
        (_known(status=c.DELETED), 6, "deleted_amphora"),
        (_known(last_seq=6), 6, "duplicate"),
        (_known(last_seq=6), 5, "replay"),
        (_known(last_seq=6), 0, "replay"),
    ],
)
def test_ignored(known: AmphoraKnown | None, seq: int, reason: str) -> None:
    assert apply(_hb(seq=seq), known, received_at=NOW) == Ignored(reason)


def test_first_heartbeat_of_an_amphora_is_taken() -> None:
    assert isinstance(apply(_hb(seq=0), _known(last_seq=None), received_at=NOW), Updates)


def test_spare_amphora_records_liveness_only() -> None:
    result = apply(_hb(), AmphoraKnown("amp", c.AMPHORA_READY, None, None), received_at=NOW)
    assert result == Updates("amp", 6, NOW)
