"""The version document at ``/``, the version roots (``/v2``...) and the health check.

``/`` is Octavia's version list, except for a client that asks for Barbican's
microversions (``OpenStack-API-Version: key-manager ...``, as
python-barbicanclient does): it gets Barbican's list (300), whose ``v1`` is the
embedded secret store on the same endpoint.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, PlainTextResponse

router = APIRouter()

# (version, date it became available); the last one is CURRENT, as in Octavia.
VERSIONS = (
    ("v2.0", "2016-12-11T00:00:00Z"),
    ("v2.1", "2018-04-20T00:00:00Z"),
    ("v2.2", "2018-07-31T00:00:00Z"),
    ("v2.3", "2018-12-18T00:00:00Z"),
    ("v2.4", "2018-12-19T00:00:00Z"),
    ("v2.5", "2019-01-21T00:00:00Z"),
    ("v2.6", "2019-01-25T00:00:00Z"),
    ("v2.7", "2018-01-25T12:00:00Z"),
    ("v2.8", "2019-02-12T00:00:00Z"),
    ("v2.9", "2019-03-04T00:00:00Z"),
    ("v2.10", "2019-03-05T00:00:00Z"),
    ("v2.11", "2019-06-24T00:00:00Z"),
    ("v2.12", "2019-09-11T00:00:00Z"),
    ("v2.13", "2019-09-13T00:00:00Z"),
    ("v2.14", "2019-11-10T00:00:00Z"),
    ("v2.15", "2020-03-10T00:00:00Z"),
    ("v2.16", "2020-03-15T00:00:00Z"),
    ("v2.17", "2020-04-29T00:00:00Z"),
    ("v2.18", "2020-04-29T01:00:00Z"),
    ("v2.19", "2020-05-12T00:00:00Z"),
    ("v2.20", "2020-08-02T00:00:00Z"),
    ("v2.21", "2020-09-03T00:00:00Z"),
    ("v2.22", "2020-09-04T00:00:00Z"),
    ("v2.23", "2020-09-07T00:00:00Z"),
    ("v2.24", "2020-10-15T00:00:00Z"),
    ("v2.25", "2021-10-02T00:00:00Z"),
    ("v2.26", "2022-08-29T00:00:00Z"),
    ("v2.27", "2023-05-05T00:00:00Z"),
    ("v2.28", "2023-11-08T00:00:00Z"),
    ("v2.29", "2024-10-15T00:00:00Z"),
    ("v2.30", "2025-02-26T00:00:00Z"),
)


def _key_manager_versions(base: str) -> JSONResponse:
    version = {
        "id": "v1",
        "status": "CURRENT",
        "min_version": "1.0",
        "max_version": "1.0",
        "links": [
            {"rel": "self", "href": base + "v1/"},
            {"rel": "describedby", "type": "text/html", "href": "https://docs.openstack.org/"},
        ],
    }
    return JSONResponse({"versions": [version]}, status_code=300)


@router.get("/", response_model=None)
def versions(request: Request) -> dict[str, Any] | JSONResponse:
    base = str(request.base_url)
    if not base.endswith("/"):
        base += "/"
    if request.headers.get("openstack-api-version", "").lower().startswith("key-manager"):
        return _key_manager_versions(base)
    last = len(VERSIONS) - 1
    return {
        "versions": [
            {
                "id": vid,
                "status": "CURRENT" if i == last else "SUPPORTED",
                "updated": updated,
                "links": [{"href": base + "v2", "rel": "self"}],
            }
            for i, (vid, updated) in enumerate(VERSIONS)
        ]
    }


@router.get("/v2")
@router.get("/v2.0")
@router.get("/v2/lbaas")
@router.get("/v2.0/lbaas")
@router.get("/v2/octavia")
@router.get("/v2.0/octavia")
def version_root() -> str:
    """Octavia answers its version roots with the JSON string ``"v2"``."""
    return "v2"


# one route per method: the OpenAPI document gives each operation an id of its own
@router.head("/healthcheck")
@router.get("/healthcheck")
def healthcheck() -> PlainTextResponse:
    return PlainTextResponse("OK")
