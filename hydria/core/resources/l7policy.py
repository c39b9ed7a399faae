"""Octavia's L7 policy (``/v2/lbaas/l7policies``) and rule (``.../{id}/rules``).

A policy sends the requests its rules all match (REDIRECT_TO_POOL), redirects
them (REDIRECT_TO_URL, REDIRECT_PREFIX) or refuses them (REJECT); a
listener's policies run in ``position`` order. ``hydria.core.l7`` holds the
checks across fields (Octavia's ``sanitize_l7policy_api_args`` and
``l7rule_data``) and what makes a value safe for HAProxy.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field as PydanticField
from pydantic import StrictBool, StrictInt

from hydria.core import constants as c
from hydria.core.resources import common as std
from hydria.core.resources.field import REQUIRED, Child, Field, Resource, Show
from hydria.core.resources.types import UUID

Position = Annotated[StrictInt, PydanticField(ge=c.MIN_POLICY_POSITION, le=c.MAX_POLICY_POSITION)]
Url = Annotated[str, PydanticField(max_length=255)]
RuleText = Annotated[str, PydanticField(max_length=255)]

L7RULE = Resource(
    "L7 Rule",
    "rule",
    "rules",
    (
        std.ID,
        Field("type", str, REQUIRED, create=True, update=True, null="refuse", filter=True),
        Field("compare_type", str, REQUIRED, create=True, update=True, null="refuse", filter=True),
        Field("key", RuleText, create=True, update=True, filter=True),
        Field("value", RuleText, REQUIRED, create=True, update=True, null="refuse", filter=True),
        Field("invert", StrictBool, False, create=True, update=True, filter=True),
        std.PROVISIONING,
        std.OPERATING,
        std.CREATED,
        std.UPDATED,
        std.PROJECT,
        std.TENANT,
        std.ADMIN,
        std.TAGS,
    ),
    check_order=(
        "type",
        "compare_type",
        "key",
        "value",
        "invert",
        "admin_state_up",
        "project_id",
        "tags",
    ),
)

L7POLICY = Resource(
    "L7 Policy",
    "l7policy",
    "l7policies",
    (
        *std.HEAD,
        std.PROJECT,
        std.TENANT,
        Field("action", str, REQUIRED, create=True, update=True, null="refuse", filter=True),
        Field("listener_id", UUID, REQUIRED, create=True, nested=False, filter=True),
        Field("redirect_pool_id", UUID, create=True, update=True, nested=False, filter=True),
        # Inside a fully populated create: a pool by name, or a whole pool definition.
        Field(
            "redirect_pool",
            create=False,
            nested=True,
            child=Child("pool"),
            shown=False,
            stored=False,
        ),
        Field("redirect_url", Url, create=True, update=True, filter=True),
        Field("redirect_prefix", Url, create=True, update=True, filter=True),
        Field(
            "position",
            Position,
            c.MAX_POLICY_POSITION,
            create=True,
            update=True,
            null="ignore",
            filter=True,
        ),
        Field(
            "rules", create=True, child=Child("rule", many=True), show=Show.RELATED, stored=False
        ),
        std.CREATED,
        std.UPDATED,
        std.TAGS,
        Field("redirect_http_code", StrictInt, create=True, update=True, filter=True),
    ),
    check_order=(
        "name",
        "description",
        "admin_state_up",
        "project_id",
        "action",
        "redirect_pool_id",
        "redirect_pool",
        "redirect_url",
        "redirect_prefix",
        "position",
        "listener_id",
        "rules",
        "tags",
        "redirect_http_code",
    ),
)
