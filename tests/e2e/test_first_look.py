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
            subnet = httpx.get(up.endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]

            def first_look(lb_id: str) -> str:
                body = api.get(f"/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]
                return str(body["provisioning_status"])

            res = api.post(
                "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet["id"]}}
            )
            lb = res.json()["loadbalancer"]
            assert lb["provisioning_status"] == "PENDING_CREATE"  # the 201 is Octavia's
            assert first_look(lb["id"]) == "ACTIVE"
            listener = api.post(
                "/lbaas/listeners",
                json={
                    "listener": {
                        "loadbalancer_id": lb["id"],
                        "protocol": "HTTP",
                        "protocol_port": 80,
                    }
                },
            ).json()["listener"]
            assert first_look(lb["id"]) == "ACTIVE"
            pool = api.post(
                "/lbaas/pools",
                json={
                    "pool": {
                        "listener_id": listener["id"],
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                    }
                },
            ).json()["pool"]
            assert first_look(lb["id"]) == "ACTIVE"
            for backend in backends:
                res = api.post(
                    f"/lbaas/pools/{pool['id']}/members",
                    json={"member": {"address": backend.host, "protocol_port": backend.port}},
                )
                assert res.status_code == 201, res.text
                # the CLI's member create waits on the load balancer; an update waits
                # on the member itself: both look once
                assert first_look(lb["id"]) == "ACTIVE"
            member = res.json()["member"]
            res = api.put(
                f"/lbaas/pools/{pool['id']}/members/{member['id']}",
                json={"member": {"weight": 2}},
            )
            shown = api.get(f"/lbaas/pools/{pool['id']}/members/{member['id']}").json()
            assert shown["member"]["provisioning_status"] == "ACTIVE"

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
