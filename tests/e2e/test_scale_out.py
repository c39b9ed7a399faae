"""Several API and controller processes on one PostgreSQL: work is shared through
leases and LISTEN/NOTIFY, nothing is converged twice, a killed controller's work
is taken over, and every load balancer serves."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from tests.support.backends import HTTPBackend
from tests.support.lbs import wait_lb
from tests.support.procs import pids_mentioning
from tests.support.split import Split

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.haproxy]

COUNT = 50


def _build(endpoint: str, subnet_id: str, backend: HTTPBackend, out: list, errors: list) -> None:
    try:
        with httpx.Client(base_url=endpoint + "/v2", timeout=30) as c:
            lb = c.post(
                "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet_id}}
            ).json()["loadbalancer"]
            wait_lb(c, lb["id"], timeout=120)
            listener = c.post(
                "/lbaas/listeners",
                json={
                    "listener": {
                        "loadbalancer_id": lb["id"],
                        "protocol": "HTTP",
                        "protocol_port": 80,
                    }
                },
            ).json()["listener"]
            wait_lb(c, lb["id"], timeout=120)
            pool = c.post(
                "/lbaas/pools",
                json={
                    "pool": {
                        "listener_id": listener["id"],
                        "protocol": "HTTP",
                        "lb_algorithm": "ROUND_ROBIN",
                    }
                },
            ).json()["pool"]
            wait_lb(c, lb["id"], timeout=120)
            res = c.post(
                f"/lbaas/pools/{pool['id']}/members",
                json={"member": {"address": backend.host, "protocol_port": backend.port}},
            )
            assert res.status_code == 201, res.text
            wait_lb(c, lb["id"], timeout=120)
            res = c.put(
                f"/lbaas/pools/{pool['id']}", json={"pool": {"lb_algorithm": "LEAST_CONNECTIONS"}}
            )
            assert res.status_code == 200, res.text
            wait_lb(c, lb["id"], timeout=120)
            out.append(c.get(f"/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"])
    except BaseException as exc:  # reported by the test thread
        errors.append(exc)


def test_two_apis_two_controllers_share_the_work(tmp_path: Path, pg_url: str):
    backend = HTTPBackend("shared")
    split = Split(tmp_path / "state", pg_url, octet=231, HYDRIA_LEASE_SECONDS="3")
    try:
        split.run("db", "upgrade")
        split.run("subnet", "create", "public", "--cidr", split.subnet_cidr)
        apis = [split.start_api("api-1"), split.start_api("api-2")]
        split.start("controller-1", "controller")
        split.start("controller-2", "controller")
        subnet_id = httpx.get(apis[0] + "/v2.0/subnets?name=public").json()["subnets"][0]["id"]

        built: list[dict] = []
        errors: list[BaseException] = []
        threads = [
            threading.Thread(target=_build, args=(apis[i % 2], subnet_id, backend, built, errors))
            for i in range(COUNT)
        ]
        for t in threads:
            t.start()
        # in the middle of it all, once it holds work, one controller dies without a word
        deadline = time.monotonic() + 60
        while "event=amphora_planned" not in split.log("controller-1"):
            assert time.monotonic() < deadline, split.logs()
            time.sleep(0.005)
        split.kill("controller-1", signal.SIGKILL)
        for t in threads:
            t.join()
        assert not errors, f"{errors[0]!r}\n{split.logs()}"
        assert len(built) == COUNT

        engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
        with engine.connect() as conn:
            rows = conn.execute(
                sa.text("SELECT load_balancer_id FROM amphorae WHERE status != 'DELETED'")
            ).all()
            pending = conn.execute(
                sa.text(
                    "SELECT count(*) FROM load_balancers WHERE provisioning_status LIKE 'PENDING%'"
                )
            ).scalar()
        engine.dispose()
        per_lb = Counter(r[0] for r in rows)
        assert set(per_lb) == {lb["id"] for lb in built}
        assert max(per_lb.values()) == 1, "an amphora was built twice"
        assert pending == 0
        agents = [
            p
            for p in pids_mentioning(str(split.state_dir / "amphorae"))
            if b"amphora-agent" in Path(f"/proc/{p}/cmdline").read_bytes()
        ]
        assert len(agents) == COUNT, "one agent process per load balancer, no orphans"
        for lb in built:
            assert httpx.get(f"http://{lb['vip_address']}/", timeout=5).text == "shared"
        # the killed controller had claimed work; the survivor finished all of it
        assert "event=amphora_planned" in split.log("controller-1")
        assert "event=reconciled" in split.log("controller-2")
    finally:
        split.cleanup()
        backend.stop()
    assert pids_mentioning(str(split.state_dir)) == []


def test_sigterm_lets_a_controller_finish_and_release(tmp_path: Path, pg_url: str):
    split = Split(tmp_path / "state", pg_url, octet=233, HYDRIA_LEASE_SECONDS="60")
    try:
        split.run("db", "upgrade")
        split.run("subnet", "create", "public", "--cidr", split.subnet_cidr)
        api = split.start_api("api")
        split.start("controller-1", "controller")
        subnet_id = httpx.get(api + "/v2.0/subnets?name=public").json()["subnets"][0]["id"]
        with httpx.Client(base_url=api + "/v2", timeout=30) as c:
            ids = [
                c.post(
                    "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet_id}}
                ).json()["loadbalancer"]["id"]
                for _ in range(4)
            ]
            deadline = time.monotonic() + 30
            while "event=amphora_planned" not in split.log("controller-1"):
                assert time.monotonic() < deadline, split.log("controller-1")
                time.sleep(0.02)
            split.kill("controller-1", signal.SIGTERM)
            assert split.procs["controller-1"].returncode == 0, split.log("controller-1")
            engine = sa.create_engine(pg_url.replace("postgresql://", "postgresql+psycopg://"))
            with engine.connect() as conn:
                owners = conn.execute(
                    sa.text("SELECT count(*) FROM load_balancers WHERE lease_owner IS NOT NULL")
                ).scalar()
            engine.dispose()
            assert owners == 0, "a stopped controller holds no lease"
            # a successor does not wait out the 60 s lease: the work is free at once
            split.start("controller-2", "controller")
            for lb_id in ids:
                wait_lb(c, lb_id, timeout=30)
    finally:
        split.cleanup()
    assert pids_mentioning(str(split.state_dir)) == []
