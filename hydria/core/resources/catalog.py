"""Octavia's operator catalogue: flavors, availability zones and their profiles.

A flavor and an availability zone are the same thing twice (a named, enabled
choice pointing to a provider profile); ``CatalogKind`` says what differs, and
one service and one route factory serve both.
"""

from __future__ import annotations

from dataclasses import dataclass

from hydria.core.resources.field import REQUIRED, Field, Resource
from hydria.core.resources.types import (
    UUID,
    Description,
    Name,
    ProfileData,
    ProviderName,
    WsmeBool,
)


def _profile(kind: str, root: str, data: str) -> Resource:
    return Resource(
        kind,
        root,
        f"{root}s",
        (
            Field("id", filter=True),
            Field("name", Name, REQUIRED, create=True, update=True, null="refuse", filter=True),
            Field(
                "provider_name",
                ProviderName,
                REQUIRED,
                create=True,
                update=True,
                null="refuse",
                filter=True,
            ),
            Field(
                data, ProfileData, REQUIRED, create=True, update=True, null="refuse", filter=True
            ),
        ),
        links=f"{root}_links",
    )


FLAVOR_PROFILE = _profile("Flavor Profile", "flavorprofile", "flavor_data")
ZONE_PROFILE = _profile(
    "Availability Zone Profile", "availability_zone_profile", "availability_zone_data"
)

FLAVOR = Resource(
    "Flavor",
    "flavor",
    "flavors",
    (
        Field("id", filter=True),
        Field("name", Name, REQUIRED, create=True, update=True, null="refuse", filter=True),
        Field("description", Description, create=True, update=True, filter=True),
        Field("enabled", WsmeBool, True, create=True, update=True, null="refuse", filter=True),
        Field("flavor_profile_id", UUID, REQUIRED, create=True, filter=True),
    ),
)

ZONE = Resource(
    "Availability Zone",
    "availability_zone",
    "availability_zones",
    (
        Field("name", Name, REQUIRED, create=True, filter=True),
        Field("description", Description, create=True, update=True, filter=True),
        Field("enabled", WsmeBool, True, create=True, update=True, null="refuse", filter=True),
        Field("availability_zone_profile_id", UUID, REQUIRED, create=True, filter=True),
    ),
)


@dataclass(frozen=True)
class CatalogKind:
    """A catalogue (flavors, or zones) and its profiles, as one service serves them."""

    item: Resource
    profile: Resource
    key: str  # the item's key in paths: "id", or "name" for zones
    profile_key: str  # the item's field naming its profile
    data: str  # the profile's data field
    lb_column: str  # the load balancer column naming the item
    item_path: str
    profile_path: str


FLAVORS = CatalogKind(
    FLAVOR,
    FLAVOR_PROFILE,
    "id",
    "flavor_profile_id",
    "flavor_data",
    "flavor_id",
    "/lbaas/flavors",
    "/lbaas/flavorprofiles",
)
ZONES = CatalogKind(
    ZONE,
    ZONE_PROFILE,
    "name",
    "availability_zone_profile_id",
    "availability_zone_data",
    "availability_zone",
    "/lbaas/availabilityzones",
    "/lbaas/availabilityzoneprofiles",
)
