"""Names of the namespaces, bridges and veths the ``netns`` drivers make: pure.

Linux interface names hold at most 15 characters, so names are built from
the first hex digits of the ids they stand for. Everything Hydria makes on the
host starts with ``hyd`` so an operator (and the orphan sweep) tells it apart:

    hyd-<amp8>            the amphora's network namespace
    hydbr<subnet8>        the bridge of a VIP or member subnet
    hym<amp8>             host side of an amphora's management veth
    hyp<amp8><subnet4>    host side of an amphora's port on a subnet
    mgmt0 / s-<subnet8>   the same two veths as the amphora sees them
"""

from __future__ import annotations

from typing import Final

NAMESPACE_PREFIX: Final = "hyd-"
INSIDE_MGMT: Final = "mgmt0"


def short(uuid_text: str, n: int = 8) -> str:
    return uuid_text.replace("-", "")[:n].lower()


def namespace(amphora_id: str) -> str:
    return NAMESPACE_PREFIX + short(amphora_id)


def subnet_bridge(subnet_id: str) -> str:
    return "hydbr" + short(subnet_id)


def host_mgmt_veth(amphora_id: str) -> str:
    return "hym" + short(amphora_id)


def host_port_veth(amphora_id: str, subnet_id: str) -> str:
    return "hyp" + short(amphora_id) + short(subnet_id, 4)


def inside_port(subnet_id: str) -> str:
    return "s-" + short(subnet_id)
