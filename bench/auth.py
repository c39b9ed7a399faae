"""What Keystone costs a request once its token is warm: keystone-mode Hydria vs noauth.

Starts a real Keystone (``.venv-keystone``, as the ``keystone`` tests do) and
two ``hydria up --driver noop``: one with ``HYDRIA_AUTH_STRATEGY=keystone``
(tokens validated by keystonemiddleware's ``auth_token``, Octavia's policy on
oslo.policy), one with noauth. Each gets one load balancer of the same
project. Then, rounds alternating between the two, one client (keep-alive)
sends ``--requests`` GETs of the load balancer and of the list, with one warm
token on the Keystone side. Printed: requests per second of each side per
round and the ratio keystone/noauth (target >= 0.9).

    .venv/bin/python bench/auth.py [--requests 500] [--rounds 3]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import httpx
from _harness import hydria_up

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from tests.support.keystone import running_keystone  # noqa: E402


def rate(client: httpx.Client, path: str, n: int) -> float:
    start = time.perf_counter()
    for _ in range(n):
        r = client.get(path)
        if r.status_code != 200:
            raise RuntimeError(f"{path}: {r.status_code} {r.text}")
    return n / (time.perf_counter() - start)


def make_lb(client: httpx.Client) -> str:
    subnet = client.get("/v2.0/subnets", params={"name": "public"}).json()["subnets"][0]["id"]
    r = client.post(
        "/v2/lbaas/loadbalancers", json={"loadbalancer": {"name": "bench", "vip_subnet_id": subnet}}
    )
    r.raise_for_status()
    return str(r.json()["loadbalancer"]["id"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=500)
    parser.add_argument("--rounds", type=int, default=3)
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
        sides = {
            "noauth": httpx.Client(base_url=noauth, headers={"X-Project-Id": project}, timeout=30),
            "keystone": httpx.Client(
                base_url=keystone, headers={"X-Auth-Token": token}, timeout=30
            ),
        }
        lbs = {name: make_lb(client) for name, client in sides.items()}
        for name, client in sides.items():  # warm: the token is validated and cached here
            rate(client, f"/v2/lbaas/loadbalancers/{lbs[name]}", 20)
        print(f"{args.requests} sequential requests per figure, one keep-alive client")
        print(f"{'round':>5} {'what':<10} {'noauth/s':>10} {'keystone/s':>11} {'ratio':>6}")
        ratios: dict[str, list[float]] = {"GET one": [], "list": []}
        for n in range(1, args.rounds + 1):
            for what in ratios:
                got = {}
                for name, client in sides.items():
                    path = (
                        f"/v2/lbaas/loadbalancers/{lbs[name]}"
                        if what == "GET one"
                        else "/v2/lbaas/loadbalancers"
                    )
                    got[name] = rate(client, path, args.requests)
                ratio = got["keystone"] / got["noauth"]
                ratios[what].append(ratio)
                print(
                    f"{n:>5} {what:<10} {got['noauth']:>10.0f} {got['keystone']:>11.0f} "
                    f"{ratio:>6.2f}"
                )
        for what, values in ratios.items():
            print(f"{what}: keystone/noauth {min(values):.2f}..{max(values):.2f} (target >= 0.9)")
        for client in sides.values():
            client.close()


if __name__ == "__main__":
    main()
