"""``hydria up`` crashes and clean stops: load balancers come back and serve."""

from __future__ import annotations

import httpx
import pytest

from tests.support.backends import HTTPBackend
from tests.support.hydria_proc import HydriaUp
from tests.support.procs import pids_mentioning

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _serve_one(up: HydriaUp, backend: HTTPBackend) -> str:
    with up.api() as api:
        subnet = httpx.get(up.endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
        lb = api.post(
            "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet["id"]}}
        ).json()["loadbalancer"]
        path = f"/lbaas/loadbalancers/{lb['id']}"
        up.wait_for(path, "loadbalancer", "ACTIVE")
        listener = api.post(
            "/lbaas/listeners",
            json={
                "listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}
            },
        ).json()
        up.wait_for(path, "loadbalancer", "ACTIVE")
        pool = api.post(
            "/lbaas/pools",
            json={
                "pool": {
                    "listener_id": listener["listener"]["id"],
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                }
            },
        ).json()["pool"]
        up.wait_for(path, "loadbalancer", "ACTIVE")
        api.post(
            f"/lbaas/pools/{pool['id']}/members",
            json={"member": {"address": backend.host, "protocol_port": backend.port}},
        )
        up.wait_for(path, "loadbalancer", "ACTIVE")
    return lb["vip_address"]


def _get(vip: str) -> str:
    return httpx.get(f"http://{vip}/", timeout=5).text


def _wait_serving(vip: str, timeout: float = 60.0) -> str:
    import time

    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            return _get(vip)
        except httpx.HTTPError as exc:
            last = exc
            time.sleep(0.1)
    raise AssertionError(f"{vip} does not serve: {last!r}")


def test_crash_keeps_data_plane_and_clean_stop_restores(tmp_path):
    backend = HTTPBackend("kept")
    up = HydriaUp(tmp_path / "state")
    try:
        up.start()
        vip = _serve_one(up, backend)
        assert _get(vip) == "kept"

        up.kill()  # a crash: amphorae live on, as VMs would
        assert _get(vip) == "kept"
        up.start()
        assert _wait_serving(vip) == "kept"

        up.stop()  # a clean stop takes the amphorae down on purpose
        assert pids_mentioning(str(up.state_dir)) == []
        with pytest.raises(httpx.HTTPError):
            _get(vip)

        up.start()  # and the next start brings them back
        with up.api() as api:
            lbs = api.get("/lbaas/loadbalancers").json()["loadbalancers"]
        assert [lb["provisioning_status"] for lb in lbs] == ["ACTIVE"]
        assert _wait_serving(vip) == "kept"
    finally:
        up.cleanup()
        backend.stop()
    assert pids_mentioning(str(up.state_dir)) == []


BOOT_TIMEOUT = 6.0
CHECK_INTERVAL = 0.5
CREATES_PER_ROUND = 4
ROUNDS = 4


def _create_serving_lb(api: httpx.Client, subnet_id: str, backend: HTTPBackend) -> str | None:
    """A fully populated create: listener, pool and member in one POST."""
    try:
        res = api.post(
            "/lbaas/loadbalancers",
            json={
                "loadbalancer": {
                    "vip_subnet_id": subnet_id,
                    "listeners": [
                        {
                            "protocol": "HTTP",
                            "protocol_port": 80,
                            "default_pool": {
                                "name": "web",
                                "protocol": "HTTP",
                                "lb_algorithm": "ROUND_ROBIN",
                                "members": [
                                    {"address": backend.host, "protocol_port": backend.port}
                                ],
                            },
                        }
                    ],
                }
            },
        )
    except httpx.TransportError:
        return None  # killed while answering: the create may or may not be there
    assert res.status_code == 201, res.text
    return str(res.json()["loadbalancer"]["id"])


def _converged(api: httpx.Client) -> tuple[bool, str]:
    """Every live load balancer ACTIVE and serving, every amphora ALLOCATED
    with a compute id; or what is not yet."""
    lbs = api.get("/lbaas/loadbalancers").json()["loadbalancers"]
    amps = api.get("/octavia/amphorae").json()["amphorae"]
    for lb in lbs:
        if lb["provisioning_status"] != "ACTIVE":
            return False, f"lb {lb['id']} is {lb['provisioning_status']}"
        try:
            _get(lb["vip_address"])
        except httpx.HTTPError as exc:
            return False, f"lb {lb['id']} does not serve {lb['vip_address']}: {exc!r}"
    live = {lb["id"] for lb in lbs}
    serving = [a for a in amps if a["loadbalancer_id"] in live]
    for amp in amps:
        if amp["status"] != "ALLOCATED" or not amp["compute_id"]:
            return False, f"amphora {amp['id']} is {amp['status']} compute={amp['compute_id']}"
    if {a["loadbalancer_id"] for a in serving} != live:
        return False, "a load balancer without an amphora"
    return True, ""


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def test_sigkill_during_creates_loses_no_amphora(tmp_path, request, database):
    """SIGKILL ``hydria up`` at random moments while load balancers are being
    created, a few times over, then let it run: within the boot timeout plus a
    detection interval (plus the lease of the dead process and a reconcile),
    every live load balancer serves its VIP and every amphora is ALLOCATED
    with a compute id. None is left BOOTING under an ACTIVE load balancer."""
    import random
    import time

    env = {
        "HYDRIA_AMPHORA_BOOT_TIMEOUT": str(BOOT_TIMEOUT),
        "HYDRIA_HEALTH_CHECK_INTERVAL": str(CHECK_INTERVAL),
        "HYDRIA_HEARTBEAT_INTERVAL": "0.5",
        "HYDRIA_HEARTBEAT_TIMEOUT": "5",
        "HYDRIA_LEASE_SECONDS": "3",
    }
    if database == "postgresql":
        env["HYDRIA_DATABASE_URL"] = request.getfixturevalue("pg_url")
    rng = random.Random()
    seed = rng.randrange(1 << 30)
    rng.seed(seed)
    backend = HTTPBackend("crash")
    up = HydriaUp(tmp_path / "state", extra_env=env)
    try:
        for _ in range(ROUNDS):
            up.start()
            with up.api() as api:
                # httpx's 5 s default is too short for a just-restarted API on a busy machine
                subnets = httpx.get(up.endpoint + "/v2.0/subnets?name=public", timeout=120)
                subnet = subnets.json()["subnets"][0]["id"]
                for _ in range(CREATES_PER_ROUND):
                    _create_serving_lb(api, subnet, backend)
                    time.sleep(rng.uniform(0, 0.3))
                time.sleep(rng.uniform(0, 1.5))  # amphorae booting, configs in flight
            up.kill()
        up.start()
        for private in ("heartbeat.key", "hydria.db", "pki/ca.key"):
            if database == "sqlite" or private != "hydria.db":  # generated on first start
                assert (up.state_dir / private).stat().st_mode & 0o777 == 0o600, private
        assert up.state_dir.stat().st_mode & 0o777 == 0o700
        deadline = time.monotonic() + 180  # generous: the condition, not a time, is tested
        with up.api() as api:
            while True:
                ok, why = _converged(api)
                if ok:
                    break
                if time.monotonic() > deadline:
                    raise AssertionError(f"seed {seed}: {why}\n{up.log(tail=4000)}")
                time.sleep(0.2)
            lbs = api.get("/lbaas/loadbalancers").json()["loadbalancers"]
        assert len(lbs) >= ROUNDS * CREATES_PER_ROUND - ROUNDS  # a killed answer may be lost
        for lb in lbs:
            assert _get(lb["vip_address"]) == "crash"
    finally:
        up.cleanup()
        backend.stop()
    assert pids_mentioning(str(up.state_dir)) == []
