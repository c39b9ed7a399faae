"""``bench/failover.py --topology ACTIVE_STANDBY``: how fast a VIP answers again
after the amphora serving it dies, with the ``netns`` drivers.

Each run freezes then SIGKILLs every process of the amphora that holds the
VIP (as an instance crash would; its namespace, and so its kernel, stays until
the controller fences it) and measures, from a client namespace on the VIP
subnet, the time to the first 200 through the VIP. ACTIVE_STANDBY: the BACKUP
takes the VIP over by VRRP. SINGLE, in the same run, as the baseline: the
health manager notices the silence (heartbeat timeout 3 s, interval 0.5 s) and
the controller builds a new amphora. Between runs the load balancer is
rebuilt to full strength.
"""

from __future__ import annotations

import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _harness import hydria_up, wait_status

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import netns_lab  # noqa: E402  (the namespaces the tests use)

BIN = Path(sys.executable).parent

#: seconds a probe waits for the VIP before the run is reported as a failure
PROBE_DEADLINE = 60.0

# waits for "go" on stdin, then polls the URL; prints the time of the first 200,
# or "timeout" once the deadline (argv[2] seconds) passed without one
_PROBE = """
import sys, time, urllib.request
url, deadline = sys.argv[1], float(sys.argv[2])
for line in sys.stdin:
    give_up = time.monotonic() + deadline
    while True:
        try:
            if urllib.request.urlopen(url, timeout=0.2).status == 200:
                print(f"{time.time():.6f}", flush=True)
                break
        except OSError:
            time.sleep(0.002)
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


def _runs(
    c: httpx.Client, probe: subprocess.Popen[str], lb: dict, want: int, runs: int
) -> list[float]:
    assert probe.stdin is not None and probe.stdout is not None
    times = []
    for _ in range(runs):
        victim = _holder(c, lb["id"], lb["vip_address"])
        pids = netns_lab.ns_pids(victim["compute_id"])
        subprocess.run(["kill", "-STOP", *map(str, pids)], check=False)
        subprocess.run(["kill", "-KILL", *map(str, pids)], check=False)
        killed = time.time()
        probe.stdin.write("go\n")
        probe.stdin.flush()
        answer = probe.stdout.readline().strip()
        if answer != "timeout" and answer:
            times.append(float(answer) - killed)
        else:
            raise TimeoutError(
                f"the VIP did not answer {PROBE_DEADLINE:g} s after the kill "
                f"of {victim['id']} ({victim['role']}): {_diagnose(c, lb)}"
            )
        _settle(c, lb["id"], want, victim["id"])
    return times


def measure(runs: int) -> tuple[list[float], list[float]]:
    """(ACTIVE_STANDBY, SINGLE) seconds from the kill to the first 200."""
    n = random.randint(1, 250)
    lab = netns_lab.Lab()
    mgmt_bridge = f"hydbr-f{lab.tag}"
    state = Path(tempfile.mkdtemp(prefix="hydria-bench-failover-"))
    bridges = [mgmt_bridge]
    env = {
        "HYDRIA_COMPUTE_DRIVER": "netns",
        "HYDRIA_NETNS_MGMT_BRIDGE": mgmt_bridge,
        "HYDRIA_MGMT_CIDR": f"10.250.{n}.0/24",
        "HYDRIA_MGMT_RANGE_START": f"10.250.{n}.10",
        "HYDRIA_MGMT_RANGE_END": f"10.250.{n}.250",
        "HYDRIA_DEFAULT_SUBNET_CIDR": f"10.251.{n}.0/24",
        "HYDRIA_HEALTH_BIND": f"10.250.{n}.1:5555",
        "HYDRIA_HEARTBEAT_INTERVAL": "0.5",
        "HYDRIA_HEARTBEAT_TIMEOUT": "3",
        "HYDRIA_RETIRE_DRAIN_SECONDS": "0",
    }
    probes: list[subprocess.Popen[str]] = []
    try:
        with (
            hydria_up(state=state, driver="netns", **env) as endpoint,
            httpx.Client(base_url=endpoint + "/v2", timeout=30) as c,
        ):
            made = subprocess.run(
                [
                    str(BIN / "hydria"),
                    "subnet",
                    "create",
                    "members",
                    "--cidr",
                    f"10.252.{n}.0/24",
                    "--allocation-start",
                    f"10.252.{n}.100",
                    "--state-dir",
                    str(state),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            member_bridge = "hydbr" + made.stdout.split()[0].replace("-", "")[:8]
            subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
            vip_bridge = "hydbr" + subnet["id"].replace("-", "")[:8]
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
            results = []
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
                        f"http://{lb['vip_address']}/",
                        str(PROBE_DEADLINE),
                    ],
                    stdin=subprocess.PIPE,
                    stdout=subprocess.PIPE,
                    text=True,
                )
                probes.append(probe)
                results.append(_runs(c, probe, lb, want, runs))
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
        for probe in probes:
            probe.kill()
            probe.wait()
        netns_lab.remove_hydria_leftovers(mgmt_bridge, state / "amphorae")
        lab.cleanup()
        for bridge in bridges:
            netns_lab.ip("link", "del", bridge, check=False)
    return results[0], results[1]
