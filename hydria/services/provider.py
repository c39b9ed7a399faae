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

- ``loadbalancer_topology``: ``SINGLE`` only, one amphora per load balancer,
  which is what Hydria builds (``ACTIVE_STANDBY`` is refused: this release
  has no VRRP between amphorae).
- no availability zone setting yet: the ``local`` compute driver has no
  zones, so a zone profile must be ``{}``; a zone is a name users can pick
  and operators can disable, nothing more.
"""

from __future__ import annotations

from typing import Any

from hydria.core import constants as c
from hydria.core.errors import InvalidInput
from hydria.core.jsonbody import decode

PROVIDERS = {
    c.PROVIDER_NAME: "The Hydria amphora driver: HAProxy amphorae managed by Hydria.",
    "octavia": "Deprecated alias of the amphora driver.",
}

TOPOLOGY = "loadbalancer_topology"
FLAVOR_CAPABILITIES = {
    TOPOLOGY: "The load balancer topology. One of: SINGLE - One amphora per load "
              "balancer (ACTIVE_STANDBY is not supported by this release).",
}
FLAVOR_VALUES: dict[str, tuple[str, ...]] = {TOPOLOGY: (c.TOPOLOGY_SINGLE,)}

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


# A profile's data field -> (the settings it may hold, the values each may take).
PROFILE_SETTINGS: dict[str, tuple[dict[str, str], dict[str, tuple[str, ...]]]] = {
    "flavor_data": (FLAVOR_CAPABILITIES, FLAVOR_VALUES),
    "availability_zone_data": (AVAILABILITY_ZONE_CAPABILITIES, {}),
}


def check_profile_data(option: str, text: str) -> dict[str, Any]:
    """The settings in a profile's ``option`` (``flavor_data``, ``availability_zone_data``);
    400 for bad JSON or a setting (or value) Hydria does not apply."""
    capabilities, values = PROFILE_SETTINGS[option]
    data = _object(text, option)
    unknown = sorted(set(data) - set(capabilities))
    if unknown:
        raise InvalidInput(
            f"Provider '{c.PROVIDER_NAME}' does not support a requested option: {option} "
            f"key(s) {', '.join(unknown)} are not supported by this release of Hydria; "
            f"supported keys: {_supported(capabilities)}.")
    for key, allowed in values.items():
        if key in data and data[key] not in allowed:
            raise InvalidInput(
                f"Provider '{c.PROVIDER_NAME}' does not support a requested option: "
                f"{option} {key} {data[key]!r} is not supported; supported values: "
                f"{', '.join(allowed)}.")
    return data
