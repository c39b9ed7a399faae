"""Rows the API only reads (amphorae, counters), written straight to the database."""

from __future__ import annotations

import datetime as dt
import itertools
import uuid
from typing import Any

from sqlalchemy import select

from hydria.core import constants as c
from hydria.db import models as m
from hydria.db.engine import Database

_hosts = itertools.count(10)


def add_amphora(
    db: Database,
    lb_id: str | None,
    *,
    status: str = c.AMPHORA_ALLOCATED,
    role: str | None = c.ROLE_STANDALONE,
    **fields: Any,
) -> str:
    amp_id = str(uuid.uuid4())
    fields.setdefault("lb_network_ip", f"127.43.0.{next(_hosts) % 240 + 10}")
    fields.setdefault("compute_id", str(uuid.uuid4()))
    fields.setdefault("cert_expiration", dt.datetime(2030, 1, 2, 3, 4, 5))
    with db.session() as s:
        s.add(m.Amphora(id=amp_id, load_balancer_id=lb_id, status=status, role=role, **fields))
    return amp_id


def add_stats(
    db: Database,
    listener_id: str,
    amphora_id: str,
    *,
    bytes_in: int = 0,
    bytes_out: int = 0,
    active: int = 0,
    total: int = 0,
    errors: int = 0,
) -> None:
    with db.session() as s:
        s.add(
            m.ListenerStatistics(
                listener_id=listener_id,
                amphora_id=amphora_id,
                bytes_in=bytes_in,
                bytes_out=bytes_out,
                active_connections=active,
                total_connections=total,
                request_errors=errors,
            )
        )


def amphora(db: Database, amp_id: str) -> m.Amphora:
    with db.session() as s:
        row = s.get(m.Amphora, amp_id)
        assert row is not None
        return row


def lb_row(db: Database, lb_id: str) -> m.LoadBalancer:
    with db.session() as s:
        row = s.scalar(select(m.LoadBalancer).where(m.LoadBalancer.id == lb_id))
        assert row is not None
        return row


def set_lb_status(db: Database, lb_id: str, status: str) -> None:
    with db.session() as s:
        row = s.get(m.LoadBalancer, lb_id)
        assert row is not None
        row.provisioning_status = status
