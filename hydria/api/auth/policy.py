"""Operations Octavia keeps for administrators.

Octavia's default policy gives load balancer failover and the whole amphora
API to ``load-balancer:admin`` only. Under ``noauth`` nobody's identity is
verified (the caller names its own roles), so there Hydria lets every caller
use them, as the operator of a ``hydria up`` on their own machine expects;
every other strategy requires an admin role.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from hydria.api.auth.context import context_from_request
from hydria.api.deps import get_settings
from hydria.core.errors import NotAuthorized
from hydria.services.context import RequestContext

NOAUTH = "noauth"


def acts_as_admin(request: Request, ctx: RequestContext) -> bool:
    """Whether the caller may use admin operations (any caller under noauth)."""
    return ctx.is_admin or get_settings(request).auth_strategy == NOAUTH


def admin_context(request: Request) -> RequestContext:
    """The caller, if it may use admin operations; 403 otherwise."""
    ctx = context_from_request(request)
    if not acts_as_admin(request, ctx):
        raise NotAuthorized()
    return ctx


AdminCtx = Annotated[RequestContext, Depends(admin_context)]
