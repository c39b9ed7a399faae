"""Scaling out and taking over: controllers sharing one PostgreSQL.

1. Throughput: N load balancers exist; 200 changes (PUT of a load balancer's
   description, each a rendered, checked and reloaded configuration) are sent,
   each as soon as its load balancer is ACTIVE again; the time until all 200 are
   converged, with 1 controller and with 2. Printed as a ratio.
2. Takeover: a controller is SIGKILLed while it holds an unfinished load balancer;
   the time until the other one has converged it, against the lease time (the
   floor by design: the lease must run out before anyone else may touch it).

    .venv/bin/python bench/controllers.py [--changes 200] [--lbs 20] [--lease 3]
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import sqlalchemy as sa
from _harness import BIN, free_port, percentile, summary

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@contextlib.contextmanager
def database() -> Iterator[str]:
    name = f"hydria_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


class Deployment:
    """``hydria api`` plus controllers as separate processes on one database."""

    def __init__(self, db_url: str, lease: float, octet: int = 245) -> None:
        self.state = Path(tempfile.mkdtemp(prefix="hydria-bench-ctl-"))
        self.env = {
            **os.environ,
            "HYDRIA_DATABASE_URL": db_url,
            "HYDRIA_STATE_DIR": str(self.state),
            "HYDRIA_MGMT_RANGE_START": f"127.43.{octet}.10",
            "HYDRIA_MGMT_RANGE_END": f"127.43.{octet}.250",
            "HYDRIA_HEALTH_BIND": f"127.0.0.1:{free_port()}",
            "HYDRIA_LEASE_SECONDS": str(lease),
            "HYDRIA_POLL_INTERVAL": "0.5",
            # split services take the deployment's key and CA from the operator
            "HYDRIA_HEARTBEAT_KEY": secrets.token_hex(32),
        }
        self.cidr = f"127.42.{octet}.0/24"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}

    def hydria(self, *args: str) -> None:
        subprocess.run([str(BIN / "hydria"), *args], env=self.env, check=True, capture_output=True)

    def start(self, name: str, *args: str) -> None:
        log = open(self.state / f"{name}.log", "ab")
        self.procs[name] = subprocess.Popen(
            [str(BIN / "hydria"), *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def log(self, name: str) -> str:
        return (self.state / f"{name}.log").read_text(errors="replace")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(60)

    def close(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)
        subprocess.run(["pkill", "-f", str(self.state)], check=False)
        time.sleep(0.5)
        subprocess.run(["pkill", "-9", "-f", str(self.state)], check=False)
        shutil.rmtree(self.state, ignore_errors=True)


def wait_api(endpoint: str) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            if httpx.get(endpoint + "/", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise TimeoutError(endpoint)


def status(c: httpx.Client, lb_id: str) -> str:
    return c.get(f"/lbaas/loadbalancers/{lb_id}").json()["loadbalancer"]["provisioning_status"]


def statuses(c: httpx.Client) -> dict[str, str]:
    """Every load balancer's status in one call, so the client stays light."""
    lbs = c.get("/lbaas/loadbalancers", params={"fields": ["id", "provisioning_status"]})
    return {lb["id"]: lb["provisioning_status"] for lb in lbs.json()["loadbalancers"]}


def converge_changes(c: httpx.Client, ids: list[str], changes: int) -> float:
    """Send ``changes`` updates spread over ``ids``; time until all are converged."""
    left = {
        i: changes // len(ids) + (1 if n < changes % len(ids) else 0) for n, i in enumerate(ids)
    }
    t0 = time.perf_counter()
    sent = 0
    while True:
        now = statuses(c)
        if not any(left.values()) and all(now[i] == "ACTIVE" for i in ids):
            return time.perf_counter() - t0
        for lb_id in ids:
            if now[lb_id] == "ERROR":
                raise RuntimeError(f"{lb_id} went to ERROR")
            if left[lb_id] and now[lb_id] == "ACTIVE":
                res = c.put(
                    f"/lbaas/loadbalancers/{lb_id}",
                    json={"loadbalancer": {"description": f"change {sent}"}},
                )
                if res.status_code == 200:
                    left[lb_id] -= 1
                    sent += 1
                elif res.status_code != 409:
                    raise RuntimeError(res.text)
        time.sleep(0.02)


def throughput(controllers: int, changes: int, lbs: int, lease: float) -> float:
    with database() as url:
        dep = Deployment(url, lease)
        try:
            dep.hydria("certs", "init")
            dep.hydria("db", "upgrade")
            dep.hydria("subnet", "create", "public", "--cidr", dep.cidr)
            port = free_port()
            dep.start("api", "api", "--port", str(port))
            endpoint = f"http://127.0.0.1:{port}"
            wait_api(endpoint)
            for n in range(controllers):
                dep.start(f"c{n}", "controller")
            subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
            with httpx.Client(base_url=endpoint + "/v2", timeout=30) as c:
                ids = [
                    c.post(
                        "/lbaas/loadbalancers",
                        json={"loadbalancer": {"vip_subnet_id": subnet["id"]}},
                    ).json()["loadbalancer"]["id"]
                    for _ in range(lbs)
                ]
                while any(status(c, i) != "ACTIVE" for i in ids):
                    time.sleep(0.1)
                return converge_changes(c, ids, changes)
        finally:
            dep.close()


def takeover(runs: int, lease: float) -> list[float]:
    samples = []
    with database() as url:
        dep = Deployment(url, lease, octet=246)
        try:
            dep.hydria("certs", "init")
            dep.hydria("db", "upgrade")
            dep.hydria("subnet", "create", "public", "--cidr", dep.cidr)
            port = free_port()
            dep.start("api", "api", "--port", str(port))
            endpoint = f"http://127.0.0.1:{port}"
            wait_api(endpoint)
            subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]
            with httpx.Client(base_url=endpoint + "/v2", timeout=30) as c:
                for n in range(runs):
                    dep.start("victim", "controller")
                    time.sleep(1.0)  # let it start listening before the work arrives
                    lb_id = c.post(
                        "/lbaas/loadbalancers",
                        json={"loadbalancer": {"vip_subnet_id": subnet["id"]}},
                    ).json()["loadbalancer"]["id"]
                    deadline = time.monotonic() + 30
                    while f"lb={lb_id}" not in dep.log("victim"):
                        if time.monotonic() > deadline:
                            raise TimeoutError("the victim never claimed the work")
                        time.sleep(0.001)
                    dep.kill("victim")
                    t0 = time.perf_counter()
                    dep.start(f"survivor-{n}", "controller")
                    while status(c, lb_id) != "ACTIVE":
                        time.sleep(0.02)
                    samples.append(time.perf_counter() - t0)
                    dep.kill(f"survivor-{n}", signal.SIGTERM)
        finally:
            dep.close()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--changes", type=int, default=200)
    parser.add_argument("--lbs", type=int, default=20)
    parser.add_argument("--lease", type=float, default=3.0)
    parser.add_argument("--takeovers", type=int, default=5)
    args = parser.parse_args()
    one = throughput(1, args.changes, args.lbs, args.lease)
    two = throughput(2, args.changes, args.lbs, args.lease)
    taken = takeover(args.takeovers, args.lease)
    print(f"{args.changes} changes over {args.lbs} load balancers:")
    print(f"  1 controller:  {one:6.2f} s  ({args.changes / one:5.1f} changes/s)")
    print(f"  2 controllers: {two:6.2f} s  ({args.changes / two:5.1f} changes/s)")
    print(f"  ratio 1/2: {one / two:.2f}x")
    print(f"takeover after SIGKILL (lease {args.lease:.1f} s, the floor): {summary(taken)}")
    print(f"  ratio p95 / lease: {percentile(taken, 95) / args.lease:.2f}")


if __name__ == "__main__":
    main()
