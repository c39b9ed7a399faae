"""GET collections the way Octavia answers them: envelope, ``fields`` and page links.

The query itself (filters, sort, keyset paging) is ``hydria.services.listing``;
this module hands it the parameters and shapes its page:

- ``fields=a,b`` (or repeated) keeps only those attributes;
- ``*_links``: ``next``/``previous`` hrefs built like Octavia's, except that
  they repeat the caller's filters, ``fields`` and ``sort_dir`` (Octavia's
  drop them, so following them loses the filters: the next page of a filtered
  or descending list is another list). Every parameter but the paging ones is
  carried over, so a client that follows ``next`` (openstacksdk, gophercloud)
  walks the same list it asked for.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request

from hydria.services.listing import Page, Params, params_of, split

# Parameters a page link sets itself rather than repeating from the request.
PAGING = frozenset({"limit", "marker", "page_reverse"})
# Left as they are in link queries, so ``sort=name:desc,id`` reads as in Octavia's.
SAFE = ":,"


def params(request: Request) -> Params:
    return params_of(request.query_params.multi_items())


def select_fields(item: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
    if not fields:
        return item
    return {k: v for k, v in item.items() if k in fields}


def fields_param(request: Request) -> list[str] | None:
    return split(request.query_params.getlist("fields")) or None


def envelope(request: Request, page: Page, collection: str, links_key: str) -> dict[str, Any]:
    """``{collection: [...], links_key: [...]}`` with the caller's ``fields``."""
    fields = fields_param(request)
    return {
        collection: [select_fields(item, fields) for item in page.items],
        links_key: _links(request, page),
    }


def _links(request: Request, page: Page) -> list[dict[str, str]]:
    if page.first_id is None or page.last_id is None:
        return []
    base = str(request.url.replace(query=""))
    # No limit (``limit`` 0 or less, or ``infinite``): Octavia writes ``limit=None``
    # and always adds a ``next`` link, which it then refuses (400); so does Hydria
    common = [("limit", str(page.limit))]
    common += [(k, v) for k, v in request.query_params.multi_items() if k not in PAGING]
    links = []
    if page.marker is not None:
        prev = common + [("marker", page.first_id), ("page_reverse", "True")]
        links.append({"href": f"{base}?{urlencode(prev, safe=SAFE)}", "rel": "previous"})
    if page.limit is None or len(page.items) >= page.limit:
        nxt = common + [("marker", page.last_id)]
        links.append({"href": f"{base}?{urlencode(nxt, safe=SAFE)}", "rel": "next"})
    return links
