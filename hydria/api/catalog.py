"""What the flavor and availability zone routes share: lookups, in-use checks, PUT rules.

A flavor (or zone) points to a profile; load balancers point to a flavor (or
zone). Something in use cannot go away: a profile while a flavor uses it, a
flavor while a load balancer that is not DELETED uses it (Octavia's
``ObjectInUse``, 409). A DELETED load balancer keeps showing the id it was
created with.

A load balancer create reads its flavor or zone with ``FOR SHARE``
(``live_flavor``, ``live_zone``) and a delete removes the row *before* it
looks for users, so on PostgreSQL one of the two waits for the other and a
load balancer is never created on a flavor deleted in the same instant; on
SQLite every write transaction is serialised anyway.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hydria.core import constants as c
from hydria.core.errors import Conflict, InvalidInput, NotFound
from hydria.db.models import AvailabilityZone, Flavor, FlavorProfile, LoadBalancer


def get_or_404(session: Session, model: Any, key: str, kind: str) -> Any:
    row = session.get(model, key)
    if row is None:
        raise NotFound.of(kind, key)
    return row


def in_use(kind: str, key: str) -> Conflict:
    return Conflict(f"{kind} {key} is in use and cannot be modified.")


def no_nulls(changes: dict[str, Any], *names: str) -> None:
    """Octavia's answer to a PUT that sets a mandatory attribute to null."""
    for name in names:
        if name in changes and changes[name] is None:
            raise InvalidInput(f"None is not a valid option for {name}")


def load_balancers_using(session: Session, column: Any, value: str) -> int:
    return session.scalar(select(func.count()).select_from(LoadBalancer).where(
        column == value, LoadBalancer.provisioning_status != c.DELETED)) or 0


def _shared(session: Session, model: Any, key_column: Any, key: str) -> Any:
    return session.scalar(select(model).where(key_column == key)
                          .with_for_update(read=True))


def live_flavor(session: Session, flavor_id: str) -> Flavor:
    """The flavor a new load balancer asks for: Octavia's 400s if unknown or disabled."""
    flavor = _shared(session, Flavor, Flavor.id, flavor_id)
    if flavor is None:
        raise InvalidInput("Validation failure: Invalid flavor_id.")
    if not flavor.enabled:
        raise InvalidInput(f"The selected flavor is not allowed in this deployment: "
                           f"{flavor_id}")
    return flavor


def live_zone(session: Session, name: str) -> AvailabilityZone:
    """The zone a new load balancer asks for: Octavia's 400s if unknown or disabled."""
    zone = _shared(session, AvailabilityZone, AvailabilityZone.name, name)
    if zone is None:
        raise InvalidInput("Validation failure: Invalid availability zone.")
    if not zone.enabled:
        raise InvalidInput(f"The selected availability_zone is not allowed in this "
                           f"deployment: {name}")
    return zone


def flavor_topology(session: Session, flavor_id: str | None) -> str | None:
    """The ``loadbalancer_topology`` a flavor's profile sets, if it sets one."""
    import json

    if flavor_id is None:
        return None
    flavor = session.get(Flavor, flavor_id)
    profile = session.get(FlavorProfile, flavor.flavor_profile_id) if flavor else None
    if profile is None:
        return None
    value = json.loads(profile.flavor_data or "{}").get("loadbalancer_topology")
    return str(value) if value else None


def check_lb_choices(session: Session, *, flavor_id: str | None,
                     availability_zone: str | None, provider: str | None) -> None:
    """A new load balancer's flavor and zone exist and are enabled (400s otherwise); a
    provider named with a flavor must be the flavor profile's (Octavia's mismatch 400)."""
    if flavor_id is not None:
        flavor = live_flavor(session, flavor_id)
        profile = session.get(FlavorProfile, flavor.flavor_profile_id)
        if provider is not None and profile is not None and profile.provider_name != provider:
            raise InvalidInput(f"Flavor '{flavor_id}' is not compatible with provider "
                               f"'{provider}'")
    if availability_zone is not None:
        live_zone(session, availability_zone)
