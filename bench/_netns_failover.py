"""``bench/failover.py --topology ACTIVE_STANDBY``: how fast a VIP answers again
after the amphora serving it dies, with the ``netns`` drivers.

Each run freezes then SIGKILLs every process of the amphora that holds the
VIP (as an instance crash would; its namespace, and so its kernel, stays until
the controller fences it) and measures, from a client namespace on the VIP
subnet, the time to the first 200 through the VIP. ACTIVE_STANDBY: the BACKUP
takes the VIP over by VRRP; a recorder on the VIP bridge (``_wire_trace``)
says when the victim last advertised, when the survivor became MASTER, sent
its gratuitous ARP and took its first connection. SINGLE, in the same run, as
the baseline: the health manager notices the silence (``--interval``,
``--timeout``) and the controller takes a spare (``--spares``) or builds a new
amphora; the controllers' log says when each step happened. Between runs the
load balancer is rebuilt to full strength (and the spare pool refilled).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import _wire_trace
import httpx
from _harness import hydria_up, wait_status
from provision import wait_spares

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import netns_lab  # noqa: E402  (the namespaces the tests use)

BIN = Path(sys.executable).parent

#: seconds a probe waits for the VIP before the run is reported as a failure
PROBE_DEADLINE = 60.0

# Waits for "go" on stdin, then tries the URL's host and port until a 200: a new
# connection each time, 50 ms to connect (a SYN lost to a dead amphora costs
# 50 ms, not the kernel's 1 s retransmit), 1 ms between a refusal and the next
# try. Prints "<time of the 200> <refused> <timed out>", or "timeout" once the
# deadline (argv[3] seconds) passed without one.
_PROBE = """
import socket, sys, time
host, port, deadline = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
request = b"GET / HTTP/1.0\\r\\nHost: vip\\r\\n\\r\\n"
def get():
    with socket.socket() as s:
        s.settimeout(0.05)
        s.connect((host, port))
        s.settimeout(2.0)
        s.sendall(request)
        head = s.recv(16)
        return head[9:12] == b"200", time.time()
for line in sys.stdin:
    give_up, refused, timed_out = time.monotonic() + deadline, 0, 0
    while True:
        try:
            ok, at = get()
            if ok:
                print(f"{at:.6f} {refused} {timed_out}", flush=True)
                break
        except ConnectionRefusedError:
            refused += 1
            time.sleep(0.001)
        except OSError:
            timed_out += 1
        if time.monotonic() > give_up:
            print("timeout", flush=True)
            break
"""


def _lb(c: httpx.Client, subnet_id: str, member: tuple[str, int], flavor: str | None) -> dict:
    body = {
        "name": "fo",
        "vip_subnet_id": subnet_id,
        "listeners": [
            {
                "protocol": "HTTP",
                "protocol_port": 80,
                "default_pool": {
                    "name": "web",
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "members": [{"address": member[0], "protocol_port": member[1]}],
                },
            }
        ],
    }
    if flavor:
        body["flavor_id"] = flavor
    res = c.post("/lbaas/loadbalancers", json={"loadbalancer": body})
    assert res.status_code == 201, res.text
    lb = res.json()["loadbalancer"]
    wait_status(c, f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer", timeout=120)
    return lb


def _live(c: httpx.Client, lb_id: str) -> list[dict]:
    amps = c.get("/octavia/amphorae", params={"loadbalancer_id": lb_id}).json()["amphorae"]
    return [a for a in amps if a["status"] == "ALLOCATED"]


def _holder(c: httpx.Client, lb_id: str, vip: str) -> dict:
    """The amphora that holds the VIP (keepalived may still be electing one just
    after the load balancer went ACTIVE: waits up to ``PROBE_DEADLINE``)."""
    deadline = time.monotonic() + PROBE_DEADLINE
    while time.monotonic() < deadline:
        for a in _live(c, lb_id):
            if f" {vip}/" in netns_lab.ip("-n", a["compute_id"], "-o", "addr", "show", check=False):
                return a
        time.sleep(0.05)
    raise RuntimeError(f"nobody holds the VIP {vip}")


def _diagnose(c: httpx.Client, lb: dict) -> str:
    """Who holds the VIP now, and what the API says, for a failed run's message."""
    amps = c.get("/octavia/amphorae", params={"loadbalancer_id": lb["id"]}).json()["amphorae"]
    seen = []
    for a in amps:
        ns = a.get("compute_id") or ""
        held = ns and f" {lb['vip_address']}/" in netns_lab.ip(
            "-n", ns, "-o", "addr", "show", check=False
        )
        seen.append(
            f"{a['id'][:8]} {a['role']} {a['status']} ns={ns or '-'} "
            f"pids={len(netns_lab.ns_pids(ns)) if ns else 0} holds_vip={bool(held)}"
        )
    status = c.get(f"/lbaas/loadbalancers/{lb['id']}").json()["loadbalancer"]
    return f"lb {status['provisioning_status']}; " + "; ".join(seen)


def _settle(c: httpx.Client, lb_id: str, want: int, gone: str) -> None:
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        lb = c.get(f"/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]
        amps = _live(c, lb_id)
        if (
            lb["provisioning_status"] == "ACTIVE"
            and len(amps) == want
            and gone not in {a["id"] for a in amps}
        ):
            time.sleep(2)  # heartbeats of the new amphora flowing, VRRP settled
            return
        time.sleep(0.2)
    raise TimeoutError("load balancer did not recover")


@dataclass
class Results:
    """One topology's runs: seconds from the kill to the first 200, and where
    the time went (a ``_wire_trace.Breakdown`` or a ``Steps`` per run)."""

    times: list[float] = field(default_factory=list)
    refused: list[int] = field(default_factory=list)
    timed_out: list[int] = field(default_factory=list)
    wire: list[_wire_trace.Breakdown] = field(default_factory=list)
    # the BACKUP's adverts while the MASTER was alive (between runs): each is a
    # false takeover (it missed three adverts), which must stay 0 under load
    false_takeovers: int = 0
    steps: list[Steps] = field(default_factory=list)


@dataclass(frozen=True)
class Steps:
    """A SINGLE failover from the controllers' log, seconds from the kill."""

    marked: float | None  # the failure detector's event=failover_requested
    started: float | None  # the controller's event=failover_start
    spare: bool  # the replacement was a spare (event=amphora_planned spare=True)
    plugged: float | None  # event=vip_plugged of the replacement (GARP sent)
    pushed: float | None  # event=config_pushed of the replacement


_LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def _log_steps(log: Path, victim: str, killed: float) -> Steps:
    def at(line: str) -> float | None:
        m = _LOG_TIME.match(line)
        if m is None:
            return None
        stamp = dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        return stamp - killed

    marked = started = plugged = pushed = None
    spare, new = False, ""
    for line in log.read_text(errors="replace").splitlines():
        if f"event=failover_requested amphora={victim}" in line:
            marked = at(line)
        elif marked is not None and "event=failover_start" in line and victim in line:
            started = at(line)
        elif started is not None and not new and "event=amphora_planned" in line:
            new = line.split("amphora=")[1].split()[0]
            spare = "spare=True" in line
        elif new and f"event=vip_plugged amphora={new}" in line and plugged is None:
            plugged = at(line)
        elif new and f"event=config_pushed amphora={new}" in line and pushed is None:
            pushed = at(line)
    return Steps(marked, started, spare, plugged, pushed)


def _runs(
    c: httpx.Client,
    probe: subprocess.Popen[str],
    lb: dict,
    *,
    want: int,
    runs: int,
    spares: int,
    log: Path,
    wire: _wire_trace.Recorder | None,
) -> Results:
    assert probe.stdin is not None and probe.stdout is not None
    out = Results()
    steady_from = time.time()
    for _ in range(runs):
        if spares and want == 1:
            wait_spares(c, spares)  # steady state: the pool has refilled
        victim = _holder(c, lb["id"], lb["vip_address"])
        survivor = next((a for a in _live(c, lb["id"]) if a["id"] != victim["id"]), None)
        pids = netns_lab.ns_pids(victim["compute_id"])
        # the clock starts as the amphora stops: frozen first (nothing it runs
        # sees its siblings die), then killed, in microseconds (no kill(1) start)
        killed = time.time()
        for sig in (signal.SIGSTOP, signal.SIGKILL):
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, sig)
        probe.stdin.write("go\n")
        probe.stdin.flush()
        answer = probe.stdout.readline().split()
        if not answer or answer[0] == "timeout":
            raise TimeoutError(
                f"the VIP did not answer {PROBE_DEADLINE:g} s after the kill "
                f"of {victim['id']} ({victim['role']}): {_diagnose(c, lb)}"
            )
        served = float(answer[0])
        out.times.append(served - killed)
        out.refused.append(int(answer[1]))
        out.timed_out.append(int(answer[2]))
        if wire is not None and survivor is not None:
            time.sleep(0.05)  # the recorder's thread has the last frames
            out.false_takeovers += sum(
                1
                for f in wire.between(steady_from, killed)
                if f.kind == "vrrp" and f.src_ip == survivor["vrrp_ip"]
            )
            out.wire.append(
                _wire_trace.breakdown(
                    wire.between(killed - 1.0, served + 0.01),
                    killed=killed,
                    victim_ip=victim["vrrp_ip"],
                    survivor_ip=survivor["vrrp_ip"],
                    vip=lb["vip_address"],
                )
            )
        _settle(c, lb["id"], want, victim["id"])
        steady_from = time.time()
        if want == 1:
            out.steps.append(_log_steps(log, victim["id"], killed))
    return out


@dataclass(frozen=True)
class HeartbeatCost:
    amphorae: int
    packets_per_s: float  # per amphora (to one health manager)
    frame_bytes: float  # mean Ethernet frame of one heartbeat


def heartbeat_cost(bridge: str, port: int, seconds: float = 5.0) -> HeartbeatCost:
    """Heartbeats seen on the management bridge over ``seconds``."""
    rec = _wire_trace.Recorder(bridge, udp_port=port)
    try:
        time.sleep(seconds)
    finally:
        rec.close()
    beats = [f for f in rec.frames if f.kind == "udp"]
    senders = {f.src_ip for f in beats}
    if not beats:
        return HeartbeatCost(0, 0.0, 0.0)
    return HeartbeatCost(
        amphorae=len(senders),
        packets_per_s=len(beats) / seconds / len(senders),
        frame_bytes=sum(f.size for f in beats) / len(beats),
    )


@dataclass
class Measured:
    standby: Results
    single: Results
    cost: HeartbeatCost
    load: list[tuple[float, float, float]]  # os.getloadavg() before each topology's runs


def measure(
    runs: int,
    *,
    interval: float,
    timeout: float,
    spares: int,
    advert_int: float,
    single_runs: int | None = None,
) -> Measured:
    """ACTIVE_STANDBY then SINGLE on one ``hydria up`` (netns drivers)."""
    # HYDRIA_TEST_NET if set, else a third octet no other run or test holds
    n = int(os.environ.get("HYDRIA_TEST_NET") or netns_lab.octet_for_this_process())
    lab = netns_lab.Lab()
    mgmt_bridge = f"hydbr-f{lab.tag}"
    state = Path(tempfile.mkdtemp(prefix="hydria-bench-failover-"))
    bridges = [mgmt_bridge]
    env = {
        **netns_lab.deployment_env(n, mgmt_bridge),
        "HYDRIA_HEALTH_BIND": f"10.250.{n}.1:5555",
        "HYDRIA_HEARTBEAT_INTERVAL": str(interval),
        "HYDRIA_HEARTBEAT_TIMEOUT": str(timeout),
        "HYDRIA_RETIRE_DRAIN_SECONDS": "0",
        "HYDRIA_VRRP_ADVERT_INT": str(advert_int),
        "HYDRIA_SPARE_AMPHORA_POOL_SIZE": str(spares),
        # the spare pool refills at each housekeeping round
        "HYDRIA_HOUSEKEEPING_INTERVAL": "1" if spares else "30",
    }
    probes: list[subprocess.Popen[str]] = []
    wire: _wire_trace.Recorder | None = None
    results: list[Results] = []
    load = []
    cost = HeartbeatCost(0, 0.0, 0.0)
    try:
        with (
            hydria_up(state=state, driver="netns", **env) as endpoint,
            httpx.Client(base_url=endpoint + "/v2", timeout=30) as c,
        ):
            member_bridge = netns_lab.subnet_bridge(
                netns_lab.member_subnet(BIN / "hydria", state, n)
            )
            subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
            vip_bridge = netns_lab.subnet_bridge(subnet["id"])
            bridges += [vip_bridge, member_bridge]
            lab.bridge(vip_bridge)
            lab.bridge(member_bridge)
            client_ns = lab.host("c", vip_bridge, f"10.251.{n}.250/24")
            member = (f"10.252.{n}.11", 8080)
            lab.http_backend(lab.host("m", member_bridge, f"{member[0]}/24"), "web", *member)
            profile = c.post(
                "/lbaas/flavorprofiles",
                json={
                    "flavorprofile": {
                        "name": "ha",
                        "provider_name": "amphora",
                        "flavor_data": '{"loadbalancer_topology": "ACTIVE_STANDBY"}',
                    }
                },
            ).json()
            flavor = c.post(
                "/lbaas/flavors",
                json={
                    "flavor": {"name": "ha", "flavor_profile_id": profile["flavorprofile"]["id"]}
                },
            ).json()
            wire = _wire_trace.Recorder(vip_bridge)
            for flavor_id, want in ((flavor["flavor"]["id"], 2), (None, 1)):
                lb = _lb(c, subnet["id"], member, flavor_id)
                probe = subprocess.Popen(
                    [
                        "ip",
                        "netns",
                        "exec",
                        client_ns,
                        sys.executable,
                        "-c",
                        _PROBE,
                        lb["vip_address"],
                        "80",
                        str(PROBE_DEADLINE),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                probes.append(probe)
                if want == 1:
                    time.sleep(1)  # a few heartbeats of the new amphora
                    cost = heartbeat_cost(mgmt_bridge, 5555)
                load.append(os.getloadavg())
                results.append(
                    _runs(
                        c,
                        probe,
                        lb,
                        want=want,
                        runs=runs if want == 2 or single_runs is None else single_runs,
                        spares=spares,
                        log=state / "up.log",
                        wire=wire if want == 2 else None,
                    )
                )
                c.delete(f"/lbaas/loadbalancers/{lb['id']}?cascade=true")
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline:
                    res = c.get(f"/lbaas/loadbalancers/{lb['id']}")
                    if (
                        res.status_code == 404
                        or res.json()["loadbalancer"]["provisioning_status"] == "DELETED"
                    ):
                        break
                    time.sleep(0.2)
    finally:
        if wire is not None:
            wire.close()
        for probe in probes:
            probe.kill()
            probe.wait()
        netns_lab.remove_hydria_leftovers(mgmt_bridge, state / "amphorae")
        lab.cleanup()
        for bridge in bridges:
            netns_lab.ip("link", "del", bridge, check=False)
    return Measured(standby=results[0], single=results[1], cost=cost, load=load)
