"""Octavia's health monitor (``/v2/lbaas/healthmonitors``)."""

from __future__ import annotations

from pydantic import StrictFloat

from hydria.core import constants as c
from hydria.core.resources import common as std
from hydria.core.resources.field import REQUIRED, Field, Resource, Show
from hydria.core.resources.types import (
    UUID,
    DomainName,
    ExpectedCodes,
    Retries,
    Seconds,
    UrlPath,
    WsmeBool,
)

# What an HTTP(S) monitor checks when the request leaves it out (Octavia's defaults).
HTTP_DEFAULTS = {"http_method": "GET", "url_path": "/", "expected_codes": "200"}
HTTP_TYPES = frozenset({c.HEALTH_MONITOR_HTTP, c.HEALTH_MONITOR_HTTPS})

HEALTHMONITOR = Resource(
    "Health Monitor",
    "healthmonitor",
    "healthmonitors",
    (
        std.ID,
        std.NAME,
        Field("type", str, REQUIRED, create=True, filter=True),
        Field("delay", Seconds, REQUIRED, create=True, update=True, null="refuse", filter=True),
        Field("timeout", Seconds, REQUIRED, create=True, update=True, null="refuse", filter=True),
        Field(
            "max_retries", Retries, REQUIRED, create=True, update=True, null="refuse", filter=True
        ),
        Field(
            "max_retries_down",
            Retries,
            c.DEFAULT_MAX_RETRIES_DOWN,
            create=True,
            update=True,
            filter=True,
        ),
        Field("http_method", str, create=True, update=True, filter=True),
        Field("url_path", UrlPath, create=True, update=True, filter=True),
        Field("expected_codes", ExpectedCodes, create=True, update=True, filter=True),
        Field(
            "admin_state_up", WsmeBool, True, create=True, update=True, null="ignore", filter=True
        ),
        std.PROJECT,
        std.TENANT,
        Field(
            "pool_id",
            UUID,
            REQUIRED,
            create=True,
            nested=False,
            filter=True,
            shown=False,
            stored=False,
        ),
        Field("pools", column="pool_id", show=Show.PARENT),
        std.PROVISIONING,
        std.OPERATING,
        std.CREATED,
        std.UPDATED,
        std.TAGS,
        Field("http_version", StrictFloat, create=True, update=True, filter=True),
        Field("domain_name", DomainName, create=True, update=True, filter=True),
    ),
    check_order=(
        "name",
        "type",
        "delay",
        "timeout",
        "max_retries_down",
        "max_retries",
        "http_method",
        "url_path",
        "expected_codes",
        "admin_state_up",
        "tags",
        "http_version",
        "domain_name",
        "project_id",
        "pool_id",
    ),
)
