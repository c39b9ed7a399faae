"""Collections as queries: Octavia's filters, sort and keyset pages, in SQL.

The API hands over the query parameters as they came (``Params``); this module
checks them against the resource's description and runs one query:

- every listed attribute filters by equality (repeated: any of), ``project_id``
  only within what the caller may see; anything else is refused with Octavia's
  "One or more arguments are either duplicate or invalid";
- ``sort=key[:dir],...`` or ``sort_key``/``sort_dir``, then ``created_at`` and
  ``id`` ascending unless named: a total order, nulls first ascending and last
  descending on every database;
- ``limit`` (at most 1000, ``infinite``) and ``marker`` (+ ``page_reverse``): a
  keyset page, the rows strictly after (or before) the marker's sort values,
  so a page of 100 reads about 100 rows however long the collection.

Tags (``tags``, ``tags-any``, ``not-tags``, ``not-tags-any``) are lists in a JSON
column that SQLite and PostgreSQL query differently; a list that filters by
tags is ordered in SQL and then filtered and paged in Python (the old path).

The statement selects columns (``table_of``), not mapped objects: the page's
rows come back as Core rows, which ``shape`` turns into the answers for the
whole page at once (``hydria.services.views``: one more query per child
collection, keyed by the page's ids). No ORM object is built on this path;
building them (and their ``selectinload`` post-queries, each compiled and
cache-keyed) was most of a short list's cost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from hydria.core import constants as c
from hydria.core.errors import InvalidInput, InvalidPaging
from hydria.services.context import RequestContext

Params = dict[str, list[str]]
# The answers for a page's rows, in the rows' order (one query per child collection).
Shaper = Callable[[Sequence[Any]], list[dict[str, Any]]]

AUXILIARY = frozenset({"limit", "marker", "sort", "sort_key", "sort_dir", "fields", "page_reverse"})
TAG_FILTERS = frozenset({"tags", "tags-any", "not-tags", "not-tags-any"})
MAX_LIMIT = 1000
DEFAULT_SORT = (("created_at", "asc"), ("id", "asc"))
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Scope:
    """Where a collection's rows live and who owns them."""

    model: Any
    filters: dict[str, str]  # query parameter -> row attribute
    sorts: dict[str, str]  # sort key -> row attribute
    status_column: Any = None  # rows whose status is DELETED are hidden
    project_column: Any = None  # None: rows of no project (operator catalogues)
    key: str = "id"  # the column behind ``id`` (a zone's name, a quota's project)
    # DELETED rows are listed when the ``status`` filter asks for them (amphorae:
    # a replaced one is kept for ``deleted_retention_days``, a Hydria extension)
    deleted_on_request: bool = False
    # the order when the caller gives none (then after the keys the caller gives);
    # Octavia's catalogue tables have no created_at, so its flavors and profiles
    # come in id order, which its conformance tests check
    default_sort: tuple[tuple[str, str], ...] = DEFAULT_SORT
    # the children of one parent (a pool's members, a policy's rules): the caller was
    # authorised against the parent's project, and, as in Octavia, sees all of them;
    # ``project_id`` is then a plain filter, not the caller's scope
    parent_authorized: bool = False


def owned(model: Any, resource: Any, *, parent_authorized: bool = False) -> Scope:
    """The scope of a resource that a project owns and that has a provisioning status.

    Most of Octavia's resources are of this kind; ``resource`` is its description
    (``hydria.core.resources``), which names the filters and the sort keys.
    ``parent_authorized``: listed under a parent the caller may see (members, rules).
    """
    return Scope(
        model,
        resource.filters(),
        resource.sorts(),
        status_column=model.provisioning_status,
        project_column=model.project_id,
        parent_authorized=parent_authorized,
    )


@dataclass(frozen=True)
class Page:
    """One page of rows, in order, and what its links need."""

    items: list[dict[str, Any]]
    first_id: str | None
    last_id: str | None
    limit: int | None
    marker: str | None


@cache
def table_of(model: Any) -> Select[Any]:
    """Every column of ``model``'s table, as Core rows (``row.name`` reads a column).

    Made once per model (statements are immutable; each ``where`` makes a new one)."""
    return select(*model.__table__.c)


def each(view: Callable[[Any], dict[str, Any]]) -> Shaper:
    """A page shaper from a one-row view (the resources with no children to look up)."""
    return lambda rows: [view(r) for r in rows]


def params_of(pairs: Iterable[tuple[str, str]]) -> Params:
    params: Params = {}
    for key, value in pairs:
        params.setdefault(key, []).append(value)
    return params


def split(values: Iterable[str]) -> list[str]:
    return [p for v in values for p in v.split(",") if p]


def _coerce(name: str, column: InstrumentedAttribute[Any], raw: str) -> Any:
    python_type: type = column.property.columns[0].type.python_type
    if python_type is bool:
        low = raw.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise InvalidInput(
            f"Invalid input for field/attribute {name}. Value: '{raw}'. Value should be a boolean."
        )
    if python_type is int:
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInput(
                f"Invalid input for field/attribute {name}. Value: '{raw}'. "
                "Value should be an integer."
            ) from None
        # SQLite (and the drivers) cannot even bind an integer outside 64 bits.
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidInput(
                f"Invalid input for field/attribute {name}. Value: '{raw}'. Value is out of range."
            )
        return value
    return raw


def _parse_limit(raw: str | None) -> int | None:
    if raw is None:
        return MAX_LIMIT
    if raw == "infinite":
        return None
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidPaging(f"Supplied pagination limit '{raw}' is not valid.") from None
    return None if limit < 1 else min(limit, MAX_LIMIT)


def _parse_sort(
    params: Params, sortable: Iterable[str], defaults: tuple[tuple[str, str], ...] = DEFAULT_SORT
) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    if params.get("sort"):
        for item in split(params["sort"]):
            parts = item.split(":")
            if len(parts) > 2:
                raise InvalidInput(f"Supplied sort key '{item}' is not valid.")
            keys.append((parts[0], parts[1].lower() if len(parts) == 2 else "asc"))
    elif params.get("sort_key"):
        names = split(params["sort_key"])
        dirs = [d.lower() for d in split(params.get("sort_dir", []))]
        dirs += ["asc"] * (len(names) - len(dirs))
        keys = list(zip(names, dirs, strict=False))
    # directions first: Octavia's paging hook checks them before any controller
    # looks at the keys
    for _name, direction in keys:
        if direction not in ("asc", "desc"):
            raise InvalidPaging(f"Supplied sort direction '{direction}' is not valid.")
    for name, _direction in keys:
        if name not in sortable:
            raise InvalidInput(f"Supplied sort key '{name}' is not valid.")
    for default in defaults:
        if default[0] not in [k for k, _ in keys]:
            keys.append(default)
    return keys


def _tags_match(tags: list[str], params: Params) -> bool:
    have = set(tags or [])
    if "tags" in params and not set(split(params["tags"])) <= have:
        return False
    if "tags-any" in params and not set(split(params["tags-any"])) & have:
        return False
    if "not-tags" in params and set(split(params["not-tags"])) <= have:
        return False
    return not ("not-tags-any" in params and set(split(params["not-tags-any"])) & have)


Key = tuple[Any, bool]  # (column, descending)


def _nullable(column: Any) -> bool:
    return bool(getattr(column.property.columns[0], "nullable", True))


def _order(keys: Sequence[Key], *, backwards: bool) -> list[Any]:
    """ORDER BY terms: nulls sort as the smallest value, on SQLite and PostgreSQL alike.

    A column that cannot be null gets no NULLS clause, so an index in its plain
    order serves the sort on PostgreSQL too.
    """
    out = []
    for column, desc in keys:
        term = column.desc() if desc != backwards else column.asc()
        if _nullable(column):
            term = term.nulls_last() if desc != backwards else term.nulls_first()
        out.append(term)
    return out


def _beyond(column: Any, value: Any, desc: bool) -> ColumnElement[bool]:
    """Rows strictly after ``value`` on one key, in that key's direction (nulls smallest)."""
    term: ColumnElement[bool]
    if not desc:
        term = column.is_not(None) if value is None else column > value
    elif value is None:
        term = false()
    else:
        term = or_(column < value, column.is_(None))
    return term


def _same(column: Any, value: Any) -> ColumnElement[bool]:
    term: ColumnElement[bool] = column.is_(None) if value is None else column == value
    return term


def _after(keys: Sequence[Key], values: Sequence[Any], *, backwards: bool) -> ColumnElement[bool]:
    """The keyset condition: rows after the marker (before it when ``backwards``).

    Besides the exact condition, a bound on the first key alone (``>=`` the
    marker's value) lets the database start its index scan at the marker
    instead of filtering every row before it.
    """
    terms = []
    for i, (column, desc) in enumerate(keys):
        equal = [_same(col, values[j]) for j, (col, _) in enumerate(keys[:i])]
        terms.append(and_(true(), *equal, _beyond(column, values[i], desc != backwards)))
    exact = or_(*terms)
    first, desc = keys[0]
    if values[0] is None or _nullable(first):
        return exact
    bound = first <= values[0] if desc != backwards else first >= values[0]
    return and_(bound, exact)


def run(
    session: Session,
    stmt: Select[Any],
    scope: Scope,
    params: Params,
    ctx: RequestContext,
    shape: Shaper,
) -> Page:
    """The page of ``stmt`` (columns, already scoped to a parent) the caller's parameters
    ask for; ``shape`` makes the page's answers from its rows."""
    params = {k: list(v) for k, v in params.items()}
    model = scope.model
    asked_deleted = scope.deleted_on_request and c.DELETED in params.get("status", [])
    if scope.status_column is not None and not asked_deleted:
        stmt = stmt.where(scope.status_column != c.DELETED)
    if scope.project_column is not None and scope.parent_authorized:
        wanted = params.pop("project_id", None)
        if wanted:
            stmt = stmt.where(scope.project_column.in_(wanted))
    elif scope.project_column is not None:
        shown = ctx.list_projects(params.pop("project_id", None))
        if shown is not None:
            stmt = stmt.where(scope.project_column.in_(shown))

    for key, values in params.items():
        if key in AUXILIARY or key in TAG_FILTERS:
            continue
        attr = scope.filters.get(key)
        if attr is None:
            raise InvalidInput("One or more arguments are either duplicate or invalid")
        column = getattr(model, attr)
        coerced = [_coerce(key, column, v) for v in values]
        stmt = (
            stmt.where(column.in_(coerced))
            if len(coerced) > 1
            else stmt.where(column == coerced[0])
        )

    sort_keys = _parse_sort(params, scope.sorts, scope.default_sort)
    keys: list[Key] = [
        (getattr(model, _attr(scope, name)), direction == "desc") for name, direction in sort_keys
    ]
    key_column = getattr(model, scope.key)
    limit = _parse_limit(params.get("limit", [None])[-1])
    marker = params.get("marker", [None])[-1]
    backwards = marker is not None and params.get("page_reverse", ["False"])[-1].lower() == "true"

    if TAG_FILTERS & set(params):
        rows = _in_python(session, stmt, keys, scope.key, params, limit, marker, backwards)
    else:
        rows = _in_sql(session, stmt, keys, key_column, limit, marker, backwards)
    return Page(
        items=shape(rows),
        first_id=getattr(rows[0], scope.key) if rows else None,
        last_id=getattr(rows[-1], scope.key) if rows else None,
        limit=limit,
        marker=marker,
    )


def _bad_marker(marker: str) -> InvalidInput:
    return InvalidInput(f"Supplied pagination marker '{marker}' is not valid.")


def _attr(scope: Scope, name: str) -> str:
    attr = scope.sorts[name]
    return scope.key if attr == "id" else attr


def _in_sql(
    session: Session,
    stmt: Select[Any],
    keys: Sequence[Key],
    key_column: Any,
    limit: int | None,
    marker: str | None,
    backwards: bool,
) -> list[Any]:
    if marker is not None:
        # the marker's sort values, read within the same scope and filters
        anchor = (
            session.connection()
            .execute(
                stmt.with_only_columns(*[column for column, _ in keys]).where(key_column == marker)
            )
            .first()
        )
        if anchor is None:
            raise _bad_marker(marker)
        stmt = stmt.where(_after(keys, list(anchor), backwards=backwards))
    stmt = stmt.order_by(*_order(keys, backwards=backwards))
    if limit is not None:
        stmt = stmt.limit(limit)
    rows = list(session.connection().execute(stmt).all())
    return rows[::-1] if backwards else rows


def _in_python(
    session: Session,
    stmt: Select[Any],
    keys: Sequence[Key],
    key: str,
    params: Params,
    limit: int | None,
    marker: str | None,
    backwards: bool,
) -> list[Any]:
    rows = [
        r
        for r in session.connection().execute(stmt.order_by(*_order(keys, backwards=False))).all()
        if _tags_match(getattr(r, "tags", []) or [], params)
    ]
    if marker is not None:
        ids = [getattr(r, key) for r in rows]
        if marker not in ids:
            raise _bad_marker(marker)
        at = ids.index(marker)
        if backwards:
            rows = rows[:at]
            return rows[-limit:] if limit is not None else rows
        rows = rows[at + 1 :]
    return rows[:limit] if limit is not None else rows
