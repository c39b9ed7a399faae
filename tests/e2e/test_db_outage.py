"""The database goes away while everything runs: no process dies, the API
answers 503 with Retry-After (never 500), and every write accepted with 2xx
before the outage is converged once the database is back."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.lbs import wait_lb
from tests.support.procs import pids_mentioning
from tests.support.split import Split
from tests.support.tcp_proxy import TCPProxy
from tests.support.wait import wait_for

pytestmark = [pytest.mark.integration, pytest.mark.postgres, pytest.mark.haproxy]


def test_database_outage_gives_503_and_loses_nothing(tmp_path: Path, pg_url: str):
    host_port = pg_url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = TCPProxy((host, int(port)))
    proxied = pg_url.replace(host_port, f"127.0.0.1:{proxy.port}")
    split = Split(tmp_path / "state", proxied, octet=232, HYDRIA_LEASE_SECONDS="3")
    try:
        split.run("db", "upgrade")
        split.run("subnet", "create", "public", "--cidr", split.subnet_cidr)
        api = split.start_api("api")
        split.start("controller", "controller")
        subnet_id = httpx.get(api + "/v2.0/subnets?name=public").json()["subnets"][0]["id"]
        with httpx.Client(base_url=api + "/v2", timeout=30) as c:
            before = c.post(
                "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet_id}}
            )
            assert before.status_code == 201, before.text
            lb_id = before.json()["loadbalancer"]["id"]
            wait_lb(c, lb_id, outage_ok=True)
            accepted = c.post(
                "/lbaas/listeners",
                json={
                    "listener": {"loadbalancer_id": lb_id, "protocol": "HTTP", "protocol_port": 80}
                },
            )
            assert accepted.status_code == 201, accepted.text

            proxy.cut()
            seen = set()
            for _ in range(10):
                for res in (
                    c.get("/lbaas/loadbalancers"),
                    c.post(
                        "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet_id}}
                    ),
                ):
                    seen.add(res.status_code)
                    assert res.status_code == 503, res.text
                    assert int(res.headers["Retry-After"]) > 0
                    body = res.json()
                    assert body["faultcode"] == "Server" and body["faultstring"]
                time.sleep(0.2)
            assert seen == {503}
            # the controller's polls and lease renewals fail meanwhile
            wait_for(
                lambda: (
                    "event=claim_failed" in split.log("controller")
                    or "event=lease_renew_failed" in split.log("controller")
                ),
                what="the controller sees the outage",
                details=split.logs,
            )
            proxy.restore()

            for name, proc in split.procs.items():
                assert proc.poll() is None, f"{name} died:\n{split.log(name)}"
            wait_lb(c, lb_id, outage_ok=True)
            listener = c.get(f"/lbaas/listeners/{accepted.json()['listener']['id']}").json()
            assert listener["listener"]["provisioning_status"] == "ACTIVE"
            after = c.post(
                "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet_id}}
            )
            assert after.status_code == 201, after.text
            wait_lb(c, after.json()["loadbalancer"]["id"], outage_ok=True)
        assert "event=api_internal_error" not in split.log("api")
        assert "event=db_unavailable" in split.log("api")
    finally:
        split.cleanup()
        proxy.close()
    assert pids_mentioning(str(split.state_dir)) == []


def test_a_service_started_while_the_database_is_away_waits_for_it(tmp_path: Path, pg_url: str):
    host_port = pg_url.split("@", 1)[1].split("/", 1)[0]
    host, port = host_port.split(":")
    proxy = TCPProxy((host, int(port)))
    proxied = pg_url.replace(host_port, f"127.0.0.1:{proxy.port}")
    split = Split(tmp_path / "state", proxied, octet=236)
    try:
        proxy.cut()
        split.start("controller", "controller")
        deadline = time.monotonic() + 60
        while "event=waiting_for_database" not in split.log("controller"):
            assert split.procs["controller"].poll() is None, split.log("controller")
            assert time.monotonic() < deadline, split.log("controller")
            time.sleep(0.1)
        proxy.restore()
        deadline = time.monotonic() + 60
        while "event=controller_start" not in split.log("controller"):
            assert split.procs["controller"].poll() is None, split.log("controller")
            assert time.monotonic() < deadline, split.log("controller")
            time.sleep(0.1)
    finally:
        split.cleanup()
        proxy.close()
    assert pids_mentioning(str(split.state_dir)) == []
