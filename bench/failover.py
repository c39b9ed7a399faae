"""How fast does a dead amphora's VIP serve again?

One load balancer (HTTP listener, pool, one real back-end) on ``hydria up``
with ``heartbeat_interval`` 1 s and ``heartbeat_timeout`` 3 s. Each run
SIGKILLs its amphora (the agent and HAProxy's master and workers, all at once)
and measures the seconds to the first good HTTP response through the VIP; the
log says when the failure detector marked it (detection). Then it waits for the
load balancer to settle and for the new amphora's heartbeats before the next run.

Baselines from the same run: the heartbeat timeout itself (no detector that
waits for it can be faster), and the time Hydria needs to replace an amphora
when asked (``PUT /loadbalancers/{id}/failover`` on a live load balancer: a
fresh amphora boots, gets its configuration, the old one goes). Their sum is
the floor of an automatic failover; the ratio shows what detection and
hand-over add to it. (Detection can beat the timeout: the last heartbeat left
up to one interval before the kill, and the silence counts from it.)

    .venv/bin/python bench/failover.py [--runs 5]
    .venv/bin/python bench/failover.py --topology ACTIVE_STANDBY [--runs 20]   (root, netns)

``--topology ACTIVE_STANDBY`` runs both topologies on netns amphorae in one
``hydria up`` (``_netns_failover.py``) and prints each step of both
(``_netns_report.py``), the heartbeats' cost and the load average.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import re
import signal
import socket
import statistics
import time
from pathlib import Path

import httpx
from _harness import backends, build_http_lb, hydria_up, percentile, wait_status
from provision import wait_spares

from hydria.core.procs import pids_mentioning

INTERVAL, TIMEOUT = 1.0, 3.0


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def state_dir_of(amp_id: str) -> Path:
    """``hydria up``'s state folder, from the agent's ``--dir <state>/amphorae/<id>``."""
    for pid in pids_mentioning(amp_id):
        # NUL-separated for an agent spawned as an interpreter, one line with spaces
        # for one forked from the zygote (its title is set: hydria.agent.zygote)
        args = re.split(r"[\0 ]+", Path(f"/proc/{pid}/cmdline").read_bytes().decode())
        if "--dir" in args:
            return Path(args[args.index("--dir") + 1]).parent.parent
    raise RuntimeError(f"no agent for amphora {amp_id}")


def the_amphora(client: httpx.Client, lb_id: str) -> str:
    amps = client.get("/octavia/amphorae", params={"loadbalancer_id": lb_id}).json()["amphorae"]
    live = [a["id"] for a in amps if a["status"] != "DELETED"]
    if len(live) != 1:
        raise RuntimeError(f"expected one amphora, got {amps}")
    return str(live[0])


def serves(url: str, client: httpx.Client) -> bool:
    try:
        return client.get(url).status_code == 200
    except httpx.TransportError:
        return False


def settle(client: httpx.Client, lb_id: str, old_amp: str, timeout: float = 60.0) -> str:
    """Wait until ``old_amp`` was replaced and the load balancer is ACTIVE; give the
    new amphora a few heartbeats. Returns the new amphora's id."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lb = client.get(f"/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]
        if lb["provisioning_status"] == "ACTIVE":
            amp = the_amphora(client, lb_id)
            if amp != old_amp:
                time.sleep(3 * INTERVAL)
                return amp
        time.sleep(0.02)
    raise TimeoutError(f"amphora {old_amp} of {lb_id} not replaced")


def marked_at(log: Path, amp_id: str) -> float | None:
    """Epoch seconds of the detector's ``event=failover_requested`` for ``amp_id``."""
    pattern = re.compile(r"^(\S+ \S+) .*event=failover_requested amphora=" + re.escape(amp_id))
    for line in log.read_text(errors="replace").splitlines():
        if m := pattern.match(line):
            return dt.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
    return None


def kill_and_time(
    client: httpx.Client, web: httpx.Client, vip_url: str, lb_id: str
) -> tuple[float, float | None, str]:
    amp = the_amphora(client, lb_id)
    log = state_dir_of(amp) / "up.log"
    pids = pids_mentioning(amp)
    if len(pids) < 3:
        raise RuntimeError(f"amphora {amp}: expected agent + HAProxy master + worker: {pids}")
    killed_wall, t0 = time.time(), time.perf_counter()
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = t0 + 120
    while not serves(vip_url, web):
        if time.perf_counter() > deadline:
            raise TimeoutError(f"{vip_url} did not serve again")
        time.sleep(0.01)
    elapsed = time.perf_counter() - t0
    new = settle(client, lb_id, amp)
    mark = marked_at(log, amp)
    return elapsed, (mark - killed_wall if mark is not None else None), new


def replace_on_request(client: httpx.Client, lb_id: str) -> float:
    amp = the_amphora(client, lb_id)
    t0 = time.perf_counter()
    res = client.put(f"/lbaas/loadbalancers/{lb_id}/failover")
    if res.status_code != 202:
        raise RuntimeError(f"failover: {res.status_code} {res.text}")
    # the API made it PENDING_UPDATE with the 202: ACTIVE again means replaced
    wait_status(client, f"/lbaas/loadbalancers/{lb_id}", "loadbalancer", timeout=120)
    elapsed = time.perf_counter() - t0
    settle(client, lb_id, amp)
    return elapsed


def secs(values: list[float]) -> str:
    return (
        f"min {min(values):6.2f} s   p50 {statistics.median(values):6.2f} s   "
        f"p95 {percentile(values, 95):6.2f} s   n={len(values)}"
    )


def main() -> None:
    global INTERVAL, TIMEOUT  # the settings of this run; kill_and_time reads them
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument(
        "--topology",
        choices=["SINGLE", "ACTIVE_STANDBY"],
        default="SINGLE",
        help="ACTIVE_STANDBY: netns amphorae with VRRP, against netns SINGLE "
        "in the same run (bench/_netns_failover.py)",
    )
    parser.add_argument("--interval", type=float, default=INTERVAL, help="heartbeat interval")
    parser.add_argument("--timeout", type=float, default=TIMEOUT, help="heartbeat timeout")
    parser.add_argument(
        "--spares",
        type=int,
        default=0,
        help="spare amphorae: a replacement is taken warm, not booted",
    )
    parser.add_argument(
        "--advert-int",
        type=float,
        default=0.05,
        help="ACTIVE_STANDBY: keepalived's advert_int (HYDRIA_VRRP_ADVERT_INT)",
    )
    parser.add_argument(
        "--single-runs",
        type=int,
        default=None,
        help="ACTIVE_STANDBY: runs of the SINGLE baseline (default: --runs)",
    )
    args = parser.parse_args()
    if args.topology == "ACTIVE_STANDBY":
        from _netns_failover import measure
        from _netns_report import report

        report(
            measure(
                args.runs,
                interval=args.interval,
                timeout=args.timeout,
                spares=args.spares,
                advert_int=args.advert_int,
                single_runs=args.single_runs,
            ),
            advert_int=args.advert_int,
            interval=args.interval,
            timeout=args.timeout,
            spares=args.spares,
        )
        return
    INTERVAL, TIMEOUT = args.interval, args.timeout
    env = {
        "HYDRIA_HEARTBEAT_INTERVAL": str(INTERVAL),
        "HYDRIA_HEARTBEAT_TIMEOUT": str(TIMEOUT),
        "HYDRIA_SPARE_AMPHORA_POOL_SIZE": str(args.spares),
        # the spare pool refills at each housekeeping round
        "HYDRIA_HOUSEKEEPING_INTERVAL": "1" if args.spares else "30",
        "HYDRIA_HEALTH_BIND": f"127.0.0.1:{free_udp_port()}",
    }
    with (
        backends(1) as members,
        hydria_up(octet=165, **env) as endpoint,
        httpx.Client(base_url=endpoint + "/v2", timeout=30) as client,
        httpx.Client(timeout=0.5) as web,
    ):
        subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
        lb = build_http_lb(client, subnet["id"], [members[0]], "failover-bench")
        vip_url = f"http://{lb['vip_address']}:80/"
        time.sleep(3 * INTERVAL)  # a few heartbeats first
        load = os.getloadavg()
        requested = [replace_on_request(client, lb["id"]) for _ in range(args.runs)]
        samples, detections = [], []
        for _ in range(args.runs):
            if args.spares:
                wait_spares(client, args.spares)  # steady state: the pool has refilled
            elapsed, detected, _new = kill_and_time(client, web, vip_url, lb["id"])
            samples.append(elapsed)
            if detected is not None:
                detections.append(detected)
        client.delete(f"/lbaas/loadbalancers/{lb['id']}?cascade=true")
    floor = [TIMEOUT + r for r in requested]
    print(
        f"settings: heartbeat_interval {INTERVAL:g} s, heartbeat_timeout {TIMEOUT:g} s, "
        f"spares {args.spares}, "
        f"controller poll interval {os.environ.get('HYDRIA_POLL_INTERVAL', 'default (2 s)')}; "
        f"load (1/5/15 min) at the start {'/'.join(f'{x:.1f}' for x in load)}"
    )
    print(f"baseline: heartbeat timeout                  {TIMEOUT:6.2f} s")
    print(f"baseline: replace on request (PUT failover)  {secs(requested)}")
    print(f"baseline: timeout + replace on request       {secs(floor)}")
    if detections:
        print(f"SIGKILL -> marked for failover (detection)   {secs(detections)}")
    print(f"SIGKILL -> first 200 through the VIP         {secs(samples)}")
    print(
        f"ratio to the floor: p50 {percentile(samples, 50) / percentile(floor, 50):.2f}x   "
        f"p95 {percentile(samples, 95) / percentile(floor, 95):.2f}x"
    )


if __name__ == "__main__":
    main()
