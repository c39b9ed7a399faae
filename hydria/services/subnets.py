"""VIP subnets and networks, for the small Neutron-style read API."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from hydria.core.errors import NotFound
from hydria.db.models import Network, Subnet
from hydria.services.unit import Env, read

Shape = Callable[[Any], dict[str, Any]]
MODELS: dict[str, type[Subnet] | type[Network]] = {"subnet": Subnet, "network": Network}


def list_all(env: Env, kind: str, shape: Shape) -> list[dict[str, Any]]:
    model = MODELS[kind]
    with read(env) as session:
        return [
            shape(row)
            for row in session.scalars(select(model).order_by(model.created_at, model.id))
        ]


def show(env: Env, kind: str, key: str, shape: Shape) -> dict[str, Any]:
    with read(env) as session:
        row = session.get(MODELS[kind], key)
        if row is None:
            raise NotFound(f"{kind.capitalize()} {key} could not be found.")
        return shape(row)
