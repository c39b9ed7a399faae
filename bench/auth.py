"""What Keystone costs a request once its token is warm: keystone-mode Hydria vs noauth.

Starts a real Keystone (``.venv-keystone``, as the ``keystone`` tests do) and
two ``hydria up --driver noop``: one with ``HYDRIA_AUTH_STRATEGY=keystone``
(tokens validated by keystonemiddleware's ``auth_token``, Octavia's policy on
oslo.policy), one with noauth. Each gets one load balancer of the same
project; one keep-alive client per side, one warm token on the Keystone side.

On a shared, noisy machine a figure from two back-to-back blocks measures the
noise as much as Hydria (earlier runs: 0.55..1.46). So the two sides are
interleaved request by request (keystone, noauth, keystone, ...; the side that
goes first alternates), both see the same moment of the machine, and each
round of ``--requests`` pairs gives one ratio: noauth's time over keystone's
(= keystone's rate over noauth's). Printed over ``--rounds`` rounds: the
median ratio, its quartiles and extremes (target: median >= 0.9), and each
side's median latency, and the CPU time each ``hydria up`` spent per request
(steadier than wall time on a loaded machine) with the ratio of those.

``--profile`` also times, in this process, what ``KeystoneAuth`` costs one
request with a warm token (no HTTP, an app that does nothing) and prints the
functions it spends that time in. (Through ``auth_token``'s own cache it was
~3.5 ms here, mostly WebOb header rewriting and date parsing; hence
``hydria.api.auth.token_memo``.)

    .venv/bin/python bench/auth.py [--requests 100] [--rounds 30] [--profile]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from _harness import hydria_up

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.keystone import Keystone, running_keystone  # noqa: E402


def make_lb(client: httpx.Client) -> str:
    subnet = client.get("/v2.0/subnets", params={"name": "public"}).json()["subnets"][0]["id"]
    r = client.post(
        "/v2/lbaas/loadbalancers", json={"loadbalancer": {"name": "bench", "vip_subnet_id": subnet}}
    )
    r.raise_for_status()
    return str(r.json()["loadbalancer"]["id"])


def timed_get(client: httpx.Client, path: str) -> float:
    start = time.perf_counter()
    r = client.get(path)
    took = time.perf_counter() - start
    if r.status_code != 200:
        raise RuntimeError(f"{path}: {r.status_code} {r.text}")
    return took


def interleaved_round(
    sides: dict[str, tuple[httpx.Client, str]], pairs: int, keystone_first: bool
) -> dict[str, list[float]]:
    """``pairs`` requests per side, alternating one by one; each request's latency."""
    order = ["keystone", "noauth"] if keystone_first else ["noauth", "keystone"]
    took: dict[str, list[float]] = {name: [] for name in sides}
    for _ in range(pairs):
        for name in order:
            client, path = sides[name]
            took[name].append(timed_get(client, path))
    return took


def spread(values: list[float]) -> str:
    q1, q2, q3 = statistics.quantiles(values, n=4)
    return (
        f"median {q2:.2f}  quartiles {q1:.2f}..{q3:.2f}  "
        f"range {min(values):.2f}..{max(values):.2f}  rounds {len(values)}"
    )


def profile_warm_token(ks: Keystone, token: str, calls: int) -> None:
    """What ``KeystoneAuth`` costs one request with a warm token, in this process:
    the ASGI middleware around an app that does nothing, on one token."""
    import asyncio
    import cProfile
    import pstats

    from hydria.api.auth.keystone import KeystoneAuth
    from hydria.config import Settings

    settings = Settings(
        state_dir=Path(tempfile.mkdtemp(prefix="hydria-bench-prof-")),
        auth_strategy="keystone",
        keystone_url=ks.url,
        keystone_username=ks.service_user,
        keystone_password=ks.service_password,
    )

    async def nothing(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": []})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: Any) -> None:
        if message["type"] == "http.response.start" and message["status"] != 200:
            raise RuntimeError(f"token refused: {message['status']}")

    auth = KeystoneAuth(nothing, settings)
    scope = {
        "type": "http",
        "method": "GET",
        "path": "/v2/lbaas/loadbalancers",
        "headers": [(b"x-auth-token", token.encode()), (b"accept", b"application/json")],
    }

    async def run(n: int) -> None:
        for _ in range(n):
            await auth(dict(scope), receive, send)

    asyncio.run(run(1))  # cold: validated by Keystone
    start = time.perf_counter()
    asyncio.run(run(calls))
    per_call = (time.perf_counter() - start) / calls
    print(f"warm token through KeystoneAuth, in process: {per_call * 1e6:.0f} us per request")
    prof = cProfile.Profile()
    prof.enable()
    asyncio.run(run(calls))
    prof.disable()
    pstats.Stats(prof).sort_stats("tottime").print_stats(8)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=100, help="pairs of requests a round")
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    from tests.support.backends import free_port

    keystone_port = free_port()
    with (
        running_keystone(Path(tempfile.mkdtemp(prefix="hydria-bench-ks-")), keystone_port) as ks,
        hydria_up(241, driver="noop") as noauth,
        hydria_up(242, driver="noop", **ks.hydria_env()) as keystone,
    ):
        project = ks.project_ids["project-a"]
        token = ks.token("project-a", "member")
        if args.profile:
            profile_warm_token(ks, token, 2000)
        clients = {
            "noauth": httpx.Client(base_url=noauth, headers={"X-Project-Id": project}, timeout=30),
            "keystone": httpx.Client(
                base_url=keystone, headers={"X-Auth-Token": token}, timeout=30
            ),
        }
        lbs = {name: make_lb(client) for name, client in clients.items()}
        paths = {
            "GET one": {name: f"/v2/lbaas/loadbalancers/{lb}" for name, lb in lbs.items()},
            "list": dict.fromkeys(lbs, "/v2/lbaas/loadbalancers"),
        }
        for what in paths:  # warm: the token is validated and cached here
            interleaved_round(
                {n: (clients[n], paths[what][n]) for n in clients}, 20, keystone_first=True
            )
        print(f"load average before (1, 5, 15 min): {os.getloadavg()}")
        print(
            f"{args.rounds} rounds of {args.requests} interleaved request pairs per figure, "
            "one keep-alive client per side"
        )
        ratios: dict[str, list[float]] = {what: [] for what in paths}
        latency: dict[str, dict[str, list[float]]] = {
            what: {n: [] for n in clients} for what in paths
        }
        # CPU seconds each ``hydria up`` spent per figure: on a loaded machine wall
        # time swings with the neighbours, the CPU a request costs much less
        procs = {"noauth": noauth, "keystone": keystone}
        cpu: dict[str, dict[str, float]] = {what: dict.fromkeys(clients, 0.0) for what in paths}
        for n in range(args.rounds):
            for what in paths:
                before = {name: proc.cpu_seconds() for name, proc in procs.items()}
                took = interleaved_round(
                    {name: (clients[name], paths[what][name]) for name in clients},
                    args.requests,
                    keystone_first=n % 2 == 0,
                )
                for name, proc in procs.items():
                    cpu[what][name] += proc.cpu_seconds() - before[name]
                ratios[what].append(sum(took["noauth"]) / sum(took["keystone"]))
                for name in clients:
                    latency[what][name] += took[name]
        print(f"load average (1, 5, 15 min): {os.getloadavg()}")
        for what, values in ratios.items():
            ms = {name: statistics.median(v) * 1000 for name, v in latency[what].items()}
            used = {name: cpu[what][name] / len(latency[what][name]) for name in clients}
            print(
                f"{what:<8} keystone/noauth rate: {spread(values)}   (target median >= 0.9)\n"
                f"{'':<8} median latency: noauth {ms['noauth']:.2f} ms, "
                f"keystone {ms['keystone']:.2f} ms\n"
                f"{'':<8} CPU per request: noauth {used['noauth'] * 1000:.2f} ms, keystone "
                f"{used['keystone'] * 1000:.2f} ms; keystone/noauth rate per CPU second "
                f"{used['noauth'] / used['keystone']:.2f}"
            )
        for client in clients.values():
            client.close()


if __name__ == "__main__":
    main()
