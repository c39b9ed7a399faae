"""Octavia's status tree (``GET /lbaas/loadbalancers/{id}/status``).

Each node carries id, name, provisioning_status and operating_status; members
add address and protocol_port, health monitors their type. A pool without a
health monitor has no ``health_monitor`` key at all: Octavia leaves unset
attributes out of the body rather than sending null. Listeners also show their
L7 policies (id, name, statuses, action) and rules (id, type, statuses), which
Octavia's tree leaves out.
"""

from __future__ import annotations

from typing import Any

from hydria.core.resources.field import text
from hydria.db.models import HealthMonitor, Listener, Member, Pool
from hydria.db.status_tree import StatusTree


def _node(row: Any) -> dict[str, Any]:
    return {
        "id": row.id,
        "name": text(row.name),
        "provisioning_status": row.provisioning_status,
        "operating_status": row.operating_status,
    }


def _member(member: Member) -> dict[str, Any]:
    return {**_node(member), "address": member.address, "protocol_port": member.protocol_port}


def _monitor(hm: HealthMonitor) -> dict[str, Any]:
    return {**_node(hm), "type": hm.type}


def _pool(tree: StatusTree, pool: Pool) -> dict[str, Any]:
    out = _node(pool)
    hm = tree.monitors.get(pool.id)
    if hm is not None:
        out["health_monitor"] = _monitor(hm)
    out["members"] = [_member(m) for m in tree.members.get(pool.id, ())]
    return out


def _listener(tree: StatusTree, listener: Listener) -> dict[str, Any]:
    """Octavia's listener node has its pools only; Hydria adds the L7 policies and
    their rules, and only where there are some, so a tree without L7 is Octavia's
    to the key."""
    node: dict[str, Any] = {
        **_node(listener),
        "pools": [_pool(tree, p) for p in tree.pools_of(listener)],
    }
    policies = tree.policies.get(listener.id, ())
    if policies:
        node["l7policies"] = [
            {
                **_node(p),
                "action": p.action,
                "rules": [
                    {
                        "id": r.id,
                        "type": r.type,
                        "provisioning_status": r.provisioning_status,
                        "operating_status": r.operating_status,
                    }
                    for r in tree.rules.get(p.id, ())
                ],
            }
            for p in policies
        ]
    return node


def view(tree: StatusTree) -> dict[str, Any]:
    return {
        "loadbalancer": {
            **_node(tree.lb),
            "listeners": [_listener(tree, li) for li in tree.listeners],
        }
    }
