"""UDP through a real ``hydria up``: nginx in the amphora, the agent's UDP-CONNECT probes.

Two UDP echo back-ends behind a UDP listener made with the real ``openstack`` CLI:
ROUND_ROBIN reaches both; a stopped back-end turns its member ERROR through the
UDP-CONNECT monitor and traffic goes to the other, then it comes back; statistics
move. SOURCE_IP persistence keeps one client on one member.
"""

from __future__ import annotations

import http.client
import time
from collections.abc import Iterator

import pytest

from tests.support.backends import HTTPBackend
from tests.support.hydria_proc import HydriaUp, running
from tests.support.udp_echo import UDPEchoBackend, udp_ask

pytestmark = [pytest.mark.integration, pytest.mark.haproxy, pytest.mark.nginx]


@pytest.fixture(scope="module")
def hydria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HydriaUp]:
    with running(
        tmp_path_factory.mktemp("hydria-udp") / "state",
        extra_env={"HYDRIA_HEARTBEAT_INTERVAL": "0.5"},
    ) as up:
        yield up


@pytest.fixture
def echoes() -> Iterator[list[UDPEchoBackend]]:
    servers = [UDPEchoBackend(f"echo-{i}") for i in range(2)]
    yield servers
    for s in servers:
        s.stop()


def _until(what: str, check, hydria: HydriaUp, timeout: float = 60.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"{what} never happened\n{hydria.log(tail=6000)}")


def _names(vip: str, port: int, n: int = 12) -> set[str]:
    answers = (udp_ask(vip, port, b"x", timeout=1.0) for _ in range(n))
    return {a.split(":", 1)[0] for a in answers if a}


def test_udp_round_robin_monitor_and_stats(hydria: HydriaUp, echoes: list[UDPEchoBackend]) -> None:
    os_ = hydria.openstack
    lb = os_("loadbalancer", "create", "--name", "udp", "--vip-subnet-id", "public", "--wait")
    vip = lb["vip_address"]
    listener = os_(
        "loadbalancer",
        "listener",
        "create",
        "--name",
        "dns",
        "--protocol",
        "UDP",
        "--protocol-port",
        "5353",
        "--timeout-client-data",
        "500",
        "--wait",
        lb["id"],
    )
    assert listener["protocol"] == "UDP"
    pool = os_(
        "loadbalancer",
        "pool",
        "create",
        "--protocol",
        "UDP",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--listener",
        listener["id"],
        "--wait",
    )
    members = [
        os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            e.host,
            "--protocol-port",
            str(e.port),
            "--wait",
            pool["id"],
        )
        for e in echoes
    ]
    hm = os_(
        "loadbalancer",
        "healthmonitor",
        "create",
        "--type",
        "UDP-CONNECT",
        "--delay",
        "3",
        "--timeout",
        "1",
        "--max-retries",
        "1",
        "--max-retries-down",
        "1",
        "--wait",
        pool["id"],
    )
    assert hm["type"] == "UDP-CONNECT"

    assert _until(
        "both back-ends answering", lambda: _names(vip, 5353) == {"echo-0", "echo-1"}, hydria
    )

    def member_status(i: int) -> str:
        return str(
            os_("loadbalancer", "member", "show", pool["id"], members[i]["id"])["operating_status"]
        )

    _until("both members ONLINE", lambda: member_status(0) == member_status(1) == "ONLINE", hydria)
    port = echoes[1].port
    echoes[1].stop()
    _until("member 1 ERROR", lambda: member_status(1) == "ERROR", hydria)
    assert os_("loadbalancer", "pool", "show", pool["id"])["operating_status"] == "DEGRADED"
    assert _names(vip, 5353) == {"echo-0"}

    echoes[1] = UDPEchoBackend("echo-1", port=port)
    _until("member 1 ONLINE again", lambda: member_status(1) == "ONLINE", hydria)
    assert _until("both back-ends again", lambda: _names(vip, 5353) == {"echo-0", "echo-1"}, hydria)

    stats = _until(
        "listener stats moving",
        lambda: (
            s
            if (s := os_("loadbalancer", "listener", "stats", "show", listener["id"]))[
                "total_connections"
            ]
            > 0
            and s["bytes_in"] > 0
            and s["bytes_out"] > 0
            else None
        ),
        hydria,
    )
    assert stats["bytes_out"] >= stats["bytes_in"]  # every answer is longer than its question
    os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)


def test_udp_source_ip_persistence_sticks(hydria: HydriaUp, echoes: list[UDPEchoBackend]) -> None:
    with hydria.api() as api:
        subnet = api.get("/lbaas/loadbalancers").status_code  # the API answers
        assert subnet == 200
    os_ = hydria.openstack
    lb = os_("loadbalancer", "create", "--name", "sticky", "--vip-subnet-id", "public", "--wait")
    listener = os_(
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "UDP",
        "--protocol-port",
        "5354",
        "--wait",
        lb["id"],
    )
    pool = os_(
        "loadbalancer",
        "pool",
        "create",
        "--protocol",
        "UDP",
        "--lb-algorithm",
        "ROUND_ROBIN",
        "--listener",
        listener["id"],
        "--session-persistence",
        "type=SOURCE_IP,persistence_timeout=60,persistence_granularity=255.255.255.255",
        "--wait",
    )
    assert pool["session_persistence"]["type"] == "SOURCE_IP"
    for e in echoes:
        os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            e.host,
            "--protocol-port",
            str(e.port),
            "--wait",
            pool["id"],
        )
    vip = lb["vip_address"]
    first = _until("an answer", lambda: _names(vip, 5354, 1), hydria)
    # every new session from this address (new source ports) lands on the same member
    assert _names(vip, 5354, 20) == first
    os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)


def _scrape(vip: str, port: int, source: str = "127.0.0.1") -> str:
    conn = http.client.HTTPConnection(vip, port, timeout=10, source_address=(source, 0))
    try:
        conn.request("GET", "/metrics")
        res = conn.getresponse()
        assert res.status == 200, res.status
        return res.read().decode()
    finally:
        conn.close()


def test_prometheus_sctp_and_a_dead_nginx(hydria: HydriaUp, echoes: list[UDPEchoBackend]) -> None:
    """The CLI makes a PROMETHEUS listener that answers a scrape through the VIP with
    the load balancer's frontends and backends, and refuses a client outside its
    allowed_cidrs; SCTP is Octavia's 501 (API and CLI); nginx killed in the amphora
    comes back by itself."""
    import os
    import signal

    from prometheus_client.parser import text_string_to_metric_families

    from hydria.core.procs import pid_alive

    os_ = hydria.openstack
    lb = os_("loadbalancer", "create", "--name", "mixed", "--vip-subnet-id", "public", "--wait")
    vip = lb["vip_address"]
    prom = os_(
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "PROMETHEUS",
        "--protocol-port",
        "9100",
        "--allowed-cidr",
        "127.0.0.1/32",
        "--wait",
        lb["id"],
    )
    # a TCP listener, pool and member: the frontend and backend the scrape must show
    web = HTTPBackend("web-0")
    tcp = os_(
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "TCP",
        "--protocol-port",
        "9101",
        "--wait",
        lb["id"],
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
        tcp["id"],
        "--wait",
    )
    tcp_member = os_(
        "loadbalancer",
        "member",
        "create",
        "--address",
        web.host,
        "--protocol-port",
        str(web.port),
        "--wait",
        tcp_pool["id"],
    )
    udp = os_(
        "loadbalancer",
        "listener",
        "create",
        "--protocol",
        "UDP",
        "--protocol-port",
        "9100",
        "--wait",
        lb["id"],
    )  # the same port: UDP beside PROMETHEUS (TCP)
    pool = os_(
        "loadbalancer",
        "pool",
        "create",
        "--protocol",
        "UDP",
        "--lb-algorithm",
        "SOURCE_IP",
        "--listener",
        udp["id"],
        "--wait",
    )
    os_(
        "loadbalancer",
        "member",
        "create",
        "--address",
        echoes[0].host,
        "--protocol-port",
        str(echoes[0].port),
        "--wait",
        pool["id"],
    )

    try:
        families = {f.name: f for f in text_string_to_metric_families(_scrape(vip, 9100))}
        # Octavia's names (the agent's metrics proxy): frontends by listener id,
        # backends by pool id, servers by pool and member id
        listeners = {s.labels.get("listener") for s in families["octavia_listener_status"].samples}
        assert {prom["id"], tcp["id"]} <= listeners
        pools = {s.labels.get("pool") for s in families["octavia_pool_status"].samples}
        assert tcp_pool["id"] in pools
        members = {
            (s.labels.get("pool"), s.labels.get("member"))
            for s in families["octavia_member_status"].samples
        }
        assert (tcp_pool["id"], tcp_member["id"]) in members
        assert "octavia_loadbalancer_cpu" in families
        # 127.0.0.2 is outside allowed_cidrs (127.0.0.1/32): HAProxy closes the connection
        with pytest.raises((ConnectionError, http.client.HTTPException, TimeoutError)):
            _scrape(vip, 9100, source="127.0.0.2")
        assert "octavia_listener_status" in _scrape(vip, 9100)  # and still serves 127.0.0.1
    finally:
        web.stop()

    with pytest.raises(AssertionError, match="does not support a requested option: protocol SCTP"):
        os_(
            "loadbalancer",
            "listener",
            "create",
            "--protocol",
            "SCTP",
            "--protocol-port",
            "9",
            lb["id"],
        )
    with hydria.api() as api:
        res = api.post(
            "/lbaas/listeners",
            json={
                "listener": {"loadbalancer_id": lb["id"], "protocol": "SCTP", "protocol_port": 9}
            },
        )
    assert res.status_code == 501, res.text
    assert res.json()["faultstring"].startswith(
        "Provider 'amphora' does not support a requested option: protocol SCTP"
    )

    assert _until("UDP answers", lambda: udp_ask(vip, 9100, timeout=1.0), hydria) == "echo-0:hi"
    # the session lives for timeout_client_data: the heartbeat carries it to the API
    _until(
        "a live UDP session in the listener's stats",
        lambda: (
            os_("loadbalancer", "listener", "stats", "show", udp["id"])["active_connections"] >= 1
        ),
        hydria,
    )
    amp = next((hydria.state_dir / "amphorae").glob("*/udp/nginx.pid"))
    master = int(amp.read_text().split()[0])
    os.kill(master, signal.SIGKILL)
    _until("nginx master gone", lambda: not pid_alive(master), hydria)
    _until(
        "a new nginx master",
        lambda: (
            amp.exists() and (new := int(amp.read_text().split()[0])) != master and pid_alive(new)
        ),
        hydria,
    )
    assert (
        _until("UDP answers again", lambda: udp_ask(vip, 9100, timeout=1.0), hydria) == "echo-0:hi"
    )
    os_("loadbalancer", "delete", "--cascade", "--wait", lb["id"], parse=False)
