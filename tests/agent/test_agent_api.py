"""The agent API on a real amphora: mutual TLS, checked and versioned configs,
seamless reloads, supervision of HAProxy."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest

from hydria.agent.haproxy import HAProxyProcess
from hydria.core.errors import AmphoraUnreachable, ConfigRejected
from hydria.core.procs import pid_alive
from hydria.drivers.amphora.agent_client import AgentClient, StaleConfig
from hydria.drivers.certs.local_ca import ControllerCA
from hydria.wire.amphora_layout import AmphoraLayout
from tests.support.backends import HTTPBackend, free_port

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _config(
    amphora, vip: str, port: int, backend: HTTPBackend, version: int, *, extra: str = ""
) -> str:
    layout = amphora.compute.layout(amphora.id)
    return f"""# version {version}
global
    maxconn 1000
    stats socket {layout.stats_socket} mode 0600 level admin expose-fd listeners

defaults
    mode http
    timeout connect 5s
    timeout client 30s
    timeout server 30s

frontend web
    bind {vip}:{port}
    default_backend pool
{extra}
backend pool
    server m1 {backend.host}:{backend.port}
"""


@pytest.fixture
def backend():
    b = HTTPBackend("b1")
    yield b
    b.stop()


def _vip() -> tuple[str, int]:
    vip = f"127.44.251.{os.getpid() % 200 + 10}"
    return vip, free_port(vip)


def test_client_without_certificate_is_refused(amphora):
    ctx = ssl.create_default_context(cafile=str(amphora.ca.ca_cert_path))
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"https://{amphora.ip}:{amphora.port}/1.0/info", verify=ctx, timeout=5)


def test_client_from_another_ca_is_refused(amphora, tmp_path):
    other = ControllerCA.load_or_create(tmp_path / "other-pki")
    # trusts the amphora's CA but presents a certificate the amphora's CA never signed
    ctx = ssl.create_default_context(cafile=str(amphora.ca.ca_cert_path))
    ctx.load_cert_chain(*(str(p) for p in other.client_cert_paths()))
    before = amphora.client.info(amphora.ip, amphora.port)["tls_refused"]
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"https://{amphora.ip}:{amphora.port}/1.0/info", verify=ctx, timeout=5)
    # counted (the count is read over a trusted connection)
    assert amphora.client.info(amphora.ip, amphora.port)["tls_refused"] == before + 1


def _agent_metrics(amphora) -> dict[str, float]:
    """The agent's own metrics, on its mutual-TLS API (``/1.0/metrics``):
    ``hydria_agent_tls_refused_total`` by reason."""
    from prometheus_client.parser import text_string_to_metric_families

    res = amphora.client._request("GET", amphora.ip, amphora.port, "/metrics")
    assert res.status_code == 200, res.text
    families = {f.name: f for f in text_string_to_metric_families(res.text)}
    return {s.labels["reason"]: s.value for s in families["hydria_agent_tls_refused"].samples}


def _tenant_scrape(amphora) -> str:
    """The metrics proxy, read on its unix socket as a PROMETHEUS listener's backend does."""
    from hydria.agent.prometheus import _UnixHTTPConnection
    from hydria.core.prometheus import sockets

    _, proxy = sockets(str(amphora.compute.layout(amphora.id).stats_socket))
    conn = _UnixHTTPConnection(proxy, 10)
    try:
        conn.request("GET", "/metrics")
        response = conn.getresponse()
        text = response.read().decode()
    finally:
        conn.close()
    assert response.status == 200, text
    return text


def test_refused_handshakes_are_counted_by_reason_in_the_agents_metrics(amphora, tmp_path, backend):
    """Another CA's client certificate, none, and plain HTTP: each refused, each counted
    under its own reason in the agent's operator-only Prometheus text (/1.0/metrics,
    mutual TLS) and in /1.0/info; a tenant's scrape (the metrics proxy, with HAProxy's
    exporter behind it as a PROMETHEUS listener has) shows HAProxy's figures only."""
    from hydria.core.prometheus import sockets

    exporter, _ = sockets(str(amphora.compute.layout(amphora.id).stats_socket))
    exporter_frontend = f"""
frontend hydria-prom-in
    bind unix@{exporter} mode 600
    http-request use-service prometheus-exporter
"""
    vip, port = _vip()
    cfg = _config(amphora, vip, port, backend, 1, extra=exporter_frontend)
    amphora.client.put_config(amphora.ip, amphora.port, cfg, 1)
    before = _agent_metrics(amphora)
    assert set(before) >= {"untrusted_certificate", "no_certificate", "not_tls"}
    url = f"https://{amphora.ip}:{amphora.port}/1.0/info"
    other = ControllerCA.load_or_create(tmp_path / "other-pki")
    forged = ssl.create_default_context(cafile=str(amphora.ca.ca_cert_path))
    forged.load_cert_chain(*(str(p) for p in other.client_cert_paths()))
    for _ in range(2):
        with pytest.raises(httpx.HTTPError):
            httpx.get(url, verify=forged, timeout=5)
    bare = ssl.create_default_context(cafile=str(amphora.ca.ca_cert_path))
    with pytest.raises(httpx.HTTPError):
        httpx.get(url, verify=bare, timeout=5)
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://{amphora.ip}:{amphora.port}/1.0/info", timeout=5)
    expected = {
        **before,
        "untrusted_certificate": before["untrusted_certificate"] + 2,
        "no_certificate": before["no_certificate"] + 1,
        "not_tls": before["not_tls"] + 1,
    }
    # the counts move when the agent's handshake thread has given up: wait for them
    deadline = time.monotonic() + 30
    while (after := _agent_metrics(amphora)) != expected:
        assert time.monotonic() < deadline, (after, expected)
        time.sleep(0.1)
    info = amphora.client.info(amphora.ip, amphora.port)
    tenant = _tenant_scrape(amphora)
    assert "octavia_loadbalancer_cpu" in tenant and "hydria_agent" not in tenant
    assert info["tls_refused_by_reason"] == {k: int(v) for k, v in expected.items()}
    assert info["tls_refused"] == sum(expected.values())


def test_controller_refuses_an_amphora_from_another_ca(amphora, tmp_path):
    other = ControllerCA.load_or_create(tmp_path / "other-pki")
    client = AgentClient(other.ca_cert_path, *other.client_cert_paths())
    try:
        with pytest.raises(AmphoraUnreachable):
            client.info(amphora.ip, amphora.port)
    finally:
        client.close()


def test_a_flood_of_idle_peers_costs_bounded_threads(amphora):
    """Peers that connect and never handshake: past the cap they are turned away at
    once instead of each holding a thread, and the agent serves again when they go."""
    import select

    from hydria.agent.server import MAX_CONNECTIONS

    idle = [
        socket.create_connection((amphora.ip, amphora.port), timeout=10)
        for _ in range(MAX_CONNECTIONS + 20)
    ]
    try:
        turned_away = 0
        deadline = time.monotonic() + 10
        while not turned_away and time.monotonic() < deadline:
            readable, _, _ = select.select(idle, [], [], 0.5)
            turned_away = sum(1 for sock in readable if sock.recv(1) == b"")
        assert turned_away >= 1, "every idle peer was given a thread"
        # turned away by the cap, not merely timed out waiting for a handshake
        agent_log = amphora.compute.layout(amphora.id).agent_log
        while "event=connection_refused" not in agent_log.read_text():
            assert time.monotonic() < deadline + 20, agent_log.read_text()[-3000:]
            time.sleep(0.05)
        assert "reason=busy" in agent_log.read_text()
        agent_pid = int(amphora.compute.layout(amphora.id).agent_pid.read_text())
        threads = int(
            next(
                line.split()[1]
                for line in Path(f"/proc/{agent_pid}/status").read_text().splitlines()
                if line.startswith("Threads:")
            )
        )
        assert threads <= MAX_CONNECTIONS + 8
    finally:
        for sock in idle:
            sock.close()
    assert (
        amphora.client.wait_ready(amphora.ip, amphora.port, timeout=30)["amphora_id"] == amphora.id
    )


def test_info_before_any_config(amphora):
    info = amphora.client.info(amphora.ip, amphora.port)
    assert info["amphora_id"] == amphora.id
    assert info["config_version"] is None
    assert info["haproxy_running"] is False


def test_config_versions_bad_configs_and_reloads(amphora, backend):
    vip, port = _vip()
    c = amphora.client
    assert c.put_config(amphora.ip, amphora.port, _config(amphora, vip, port, backend, 1), 1) == {
        "config_version": 1
    }
    assert httpx.get(f"http://{vip}:{port}/", timeout=5).text == "b1"

    # HAProxy refuses it: 400 (permanent), and version 1 keeps serving
    with pytest.raises(ConfigRejected, match="haproxy -c"):
        c.put_config(amphora.ip, amphora.port, "global\n    no-such-keyword\n", 2)
    assert c.info(amphora.ip, amphora.port)["config_version"] == 1
    assert httpx.get(f"http://{vip}:{port}/", timeout=5).text == "b1"

    # a newer version reloads; the same version again is a no-op; an older one is stale
    cfg3 = _config(amphora, vip, port, backend, 3, extra="    http-response set-header X-V 3\n")
    c.put_config(amphora.ip, amphora.port, cfg3, 3)
    assert httpx.get(f"http://{vip}:{port}/", timeout=5).headers["x-v"] == "3"
    c.put_config(amphora.ip, amphora.port, cfg3, 3)
    with pytest.raises(StaleConfig):
        c.put_config(amphora.ip, amphora.port, _config(amphora, vip, port, backend, 2), 2)
    assert c.info(amphora.ip, amphora.port)["config_version"] == 3

    rows = c.stats(amphora.ip, amphora.port)["rows"]
    assert {r["pxname"] for r in rows} >= {"web", "pool"}

    c.delete_config(amphora.ip, amphora.port)
    assert c.info(amphora.ip, amphora.port)["haproxy_running"] is False
    with pytest.raises(httpx.HTTPError):
        httpx.get(f"http://{vip}:{port}/", timeout=2)


def test_a_member_added_and_removed_is_taken_without_a_reload(amphora, backend):
    """The agent applies a change of servers alone through HAProxy's runtime API:
    the same worker serves the new member, and ``/info`` counts the change."""
    vip, port = _vip()
    c = amphora.client
    second = HTTPBackend("b2")
    try:
        rr = "    balance roundrobin\n"
        one = _config(amphora, vip, port, backend, 1).replace(
            "backend pool\n", "backend pool\n" + rr
        )
        c.put_config(amphora.ip, amphora.port, one, 1)
        haproxy = HAProxyProcess(amphora.compute.layout(amphora.id))
        worker = haproxy.worker_stats()[0]
        assert worker is not None
        two = (
            one.replace("# version 1", "# version 2")
            + f"    server m2 {second.host}:{second.port}\n"
        )
        assert c.put_config(amphora.ip, amphora.port, two, 2) == {"config_version": 2}
        info = c.info(amphora.ip, amphora.port)
        assert info["runtime_changes"] == 1 and info["config_version"] == 2
        with httpx.Client(timeout=5) as client:
            assert {client.get(f"http://{vip}:{port}/").text for _ in range(6)} == {"b1", "b2"}
        c.put_config(amphora.ip, amphora.port, one.replace("# version 1", "# version 3"), 3)
        assert c.info(amphora.ip, amphora.port)["runtime_changes"] == 2
        with httpx.Client(timeout=5) as client:
            assert {client.get(f"http://{vip}:{port}/").text for _ in range(6)} == {"b1"}
        assert haproxy.worker_stats()[0] == worker  # never reloaded
    finally:
        second.stop()


def test_a_drained_stop_lets_the_request_in_flight_finish(amphora, backend):
    vip, port = _vip()
    c = amphora.client
    c.put_config(amphora.ip, amphora.port, _config(amphora, vip, port, backend, 1), 1)
    answer: dict[str, object] = {}

    def slow() -> None:
        try:
            res = httpx.get(f"http://{vip}:{port}/slow/1500", timeout=30)
            answer["status"] = res.status_code
        except httpx.HTTPError as exc:
            answer["error"] = repr(exc)

    thread = threading.Thread(target=slow)
    thread.start()
    assert backend.slow_started.wait(30)
    c.delete_config(amphora.ip, amphora.port, drain=20)
    thread.join(30)
    assert answer == {"status": 200}
    assert c.info(amphora.ip, amphora.port)["haproxy_running"] is False


@pytest.mark.parametrize("drain", ["-1", "61", "nan", "inf", "soon"])
def test_a_drain_out_of_range_is_refused(amphora, drain):
    res = amphora.client._request(
        "DELETE", amphora.ip, amphora.port, "/config", params={"drain": drain}
    )
    assert res.status_code == 400


def test_reloads_under_load_refuse_no_connection(amphora, backend):
    vip, port = _vip()
    c = amphora.client
    c.put_config(amphora.ip, amphora.port, _config(amphora, vip, port, backend, 1), 1)
    errors: list[str] = []
    done = threading.Event()
    count = 0

    def load() -> None:
        nonlocal count
        with httpx.Client(timeout=10) as http:
            while not done.is_set() and count < 5000:
                try:
                    res = http.get(f"http://{vip}:{port}/", headers={"Connection": "close"})
                    if res.status_code != 200:
                        errors.append(f"HTTP {res.status_code}")
                except httpx.HTTPError as exc:
                    errors.append(repr(exc))
                count += 1

    worker = threading.Thread(target=load)
    worker.start()
    try:
        for version in range(2, 22):
            extra = f"    http-response set-header X-V {version}\n"
            c.put_config(
                amphora.ip,
                amphora.port,
                _config(amphora, vip, port, backend, version, extra=extra),
                version,
            )
    finally:
        done.set()
        worker.join()
    assert count > 0
    assert errors == []


def test_haproxy_killed_is_brought_back(amphora, backend):
    vip, port = _vip()
    amphora.client.put_config(amphora.ip, amphora.port, _config(amphora, vip, port, backend, 1), 1)
    layout = AmphoraLayout(amphora.compute.root / amphora.id)
    old = int(layout.haproxy_pid.read_text())
    os.kill(old, signal.SIGKILL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://{vip}:{port}/", timeout=2).text == "b1":
                new = int(layout.haproxy_pid.read_text())
                if new != old and pid_alive(new):
                    return
        except (httpx.HTTPError, ValueError, OSError):
            pass
        time.sleep(0.1)
    pytest.fail("HAProxy was not restarted by the agent")


def test_heartbeats_come_signed_from_the_management_address_and_the_agent_vouches_for_its_seq(
    tmp_path, pki
):
    """A real agent with a derived key: its heartbeats come from its management
    address, verify with its own key only, and over mutual TLS it tells the
    last sequence number it sent (what the health manager asks before it
    believes a jump)."""
    import uuid

    from hydria.drivers.compute.local import LocalCompute
    from hydria.wire import heartbeat as wire
    from hydria.wire.heartbeat_keys import amphora_key
    from tests.agent.conftest import _hosts, boot_for
    from tests.support.procs import kill_all_mentioning

    deployment = b"a deployment key for this test"
    amp_id = str(uuid.uuid4())
    ip = f"127.44.250.{next(_hosts) % 250 + 1}"
    port = free_port(ip)
    health = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    health.bind(("127.0.0.1", 0))
    health.settimeout(20)
    compute = LocalCompute(tmp_path / "amphorae")
    boot = boot_for(
        pki,
        amp_id,
        ip,
        port,
        heartbeat_key=amphora_key(deployment, amp_id).hex(),
        controller_addresses=(f"127.0.0.1:{health.getsockname()[1]}",),
        heartbeat_interval=0.1,
    )
    client = AgentClient(pki.ca_cert_path, *pki.client_cert_paths())
    compute.create(boot)
    try:
        client.wait_ready(ip, port, timeout=30)
        seqs = []
        for _ in range(3):
            packet, source = health.recvfrom(65536)
            assert source[0] == ip
            env = wire.open_envelope(packet)
            assert env.amphora_id == amp_id
            with pytest.raises(wire.HeartbeatError) as refused:
                wire.authenticate(env, amphora_key(deployment, "another-amphora"))
            assert refused.value.kind == wire.Rejection.BAD_SIGNATURE
            seqs.append(wire.verify(env, amphora_key(deployment, amp_id)).seq)
        assert seqs == sorted(seqs)
        assert client.info(ip, port)["heartbeat_seq"] >= seqs[-1]
    finally:
        client.close()
        health.close()
        compute.delete(amp_id)
        kill_all_mentioning(str(tmp_path))


def test_haproxy_runs_with_the_agents_base_section(amphora, backend):
    """The agent's own global section (``BASE_CONFIG``: no CA bundle for HAProxy's
    unused HTTP client) is given before the pushed file, and a reload keeps it."""
    from hydria.agent.haproxy import BASE_CONFIG, HAProxyProcess

    layout = amphora.compute.layout(amphora.id)
    vip, port = _vip()
    c = amphora.client
    for version in (1, 2):
        c.put_config(
            amphora.ip, amphora.port, _config(amphora, vip, port, backend, version), version
        )
        proc = HAProxyProcess(layout)
        pid = proc.master_pid()
        assert pid is not None
        args = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        base = layout.config.with_name("haproxy-base.cfg")
        assert args.index(str(base).encode()) < args.index(str(layout.config).encode())
        assert base.read_text() == BASE_CONFIG
    assert httpx.get(f"http://{vip}:{port}/", timeout=5).text == "b1"
