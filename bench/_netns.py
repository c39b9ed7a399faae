"""``bench/provision.py --driver netns``: amphorae as namespaces against the
``local`` driver, in the same run, and what one idle netns amphora costs.

Each load balancer is one fully populated ``POST`` (listener, pool, two
members). Two times run from the ``POST``: to the first 200 through the VIP
(serving: a client probes from the moment the ``POST`` answers, as a user's
traffic would arrive, whatever the status says) and to ``ACTIVE`` in the API
(what a tool waits for before its next call). For ``netns`` the members live
in namespaces on a member subnet and the 200 is seen from a client namespace
on the VIP subnet (a probe started there once, so no process start is timed;
it connects with a 20 ms timeout and tries again, so an address not plugged
yet costs it no more than that). Everything the run makes is removed at the end.

With spares (``--spares N``, both drivers) each create waits until the pool
has refilled, and takes a pre-booted amphora (for ``netns``, a namespace whose
agent runs); with ``--against CHECKOUT`` the netns runs alternate between that
checkout and this one, each round printed with the machine's load. The memory
of an idle amphora is read from ``/proc`` for a SINGLE one and for an
ACTIVE_STANDBY one (with keepalived).
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from _harness import backends, hydria_up, load, percentile, summary, wait_http, wait_status
from provision import wait_spares

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from tests.support import netns_lab  # noqa: E402  (the same namespaces the tests use)

BIN = Path(sys.executable).parent

# reads "URL" lines on stdin, answers with the time.time() of each one's first 200
_PROBE = """
import sys, time, http.client
from urllib.parse import urlsplit
for line in sys.stdin:
    url = urlsplit(line.strip())
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection(url.hostname, url.port or 80, timeout=0.02)
        try:
            conn.request("GET", url.path or "/")
            conn.sock.settimeout(5)
            if conn.getresponse().status == 200:
                break
        except OSError:
            time.sleep(0.002)
        finally:
            conn.close()
    print(time.time(), flush=True)
"""


class Samples:
    """Seconds from each ``POST`` to its first 200 (``served``) and to ``ACTIVE``."""

    def __init__(self) -> None:
        self.served: list[float] = []
        self.active: list[float] = []

    def extend(self, other: Samples) -> None:
        self.served += other.served
        self.active += other.active


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


def _served_at(url: str, out: list[float]) -> None:
    wait_http(url)
    out.append(time.time())


def run_local(count: int, spares: int = 0) -> Samples:
    taken = Samples()
    with (
        backends(2) as members,
        hydria_up(HYDRIA_SPARE_AMPHORA_POOL_SIZE=str(spares)) as endpoint,
        httpx.Client(base_url=endpoint + "/v2", timeout=30) as c,
    ):
        subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
        for i in range(count):
            if spares:
                wait_spares(c, spares)
            served: list[float] = []
            t0 = time.time()
            lb = _post(c, subnet["id"], members, f"local-{i}")
            url = f"http://{lb['vip_address']}:80/"
            probe = threading.Thread(target=_served_at, args=(url, served))
            probe.start()
            wait_status(c, f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer")
            taken.active.append(time.time() - t0)
            probe.join()
            taken.served.append(served[0] - t0)
        _delete_all(c)
    return taken


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
        label = _label([p.decode() for p in name if p])
        lines.append(
            f"    {fields.get('Rss', 0):7d} KiB RSS {fields.get('Pss', 0):7d} KiB PSS  {label}"
        )
    return rss, pss, lines


def _label(argv: list[str]) -> str:
    """What a process is: a Python's module, else the program and its first words."""
    if not argv:
        return "?"
    program = Path(argv[0].split(":")[0].split()[0]).name  # sshd retitles itself "sshd: ..."
    if program.startswith("python") and "-m" in argv[:-1]:
        return argv[argv.index("-m") + 1]
    return " ".join([program, *argv[1:3]])[:60]


def _flavor(c: httpx.Client, topology: str) -> str:
    profile = c.post(
        "/lbaas/flavorprofiles",
        json={
            "flavorprofile": {
                "name": topology,
                "provider_name": "amphora",
                "flavor_data": f'{{"loadbalancer_topology": "{topology}"}}',
            }
        },
    ).json()["flavorprofile"]
    flavor = c.post(
        "/lbaas/flavors",
        json={"flavor": {"name": topology, "flavor_profile_id": profile["id"]}},
    ).json()["flavor"]
    return str(flavor["id"])


Memory = tuple[int, int, list[str]]


def run_netns(
    count: int, spares: int = 0, bin_dir: Path | None = None
) -> tuple[Samples, dict[str, Memory]]:
    # the third octet of its 10.250-252 networks: HYDRIA_TEST_NET if set, else one no
    # other run or test holds, so two never put one host address on two bridges
    n = int(os.environ.get("HYDRIA_TEST_NET") or netns_lab.octet_for_this_process())
    lab = netns_lab.Lab()
    mgmt_bridge = f"hydbr-b{lab.tag}"
    state = Path(tempfile.mkdtemp(prefix="hydria-bench-netns-"))
    bridges = [mgmt_bridge]
    env = {
        **netns_lab.deployment_env(n, mgmt_bridge),
        "HYDRIA_HEALTH_BIND": f"10.250.{n}.1:5555",
        "HYDRIA_SPARE_AMPHORA_POOL_SIZE": str(spares),
    }
    probe = None
    taken = Samples()
    memory: dict[str, Memory] = {}
    try:
        with (
            hydria_up(state=state, driver="netns", bin_dir=bin_dir, **env) as endpoint,
            httpx.Client(base_url=endpoint + "/v2", timeout=30) as c,
        ):
            member_bridge = netns_lab.subnet_bridge(
                netns_lab.member_subnet((bin_dir or BIN) / "hydria", state, n)
            )
            subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
            vip_bridge = netns_lab.subnet_bridge(subnet["id"])
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
                t0 = time.time()
                lb = _post(c, subnet["id"], members, f"netns-{i}")
                probe.stdin.write(f"http://{lb['vip_address']}:80/\n")
                probe.stdin.flush()
                wait_status(c, f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer")
                taken.active.append(time.time() - t0)
                taken.served.append(float(probe.stdout.readline()) - t0)
            # an ACTIVE_STANDBY pair: its amphorae run keepalived too
            if spares:
                wait_spares(c, spares)
            body = {"vip_subnet_id": subnet["id"], "flavor_id": _flavor(c, "ACTIVE_STANDBY")}
            pair = c.post("/lbaas/loadbalancers", json={"loadbalancer": body}).json()
            pair_id = pair["loadbalancer"]["id"]
            wait_status(c, f"/lbaas/loadbalancers/{pair_id}", "loadbalancer")
            time.sleep(3)  # idle: start-up allocations settled
            amps = c.get("/octavia/amphorae").json()["amphorae"]
            single = next(a for a in amps if a["loadbalancer_id"] not in (None, pair_id))
            memory["SINGLE"] = amphora_memory(single["compute_id"])
            master = next(a for a in amps if a["loadbalancer_id"] == pair_id)
            memory["ACTIVE_STANDBY"] = amphora_memory(master["compute_id"])
            _delete_all(c)
    finally:
        if probe is not None:
            probe.kill()
            probe.wait()
        netns_lab.remove_hydria_leftovers(mgmt_bridge, state / "amphorae")
        lab.cleanup()
        for bridge in bridges:
            netns_lab.ip("link", "del", bridge, check=False)
    return taken, memory


def _line(name: str, samples: list[float], base: list[float] | None = None) -> str:
    text = f"{name:<44} {summary(samples)}"
    if base:
        text += (
            f"   ratio p50 {percentile(samples, 50) / percentile(base, 50):.2f}x "
            f"p95 {percentile(samples, 95) / percentile(base, 95):.2f}x"
        )
    return text


def compare(count: int, *, spares: int = 0, against: Path | None = None, rounds: int = 2) -> None:
    if against is not None:
        alternate(count, spares, against, rounds)
        return
    before = load()
    local = run_local(count, spares)
    netns, memory = run_netns(count, spares)
    print(f"{spares} spare(s); {before} before, {load()} after")
    print(_line("local: POST -> first 200 via VIP (baseline)", local.served))
    print(_line("netns: POST -> first 200 via VIP", netns.served, local.served))
    print(_line("local: POST -> ACTIVE (baseline)", local.active))
    print(_line("netns: POST -> ACTIVE", netns.active, local.active))
    for name, samples in (("local", local.served), ("netns", netns.served)):
        print(f"{name} first 200, every run (ms): {sorted(round(t * 1000) for t in samples)}")
    for topology, (rss, pss, lines) in memory.items():
        print(
            f"one idle netns amphora, {topology}: {rss / 1024:.1f} MiB RSS, "
            f"{pss / 1024:.1f} MiB PSS (namespace and mounts: kernel memory, not counted)"
        )
        for line in lines:
            print(line)


def alternate(count: int, spares: int, other: Path, rounds: int) -> None:
    """netns amphorae, ``other`` checkout against this one, rounds alternating."""
    sides = {f"baseline {other}": other / ".venv" / "bin", "this checkout": None}
    taken = {k: Samples() for k in sides}
    for r in range(rounds):
        for name, bin_dir in sides.items():
            samples, _ = run_netns(count, spares, bin_dir)
            taken[name].extend(samples)
            print(
                f"round {r + 1}/{rounds} netns {name}: first 200 {summary(samples.served)}   "
                f"({load()})",
                flush=True,
            )
    base = taken[f"baseline {other}"]
    for name, got in taken.items():
        print(f"netns, {spares} spare(s), {name}:")
        print(_line("  POST -> first 200 via VIP", got.served, base.served))
        print(_line("  POST -> ACTIVE", got.active, base.active))
    print(load())
