"""The two reads of every Octavia collection, described once per resource.

``Reads(model, resource, page)`` is all a collection's GETs need: the table, the
resource's description (its filters and sort keys through ``listing.owned``, its
name in a refusal) and how a page of rows becomes answers (``hydria.services.views``;
None: the fields alone, for a resource with no children to look up). ``list``
answers ``GET <collection>`` and ``show`` ``GET <collection>/<id>``, each in one
read transaction; they take the arguments ``hydria.api.crud`` passes.

``ChildReads`` is a collection under a parent in the path (a pool's members, a
policy's rules), whose reads take the parent's id first. A list finds the parent
first, refusing one the caller may not see (Octavia authorises a child list
against the parent's project), then shows every child (``parent_authorized``); one
child is found only under the parent its path names, and authorised against its
own project, as Octavia does.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from hydria.core.resources.field import Resource
from hydria.services import listing, views
from hydria.services.context import RequestContext
from hydria.services.listing import Shaper
from hydria.services.unit import Env, read

Page = Callable[[Session], Shaper]


@dataclass(frozen=True)
class Reads:
    model: Any
    resource: Resource
    page: Page | None = None  # None: views.plain_of(resource)
    scope: listing.Scope = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "scope", listing.owned(self.model, self.resource))

    def list(self, env: Env, ctx: RequestContext, params: listing.Params) -> listing.Page:
        with read(env) as session:
            stmt = listing.table_of(self.model)
            return listing.run(session, stmt, self.scope, params, ctx, _page(self)(session))

    def show(self, env: Env, ctx: RequestContext, key: str) -> dict[str, Any]:
        with read(env) as session:
            return views.one(session, self.model, self.resource.kind, key, ctx, _page(self))[1]


@dataclass(frozen=True)
class ChildReads:
    model: Any
    resource: Resource
    column: str  # the child's column that holds its parent's id
    parent: Callable[[Session, str, RequestContext], object]  # finds it, or refuses
    page: Page | None = None  # None: views.plain_of(resource)
    scope: listing.Scope = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        scope = listing.owned(self.model, self.resource, parent_authorized=True)
        object.__setattr__(self, "scope", scope)

    def list(
        self, env: Env, ctx: RequestContext, parent_id: str, params: listing.Params
    ) -> listing.Page:
        with read(env) as session:
            self.parent(session, parent_id, ctx)
            stmt = listing.table_of(self.model).where(getattr(self.model, self.column) == parent_id)
            return listing.run(session, stmt, self.scope, params, ctx, _page(self)(session))

    def show(self, env: Env, ctx: RequestContext, parent_id: str, key: str) -> dict[str, Any]:
        under = (self.column, parent_id)
        with read(env) as session:
            kind = self.resource.kind
            return views.one(session, self.model, kind, key, ctx, _page(self), under=under)[1]


def _page(reads: Reads | ChildReads) -> Page:
    return reads.page or views.plain_of(reads.resource)
