"""The cost of a fleet: memory and CPU of N idle amphorae, per amphora.

``hydria up`` (local driver) gets N fully populated load balancers (HTTP
listener, pool, two members, an HTTP health monitor), each serving; then the
fleet idles for ``--idle`` seconds while heartbeats and health checks run.
Per amphora: proportional memory (PSS, from /proc/PID/smaps_rollup, so shared
pages are split fairly), CPU and wake-ups (schedstat) over the idle window,
for the agent and for its HAProxy (master and workers). The agents' figures
include the zygote they are forked from (``hydria.agent.zygote``), spread over them. The baseline, in the same run, is the
HAProxy processes alone: what any HAProxy-based load balancer pays.

    .venv/bin/python bench/fleet.py [--sizes 10,100] [--idle 30]
"""

from __future__ import annotations

import argparse
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from _harness import backends, hydria_up, load

TICK = os.sysconf("SC_CLK_TCK")


def pss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_ticks(pid: int) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])
    except OSError:
        return 0


def threads(pid: int) -> int:
    try:
        return len(os.listdir(f"/proc/{pid}/task"))
    except OSError:
        return 0


def timeslices(pid: int) -> dict[str, int]:
    """Per thread, how many times it has been scheduled (schedstat's third field):
    its wake-ups, near enough for an idle process."""
    out = {}
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return {}
    for task in tasks:
        try:
            out[task] = int(Path(f"/proc/{pid}/task/{task}/schedstat").read_text().split()[2])
        except (OSError, IndexError, ValueError):
            pass
    return out


def woke(before: dict[str, int], after: dict[str, int]) -> int:
    """Wake-ups between two ``timeslices`` of threads alive at both (an exited
    thread's count is gone, a new one's began mid-window)."""
    return sum(after[t] - before[t] for t in after if t in before)


def fleet_pids(state: Path) -> tuple[list[int], list[int], list[int]]:
    """(agent pids, HAProxy pids, zygote pids) of the amphorae under ``state``: the
    zygote the agents are forked from is a cost of the fleet's agents, shared by them."""
    agents, haproxies, zygotes = [], [], []
    marker = str(state / "amphorae").encode()
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmd = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if marker not in cmd:
            continue
        if b"amphora-agent" in cmd:
            agents.append(int(entry))
        elif b"\0zygote\0" in cmd:
            zygotes.append(int(entry))
        elif b"haproxy" in cmd.split(b"\0")[0]:
            haproxies.append(int(entry))
    return agents, haproxies, zygotes


def populate(endpoint: str, count: int, members: list[tuple[str, int]]) -> None:
    subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]["id"]
    body = {
        "vip_subnet_id": subnet,
        "listeners": [
            {
                "protocol": "HTTP",
                "protocol_port": 80,
                "default_pool": {
                    "name": "web",
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                    "healthmonitor": {"type": "HTTP", "delay": 5, "timeout": 2, "max_retries": 2},
                    "members": [{"address": h, "protocol_port": p} for h, p in members],
                },
            }
        ],
    }
    with httpx.Client(base_url=endpoint + "/v2", timeout=120) as c:

        def post(i: int) -> str:
            res = c.post(
                "/lbaas/loadbalancers", json={"loadbalancer": {**body, "name": f"fleet-{i}"}}
            )
            assert res.status_code == 201, res.text
            return str(res.json()["loadbalancer"]["id"])

        with ThreadPoolExecutor(4) as pool:
            ids = set(pool.map(post, range(count)))
        deadline = time.monotonic() + 120 + count * 3
        while True:
            lbs = c.get("/lbaas/loadbalancers").json()["loadbalancers"]
            if sum(lb["provisioning_status"] == "ACTIVE" for lb in lbs if lb["id"] in ids) == len(
                ids
            ):
                return
            if time.monotonic() > deadline:
                raise TimeoutError("fleet not ACTIVE")
            time.sleep(0.5)


def measure(count: int, idle: float, members: list[tuple[str, int]]) -> dict[str, float]:
    env = {"HYDRIA_HEARTBEAT_INTERVAL": "10"}  # the production default
    with hydria_up(None, **env) as endpoint:
        state = endpoint.log.parent
        populate(endpoint, count, members)
        time.sleep(5)  # boots and first health checks settle
        agents, haproxies, zygotes = fleet_pids(state)
        before = {p: cpu_ticks(p) for p in agents + haproxies + zygotes}
        slices = {p: timeslices(p) for p in agents + haproxies + zygotes}
        time.sleep(idle)
        amphorae, haproxies, zygotes = fleet_pids(state)
        agents = amphorae + zygotes  # the zygote's share is counted with the agents'
        cpu = {p: cpu_ticks(p) - before.get(p, cpu_ticks(p)) for p in agents + haproxies}
        wakes = {p: woke(slices.get(p, {}), timeslices(p)) for p in agents + haproxies}
        n = max(len(amphorae), 1)
        return {
            "amphorae": float(len(amphorae)),
            "agent_mb": sum(pss_kb(p) for p in agents) / 1024 / n,
            "haproxy_mb": sum(pss_kb(p) for p in haproxies) / 1024 / n,
            "agent_cpu_ms_per_min": sum(cpu[p] for p in agents) / TICK * 1000 / n / idle * 60,
            "haproxy_cpu_ms_per_min": sum(cpu[p] for p in haproxies) / TICK * 1000 / n / idle * 60,
            "agent_threads": sum(threads(p) for p in agents) / n,
            "agent_wakeups": sum(wakes[p] for p in agents) / n / idle,
            "haproxy_wakeups": sum(wakes[p] for p in haproxies) / n / idle,
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="10,100")
    parser.add_argument("--idle", type=float, default=30.0)
    args = parser.parse_args()
    with backends(2) as members:
        rows = [(int(n), measure(int(n), args.idle, members)) for n in args.sizes.split(",")]
    print(
        "per amphora, idle            | agent PSS | HAProxy PSS (baseline) | ratio "
        "| agent CPU | HAProxy CPU (baseline) | ratio | agent threads "
        f"| wake-ups/s agent, HAProxy ({load()})"
    )
    for n, r in rows:
        print(
            f"N={n:<4} ({r['amphorae']:.0f} running)      | {r['agent_mb']:6.1f} MB | "
            f"{r['haproxy_mb']:6.1f} MB              | {r['agent_mb'] / r['haproxy_mb']:4.2f}x "
            f"| {r['agent_cpu_ms_per_min']:5.0f} ms/min | {r['haproxy_cpu_ms_per_min']:5.0f} "
            f"ms/min           | {r['agent_cpu_ms_per_min'] / max(r['haproxy_cpu_ms_per_min'], 0.01):4.2f}x "
            f"| {r['agent_threads']:.0f} "
            f"| {r['agent_wakeups']:.1f}, {r['haproxy_wakeups']:.1f}"
        )


if __name__ == "__main__":
    main()
