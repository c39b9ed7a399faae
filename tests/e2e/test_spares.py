"""A warm spare pool: a new load balancer takes a spare whose agent already
runs, and the pool is refilled."""

from __future__ import annotations

import time

import httpx
import pytest

from tests.support.backends import HTTPBackend
from tests.support.hydria_proc import HydriaUp
from tests.support.lbs import build_http_lb, public_subnet_id
from tests.support.procs import pids_mentioning

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _spares(up: HydriaUp) -> list[dict]:
    with up.api() as api:
        amps = api.get("/octavia/amphorae").json()["amphorae"]
    return [a for a in amps if a["loadbalancer_id"] is None and a["status"] == "READY"]


def _wait_spares(up: HydriaUp, count: int, exclude: set[str] = frozenset()) -> list[dict]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        ready = [a for a in _spares(up) if a["id"] not in exclude]
        if len(ready) >= count:
            return ready
        time.sleep(0.1)
    raise AssertionError(f"no {count} spare(s) ready:\n{up.log(tail=8000)}")


def test_create_takes_a_warm_spare_and_the_pool_refills(tmp_path):
    backend = HTTPBackend("spare")
    up = HydriaUp(tmp_path / "state", extra_env={"HYDRIA_SPARE_AMPHORA_POOL_SIZE": "1"})
    try:
        up.start()
        spare = _wait_spares(up, 1)[0]
        with up.api() as api:
            lb = build_http_lb(
                api, public_subnet_id(up.endpoint), [(backend.host, backend.port)]
            ).lb
            amps = api.get("/octavia/amphorae", params={"loadbalancer_id": lb["id"]}).json()
        assert [a["id"] for a in amps["amphorae"]] == [spare["id"]], "the spare was used"
        assert amps["amphorae"][0]["status"] == "ALLOCATED"
        assert httpx.get(f"http://{lb['vip_address']}/", timeout=5).text == "spare"
        refill = _wait_spares(up, 1, exclude={spare["id"]})
        assert refill[0]["id"] != spare["id"]
        assert "event=amphora_planned" in up.log() and "spare=True" in up.log()
    finally:
        up.cleanup()
        backend.stop()
    assert pids_mentioning(str(up.state_dir)) == []
