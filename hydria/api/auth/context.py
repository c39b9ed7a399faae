"""The caller's identity and what it may see.

In ``noauth`` mode (the only strategy so far) the caller says who it is:
``X-Project-Id`` names the project (default ``constants.DEFAULT_PROJECT_ID``)
and ``X-Roles`` (comma separated) containing ``admin`` makes it an admin that
sees and acts on every project, as Octavia's ``load-balancer_admin`` /
``admin`` roles do. A Keystone strategy would fill the same context from a
validated token.
"""

from __future__ import annotations

from dataclasses import dataclass

from fastapi import Request

from hydria.core import constants as c
from hydria.core.errors import InvalidInput, NotAuthorized

ADMIN_ROLES = frozenset({"admin", "load-balancer_admin"})
MAX_PROJECT_ID_LENGTH = 36


@dataclass(frozen=True)
class RequestContext:
    project_id: str
    is_admin: bool = False
    roles: tuple[str, ...] = ()

    @property
    def scope(self) -> str | None:
        """The project an object must belong to, or None for an admin (any)."""
        return None if self.is_admin else self.project_id

    def can_see(self, project_id: str) -> bool:
        return self.is_admin or project_id == self.project_id

    def owner_for_create(self, requested: str | None) -> str:
        """The project a new object belongs to; only an admin may name another."""
        if requested is None or requested == self.project_id:
            return self.project_id
        if not self.is_admin:
            raise NotAuthorized()
        return requested


def context_from_request(request: Request) -> RequestContext:
    project_id = (request.headers.get("x-project-id") or "").strip() or c.DEFAULT_PROJECT_ID
    if len(project_id) > MAX_PROJECT_ID_LENGTH:
        raise InvalidInput(
            f"X-Project-Id must be at most {MAX_PROJECT_ID_LENGTH} characters long.")
    roles = tuple(r.strip().lower() for r in request.headers.get("x-roles", "").split(",")
                  if r.strip())
    return RequestContext(project_id=project_id,
                          is_admin=any(r in ADMIN_ROLES for r in roles), roles=roles)
