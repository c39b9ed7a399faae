"""An object's ``updated_at`` moves only when that object changes (as Octavia's):
creating or changing a sibling leaves it alone. (Parents do move, as in Octavia:
a member's create puts its pool and listeners in PENDING_UPDATE.)"""

from __future__ import annotations

import time

from tests.api.conftest import BASE


def _updated(client, path: str) -> str:
    r = client.get(f"{BASE}/{path}")
    assert r.status_code == 200, r.text
    return next(iter(r.json().values()))["updated_at"]


def test_updated_at_moves_only_with_its_object(client, api):
    lb = api.lb()
    first = api.listener(lb["id"], protocol_port=80)
    pool = api.pool(loadbalancer_id=lb["id"], listener_id=first["id"])
    m1 = api.member(pool["id"], address="10.0.0.1")
    hm = api.post(
        "healthmonitors",
        "healthmonitor",
        pool_id=pool["id"],
        type="TCP",
        delay=5,
        timeout=3,
        max_retries=3,
    )
    api.settle()
    siblings = {
        "listener": f"listeners/{first['id']}",
        "member": f"pools/{pool['id']}/members/{m1['id']}",
        "healthmonitor": f"healthmonitors/{hm['id']}",
    }
    before = {key: _updated(client, path) for key, path in siblings.items()}
    time.sleep(1.1)  # timestamps have a resolution of one second
    api.listener(lb["id"], protocol_port=81)  # a sibling listener
    api.pool(loadbalancer_id=lb["id"])  # a pool of no listener: nobody's child
    assert {key: _updated(client, path) for key, path in siblings.items()} == before
    m2 = api.member(pool["id"], address="10.0.0.2")  # a sibling member
    r = client.put(f"{BASE}/pools/{pool['id']}/members/{m2['id']}", json={"member": {"weight": 5}})
    assert r.status_code == 200, r.text
    api.settle()
    assert _updated(client, siblings["member"]) == before["member"]
    assert _updated(client, siblings["healthmonitor"]) == before["healthmonitor"]
    r = client.put(f"{BASE}/{siblings['member']}", json={"member": {"weight": 3}})
    assert r.status_code == 200
    api.settle()
    assert _updated(client, siblings["member"]) != before["member"]
