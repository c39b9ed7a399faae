"""Fields most resources share, written once."""

from __future__ import annotations

from hydria.core.resources.field import Field, Show
from hydria.core.resources.types import UUID, Description, Name, ProjectId, Tags, WsmeBool

ID = Field("id", filter=True)
NAME = Field("name", Name, create=True, update=True, filter=True, show=Show.TEXT)
DESCRIPTION = Field(
    "description", Description, create=True, update=True, filter=True, show=Show.TEXT
)
PROVISIONING = Field("provisioning_status", filter=True)
OPERATING = Field("operating_status", filter=True)
ADMIN = Field(
    "admin_state_up", WsmeBool, True, create=True, update=True, null="ignore", filter=True
)
PROJECT = Field("project_id", ProjectId, create=True, nested=False, stored=False)
TENANT = Field("tenant_id", column="project_id", stored=False)
CREATED = Field("created_at", show=Show.TIME)
UPDATED = Field("updated_at", show=Show.TIME)
TAGS = Field("tags", Tags, [], create=True, update=True, show=Show.LIST)
# A child of a load balancer (listener, pool): named by ``loadbalancer_id`` in a
# create body (not in a fully populated one, where it is implied), and answered
# as Octavia's ``loadbalancers`` list.
LB_ID = Field(
    "loadbalancer_id",
    UUID,
    create=True,
    nested=False,
    filter=True,
    column="load_balancer_id",
    shown=False,
    stored=False,
)
LOADBALANCERS = Field("loadbalancers", column="load_balancer_id", show=Show.PARENT)

# How Octavia's listing of a top-level resource begins (load balancer, listener,
# pool, L7 policy): these six, in this order, which the responses keep.
HEAD = (ID, NAME, DESCRIPTION, PROVISIONING, OPERATING, ADMIN)
