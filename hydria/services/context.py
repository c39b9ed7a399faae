"""Who is asking: the caller's project and whether it acts as an admin.

The API builds it from the request (``hydria.api.auth.context``); services
only read it, so any other entry point (a CLI, a test) can make one.
"""

from __future__ import annotations

from dataclasses import dataclass

from hydria.core.errors import NotAuthorized


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

    def as_admin(self) -> RequestContext:
        return RequestContext(project_id=self.project_id, is_admin=True, roles=self.roles)
