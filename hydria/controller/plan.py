"""What amphorae a load balancer needs, from what it has: a pure function.

Kept free of I/O so a table of cases covers every topology and failover state.
"""

from __future__ import annotations

from dataclasses import dataclass

from hydria.core import constants as c


@dataclass(frozen=True)
class AmphoraView:
    id: str
    role: str | None
    failover_requested: bool = False


@dataclass(frozen=True)
class AmphoraPlan:
    create_roles: tuple[str, ...]  # new amphorae to build, by role
    keep: tuple[str, ...]  # existing ids that stay and get the configuration
    retire: tuple[str, ...]  # ids to delete once their replacements serve


def roles_for(topology: str) -> tuple[str, ...]:
    if topology == c.TOPOLOGY_ACTIVE_STANDBY:
        return (c.ROLE_MASTER, c.ROLE_BACKUP)
    return (c.ROLE_STANDALONE,)


def plan_amphorae(
    topology: str, existing: list[AmphoraView], *, deleting: bool = False
) -> AmphoraPlan:
    """Decide creations and retirements; one healthy amphora per role is kept."""
    if deleting:
        return AmphoraPlan((), (), tuple(a.id for a in existing))
    keep: list[str] = []
    retire: list[str] = []
    create: list[str] = []
    for role in roles_for(topology):
        healthy = [a for a in existing if a.role == role and not a.failover_requested]
        if healthy:
            keep.append(healthy[0].id)
        else:
            create.append(role)
    kept = set(keep)
    retire = [a.id for a in existing if a.id not in kept]
    return AmphoraPlan(tuple(create), tuple(keep), tuple(retire))
