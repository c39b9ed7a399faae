"""Chaos, bounded: 30 times, SIGKILL a controller at a random moment while create,
update, delete and failover work is in flight and a second controller runs.
Afterwards nothing is PENDING_*, every ACTIVE load balancer serves, and the
amphorae and addresses on the host match the database exactly."""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.support.backends import HTTPBackend
from tests.support.procs import pids_mentioning
from tests.support.split import Split

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.haproxy]

KILLS = 30
LEASE = 2.0


def _lb(c: httpx.Client, lb_id: str) -> dict:
    res = c.get(f"/lbaas/loadbalancers/{lb_id}")
    assert res.status_code in (200, 404), res.text
    return (
        res.json()["loadbalancer"] if res.status_code == 200 else {"provisioning_status": "DELETED"}
    )


def _settle(c: httpx.Client, ids: list[str], timeout: float) -> dict[str, str]:
    deadline = time.monotonic() + timeout
    while True:
        states = {i: _lb(c, i)["provisioning_status"] for i in ids}
        if not any(s.startswith("PENDING") for s in states.values()):
            return states
        if time.monotonic() > deadline:
            raise AssertionError(f"still pending: {states}")
        time.sleep(0.1)


def _serve(c: httpx.Client, lb_id: str, backend: HTTPBackend) -> str:
    """Listener, pool and member, one step at a time (as the CLI does)."""
    res = c.post(
        "/lbaas/listeners",
        json={"listener": {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}},
    )
    assert res.status_code == 201, res.text
    _settle(c, [lb_id], timeout=60)
    res = c.post(
        "/lbaas/pools",
        json={
            "pool": {
                "listener_id": res.json()["listener"]["id"],
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
            }
        },
    )
    assert res.status_code == 201, res.text
    pool_id = res.json()["pool"]["id"]
    _settle(c, [lb_id], timeout=60)
    res = c.post(
        f"/lbaas/pools/{pool_id}/members",
        json={"member": {"address": backend.host, "protocol_port": backend.port}},
    )
    assert res.status_code == 201, res.text
    return pool_id


def test_controllers_killed_at_random_leave_nothing_behind(tmp_path: Path, pg_url: str):
    rng = random.Random(1234)
    backend = HTTPBackend("chaos")
    split = Split(
        tmp_path / "state",
        pg_url,
        octet=234,
        HYDRIA_LEASE_SECONDS=str(LEASE),
        HYDRIA_MAX_ATTEMPTS="8",
    )
    engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        split.run("db", "upgrade")
        split.run("subnet", "create", "public", "--cidr", split.subnet_cidr)
        api = split.start_api("api")
        split.start("c0", "controller")
        split.start("c1", "controller")
        subnet_id = httpx.get(api + "/v2.0/subnets?name=public").json()["subnets"][0]["id"]
        live: list[str] = []
        every: list[str] = []
        pools: dict[str, str] = {}
        with httpx.Client(base_url=api + "/v2", timeout=30) as c:
            for _ in range(KILLS):
                ready = [i for i in live if _lb(c, i)["provisioning_status"] == "ACTIVE"]
                op = rng.choice(["create", "create", "update", "delete", "failover"])
                if op == "create" or not ready:
                    lb = c.post(
                        "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet_id}}
                    ).json()["loadbalancer"]
                    live.append(lb["id"])
                    every.append(lb["id"])
                elif op == "update":
                    lb_id = rng.choice(ready)
                    if lb_id not in pools:
                        pools[lb_id] = _serve(c, lb_id, backend)
                    else:
                        res = c.put(
                            f"/lbaas/pools/{pools[lb_id]}",
                            json={
                                "pool": {
                                    "lb_algorithm": rng.choice(["ROUND_ROBIN", "LEAST_CONNECTIONS"])
                                }
                            },
                        )
                        assert res.status_code == 200, res.text
                elif op == "delete":
                    lb_id = rng.choice(ready)
                    res = c.delete(f"/lbaas/loadbalancers/{lb_id}?cascade=true")
                    assert res.status_code == 204, res.text
                    live.remove(lb_id)
                    pools.pop(lb_id, None)
                else:  # failover, as the health manager would request it
                    lb_id = rng.choice(ready)
                    with engine.begin() as conn:
                        conn.execute(
                            sa.text(
                                "UPDATE amphorae SET failover_requested = true "
                                "WHERE load_balancer_id = :lb AND status != 'DELETED'"
                            ),
                            {"lb": lb_id},
                        )
                time.sleep(rng.uniform(0.0, 0.4))
                victim = rng.choice(["c0", "c1"])
                split.kill(victim, signal.SIGKILL)
                split.start(victim, "controller")

            states = _settle(c, every, timeout=90 + 4 * LEASE)
            assert set(states.values()) <= {"ACTIVE", "DELETED", "ERROR"}, states
            with engine.connect() as conn:
                for lb_id, state in states.items():
                    if state == "ERROR":
                        reason = conn.execute(
                            sa.text("SELECT error_reason FROM load_balancers WHERE id = :i"),
                            {"i": lb_id},
                        ).scalar()
                        assert reason, f"{lb_id} in ERROR without a reason"
            # failovers requested at the end are converged too
            deadline = time.monotonic() + 60
            while True:
                with engine.connect() as conn:
                    waiting = conn.execute(
                        sa.text(
                            "SELECT count(*) FROM amphorae WHERE failover_requested "
                            "AND status != 'DELETED'"
                        )
                    ).scalar()
                if not waiting:
                    break
                assert time.monotonic() < deadline, "failovers not converged"
                time.sleep(0.2)
            active = [i for i, s in states.items() if s == "ACTIVE"]
            for lb_id in active:
                if lb_id in pools:
                    vip = _lb(c, lb_id)["vip_address"]
                    assert httpx.get(f"http://{vip}/", timeout=5).text == "chaos"

        with engine.connect() as conn:
            amps = dict(
                conn.execute(
                    sa.text("SELECT id, load_balancer_id FROM amphorae WHERE status != 'DELETED'")
                ).all()
            )
            vips = {
                r[0]
                for r in conn.execute(
                    sa.text("SELECT owner_id FROM address_allocations WHERE pool != 'lb-mgmt'")
                )
            }
            mgmt = {
                r[0]
                for r in conn.execute(
                    sa.text("SELECT owner_id FROM address_allocations WHERE pool = 'lb-mgmt'")
                )
            }
            lbs = {
                r[0]
                for r in conn.execute(
                    sa.text("SELECT id FROM load_balancers WHERE provisioning_status != 'DELETED'")
                )
            }
        assert sorted(amps.values()) == sorted(lbs), "one amphora per live load balancer"
        assert vips == lbs, "VIPs held exactly by live load balancers"
        assert mgmt == set(amps), "management addresses held exactly by live amphorae"
        folders = {
            p.name for p in (split.state_dir / "amphorae").iterdir() if (p / "boot.json").exists()
        }
        assert folders == set(amps), "amphora folders match the database"
        agents = {
            p
            for p in pids_mentioning(str(split.state_dir / "amphorae"))
            if b"amphora-agent" in Path(f"/proc/{p}/cmdline").read_bytes()
        }
        assert len(agents) == len(amps), "one running agent per live amphora"
    finally:
        engine.dispose()
        split.cleanup()
        backend.stop()
    assert pids_mentioning(str(split.state_dir)) == []
