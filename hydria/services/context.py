"""Who is asking, and what this request may touch.

The API builds it (``hydria.api.auth.door``); services only read it, so any
other entry point (a CLI, a test) can make one. ``RequestContext`` is what
handlers and lookups see: the caller's project,
roles and user, and ``access``, the decision of the policy for the one
operation this request performs (``hydria.api.auth.door`` makes it). Its
methods are the object half of Octavia's checks, made where objects are
loaded:

- ``require_visible``: an object of another project is Octavia's 403 if the
  operation's rule does not allow that project (Keystone), or "not found"
  under noauth as Hydria always answered there;
- ``owner_for_create``: the project of a new object is the caller's; a
  ``project_id`` in the body is honoured only if the rule allows that project
  (an admin);
- ``list_projects``: the projects a list may show, as Octavia's
  ``_auth_get_all`` (the ``-global`` rule lets a caller see every project);
- ``secret_access``: on whose behalf TLS references are read, with the
  caller's Keystone token, so a store that checks users itself (Barbican)
  reads as the caller and grants the service its ACL, as Octavia's API does.

A context without ``access`` (made by code, not by a request) is trusted:
``is_admin`` alone decides. With ``access``, the policy decides which
projects a request may touch, for admins too; ``is_admin`` (Octavia's
``context_is_admin``) then only says whether admin-only fields are shown.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from hydria.core.errors import APIError, NotAuthorized, NotFound
from hydria.core.secrets import SecretAccess


class Access(Protocol):
    def allows(self, project_id: str | None) -> bool:
        """May this request's operation act on objects of ``project_id``?"""
        ...

    def allows_global(self, project_id: str | None) -> bool:
        """May this list show other projects' objects (Octavia's ``get_all-global``)?"""
        ...

    def refusal(self, kind: str, key: str) -> APIError:
        """The answer for an object the caller may not touch."""
        ...


@dataclass(frozen=True)
class RequestContext:
    project_id: str
    is_admin: bool = False
    roles: tuple[str, ...] = ()
    user_id: str | None = None
    access: Access | None = None
    # the caller's Keystone token (None under noauth and for contexts made by code)
    token: str | None = field(default=None, repr=False)

    @property
    def scope(self) -> str | None:
        """The project an object must belong to, or None for an admin (any)."""
        return None if self.is_admin else self.project_id

    def can_see(self, project_id: str) -> bool:
        if project_id == self.project_id:
            return True
        # a request's policy decides, for admins too (as Octavia asks its policy with
        # the object's project); ``is_admin`` alone only for contexts made by code
        return self.access.allows(project_id) if self.access is not None else self.is_admin

    def require_visible(self, kind: str, key: str, project_id: str) -> None:
        if not self.can_see(project_id):
            raise (
                self.access.refusal(kind, key)
                if self.access is not None
                else NotFound.of(kind, key)
            )

    def owner_for_create(self, requested: str | None) -> str:
        """The project a new object belongs to; only an admin may name another."""
        if requested is None or requested == self.project_id:
            return self.project_id
        if not self.can_see(requested):
            raise NotAuthorized()
        return requested

    def list_projects(self, wanted: list[str] | None) -> list[str] | None:
        """The projects a list shows (None: all), or 403 for a project not allowed."""
        if self.access is None and self.is_admin:
            return wanted
        if self.access is not None and self.access.allows_global(wanted[0] if wanted else None):
            return wanted
        wanted = wanted or [self.project_id]
        if not all(self.can_see(p) for p in wanted):
            raise NotAuthorized()
        return wanted

    def secret_access(self, project_id: str) -> SecretAccess:
        """Reading references for an object of ``project_id``, as this caller."""
        return SecretAccess(project_id=project_id, token=self.token)

    def as_admin(self) -> RequestContext:
        return RequestContext(
            project_id=self.project_id,
            is_admin=True,
            roles=self.roles,
            user_id=self.user_id,
            token=self.token,
        )
