"""Health monitor bodies and view (Octavia's HealthMonitorPOST/SingleCreate/PUT/Response)."""

from __future__ import annotations

import re
from typing import Annotated, Any

from pydantic import AfterValidator, Field, StrictFloat, StrictInt

from hydria.api.schemas.common import iso, owned, text
from hydria.api.validation import INT32_MAX, UUID, Body, Name, Nested, ProjectId, Tags
from hydria.core import constants as c
from hydria.db.models import HealthMonitor

# Octavia takes 0 for both; HAProxy cannot check every 0 s or wait 0 s for an
# answer, and the renderer refuses such a monitor (the load balancer would go to
# ERROR after a 201), so the API asks for at least one second.
Seconds = Annotated[StrictInt, Field(ge=1, le=INT32_MAX)]
Retries = Annotated[StrictInt, Field(ge=c.MIN_HM_RETRIES, le=c.MAX_HM_RETRIES)]
HOST_NAME_CHARS = re.compile(r"[A-Za-z0-9.-]+")


def _status_codes(value: str) -> str:
    """Octavia's forms ("200", "200, 202", "200-204"), kept as the user wrote them.

    Stored as sent, as Octavia does (a client that compares what it sent with
    what it reads back, such as Terraform, sees no change); the renderer drops the
    spaces HAProxy's list does not take. Every code must be an HTTP status
    (100-599), a range must not run backwards, and digits must be ASCII (the
    pattern's ``\\d`` also matches other scripts' digits).
    """
    if not value.isascii():
        raise ValueError("Value should be written with the digits 0-9")
    if "-" in value:
        low, high = (int(code) for code in value.split("-"))
        codes = [low, high]
        if low > high:
            raise ValueError("Value should be a range from the lower code to the higher")
    else:
        codes = [int(code) for code in value.split(",")]
    if any(not 100 <= code <= 599 for code in codes):
        raise ValueError("Value should be HTTP status codes from 100 to 599")
    return value


def _host_name(value: str) -> str:
    # Octavia's pattern lets a label start with "_" and, ending in "$", a trailing
    # newline through; HAProxy sends the name as the Host header, and the renderer
    # takes plain host names only (letters, digits, hyphens, dots).
    if not HOST_NAME_CHARS.fullmatch(value):
        raise ValueError("Value should be a host name (letters, digits, hyphens, dots)")
    return value


ExpectedCodes = Annotated[str, Field(pattern=r"^(\d{3}(\s*,\s*\d{3})*)$|^(\d{3}-\d{3})$"),
                          AfterValidator(_status_codes)]
DomainName = Annotated[str, Field(min_length=1, max_length=255, pattern=(
    r"^(?=.{1,253}\.?$)(?:(?!-|[^.]+_)[A-Za-z0-9-_]{1,63}(?<!-)(?:\.|$))+$")),
    AfterValidator(_host_name)]
UrlPath = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^/[^\s]*\Z")]

DEFAULT_HTTP_METHOD = "GET"
DEFAULT_URL_PATH = "/"
DEFAULT_EXPECTED_CODES = "200"
HTTP_TYPES = frozenset({c.HEALTH_MONITOR_HTTP, c.HEALTH_MONITOR_HTTPS})


class _HealthMonitorFields(Body):
    name: Name | None = None
    type: str
    delay: Seconds
    timeout: Seconds
    max_retries_down: Retries = c.DEFAULT_MAX_RETRIES_DOWN
    max_retries: Retries
    http_method: str | None = None
    url_path: UrlPath | None = None
    expected_codes: ExpectedCodes | None = None
    admin_state_up: bool = True
    tags: Tags | None = None
    http_version: StrictFloat | None = None
    domain_name: DomainName | None = None


class HealthMonitorPOST(_HealthMonitorFields):
    project_id: ProjectId | None = None
    pool_id: UUID


class HealthMonitorSingleCreate(Nested, _HealthMonitorFields):
    """The monitor inside a pool of a fully populated load balancer."""


class HealthMonitorPUT(Body):
    name: Name | None = None
    delay: Seconds | None = None
    timeout: Seconds | None = None
    max_retries_down: Retries | None = None
    max_retries: Retries | None = None
    http_method: str | None = None
    url_path: UrlPath | None = None
    expected_codes: ExpectedCodes | None = None
    admin_state_up: bool | None = None
    tags: Tags | None = None
    http_version: StrictFloat | None = None
    domain_name: DomainName | None = None


def view(hm: HealthMonitor) -> dict[str, Any]:
    return {
        "id": hm.id,
        "name": text(hm.name),
        "type": hm.type,
        "delay": hm.delay,
        "timeout": hm.timeout,
        "max_retries": hm.max_retries,
        "max_retries_down": hm.max_retries_down,
        "http_method": hm.http_method,
        "url_path": hm.url_path,
        "expected_codes": hm.expected_codes,
        "admin_state_up": hm.admin_state_up,
        **owned(hm.project_id),
        "pools": [{"id": hm.pool_id}],
        "provisioning_status": hm.provisioning_status,
        "operating_status": hm.operating_status,
        "created_at": iso(hm.created_at),
        "updated_at": iso(hm.updated_at),
        "tags": list(hm.tags or []),
        "http_version": hm.http_version,
        "domain_name": hm.domain_name,
    }


def full_view(hm: HealthMonitor) -> dict[str, Any]:
    """The monitor inside its pool's full view: no ``pools`` (Octavia's FullResponse)."""
    out = view(hm)
    del out["pools"]
    return out
