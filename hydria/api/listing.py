"""GET collections the way Octavia answers them: filters, fields, pages.

Query parameters:

- any listed attribute filters by equality (repeat it for "any of");
  ``tags``/``tags-any``/``not-tags``/``not-tags-any`` take comma lists;
  anything else is refused (Octavia: "One or more arguments are either
  duplicate or invalid").
- ``fields=a,b`` (or repeated) keeps only those attributes.
- ``sort=key[:dir],...`` or ``sort_key``/``sort_dir``; the default order is
  ``created_at, id`` ascending, as Octavia's.
- ``limit``/``marker``/``page_reverse``: keyset pages with ``*_links``
  ``next``/``previous`` hrefs built like Octavia's, except that they repeat
  the caller's filters, ``fields`` and ``sort_dir`` (Octavia's drop them).

The SQL query applies the equality filters; tags, order and paging are done
on the (already filtered, project-scoped) rows in Python, which keeps one
code path for SQLite and PostgreSQL. Collections here are per project and
small; a later change can push ordering and paging into SQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from sqlalchemy import Select
from sqlalchemy.orm import InstrumentedAttribute

from hydria.api.auth.context import RequestContext
from hydria.core import constants as c
from hydria.core.errors import InvalidInput

AUXILIARY = frozenset({"limit", "marker", "sort", "sort_key", "sort_dir", "fields",
                       "page_reverse"})
# Parameters a page link sets itself rather than repeating from the request.
PAGING = frozenset({"limit", "marker", "page_reverse"})
# Left as they are in link queries, so ``sort=name:desc,id`` reads as in Octavia's.
SAFE = ":,"
TAG_FILTERS = frozenset({"tags", "tags-any", "not-tags", "not-tags-any"})
MAX_LIMIT = 1000
DEFAULT_SORT = (("created_at", "asc"), ("id", "asc"))
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    links: list[dict[str, str]]


def _coerce(name: str, column: InstrumentedAttribute[Any], raw: str) -> Any:
    python_type: type = column.property.columns[0].type.python_type
    if python_type is bool:
        low = raw.strip().lower()
        if low in ("true", "1", "yes", "on"):
            return True
        if low in ("false", "0", "no", "off"):
            return False
        raise InvalidInput(f"Invalid input for field/attribute {name}. Value: '{raw}'. "
                           "Value should be a boolean.")
    if python_type is int:
        try:
            value = int(raw)
        except ValueError:
            raise InvalidInput(f"Invalid input for field/attribute {name}. Value: '{raw}'. "
                               "Value should be an integer.") from None
        # SQLite (and the drivers) cannot even bind an integer outside 64 bits.
        if not INT64_MIN <= value <= INT64_MAX:
            raise InvalidInput(f"Invalid input for field/attribute {name}. Value: '{raw}'. "
                               "Value is out of range.")
        return value
    return raw


def _split(values: Iterable[str]) -> list[str]:
    return [p for v in values for p in v.split(",") if p]


def _parse_limit(raw: str | None) -> int | None:
    if raw is None:
        return MAX_LIMIT
    if raw == "infinite":
        return None
    try:
        limit = int(raw)
    except ValueError:
        raise InvalidInput(f"Supplied pagination limit '{raw}' is not valid.") from None
    return None if limit < 1 else min(limit, MAX_LIMIT)


def _parse_sort(params: dict[str, list[str]], sortable: set[str]) -> list[tuple[str, str]]:
    keys: list[tuple[str, str]] = []
    if params.get("sort"):
        for item in _split(params["sort"]):
            parts = item.split(":")
            if len(parts) > 2:
                raise InvalidInput(f"Supplied sort key '{item}' is not valid.")
            keys.append((parts[0], parts[1].lower() if len(parts) == 2 else "asc"))
    elif params.get("sort_key"):
        names = _split(params["sort_key"])
        dirs = [d.lower() for d in _split(params.get("sort_dir", []))]
        dirs += ["asc"] * (len(names) - len(dirs))
        keys = list(zip(names, dirs, strict=False))
    for name, direction in keys:
        if name not in sortable:
            raise InvalidInput(f"Supplied sort key '{name}' is not valid.")
        if direction not in ("asc", "desc"):
            raise InvalidInput(f"Supplied sort direction '{direction}' is not valid.")
    for default in DEFAULT_SORT:
        if default[0] not in [k for k, _ in keys]:
            keys.append(default)
    return keys


def _sort(rows: list[Any], keys: Sequence[tuple[str, str]]) -> list[Any]:
    for name, direction in reversed(keys):
        def key(row: Any, name: str = name) -> tuple[bool, Any]:
            value = getattr(row, name)
            return (value is not None, value if value is not None else 0)
        rows = sorted(rows, key=key, reverse=(direction == "desc"))
    return rows


def _tags_match(tags: list[str], params: dict[str, list[str]]) -> bool:
    have = set(tags or [])
    if "tags" in params and not set(_split(params["tags"])) <= have:
        return False
    if "tags-any" in params and not set(_split(params["tags-any"])) & have:
        return False
    if "not-tags" in params and set(_split(params["not-tags"])) <= have:
        return False
    return not ("not-tags-any" in params and set(_split(params["not-tags-any"])) & have)


def select_fields(item: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if not fields:
        return item
    return {k: v for k, v in item.items() if k in fields}


def fields_param(request: Request) -> list[str] | None:
    fields = _split(request.query_params.getlist("fields"))
    return fields or None


def list_page(
    request: Request,
    session: Any,
    stmt: Select[Any],
    model: Any,
    *,
    ctx: RequestContext,
    filters: dict[str, InstrumentedAttribute[Any]],
    render: Callable[[Any], dict[str, Any]],
    project_column: InstrumentedAttribute[Any] | None = None,
    per_project: bool = True,
    with_status: bool = True,
) -> Page:
    """Run ``stmt`` (already scoped to a parent) with the caller's filters.

    Rows of operator catalogues (flavors, zones and their profiles) belong to no
    project (``per_project=False``); rows without a provisioning status
    (``with_status=False``: quotas, catalogues) have no DELETED rows to hide.
    """
    params: dict[str, list[str]] = {}
    for key, value in request.query_params.multi_items():
        params.setdefault(key, []).append(value)

    if with_status:
        stmt = stmt.where(model.provisioning_status != c.DELETED)
    if per_project:
        project_column = project_column if project_column is not None else model.project_id
        shown = ctx.list_projects(params.pop("project_id", None))
        if shown is not None:
            stmt = stmt.where(project_column.in_(shown))

    for key, values in params.items():
        if key in AUXILIARY or key in TAG_FILTERS:
            continue
        column = filters.get(key)
        if column is None:
            raise InvalidInput("One or more arguments are either duplicate or invalid")
        coerced = [_coerce(key, column, v) for v in values]
        stmt = stmt.where(column.in_(coerced)) if len(coerced) > 1 else stmt.where(
            column == coerced[0])

    rows = [r for r in session.scalars(stmt).unique().all()
            if _tags_match(getattr(r, "tags", []) or [], params)]
    attrs = {name: col.key for name, col in filters.items()}
    attrs.update({"created_at": "created_at", "updated_at": "updated_at", "id": "id"})
    sort_keys = _parse_sort(params, set(attrs))
    rows = _sort(rows, [(attrs[name], direction) for name, direction in sort_keys])

    limit = _parse_limit(params.get("limit", [None])[-1])
    marker = params.get("marker", [None])[-1]
    reverse = params.get("page_reverse", ["False"])[-1].lower() == "true"
    if marker is not None:
        ids = [r.id for r in rows]
        if marker not in ids:
            raise InvalidInput(f"Supplied pagination marker '{marker}' is not valid.")
        at = ids.index(marker)
        if reverse:
            rows = rows[:at]
            if limit is not None:
                rows = rows[-limit:]
        else:
            rows = rows[at + 1:]
    if limit is not None and not (marker is not None and reverse):
        rows = rows[:limit]

    fields = fields_param(request)
    items = [select_fields(render(r), fields) for r in rows]
    return Page(items=items, links=_links(request, rows, limit, marker))


def _links(request: Request, rows: list[Any], limit: int | None,
           marker: str | None) -> list[dict[str, str]]:
    """``previous``/``next`` hrefs that repeat the caller's query.

    Octavia's links keep only ``limit``, ``sort`` and ``sort_key``, so following
    them loses the filters, ``fields`` and ``sort_dir``: the next page of a
    filtered or descending list is another list. Here every parameter but the
    paging ones is carried over, so a client that follows ``next`` (openstacksdk,
    gophercloud) walks the same list it asked for.
    """
    if not rows:
        return []
    base = str(request.url.replace(query=""))
    common = [("limit", str(limit))] if limit is not None else []
    common += [(k, v) for k, v in request.query_params.multi_items()
               if k not in PAGING]
    links = []
    if marker is not None:
        prev = common + [("marker", rows[0].id), ("page_reverse", "True")]
        links.append({"href": f"{base}?{urlencode(prev, safe=SAFE)}", "rel": "previous"})
    if limit is not None and len(rows) >= limit:
        nxt = common + [("marker", rows[-1].id)]
        links.append({"href": f"{base}?{urlencode(nxt, safe=SAFE)}", "rel": "next"})
    return links
