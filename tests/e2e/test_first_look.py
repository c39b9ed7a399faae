"""A client that polls as the CLI and openstacksdk do sees each change ACTIVE on
its first look (``hydria.api.settle``).

``openstack ... --wait`` and ``wait_for_status`` GET at once after a write, then
sleep 2-3 s while the load balancer is PENDING_*. On a real ``hydria up`` (warm
spare, local amphorae): after each of the five writes that build a serving load
balancer, one GET, no sleep, must show ACTIVE, and the VIP then answers. The
settle wait is made long here so that a slow machine cannot make it answer
PENDING_*: the test fails only if the GET stops waiting for the settle.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.backends import HTTPBackend
from tests.support.hydria_proc import HydriaUp
from tests.support.lbs import build_http_lb, public_subnet_id
from tests.support.procs import pids_mentioning
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def test_each_of_the_five_writes_is_active_at_the_first_get(tmp_path):
    backends = [HTTPBackend("first-look-0"), HTTPBackend("first-look-1")]
    up = HydriaUp(
        tmp_path / "state",
        extra_env={"HYDRIA_SPARE_AMPHORA_POOL_SIZE": "1", "HYDRIA_API_SETTLE_WAIT": "30"},
    )
    try:
        up.start()
        with up.api() as api:
            # the 201 still says PENDING_CREATE, as Octavia's; one GET after each of
            # the five writes, no sleep, must say ACTIVE
            first_looks: list[str] = []

            def first_look(lb_id: str) -> None:
                body = api.get(f"/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]
                first_looks.append(str(body["provisioning_status"]))
                assert first_looks[-1] == "ACTIVE", first_looks  # before the next write

            built = build_http_lb(
                api,
                public_subnet_id(up.endpoint),
                [(b.host, b.port) for b in backends],
                settled=first_look,
            )
            assert first_looks == ["ACTIVE"] * 5
            assert built.lb["provisioning_status"] == "PENDING_CREATE"
            # an update waits on the member itself (the CLI's member set --wait)
            member = built.members[-1]
            path = f"/lbaas/pools/{built.pool['id']}/members/{member['id']}"
            res = api.put(path, json={"member": {"weight": 2}})
            assert res.status_code == 200, res.text
            assert api.get(path).json()["member"]["provisioning_status"] == "ACTIVE"
        lb = built.lb

        names = {b.name for b in backends}
        seen: set[str] = set()

        def both_answer() -> bool:
            seen.add(httpx.get(f"http://{lb['vip_address']}/", timeout=5).text)
            return names <= seen

        wait_for(both_answer, what="both members answer through the VIP")
    finally:
        up.cleanup()
        for backend in backends:
            backend.stop()
    assert pids_mentioning(str(up.state_dir)) == []
