"""A stand-in for ``KeystoneAuth`` in in-process tests: the identity from headers.

The policy (``OctaviaPolicy``, Octavia's rules) and the door are the real ones;
only the token validation is skipped, so a table of roles × operations runs in
milliseconds. ``tests/keystone`` drives the same API through a real Keystone.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.types import ASGIApp, Receive, Scope, Send

from hydria.api.auth.keystone import SCOPE_KEY, Identity
from hydria.config import Settings
from hydria.core import constants as c


class HeaderIdentity:
    """``X-Project-Id``, ``X-Roles`` (comma separated), ``X-User-Id``, ``X-System-Scope``.

    Without them: a member (roles ``member``, ``reader``) of the default project.
    """

    def __init__(self, app: ASGIApp, settings: Settings) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
            project = headers.get("x-project-id", c.DEFAULT_PROJECT_ID)
            roles = tuple(
                r.strip() for r in headers.get("x-roles", "member,reader").split(",") if r.strip()
            )
            system = headers.get("x-system-scope")
            creds: dict[str, Any] = {
                "project_id": None if system else project,
                "user_id": headers.get("x-user-id", "user"),
                "roles": list(roles),
                "system_scope": system,
            }
            scope[SCOPE_KEY] = Identity(
                project_id=creds["project_id"],
                user_id=creds["user_id"],
                roles=roles,
                system_scope=system,
                domain_id=None,
                credentials=creds,
            )
        await self.app(scope, receive, send)


def keystone_settings(state_dir: Path, **extra: Any) -> Settings:
    """Settings of a keystone-mode API (the Keystone URL is never called in-process)."""
    return Settings(
        state_dir=state_dir,
        auth_strategy="keystone",
        keystone_url="http://127.0.0.1:1/v3",
        keystone_username="hydria",
        keystone_password="unused",
        **extra,
    )
