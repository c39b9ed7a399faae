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

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


@pytest.fixture(scope="module")
def hydria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HydriaUp]:
    with running(
        tmp_path_factory.mktemp("hydria-contract") / "state",
        extra_env={"HYDRIA_HEARTBEAT_INTERVAL": "0.5"},
    ) as up:
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
    res = subprocess.run(
        [str(BIN / "openstack"), "--os-auth-type", "none", "--os-endpoint", hydria.endpoint, *args],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode != 0, res.stdout
    return res.stderr


def test_ping_monitor_and_source_ip_port(hydria: HydriaUp) -> None:
    os_ = hydria.openstack
    backend = HTTPBackend("web-0")
    try:
        lb = os_("loadbalancer", "create", "--vip-subnet-id", "public", "--wait")
        listener = os_(
            "loadbalancer",
            "listener",
            "create",
            "--protocol",
            "TCP",
            "--protocol-port",
            "7100",
            "--wait",
            lb["id"],
        )
        pool = os_(
            "loadbalancer",
            "pool",
            "create",
            "--protocol",
            "TCP",
            "--lb-algorithm",
            "SOURCE_IP_PORT",
            "--listener",
            listener["id"],
            "--wait",
        )
        assert pool["lb_algorithm"] == "SOURCE_IP_PORT"
        serving = os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            backend.host,
            "--protocol-port",
            str(backend.port),
            "--wait",
            pool["id"],
        )
        # answers ping, but nothing listens on its port: a connect check says ERROR
        silent = os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            "127.0.0.1",
            "--protocol-port",
            str(free_port()),
            "--wait",
            pool["id"],
        )
        os_(
            "loadbalancer",
            "healthmonitor",
            "create",
            "--type",
            "PING",
            "--delay",
            "1",
            "--timeout",
            "1",
            "--max-retries",
            "1",
            "--wait",
            pool["id"],
        )
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
    os_(
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "HTTP",
        "--protocol-port",
        "80",
        "--timeout-tcp-inspect",
        "1500",
        "--insert-headers",
        "X-Real-IP=true,X-Forwarded-For=true",
        "--wait",
        lb["id"],
    )
    text = _running_config(hydria, lb["id"])
    assert "tcp-request inspect-delay 1500" in text
    assert "http-request set-header X-Real-IP %[src]" in text
    assert "option forwardfor" in text
    err = _cli_fails(
        hydria,
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "HTTP",
        "--protocol-port",
        "81",
        "--insert-headers",
        "X-SSL-Client-CN=true",
        lb["id"],
    )
    assert "['X-SSL-Client-CN'] is not a valid option for HTTP protocol listener." in err


def _wait_stats(
    hydria: HydriaUp, lb_id: str, listener_id: str, connections: int, timeout: float = 60.0
) -> dict[str, int]:
    """Wait until both the load balancer's and the listener's total_connections reach
    ``connections`` (the CLI's ``stats show``), and return the load balancer's."""
    deadline = time.monotonic() + timeout
    seen: dict[str, int] = {}
    while time.monotonic() < deadline:
        seen = _stats_of(hydria, "loadbalancer", "stats", "show", lb_id)
        listener = _stats_of(hydria, "loadbalancer", "listener", "stats", "show", listener_id)
        if (
            seen["total_connections"] >= connections
            and listener["total_connections"] >= connections
        ):
            return seen
        time.sleep(0.2)
    raise AssertionError(f"stats {seen}, wanted {connections} connections")


def _stats_of(hydria: HydriaUp, *args: str) -> dict[str, int]:
    shown = hydria.openstack(*args)
    if isinstance(shown, list):  # -f json of a "show" with columns: a list of pairs
        shown = {row["Field"]: row["Value"] for row in shown}
    return {key: int(value) for key, value in shown.items()}


def _get_n(url: str, n: int) -> int:
    """``n`` requests, each on a connection of its own; returns the bytes received."""
    import httpx

    received = 0
    for _ in range(n):
        with httpx.Client(timeout=5) as client:
            res = client.get(url)
            assert res.status_code == 200
            received += len(res.content)
    return received


def _is_uuid(value: object) -> bool:
    import uuid

    try:
        return str(uuid.UUID(str(value))) == value
    except ValueError:
        return False


def _check_amphora_fields(
    hydria: HydriaUp, lb: dict, serving: set[str], replaced: set[str]
) -> None:
    """Octavia's amphora fields, filled with values of Octavia's types; the replaced
    amphora listed as DELETED when asked for (retention), hidden otherwise."""
    for amp_id in serving:
        amp = hydria.openstack("loadbalancer", "amphora", "show", amp_id)
        for field in ("compute_id", "image_id", "vrrp_port_id", "ha_port_id"):
            assert _is_uuid(amp[field]), (field, amp[field])
        assert amp["ha_port_id"] == lb["vip_port_id"]
        assert amp["ha_ip"] == amp["vrrp_ip"] == lb["vip_address"]
        assert amp["compute_flavor"] and amp["cached_zone"]
    deleted = hydria.openstack(
        "loadbalancer", "amphora", "list", "--loadbalancer", lb["id"], "--status", "DELETED"
    )
    assert {a["id"] for a in deleted} == replaced
    assert all(a["status"] == "DELETED" for a in deleted)
    listed = hydria.openstack("loadbalancer", "amphora", "list", "--loadbalancer", lb["id"])
    assert {a["id"] for a in listed} == serving


def test_statistics_add_up_across_reloads_and_failovers(hydria: HydriaUp) -> None:
    os_ = hydria.openstack
    backend = HTTPBackend("web-0")
    try:
        lb = os_("loadbalancer", "create", "--vip-subnet-id", "public", "--wait")
        listener = os_(
            "loadbalancer",
            "listener",
            "create",
            "--protocol",
            "HTTP",
            "--protocol-port",
            "8088",
            "--wait",
            lb["id"],
        )
        pool = os_(
            "loadbalancer",
            "pool",
            "create",
            "--protocol",
            "HTTP",
            "--lb-algorithm",
            "ROUND_ROBIN",
            "--listener",
            listener["id"],
            "--wait",
        )
        os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            backend.host,
            "--protocol-port",
            str(backend.port),
            "--wait",
            pool["id"],
        )
        url = f"http://{lb['vip_address']}:8088/"

        _get_n(url, 5)
        first = _wait_stats(hydria, lb["id"], listener["id"], 5)
        assert first["total_connections"] == 5

        # a change reloads HAProxy: its new worker counts from zero
        os_(
            "loadbalancer",
            "listener",
            "set",
            "--name",
            "renamed",
            "--wait",
            listener["id"],
            parse=False,
        )
        _get_n(url, 3)
        second = _wait_stats(hydria, lb["id"], listener["id"], 8)
        assert second["total_connections"] == 8
        assert second["bytes_out"] > first["bytes_out"]

        # a failover replaces the amphora: the new one counts from zero too
        amp_before = {
            a["id"] for a in os_("loadbalancer", "amphora", "list", "--loadbalancer", lb["id"])
        }
        os_("loadbalancer", "failover", "--wait", lb["id"], parse=False)
        amp_after = {
            a["id"]
            for a in os_(
                "loadbalancer",
                "amphora",
                "list",
                "--loadbalancer",
                lb["id"],
                "--status",
                "ALLOCATED",
            )
        }
        assert amp_after and not amp_after & amp_before
        _check_amphora_fields(hydria, lb, amp_after, amp_before)
        _get_n(url, 4)
        third = _wait_stats(hydria, lb["id"], listener["id"], 12)
        assert third["total_connections"] == 12
        assert third["bytes_out"] > second["bytes_out"]
        assert third["active_connections"] == 0
    finally:
        backend.stop()


def test_why_a_load_balancer_failed_is_shown_to_admins(hydria: HydriaUp) -> None:
    """A listener whose port another process holds on the VIP: HAProxy cannot bind
    it; after the retries the load balancer is ERROR, and admins read why."""
    import socket

    os_ = hydria.openstack
    lb = os_("loadbalancer", "create", "--vip-subnet-id", "public", "--wait")
    with socket.socket() as squatter:
        squatter.bind((lb["vip_address"], 8443))
        squatter.listen()
        os_(
            "loadbalancer",
            "listener",
            "create",
            "--protocol",
            "TCP",
            "--protocol-port",
            "8443",
            lb["id"],
        )
        hydria.wait_for(f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer", "ERROR", timeout=180)
        admin = {"X-Roles": "admin"}
        with hydria.api() as api:
            shown = api.get(f"/lbaas/loadbalancers/{lb['id']}", headers=admin).json()
            reason = shown["loadbalancer"]["hydria_error_reason"]
            assert f"cannot bind {lb['vip_address']}:8443: Address already in use" in reason
            assert reason.startswith("ConfigNotLoaded: ")
            # a project member does not see it
            plain = api.get(f"/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
            assert "hydria_error_reason" not in plain
            amps = api.get(
                "/octavia/amphorae", headers=admin, params={"loadbalancer_id": lb["id"]}
            ).json()["amphorae"]
            assert any(
                "Address already in use" in (a["hydria_error_reason"] or "") for a in amps
            ), amps
        assert "event=amphora_step_failed" in hydria.log()
        assert "Address already in use" in hydria.log()
    os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)


def test_octavias_flavor_and_zone_profiles(hydria: HydriaUp) -> None:
    """Octavia's capabilities through the CLI; an ACTIVE_STANDBY profile is accepted,
    a load balancer of it is the provider's 501; a zone profile with compute_zone."""
    import json

    os_ = hydria.openstack
    caps = os_("loadbalancer", "provider", "capability", "list", "amphora")
    names = {c["name"] for c in caps}
    assert {
        "loadbalancer_topology",
        "compute_flavor",
        "amp_image_tag",
        "sriov_vip",
        "compute_zone",
        "management_network",
        "valid_vip_networks",
    } <= names
    os_(
        "loadbalancer",
        "flavorprofile",
        "create",
        "--name",
        "ha",
        "--provider",
        "amphora",
        "--flavor-data",
        json.dumps({"loadbalancer_topology": "ACTIVE_STANDBY", "compute_flavor": "m1.amphora"}),
    )
    os_("loadbalancer", "flavor", "create", "--name", "ha", "--flavorprofile", "ha", "--enable")
    err = _cli_fails(
        hydria, "loadbalancer", "create", "--vip-subnet-id", "public", "--flavor", "ha"
    )
    assert (
        "Provider 'amphora' does not support a requested option: loadbalancer_topology "
        "ACTIVE_STANDBY"
        in err
        and "HTTP 501" in err
    )
    os_(
        "loadbalancer",
        "availabilityzoneprofile",
        "create",
        "--name",
        "zp",
        "--provider",
        "amphora",
        "--availability-zone-data",
        json.dumps({"compute_zone": "nova"}),
    )
    zone = os_(
        "loadbalancer",
        "availabilityzone",
        "create",
        "--name",
        "az1",
        "--availabilityzoneprofile",
        "zp",
        "--enable",
    )
    assert zone["name"] == "az1"
