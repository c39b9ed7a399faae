"""/lbaas/pools/{pool_id}/members: one by one, or the whole set at once (batch)
(``hydria.services.members``)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from hydria.api.crud import Ops, add_crud, parent_first
from hydria.api.deps import Ctx, JsonBody, Services
from hydria.api.schemas.bodies import MemberPOST, MemberPUT
from hydria.api.validation import truthy, validate
from hydria.core.errors import InvalidInput
from hydria.core.resources import MEMBER
from hydria.services import members as service
from hydria.services.validation import shorten

router = APIRouter()
PATH = "/lbaas/pools/{pool_id}/members"

add_crud(
    router,
    PATH,
    "member_id",
    MEMBER,
    Ops(
        service.READS.list,
        service.READS.show,
        service.create_member,
        service.update_member,
        service.delete_member,
        MemberPOST,
        MemberPUT,
    ),
    parent="Pool",
)


def _parse_batch(body: Any) -> list[Any]:
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    extra = sorted(set(body) - {"members"})
    if extra:
        raise InvalidInput(f"Unknown attribute for argument members: {shorten(', '.join(extra))}")
    entries = body.get("members")
    if not isinstance(entries, list):
        raise InvalidInput(
            "Invalid input for field/attribute members. "
            f"Value: '{shorten(entries)}'. Value should be a list of member "
            "objects."
        )
    parsed = []
    for i, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise InvalidInput(
                f"Invalid input for field/attribute members[{i}]. "
                f"Value: '{shorten(entry)}'. Value should be a JSON object."
            )
        parsed.append(validate(entry, "member", MemberPOST, nulls_are_unset=True))
    return parsed


@router.put(PATH, status_code=202)
def batch_update_members(
    pool_id: str, request: Request, body: JsonBody, ctx: Ctx, env: Services
) -> Response:
    """Make the pool's members exactly the listed ones (or add to them, additive_only)."""
    with parent_first(env, "Pool", request):
        wanted = _parse_batch(body)
        service.batch_update(
            env,
            ctx,
            pool_id,
            wanted,
            additive_only=truthy(request.query_params.get("additive_only")),
        )
    return Response(status_code=202)
