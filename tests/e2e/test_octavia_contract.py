"""Items of Octavia's contract through the real ``openstack`` CLI on a real
``hydria up``: what a user migrating from Octavia sees.

PING monitors really ping, SOURCE_IP_PORT pools serve, listener options reach
the running HAProxy configuration.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.backends import HTTPBackend, free_port
from tests.support.hydria_proc import BIN, HydriaUp, running

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def hydria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HydriaUp]:
    with running(tmp_path_factory.mktemp("hydria-contract") / "state",
                 extra_env={"HYDRIA_HEARTBEAT_INTERVAL": "0.5"}) as up:
        yield up


def _running_config(hydria: HydriaUp, lb_id: str) -> str:
    """The haproxy.cfg an amphora of ``lb_id`` runs (rendered for that load balancer)."""
    for path in sorted((hydria.state_dir / "amphorae").glob("*/haproxy.cfg")):
        text = path.read_text()
        if f"for load balancer {lb_id}" in text:
            return text
    raise AssertionError(f"no amphora runs a configuration of {lb_id}")


def _wait_operating(hydria: HydriaUp, path: str, want: str, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    status = None
    with hydria.api() as api:
        while time.monotonic() < deadline:
            status = next(iter(api.get(path).json().values()))["operating_status"]
            if status == want:
                return
            time.sleep(0.1)
    raise AssertionError(f"{path} is {status}, not {want}\n{hydria.log(tail=4000)}")


def _cli_fails(hydria: HydriaUp, *args: str) -> str:
    res = subprocess.run([str(BIN / "openstack"), "--os-auth-type", "none", "--os-endpoint",
                          hydria.endpoint, *args], capture_output=True, text=True, timeout=120)
    assert res.returncode != 0, res.stdout
    return res.stderr


def test_ping_monitor_and_source_ip_port(hydria: HydriaUp) -> None:
    os_ = hydria.openstack
    backend = HTTPBackend("web-0")
    try:
        lb = os_("loadbalancer", "create", "--vip-subnet-id", "public", "--wait")
        listener = os_("loadbalancer", "listener", "create", "--protocol", "TCP",
                       "--protocol-port", "7100", "--wait", lb["id"])
        pool = os_("loadbalancer", "pool", "create", "--protocol", "TCP", "--lb-algorithm",
                   "SOURCE_IP_PORT", "--listener", listener["id"], "--wait")
        assert pool["lb_algorithm"] == "SOURCE_IP_PORT"
        serving = os_("loadbalancer", "member", "create", "--address", backend.host,
                      "--protocol-port", str(backend.port), "--wait", pool["id"])
        # answers ping, but nothing listens on its port: a connect check says ERROR
        silent = os_("loadbalancer", "member", "create", "--address", "127.0.0.1",
                     "--protocol-port", str(free_port()), "--wait", pool["id"])
        os_("loadbalancer", "healthmonitor", "create", "--type", "PING", "--delay", "1",
            "--timeout", "1", "--max-retries", "1", "--wait", pool["id"])
        base = f"/lbaas/pools/{pool['id']}/members"
        _wait_operating(hydria, f"{base}/{silent['id']}", "ONLINE")
        _wait_operating(hydria, f"{base}/{serving['id']}", "ONLINE")
        text = _running_config(hydria, lb["id"])
        assert "balance hash src,concat(:,txn.src_port)" in text
        assert "option external-check" in text
        script = Path(text.split("external-check command ", 1)[1].split("\n", 1)[0])
        assert script.is_file() and script.parent.parent == hydria.state_dir / "amphorae"
    finally:
        backend.stop()


def test_listener_options_reach_haproxy(hydria: HydriaUp) -> None:
    os_ = hydria.openstack
    lb = os_("loadbalancer", "create", "--vip-subnet-id", "public", "--wait")
    os_("loadbalancer", "listener", "create", "--protocol", "HTTP", "--protocol-port", "80",
        "--timeout-tcp-inspect", "1500", "--insert-headers", "X-Real-IP=true,X-Forwarded-For=true",
        "--wait", lb["id"])
    text = _running_config(hydria, lb["id"])
    assert "tcp-request inspect-delay 1500" in text
    assert "http-request set-header X-Real-IP %[src]" in text
    assert "option forwardfor" in text
    err = _cli_fails(hydria, "loadbalancer", "listener", "create", "--protocol", "HTTP",
                     "--protocol-port", "81", "--insert-headers", "X-SSL-Client-CN=true",
                     lb["id"])
    assert "['X-SSL-Client-CN'] is not a valid option for HTTP protocol listener." in err
