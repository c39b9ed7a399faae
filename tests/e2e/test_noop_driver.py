"""``hydria up --driver noop``: the whole control plane with no data plane behind it.

A real ``hydria up`` process (API, controller, health manager, housekeeping)
with the no-op compute, network and agent: load balancers and their children
go ACTIVE, amphorae have rows but no process, and a heartbeat timeout far
shorter than the test does not fail them over (the failure detector is off,
since no-op amphorae never send a heartbeat).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from hydria.core.ids import derived_id
from hydria.core.procs import pids_mentioning
from tests.support.hydria_proc import HydriaUp, running
from tests.support.lbs import build_http_lb, public_subnet_id, wait_lb

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def noop_up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HydriaUp]:
    env = {
        "HYDRIA_HEARTBEAT_INTERVAL": "0.25",
        "HYDRIA_HEARTBEAT_TIMEOUT": "1",
        "HYDRIA_SPARE_AMPHORA_POOL_SIZE": "2",
        "HYDRIA_HOUSEKEEPING_INTERVAL": "0.5",
    }
    with running(
        tmp_path_factory.mktemp("noop") / "state", extra_env=env, args=("--driver", "noop")
    ) as up:
        yield up


def _amphorae(up: HydriaUp) -> list[dict[str, object]]:
    with up.api() as client:
        res = client.get("/octavia/amphorae")
        assert res.status_code == 200, res.text
        return list(res.json()["amphorae"])


def test_load_balancers_go_active_with_no_processes(noop_up: HydriaUp) -> None:
    subnet = public_subnet_id(noop_up.endpoint)
    with noop_up.api() as client:
        lbs = [
            build_http_lb(client, subnet, [("127.0.0.1", 1), ("127.0.0.1", 2)], monitor=True)
            for _ in range(3)
        ]
        # a member change on an ACTIVE load balancer converges too
        res = client.delete(f"/lbaas/pools/{lbs[0].pool['id']}/members/{lbs[0].members[0]['id']}")
        assert res.status_code == 204, res.text
        wait_lb(client, lbs[0].lb["id"])
    allocated = {a["loadbalancer_id"]: a for a in _amphorae(noop_up) if a["status"] == "ALLOCATED"}
    assert {lb.lb["id"] for lb in lbs} <= set(allocated)
    assert all(a["compute_id"] == derived_id("compute", a["id"]) for a in allocated.values())
    # nothing runs but hydria up itself, and no amphora folder was made
    assert len(pids_mentioning(str(noop_up.state_dir))) == 1
    amph_dir = Path(noop_up.state_dir) / "amphorae"
    assert not amph_dir.exists() or not any(amph_dir.iterdir())
    assert "amphorae:    noop" in noop_up.log()


def test_silent_noop_amphorae_are_not_failed_over(noop_up: HydriaUp) -> None:
    assert "failure_detector=False" in noop_up.log()
    subnet = public_subnet_id(noop_up.endpoint)
    with noop_up.api() as client:
        res = client.post("/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet}})
        assert res.status_code == 201, res.text
        lb_id = res.json()["loadbalancer"]["id"]
        wait_lb(client, lb_id)
        before = [a["id"] for a in _amphorae(noop_up) if a["loadbalancer_id"] == lb_id]
        # a change later still finds the same amphora: nothing replaced it meanwhile
        res = client.put(
            f"/lbaas/loadbalancers/{lb_id}", json={"loadbalancer": {"name": "renamed"}}
        )
        assert res.status_code == 200, res.text
        wait_lb(client, lb_id)
    after = [a["id"] for a in _amphorae(noop_up) if a["loadbalancer_id"] == lb_id]
    assert before == after and len(after) == 1
    assert "failover_start" not in noop_up.log()


def test_the_cli_sends_numbers_as_strings_and_they_are_integers(noop_up: HydriaUp) -> None:
    """``openstack loadbalancer listener create --connection-limit 100`` sends "100"
    (issue 13, item 4): Octavia's WSME types take it, and so does Hydria."""
    lb = noop_up.openstack(
        "loadbalancer",
        "create",
        "--name",
        "wsme",
        "--vip-subnet-id",
        public_subnet_id(noop_up.endpoint),
        "--wait",
    )
    li = noop_up.openstack(
        "loadbalancer",
        "listener",
        "create",
        "--name",
        "wsme",
        "--protocol",
        "HTTP",
        "--protocol-port",
        "8080",
        "--connection-limit",
        "100",
        "--timeout-client-data",
        "5000",
        lb["id"],
        "--wait",
    )
    assert (li["connection_limit"], li["timeout_client_data"]) == (100, 5000)
