"""Hydria's one provider driver, and which flavor and zone settings it honours.

Octavia lists every enabled provider driver by name with a description; its
defaults enable ``amphora`` and ``octavia``, a deprecated alias of the same
driver, and Hydria lists both, so a client that names either works.

A flavor profile's ``flavor_data`` (and a zone profile's
``availability_zone_data``) is a JSON object of settings the provider applies
to the load balancers created with it. Hydria lists in its capabilities only
the settings it actually applies and refuses any other key when the profile
is created or changed, so an operator never believes a setting took effect
when it did not:

- ``loadbalancer_topology``: ``SINGLE`` (one amphora per load balancer) or
  ``ACTIVE_STANDBY`` (two, with keepalived VRRP between them; needs the
  ``netns`` drivers: a load balancer create answers 501 with ``local``).
- no availability zone setting yet: the ``local`` compute driver has no
  zones, so a zone profile must be ``{}``; a zone is a name users can pick
  and operators can disable, nothing more.
"""

from __future__ import annotations

from typing import Any

from hydria.api.jsonbody import decode
from hydria.core import constants as c
from hydria.core.errors import InvalidInput

PROVIDERS = {
    c.PROVIDER_NAME: "The Hydria amphora driver: HAProxy amphorae managed by Hydria.",
    "octavia": "Deprecated alias of the amphora driver.",
}

TOPOLOGY = "loadbalancer_topology"
FLAVOR_CAPABILITIES = {
    TOPOLOGY: "The load balancer topology. One of: SINGLE - One amphora per load "
              "balancer. ACTIVE_STANDBY - Two amphora per load balancer.",
}
FLAVOR_VALUES = {TOPOLOGY: (c.TOPOLOGY_SINGLE, c.TOPOLOGY_ACTIVE_STANDBY)}

AVAILABILITY_ZONE_CAPABILITIES: dict[str, str] = {}


def require_provider(name: str) -> str:
    """``name`` if it is an enabled provider; Octavia's 400 otherwise."""
    if name not in PROVIDERS:
        raise InvalidInput(f"Provider '{name}' is not enabled.")
    return name


def _object(text: str, option: str) -> dict[str, Any]:
    try:  # the same decoding as request bodies: depth, NaN, NUL and surrogates refused
        value = decode(text.encode("utf-8", "surrogatepass"))
    except InvalidInput:
        value = None
    if not isinstance(value, dict):
        shown = text if len(text) <= 100 else text[:100] + "..."
        raise InvalidInput(f"{shown} is not a valid option for {option}")
    return value


def _supported(keys: dict[str, str]) -> str:
    return ", ".join(sorted(keys)) if keys else "none"


def check_flavor_data(text: str) -> dict[str, Any]:
    """The settings in ``flavor_data``; 400 for bad JSON or a setting Hydria does not apply."""
    data = _object(text, "flavor_data")
    unknown = sorted(set(data) - set(FLAVOR_CAPABILITIES))
    if unknown:
        raise InvalidInput(
            f"Provider '{c.PROVIDER_NAME}' does not support a requested option: flavor_data "
            f"key(s) {', '.join(unknown)} are not supported by this release of Hydria; "
            f"supported keys: {_supported(FLAVOR_CAPABILITIES)}.")
    for key, allowed in FLAVOR_VALUES.items():
        if key in data and data[key] not in allowed:
            raise InvalidInput(
                f"Provider '{c.PROVIDER_NAME}' does not support a requested option: "
                f"flavor_data {key} {data[key]!r} is not supported; supported values: "
                f"{', '.join(allowed)}.")
    return data


def check_availability_zone_data(text: str) -> dict[str, Any]:
    """The settings in ``availability_zone_data``; 400 for bad JSON or any setting."""
    data = _object(text, "availability_zone_data")
    unknown = sorted(set(data) - set(AVAILABILITY_ZONE_CAPABILITIES))
    if unknown:
        raise InvalidInput(
            f"Provider '{c.PROVIDER_NAME}' does not support a requested option: "
            f"availability_zone_data key(s) {', '.join(unknown)} are not supported by this "
            f"release of Hydria; supported keys: "
            f"{_supported(AVAILABILITY_ZONE_CAPABILITIES)}.")
    return data
