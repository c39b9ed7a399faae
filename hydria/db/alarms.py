"""Alarms: raised and cleared by name, idempotently, from any process."""

from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from hydria.db.models import Alarm, utcnow


def raise_alarm(session: Session, name: str, detail: dict[str, Any]) -> None:
    """Raise ``name`` (or refresh its detail); ``raised_at`` keeps the first time."""
    row = session.get(Alarm, name)
    if row is None:
        session.add(Alarm(name=name, detail=detail))
    else:
        row.detail = detail
        row.updated_at = utcnow()


def clear_alarm(session: Session, name: str) -> None:
    session.execute(delete(Alarm).where(Alarm.name == name))


def alarms(session: Session) -> list[Alarm]:
    return list(session.scalars(select(Alarm).order_by(Alarm.raised_at)))
