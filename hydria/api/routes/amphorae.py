"""/octavia/amphorae: Octavia's amphora admin API.

- ``GET`` list (filters, ``fields``, sorting, pages as every collection) and
  show, with Octavia's fields; DELETED amphorae are not shown, as in Octavia,
  unless the list asks for them (``status=DELETED``, a Hydria extension: a
  replaced amphora stays there for ``deleted_retention_days``).
- ``GET .../{id}/stats``: the amphora's counters, one entry per listener of
  its load balancer (zeros until a heartbeat reports them). Octavia answers
  404 while nothing is reported; an empty or zero answer is more useful.
- ``PUT .../{id}/failover`` (202): the amphora is marked for failover and its
  load balancer goes to PENDING_UPDATE (409 while it is PENDING_*); the
  controller builds a replacement and retires this one.
- ``PUT .../{id}/config`` (202): Octavia refreshes the amphora agent's
  settings; a Hydria agent takes its settings at boot, so here the
  controller pushes the configuration again: the load balancer goes to
  PENDING_UPDATE with a new generation (409 while it is PENDING_*). For a
  spare there is nothing to push and nothing changes.
- ``DELETE .../{id}`` (204): an ERROR amphora, as in Octavia, or a spare
  (READY, no load balancer), which Octavia refuses; 409 otherwise. It goes
  to PENDING_DELETE; one that belongs to a load balancer is also marked for
  failover, so the controller retires it and builds its replacement.

A spare has no load balancer to converge: failing it over retires it
(PENDING_DELETE), as Octavia does; whoever keeps the spare pool stops its
process and builds another.

Octavia keeps all of this for admins (see ``hydria.api.auth.policy``); once
allowed, the caller sees the whole fleet, whatever its project.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from hydria.api.auth.policy import AdminCtx
from hydria.api.deps import Services
from hydria.api.listing import envelope, fields_param, params, select_fields
from hydria.services import amphorae as service

router = APIRouter()
PATH = "/octavia/amphorae"


@router.get(PATH)
def list_amphorae(request: Request, ctx: AdminCtx, env: Services) -> dict[str, Any]:
    page = service.list_amphorae(env, ctx, params(request))
    return envelope(request, page, "amphorae", "amphorae_links")


@router.get(PATH + "/{amphora_id}")
def show_amphora(amphora_id: str, request: Request, ctx: AdminCtx, env: Services) -> dict[str, Any]:
    return {"amphora": select_fields(service.show_amphora(env, amphora_id), fields_param(request))}


@router.get(PATH + "/{amphora_id}/stats")
def amphora_stats(amphora_id: str, ctx: AdminCtx, env: Services) -> dict[str, Any]:
    return {"amphora_stats": service.amphora_stats(env, amphora_id)}


@router.put(PATH + "/{amphora_id}/failover", status_code=202)
def failover_amphora(amphora_id: str, ctx: AdminCtx, env: Services) -> Response:
    service.failover(env, amphora_id)
    return Response(status_code=202)


@router.put(PATH + "/{amphora_id}/config", status_code=202)
def configure_amphora(amphora_id: str, ctx: AdminCtx, env: Services) -> Response:
    service.configure(env, amphora_id)
    return Response(status_code=202)


@router.delete(PATH + "/{amphora_id}", status_code=204)
def delete_amphora(amphora_id: str, ctx: AdminCtx, env: Services) -> Response:
    service.delete(env, amphora_id)
    return Response(status_code=204)
