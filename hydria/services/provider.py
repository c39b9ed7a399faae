"""Hydria's one provider driver, and which flavor and zone settings it honours.

Octavia lists every enabled provider driver by name with a description; its
defaults enable ``amphora`` and ``octavia``, a deprecated alias of the same
driver, and Hydria lists both, so a client that names either works.

A flavor profile's ``flavor_data`` (and a zone profile's
``availability_zone_data``) is a JSON object of settings the provider applies
to the load balancers created with it. The capabilities are Octavia's amphora
provider's, key for key and with its descriptions, and a profile is checked as
that provider checks it (each key's JSON type, the topology's values, no other
key): a profile written for Octavia is accepted here. What Hydria does with
each setting (docs/compatibility.md):

- ``loadbalancer_topology``: ``SINGLE`` is built; ``ACTIVE_STANDBY`` too with
  the ``netns`` drivers (two amphorae, keepalived VRRP); with ``local`` a load
  balancer whose flavor asks for it is refused at create with Octavia's 501
  naming ``--driver netns``, as is ``sriov_vip: true`` everywhere.
- ``compute_flavor``, ``amp_image_tag``, ``allow_member_sriov``: accepted and
  kept; the local compute driver has no flavors, images or SR-IOV to choose.
- zones: ``compute_zone``, ``volume_zone``, ``management_network`` and
  ``valid_vip_networks`` are accepted; the networks must be ones the networking
  API lists (``catalog.check_zone_networks``); the local driver places nothing.

Flavor capabilities are exactly Octavia's amphora keys (clients compare them);
which listener protocols this host's amphorae serve is said in the provider's
description instead (``served(compute_driver)``, from ``hydria.core.host``: the
UDP engine the deployment's amphorae can run, nftables only for those with a
network namespace of their own, SCTP only where the kernel has it, PROMETHEUS
where HAProxy has its exporter).

A profile that breaks these rules is Octavia's 501 "Provider 'amphora' does not
support a requested option: ..."; text that is not a JSON object is a 400.
"""

from __future__ import annotations

from typing import Any

from hydria.core import constants as c
from hydria.core import host
from hydria.core.errors import InvalidInput, ProviderUnsupported
from hydria.core.jsonbody import decode
from hydria.core.protocols import Served

PROVIDERS = {
    c.PROVIDER_NAME: "The Hydria amphora driver: HAProxy amphorae managed by Hydria.",
    "octavia": "Deprecated alias of the amphora driver.",
}

TOPOLOGY = "loadbalancer_topology"
SRIOV_VIP = "sriov_vip"
FLAVOR_CAPABILITIES = {
    TOPOLOGY: "The load balancer topology. One of: SINGLE - One amphora per load balancer. "
    "ACTIVE_STANDBY - Two amphora per load balancer.",
    "compute_flavor": "The compute driver flavor ID.",
    "amp_image_tag": "The amphora image tag.",
    SRIOV_VIP: "When true, the VIP port will be created using an SR-IOV VF port.",
    "allow_member_sriov": "When true, users can request a member port be SR-IOV enabled at "
    "member creation time.",
}
#: each key's JSON type and, where Octavia limits them, its values
_FLAVOR_TYPES: dict[str, tuple[type, tuple[Any, ...]]] = {
    TOPOLOGY: (str, (c.TOPOLOGY_SINGLE, c.TOPOLOGY_ACTIVE_STANDBY)),
    "compute_flavor": (str, ()),
    "amp_image_tag": (str, ()),
    SRIOV_VIP: (bool, ()),
    "allow_member_sriov": (bool, ()),
}

MANAGEMENT_NETWORK = "management_network"
VALID_VIP_NETWORKS = "valid_vip_networks"
AVAILABILITY_ZONE_CAPABILITIES = {
    "compute_zone": "The compute availability zone.",
    "volume_zone": "The volume availability zone.",
    MANAGEMENT_NETWORK: "The management network ID for the amphora.",
    VALID_VIP_NETWORKS: "List of network IDs that are allowed for VIP use. This "
    "overrides/replaces the list of allowed networks configured in "
    "`octavia.conf`.",
}
_ZONE_TYPES: dict[str, tuple[type, tuple[Any, ...]]] = {
    "compute_zone": (str, ()),
    "volume_zone": (str, ()),
    MANAGEMENT_NETWORK: (str, ()),
    VALID_VIP_NETWORKS: (list, ()),
}
_JSON_TYPE = {str: "string", bool: "boolean", list: "array"}


def served(compute_driver: str) -> Served:
    """What ``compute_driver``'s amphorae on this host can serve (UDP engine, SCTP,
    PROMETHEUS); the host is looked at once. ``local`` amphorae share the host's
    network namespace, so nftables does not serve them (``host.for_amphorae``)."""
    found = host.detect().for_amphorae(compute_driver)
    return Served(
        udp_engine=found.udp_engine,
        sctp=found.sctp_served,
        prometheus=found.haproxy_prometheus,
        udp_least_connections=bool(set(found.udp_engines) & host.LEAST_CONNECTIONS_ENGINES),
        udp_cross_version=bool(set(found.udp_engines) & host.CROSS_VERSION_UDP_ENGINES),
    )


def provider_description(compute_driver: str) -> str:
    """The amphora provider's line, with what ``compute_driver``'s amphorae serve
    beyond HAProxy on this host.

    No commas: Octavia's descriptions come from a comma-separated option
    (``enabled_provider_drivers``), so clients and Octavia's tests configured
    the same way cannot expect one with a comma.
    """
    found = host.detect().for_amphorae(compute_driver)
    udp = f"UDP through {found.udp_words('or')}" if found.udp_engine else found.no_udp_words()
    if found.sctp_served:
        sctp = "SCTP"
    elif found.sctp:  # the kernel has it; the engine that would carry it (IPVS) is not built
        sctp = "no SCTP (no IPVS engine)"
    else:
        sctp = "no SCTP (no kernel support)"
    return f"{PROVIDERS[c.PROVIDER_NAME]} Protocols: TCP; HTTP; HTTPS; PROMETHEUS; {udp}; {sctp}."


def providers(compute_driver: str) -> dict[str, str]:
    """Every enabled provider and its description, the amphora one naming its protocols."""
    return {**PROVIDERS, c.PROVIDER_NAME: provider_description(compute_driver)}


def flavor_capabilities() -> dict[str, str]:
    """The settings a flavor can carry: Octavia's amphora provider's keys."""
    return dict(FLAVOR_CAPABILITIES)


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


def _check_against(data: dict[str, Any], types: dict[str, tuple[type, tuple[Any, ...]]]) -> None:
    """Octavia's amphora provider check of a profile: no other key, each key's JSON
    type, the listed values; ``ProviderUnsupported`` (501) naming the first fault."""
    unknown = [key for key in data if key not in types]
    if unknown:
        listed = ", ".join(repr(k) for k in unknown)
        raise ProviderUnsupported.of(
            f"Additional properties are not allowed ({listed} "
            f"{'was' if len(unknown) == 1 else 'were'} unexpected)"
        )
    for key, value in data.items():
        kind, allowed = types[key]
        if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
            raise ProviderUnsupported.of(f"{key} {value!r} is not of type '{_JSON_TYPE[kind]}'")
        if allowed and value not in allowed:
            raise ProviderUnsupported.of(f"{key} {value!r} is not one of {list(allowed)}")
    for name in data.get(VALID_VIP_NETWORKS, ()) if types is _ZONE_TYPES else ():
        if not isinstance(name, str):
            raise ProviderUnsupported.of(f"{VALID_VIP_NETWORKS} {name!r} is not a network ID")


def check_flavor_data(text: str) -> dict[str, Any]:
    """The settings in ``flavor_data``; 400 for text that is not a JSON object, 501 for
    a setting Octavia's amphora provider would refuse."""
    data = _object(text, "flavor_data")
    _check_against(data, _FLAVOR_TYPES)
    return data


def check_availability_zone_data(text: str) -> dict[str, Any]:
    """The settings in ``availability_zone_data``, checked as ``check_flavor_data``."""
    data = _object(text, "availability_zone_data")
    _check_against(data, _ZONE_TYPES)
    return data


def zone_networks(data: dict[str, Any]) -> list[str]:
    """The network ids a zone profile names (they must exist)."""
    nets = list(data.get(VALID_VIP_NETWORKS, []))
    if data.get(MANAGEMENT_NETWORK):
        nets.append(data[MANAGEMENT_NETWORK])
    return nets


def check_buildable(flavor_data: dict[str, Any], *, vrrp: bool = False) -> None:
    """What a valid profile asks that this deployment cannot build: Octavia's 501.

    ``vrrp``: amphorae have networks of their own (``netns``), so two of them can
    share a VIP by VRRP; on loopback (``local``) they cannot.
    """
    if flavor_data.get(TOPOLOGY) == c.TOPOLOGY_ACTIVE_STANDBY and not vrrp:
        raise active_standby_unsupported()
    if flavor_data.get(SRIOV_VIP) is True:
        raise ProviderUnsupported.of(f"{SRIOV_VIP} is not supported by this release of Hydria.")


def active_standby_unsupported() -> ProviderUnsupported:
    return ProviderUnsupported.of(
        f"{TOPOLOGY} {c.TOPOLOGY_ACTIVE_STANDBY} needs amphorae on networks of their own: "
        "run Hydria with --driver netns (HYDRIA_COMPUTE_DRIVER=netns)."
    )


def check_profile_data(option: str, text: str) -> dict[str, Any]:
    """The settings in a profile's ``option`` (``flavor_data`` or
    ``availability_zone_data``), checked as Octavia's amphora provider checks them."""
    if option == "flavor_data":
        return check_flavor_data(text)
    return check_availability_zone_data(text)
