"""The caller's identity and what it may see.

In ``noauth`` mode (the only strategy so far) the caller says who it is:
``X-Project-Id`` names the project (default ``constants.DEFAULT_PROJECT_ID``)
and ``X-Roles`` (comma separated) containing ``admin`` makes it an admin that
sees and acts on every project, as Octavia's ``load-balancer_admin`` /
``admin`` roles do. A Keystone strategy would fill the same context from a
validated token. The context itself is ``hydria.services.context``:
services take it.
"""

from __future__ import annotations

from fastapi import Request

from hydria.core import constants as c
from hydria.core.errors import InvalidInput
from hydria.services.context import RequestContext

ADMIN_ROLES = frozenset({"admin", "load-balancer_admin"})
MAX_PROJECT_ID_LENGTH = 36


def context_from_request(request: Request) -> RequestContext:
    project_id = (request.headers.get("x-project-id") or "").strip() or c.DEFAULT_PROJECT_ID
    if len(project_id) > MAX_PROJECT_ID_LENGTH:
        raise InvalidInput(
            f"X-Project-Id must be at most {MAX_PROJECT_ID_LENGTH} characters long.")
    roles = tuple(r.strip().lower() for r in request.headers.get("x-roles", "").split(",")
                  if r.strip())
    return RequestContext(project_id=project_id,
                          is_admin=any(r in ADMIN_ROLES for r in roles), roles=roles)
