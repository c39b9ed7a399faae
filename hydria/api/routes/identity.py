"""Keystone's project look-ups, answered "forbidden" so the ``openstack`` CLI works.

With ``auth_type: none`` the CLI sends every service's requests to Hydria's
one endpoint, Keystone's too. ``openstack loadbalancer quota set/show/reset
<project>`` first looks the project up (``GET /projects/<name>``, then
``GET /projects?name=<name>``); a 404 there makes it stop with "No project
with a name or ID of ... exists". Keystone answers 403 to a caller who may
not read projects, and the CLI then uses the name it was given as the id:
this router gives that answer. Hydria keeps no projects of its own.
"""

from __future__ import annotations

from fastapi import APIRouter

from hydria.core.errors import NotAuthorized

router = APIRouter()


@router.get("/projects")
@router.get("/projects/{project_id}")
def projects(project_id: str | None = None) -> None:
    raise NotAuthorized("Hydria keeps no projects; use the project id itself.")
