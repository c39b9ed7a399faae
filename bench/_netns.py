"""``bench/provision.py --driver netns``: amphorae as namespaces against the
``local`` driver, in the same run, and what one idle netns amphora costs.

Each load balancer is one fully populated ``POST`` (listener, pool, two
members); the time runs to the first 200 through the VIP. For ``netns`` the
members live in namespaces on a member subnet and the 200 is seen from a
client namespace on the VIP subnet (a probe started there once, so no process
start is timed). Everything the run makes is removed at the end.

With spares (``--spares N``, both drivers) each create waits until the pool
has refilled, and takes a pre-booted amphora (for ``netns``, a namespace whose
agent runs); with ``--against CHECKOUT`` the netns runs alternate between that
checkout and this one, each round printed with the machine's load.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _harness import backends, hydria_up, load, percentile, summary, wait_http, wait_status
from provision import wait_spares

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import netns_lab  # noqa: E402  (the same namespaces the tests use)

BIN = Path(sys.executable).parent

# reads URLs on stdin, answers "ok" once each one gave a 200
_PROBE = """
import sys, time, urllib.request
for line in sys.stdin:
    url = line.strip()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(url, timeout=1).status == 200:
                break
        except OSError:
            time.sleep(0.005)
    print("ok", flush=True)
"""


def _post(client: httpx.Client, subnet_id: str, members: list[tuple[str, int]], name: str) -> dict:
    res = client.post(
        "/lbaas/loadbalancers",
        json={
            "loadbalancer": {
                "name": name,
                "vip_subnet_id": subnet_id,
                "listeners": [
                    {
                        "protocol": "HTTP",
                        "protocol_port": 80,
                        "default_pool": {
                            "name": "web",
                            "protocol": "HTTP",
                            "lb_algorithm": "ROUND_ROBIN",
                            "members": [{"address": h, "protocol_port": p} for h, p in members],
                        },
                    }
                ],
            }
        },
    )
    assert res.status_code == 201, res.text
    return res.json()["loadbalancer"]


def _delete_all(client: httpx.Client) -> None:
    for lb in client.get("/lbaas/loadbalancers").json()["loadbalancers"]:
        client.delete(f"/lbaas/loadbalancers/{lb['id']}?cascade=true")
    deadline = time.monotonic() + 120
    while (
        time.monotonic() < deadline and client.get("/lbaas/loadbalancers").json()["loadbalancers"]
    ):
        time.sleep(0.2)


def run_local(count: int, spares: int = 0) -> list[float]:
    times = []
    with (
        backends(2) as members,
        hydria_up(HYDRIA_SPARE_AMPHORA_POOL_SIZE=str(spares)) as endpoint,
        httpx.Client(base_url=endpoint + "/v2", timeout=30) as c,
    ):
        subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
        for i in range(count):
            if spares:
                wait_spares(c, spares)
            t0 = time.perf_counter()
            lb = _post(c, subnet["id"], members, f"local-{i}")
            wait_status(c, f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer")
            wait_http(f"http://{lb['vip_address']}:80/")
            times.append(time.perf_counter() - t0)
        _delete_all(c)
    return times


def amphora_memory(ns: str) -> tuple[int, int, list[str]]:
    """(RSS, PSS) in KiB summed over every process in ``ns``, and one line each."""
    rss = pss = 0
    lines = []
    for pid in netns_lab.ns_pids(ns):
        try:
            roll = Path(f"/proc/{pid}/smaps_rollup").read_text()
            name = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = {
            k: int(v.split()[0]) for k, v in (line.split(":", 1) for line in roll.splitlines()[1:])
        }
        rss += fields.get("Rss", 0)
        pss += fields.get("Pss", 0)
        label = " ".join(p.decode() for p in name[:3])[:70]
        lines.append(
            f"    {fields.get('Rss', 0):7d} KiB RSS {fields.get('Pss', 0):7d} KiB PSS  {label}"
        )
    return rss, pss, lines


def run_netns(
    count: int, spares: int = 0, bin_dir: Path | None = None
) -> tuple[list[float], tuple[int, int, list[str]]]:
    # the third octet of its 10.250-252 networks: the engineer's own (HYDRIA_TEST_NET)
    # when sharing a machine, so two runs never put one host address on two bridges
    n = int(os.environ.get("HYDRIA_TEST_NET") or random.randint(1, 250))
    lab = netns_lab.Lab()
    mgmt_bridge = f"hydbr-b{lab.tag}"
    state = Path(tempfile.mkdtemp(prefix="hydria-bench-netns-"))
    bridges = [mgmt_bridge]
    env = {
        "HYDRIA_COMPUTE_DRIVER": "netns",
        "HYDRIA_NETNS_MGMT_BRIDGE": mgmt_bridge,
        "HYDRIA_MGMT_CIDR": f"10.250.{n}.0/24",
        "HYDRIA_MGMT_RANGE_START": f"10.250.{n}.10",
        "HYDRIA_MGMT_RANGE_END": f"10.250.{n}.250",
        "HYDRIA_DEFAULT_SUBNET_CIDR": f"10.251.{n}.0/24",
        "HYDRIA_HEALTH_BIND": f"10.250.{n}.1:5555",
        "HYDRIA_SPARE_AMPHORA_POOL_SIZE": str(spares),
    }
    probe = None
    times: list[float] = []
    try:
        with (
            hydria_up(state=state, driver="netns", bin_dir=bin_dir, **env) as endpoint,
            httpx.Client(base_url=endpoint + "/v2", timeout=30) as c,
        ):
            made = subprocess.run(
                [
                    str((bin_dir or BIN) / "hydria"),
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
            members = []
            for i in range(2):
                address = f"10.252.{n}.{11 + i}"
                lab.http_backend(
                    lab.host(f"m{i}", member_bridge, f"{address}/24"), f"web-{i}", address, 8080
                )
                members.append((address, 8080))
            probe = subprocess.Popen(
                ["ip", "netns", "exec", client_ns, sys.executable, "-c", _PROBE],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert probe.stdin is not None and probe.stdout is not None
            for i in range(count):
                if spares:
                    wait_spares(c, spares)
                t0 = time.perf_counter()
                lb = _post(c, subnet["id"], members, f"netns-{i}")
                wait_status(c, f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer")
                probe.stdin.write(f"http://{lb['vip_address']}:80/\n")
                probe.stdin.flush()
                assert probe.stdout.readline().strip() == "ok"
                times.append(time.perf_counter() - t0)
            time.sleep(3)  # idle: start-up allocations settled
            amps = c.get("/octavia/amphorae").json()["amphorae"]
            amp = next(a for a in amps if a["loadbalancer_id"])
            memory = amphora_memory(amp["compute_id"])
            _delete_all(c)
    finally:
        if probe is not None:
            probe.kill()
            probe.wait()
        netns_lab.remove_hydria_leftovers(mgmt_bridge, state / "amphorae")
        lab.cleanup()
        for bridge in bridges:
            netns_lab.ip("link", "del", bridge, check=False)
    return times, memory


def compare(count: int, *, spares: int = 0, against: Path | None = None, rounds: int = 2) -> None:
    if against is not None:
        alternate(count, spares, against, rounds)
        return
    local = run_local(count, spares)
    netns, (rss, pss, lines) = run_netns(count, spares)
    print(f"local: 1 POST -> first 200 via VIP (baseline): {summary(local)}")
    print(
        f"netns: 1 POST -> first 200 via VIP:            {summary(netns)}   "
        f"ratio p50 {percentile(netns, 50) / percentile(local, 50):.2f}x "
        f"p95 {percentile(netns, 95) / percentile(local, 95):.2f}x"
    )
    print(f"one idle netns amphora: {rss / 1024:.1f} MiB RSS, {pss / 1024:.1f} MiB PSS")
    for line in lines:
        print(line)


def alternate(count: int, spares: int, other: Path, rounds: int) -> None:
    """netns amphorae, ``other`` checkout against this one, rounds alternating."""
    sides = {f"baseline {other}": other / ".venv" / "bin", "this checkout": None}
    taken: dict[str, list[float]] = {k: [] for k in sides}
    for r in range(rounds):
        for name, bin_dir in sides.items():
            times, _ = run_netns(count, spares, bin_dir)
            taken[name].extend(times)
            print(f"round {r + 1}/{rounds} netns {name}: {summary(times)}   ({load()})", flush=True)
    base, mine = taken[f"baseline {other}"], taken["this checkout"]
    for name, samples in taken.items():
        print(f"netns, 1 POST -> first 200 via VIP, {spares} spare(s), {name}: {summary(samples)}")
    print(
        f"this checkout / baseline: p50 {percentile(mine, 50) / percentile(base, 50):.2f}x "
        f"p95 {percentile(mine, 95) / percentile(base, 95):.2f}x   ({load()})"
    )
