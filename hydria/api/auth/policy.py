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

from hydria.api.auth.context import RequestContext, context_from_request
from hydria.api.deps import get_settings
from hydria.core.errors import NotAuthorized

NOAUTH = "noauth"


def admin_context(request: Request) -> RequestContext:
    """The caller, if it may use admin operations; 403 otherwise."""
    ctx = context_from_request(request)
    if not ctx.is_admin and get_settings(request).auth_strategy != NOAUTH:
        raise NotAuthorized()
    return ctx


AdminCtx = Annotated[RequestContext, Depends(admin_context)]
