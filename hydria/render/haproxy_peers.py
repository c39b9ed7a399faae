"""HAProxy ``peers`` for an ACTIVE_STANDBY pair: stick tables that survive a failover.

Both amphorae of a pair run HAProxy with the same ``peers`` section: one
``peer`` line per amphora, named by its role (``MASTER``/``BACKUP``, so a
rebuilt amphora, which takes the role of the one it replaces, keeps the name
its survivor knows) at its own address on the VIP subnet (``vrrp_ip``) and
``PEER_PORT`` (Octavia's ``[haproxy_amphora] peer_port``). ``localpeer`` in
``global`` says which line is this amphora. Every stick table (SOURCE_IP and
APP_COOKIE session persistence) names the section, so an entry learnt by the
amphora that holds the VIP is pushed to the other one, which finds the same
member for the same client after VRRP moves the VIP.

A survivor whose configuration still names the old peer's address accepts the
rebuilt one's connection by its name (HAProxy checks names, not source
addresses), and the newcomer asks it for a full resynchronisation at start.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from hydria.core import graph
from hydria.render import values as v
from hydria.render.values import UnrenderableValue

#: The TCP port the peers listener binds on the amphora's VIP-subnet address.
PEER_PORT: Final = 1025
#: The name of the one ``peers`` section.
SECTION: Final = "hydria_peers"


@dataclass(frozen=True)
class PeersView:
    section: str
    local: str
    lines: tuple[str, ...]  # "peer <name> <addr>:<port>"


def peers_view(amphora: graph.Amphora) -> PeersView | None:
    """The ``peers`` section ``amphora`` runs, or None when it has no peers (SINGLE)."""
    if not amphora.peers:
        return None
    names = [p.name for p in amphora.peers]
    if len(set(names)) != len(names):
        raise UnrenderableValue(f"amphora {amphora.id}: peer names {names} are not unique")
    local = [p for p in amphora.peers if p.amphora_id == amphora.id]
    if len(local) != 1:
        raise UnrenderableValue(f"amphora {amphora.id} is not one of its own peers")
    lines = tuple(
        f"peer {v.ident(p.name, 'peer name')} "
        f"{v.hostport(v.ip(p.address, f'peer {p.name} address'), PEER_PORT)}"
        for p in sorted(amphora.peers, key=lambda p: p.name)
    )
    return PeersView(section=SECTION, local=local[0].name, lines=lines)


def with_peers(persistence: tuple[str, ...], peers: PeersView | None) -> tuple[str, ...]:
    """``persistence`` with every stick table shared through ``peers``."""
    if peers is None:
        return persistence
    return tuple(
        f"{line} peers {peers.section}" if line.startswith("stick-table ") else line
        for line in persistence
    )
