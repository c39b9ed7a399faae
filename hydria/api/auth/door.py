"""The one place where a request is admitted: identity, then the route's rule.

``create_app`` installs ``admit`` as a dependency of every route (and the
handlers' ``Ctx`` is the same call, so it runs once per request). It finds
the route FastAPI matched, its Octavia operation (``operations.TABLE``), and
checks the operation's rule for the caller against the target project,
before any handler or body parsing runs. A route the table does not know is
refused, so a new route cannot slip in unguarded.

Who the caller is depends on ``HYDRIA_AUTH_STRATEGY``:

- ``keystone``: the identity ``KeystoneAuth`` took from a validated token;
  the policy is Octavia's (``OctaviaPolicy``), and the caller is an admin
  (``RequestContext.is_admin``: every project, admin-only fields) when
  Octavia's ``context_is_admin`` rule says so, as Octavia sets its
  context's ``is_admin`` (an operator's policy file may redefine it).
- ``noauth``: ``X-Project-Id`` (default ``constants.DEFAULT_PROJECT_ID``) and
  ``X-Roles`` (``admin`` or ``load-balancer_admin`` make an admin), as in
  Octavia's noauth, with Hydria's noauth rules (``NoauthPolicy``).

The context carries the decision for objects found later (``Decision``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from fastapi import Request
from starlette.concurrency import run_in_threadpool

from hydria.api.auth.enforcer import ADMIN_ROLES, NoauthPolicy, OctaviaPolicy, Policy
from hydria.api.auth.keystone import SCOPE_KEY, Identity
from hydria.api.auth.operations import CALLER, PATH, Operation, operation_for
from hydria.config import Settings
from hydria.core import constants as c
from hydria.core.errors import APIError, InvalidInput, NotAuthorized, NotFound
from hydria.services.context import RequestContext

log = logging.getLogger(__name__)

KEYSTONE = "keystone"
MAX_PROJECT_ID_LENGTH = 36


class NotAuthenticated(APIError):
    status_code = 401
    faultcode = "Client"


@dataclass(frozen=True)
class Decision:
    """The policy's answer for one request's operation, asked again per project."""

    policy: Policy
    operation: Operation
    creds: Mapping[str, Any]
    forbid_others: bool

    def allows(self, project_id: str | None) -> bool:
        rule = self.operation.rule
        return rule is None or self.policy.allows(rule, project_id, self.creds)

    def allows_global(self, project_id: str | None) -> bool:
        rule = self.operation.global_rule
        return rule is not None and self.policy.allows(rule, project_id, self.creds)

    def refusal(self, kind: str, key: str) -> APIError:
        return NotAuthorized() if self.forbid_others else NotFound.of(kind, key)


class Guard:
    """The strategy and policy of one app, made once at start (``app.state.guard``)."""

    def __init__(self, settings: Settings) -> None:
        self.strategy = settings.auth_strategy
        self.policy: Policy
        if self.strategy == KEYSTONE:
            self.octavia = OctaviaPolicy(
                policy_file=settings.policy_file,
                enforce_new_defaults=settings.policy_enforce_new_defaults,
            )
            self.policy = self.octavia
        else:
            self.policy = NoauthPolicy()

    def may_wait(self) -> bool:
        """May a decision wait on the network (a policy rule that asks a remote server)?"""
        return self.strategy == KEYSTONE and self.octavia.asks_remote()

    def caller(self, request: Request) -> tuple[str, tuple[str, ...], str | None, dict[str, Any]]:
        if self.strategy == KEYSTONE:
            identity: Identity | None = request.scope.get(SCOPE_KEY)
            if identity is None:
                raise NotAuthenticated("Authentication required.")
            creds = dict(identity.credentials)
            creds["is_admin"] = self.octavia.is_admin(creds)
            return identity.project_id or "", identity.roles, identity.user_id, creds
        project_id = (request.headers.get("x-project-id") or "").strip() or c.DEFAULT_PROJECT_ID
        if len(project_id) > MAX_PROJECT_ID_LENGTH:
            raise InvalidInput(
                f"X-Project-Id must be at most {MAX_PROJECT_ID_LENGTH} characters long."
            )
        if not project_id.isprintable():
            raise InvalidInput("X-Project-Id must be printable text (no control characters).")
        roles = tuple(
            r.strip().lower() for r in request.headers.get("x-roles", "").split(",") if r.strip()
        )
        is_admin = any(r in ADMIN_ROLES for r in roles)
        return (
            project_id,
            roles,
            None,
            {"project_id": project_id, "roles": list(roles), "is_admin": is_admin},
        )

    def admit(self, request: Request) -> RequestContext:
        route = request.scope.get("route")
        path = getattr(route, "path", None)
        operation = operation_for(request.method, path) if path is not None else None
        if operation is None:
            log.error("event=api_route_without_rule method=%s path=%s", request.method, path)
            raise NotAuthorized()
        if operation.rule is None and request.scope.get(SCOPE_KEY) is None:
            # version documents, health check, metrics: no token needed, nobody to name
            return RequestContext(project_id="")
        project_id, roles, user_id, creds = self.caller(request)
        decision = Decision(
            policy=self.policy,
            operation=operation,
            creds=creds,
            forbid_others=self.strategy == KEYSTONE,
        )
        if not decision.allows(self._target(operation, request, project_id)):
            log.info(
                "event=api_policy_refused rule=%s user=%r project=%r",
                operation.rule,
                user_id,
                project_id,
            )
            raise NotAuthorized()
        # Octavia's context.is_admin: ``context_is_admin`` under Keystone (an admin sees
        # what Octavia shows admins, e.g. ``hydria_error_reason``), the roles under noauth
        return RequestContext(
            project_id=project_id,
            roles=roles,
            user_id=user_id,
            is_admin=bool(creds["is_admin"]),
            access=decision,
            # passed on to a secret store that checks the user itself (Barbican)
            token=request.headers.get("x-auth-token") if self.strategy == KEYSTONE else None,
        )

    @staticmethod
    def _target(operation: Operation, request: Request, own: str) -> str | None:
        if operation.target == CALLER:
            return own
        if operation.target == PATH:
            return next(iter(request.path_params.values()), None)
        return operation.target


async def admit(request: Request) -> RequestContext:
    """The dependency every route runs first (and handlers' ``Ctx``).

    A coroutine: FastAPI runs a plain function dependency in its thread pool, a
    hop to a worker thread and back that cost more than the decision itself (a
    header read and a remembered policy answer). It runs on the event loop unless
    a rule of the operator's policy asks a remote server (``http:`` checks), whose
    answer waits on the network: then it keeps the thread pool."""
    guard: Guard = request.app.state.guard
    if guard.may_wait():
        return await run_in_threadpool(guard.admit, request)
    return guard.admit(request)
