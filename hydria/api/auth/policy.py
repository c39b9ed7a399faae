"""Operations Octavia keeps for administrators.

Which caller may use which operation is decided once, at the door
(``hydria.api.auth.door``, by the rules of ``hydria.api.auth.operations``):
amphorae, load balancer failover, the catalogue's writes and other projects'
quotas need ``load-balancer:admin`` (or the quota admin) under Keystone; under
``noauth`` every caller may use them, as the operator of a ``hydria up`` on
their own machine expects. ``AdminCtx`` marks such handlers for the reader.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends

from hydria.api.auth.door import admit
from hydria.services.context import RequestContext

AdminCtx = Annotated[RequestContext, Depends(admit)]
