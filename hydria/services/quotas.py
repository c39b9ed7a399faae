"""Per-project quotas as Octavia's quota API shows and sets them.

Enforcement is ``hydria.db.quotas.check_and_reserve``, called by every create;
this module reads and writes the limits.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, cast

from sqlalchemy import ColumnElement, CursorResult, or_, update

from hydria.core.errors import NotFound
from hydria.db import quotas
from hydria.db.models import Quota
from hydria.services import listing
from hydria.services.context import RequestContext
from hydria.services.unit import Env, read

SCOPE = listing.Scope(
    Quota,
    {},
    {"created_at": "created_at", "updated_at": "updated_at", "id": "id"},
    project_column=Quota.project_id,
    key="project_id",
)


def _any_set() -> ColumnElement[bool]:
    """A project has a quota of its own while any limit is set (a reset clears them all)."""
    return or_(*[getattr(Quota, name).is_not(None) for name in quotas.NAMES])


def list_quotas(
    env: Env,
    ctx: RequestContext,
    params: listing.Params,
    shape: Callable[[Mapping[str, int], str], dict[str, Any]],
) -> listing.Page:
    """The projects with a limit of their own; ``shape(limits, project_id)`` shows one."""
    with read(env) as session:
        return listing.run(
            session,
            listing.table_of(Quota).where(_any_set()),
            SCOPE,
            params,
            ctx,
            listing.each(
                lambda row: shape(quotas.effective(row, env.quota_defaults), row.project_id)
            ),
        )


def limits(env: Env, project_id: str) -> dict[str, int]:
    with read(env) as session:
        return quotas.effective(session.get(Quota, project_id), env.quota_defaults)


def set_limits(env: Env, project_id: str, changes: dict[str, int | None]) -> dict[str, int]:
    """Set some limits (``None``: back to the default); the project's limits after."""
    with env.db.session() as session:
        if changes:
            quotas.ensure_row(session, project_id)
            session.execute(update(Quota).where(Quota.project_id == project_id).values(**changes))
        row = session.get(Quota, project_id, populate_existing=True)
        return quotas.effective(row, env.quota_defaults)


def reset(env: Env, project_id: str) -> None:
    with env.db.session() as session:
        # The row stays (creates in the project lock it); every limit is the default again.
        result = cast(
            "CursorResult[Any]",
            session.execute(
                update(Quota)
                .where(Quota.project_id == project_id, _any_set())
                .values(**dict.fromkeys(quotas.NAMES))
            ),
        )
        count = result.rowcount
    if not count:  # never set, or reset already: Octavia has nothing to delete either
        raise NotFound.of("Quotas", project_id)
