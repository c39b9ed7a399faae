"""The real PostgreSQL server stopped and started again under a running Hydria:
no process dies, the API answers 503 with Retry-After meanwhile (never 500),
and every write accepted with 2xx is converged once the server is back.

(tests/e2e/test_db_outage.py covers a cut network link through a proxy; this
one restarts the server itself. It runs the machine's PostgreSQL cluster
commands, so it is marked ``pg_restart`` too.)"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.support.lbs import wait_lb
from tests.support.procs import pids_mentioning
from tests.support.split import Split

pytestmark = [
    pytest.mark.integration,
    pytest.mark.postgres,
    pytest.mark.pg_restart,
    pytest.mark.haproxy,
]


def _cluster() -> tuple[str, str]:
    versions = (
        sorted(p.name for p in Path("/etc/postgresql").iterdir())
        if Path("/etc/postgresql").is_dir()
        else []
    )
    if not versions or not shutil.which("pg_ctlcluster"):
        pytest.fail("this test needs the Debian PostgreSQL cluster tools (pg_ctlcluster)")
    return versions[-1], "main"


def _pg(action: str) -> None:
    version, name = _cluster()
    subprocess.run(
        [
            "pg_ctlcluster",
            "--skip-systemctl-redirect",
            version,
            name,
            action,
            *(["-m", "fast"] if action == "stop" else []),
        ],
        check=True,
        capture_output=True,
        timeout=120,
    )


def _pg_up(timeout: float = 60) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect("postgresql://postgres@127.0.0.1:5432/test", connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def test_postgresql_restart_loses_nothing(tmp_path: Path, pg_url: str):
    _cluster()
    split = Split(tmp_path / "state", pg_url, octet=235, HYDRIA_LEASE_SECONDS="3")
    stopped = False
    try:
        split.run("db", "upgrade")
        split.run("subnet", "create", "public", "--cidr", split.subnet_cidr)
        api = split.start_api("api")
        split.start("controller", "controller")
        split.start("health", "health")
        deadline = time.monotonic() + 60  # everything runs before the server goes
        while "event=controller_start" not in split.log(
            "controller"
        ) or "event=health_start" not in split.log("health"):
            assert time.monotonic() < deadline, split.logs()
            time.sleep(0.05)
        subnet_id = httpx.get(api + "/v2.0/subnets?name=public").json()["subnets"][0]["id"]
        with httpx.Client(base_url=api + "/v2", timeout=30) as c:
            res = c.post(
                "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet_id}}
            )
            assert res.status_code == 201, res.text
            lb_id = res.json()["loadbalancer"]["id"]
            # accepted, and the restart comes before the controller can finish it
            accepted = c.post(
                "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet_id}}
            )
            assert accepted.status_code == 201, accepted.text
            _pg("stop")
            stopped = True
            for _ in range(5):
                res = c.get("/lbaas/loadbalancers")
                assert res.status_code == 503, res.text
                assert int(res.headers["Retry-After"]) > 0
                assert res.json()["faultcode"] == "Server"
                time.sleep(0.3)
            _pg("start")
            stopped = False
            _pg_up()
            for name, proc in split.procs.items():
                assert proc.poll() is None, f"{name} died:\n{split.log(name)}"
            wait_lb(c, lb_id, outage_ok=True)
            wait_lb(c, accepted.json()["loadbalancer"]["id"], outage_ok=True)
            after = c.post(
                "/lbaas/loadbalancers", json={"loadbalancer": {"vip_subnet_id": subnet_id}}
            )
            assert after.status_code == 201, after.text
            wait_lb(c, after.json()["loadbalancer"]["id"], outage_ok=True)
        for name in split.procs:
            assert "event=api_internal_error" not in split.log(name)
    finally:
        if stopped:
            _pg("start")
        _pg_up()
        split.cleanup()
    assert pids_mentioning(str(split.state_dir)) == []
