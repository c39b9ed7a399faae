"""Flavor, availability zone and profile bodies and views (Octavia's types).

A profile's data (``flavor_data``, ``availability_zone_data``) is a JSON
object *as a string*, as in Octavia, at most 4096 characters.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, StrictBool

from hydria.api.validation import UUID, Body, Description, Name
from hydria.db.models import AvailabilityZone, AvailabilityZoneProfile, Flavor, FlavorProfile

Data = Annotated[str, Field(max_length=4096)]
ProviderName = Annotated[str, Field(max_length=255)]


class FlavorProfilePOST(Body):
    name: Name
    provider_name: ProviderName
    flavor_data: Data


class FlavorProfilePUT(Body):
    name: Name | None = None
    provider_name: ProviderName | None = None
    flavor_data: Data | None = None


class FlavorPOST(Body):
    name: Name
    description: Description | None = None
    enabled: StrictBool = True
    flavor_profile_id: UUID


class FlavorPUT(Body):
    name: Name | None = None
    description: Description | None = None
    enabled: StrictBool | None = None


class AvailabilityZoneProfilePOST(Body):
    name: Name
    provider_name: ProviderName
    availability_zone_data: Data


class AvailabilityZoneProfilePUT(Body):
    name: Name | None = None
    provider_name: ProviderName | None = None
    availability_zone_data: Data | None = None


class AvailabilityZonePOST(Body):
    name: Name
    description: Description | None = None
    enabled: StrictBool = True
    availability_zone_profile_id: UUID


class AvailabilityZonePUT(Body):
    description: Description | None = None
    enabled: StrictBool | None = None


def flavor_profile_view(row: FlavorProfile) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "provider_name": row.provider_name,
            "flavor_data": row.flavor_data}


def flavor_view(row: Flavor) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "description": row.description,
            "enabled": row.enabled, "flavor_profile_id": row.flavor_profile_id}


def zone_profile_view(row: AvailabilityZoneProfile) -> dict[str, Any]:
    return {"id": row.id, "name": row.name, "provider_name": row.provider_name,
            "availability_zone_data": row.availability_zone_data}


def zone_view(row: AvailabilityZone) -> dict[str, Any]:
    return {"name": row.name, "description": row.description, "enabled": row.enabled,
            "availability_zone_profile_id": row.availability_zone_profile_id}
