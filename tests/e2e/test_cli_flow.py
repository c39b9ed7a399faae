"""The real ``openstack`` CLI against a real ``hydria up``: HTTP and TCP traffic
through real HAProxy to real back-ends, then a cascade delete."""

from __future__ import annotations

import socket

import httpx
import pytest

from tests.support.backends import tcp_echo
from tests.support.procs import pids_mentioning

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _names(url: str, n: int) -> list[str]:
    with httpx.Client(timeout=5) as client:
        return [client.get(url).text for _ in range(n)]


def test_cli_creates_serves_and_cascade_deletes(hydria, http_backends, tcp_backends):
    os_ = hydria.openstack
    lb = os_("loadbalancer", "create", "--name", "web", "--vip-subnet-id", "public", "--wait")
    assert lb["provisioning_status"] == "ACTIVE"
    vip = lb["vip_address"]
    lb_id = lb["id"]

    listener = os_(
        "loadbalancer",
        "listener",
        "create",
        "--name",
        "http",
        "--protocol",
        "HTTP",
        "--protocol-port",
        "80",
        "--wait",
        lb_id,
    )
    pool = os_(
        "loadbalancer",
        "pool",
        "create",
        "--name",
        "web",
        "--protocol",
        "HTTP",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--listener",
        listener["id"],
        "--wait",
    )
    for b in http_backends:
        os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            b.host,
            "--protocol-port",
            str(b.port),
            "--wait",
            pool["id"],
        )

    shown = os_("loadbalancer", "show", lb_id)
    assert shown["provisioning_status"] == "ACTIVE"
    names = _names(f"http://{vip}:80/", 8)
    assert set(names) == {"web-0", "web-1"}
    # round robin: consecutive answers alternate
    assert all(a != b for a, b in zip(names, names[1:], strict=False)), names

    tcp_listener = os_(
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "TCP",
        "--protocol-port",
        "7000",
        "--wait",
        lb_id,
    )
    tcp_pool = os_(
        "loadbalancer",
        "pool",
        "create",
        "--protocol",
        "TCP",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--listener",
        tcp_listener["id"],
        "--wait",
    )
    for b in tcp_backends:
        os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            b.host,
            "--protocol-port",
            str(b.port),
            "--wait",
            tcp_pool["id"],
        )
    answers = {tcp_echo(vip, 7000, b"ping").split(b":")[0] for _ in range(6)}
    assert answers == {b"echo-0", b"echo-1"}

    members = os_("loadbalancer", "member", "list", pool["id"])
    assert {m["provisioning_status"] for m in members} == {"ACTIVE"}
    assert len(os_("loadbalancer", "listener", "list")) >= 2

    # an amphora's processes name its folder, <state>/amphorae/<id> (the agent zygote
    # names <state>/amphorae alone and stays with hydria up)
    amphora_pids = pids_mentioning(lb_id) + pids_mentioning(f"{hydria.state_dir / 'amphorae'}/")
    assert amphora_pids, "an amphora process should be running"

    os_("loadbalancer", "delete", "--cascade", "--wait", lb_id, parse=False)
    with hydria.api() as client:
        gone = client.get(f"/lbaas/loadbalancers/{lb_id}")
        assert (
            gone.status_code == 404
            or gone.json()["loadbalancer"]["provisioning_status"] == "DELETED"
        )
    # the data plane is gone: nothing listens on the VIP any more
    with pytest.raises(OSError):
        socket.create_connection((vip, 80), timeout=2).close()
    assert not [p for p in amphora_pids if p in pids_mentioning(str(hydria.state_dir))]
    # and the VIP is free again: a new load balancer may ask for exactly it
    again = os_(
        "loadbalancer", "create", "--vip-subnet-id", "public", "--vip-address", vip, "--wait"
    )
    assert again["vip_address"] == vip
    os_("loadbalancer", "delete", "--wait", again["id"], parse=False)
