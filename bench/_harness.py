"""Shared bits of the benchmarks: a throwaway ``hydria up``, back-ends, stats."""

from __future__ import annotations

import contextlib
import http.client
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

import httpx

BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load() -> str:
    """The machine's load averages, printed beside every figure."""
    one, five, fifteen = os.getloadavg()
    return f"load {one:.1f} {five:.1f} {fifteen:.1f}"


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    k = max(0, min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1))))
    return ordered[k]


def summary(values: list[float]) -> str:
    return (
        f"p50 {statistics.median(values) * 1000:7.1f} ms   "
        f"p95 {percentile(values, 95) * 1000:7.1f} ms   n={len(values)}"
    )


class _Hello(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        body = self.server.name.encode()  # type: ignore[attr-defined]
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


class _Quiet(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A HAProxy stopped mid keep-alive resets its connection: not worth a traceback."""


@contextlib.contextmanager
def backends(count: int) -> Iterator[list[tuple[str, int]]]:
    servers = []
    for i in range(count):
        srv = _Quiet(("127.0.0.1", 0), _Hello)
        srv.name = f"backend-{i}"  # type: ignore[attr-defined]
        threading.Thread(target=srv.serve_forever, daemon=True).start()
        servers.append(srv)
    try:
        yield [s.server_address[:2] for s in servers]  # type: ignore[misc]
    finally:
        for s in servers:
            s.shutdown()
            s.server_close()


class Up(str):
    """The endpoint of a running ``hydria up`` (a str), with its log file beside it."""

    log: Path
    pid: int

    def cpu_seconds(self) -> float:
        """User + system CPU time ``hydria up`` has used so far (from /proc)."""
        return process_cpu_seconds(self.pid)

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds one process has used so far (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def hydria_up(
    octet: int | None = 240,
    *,
    driver: str = "local",
    state: Path | None = None,
    port: int | None = None,
    bin_dir: Path | None = None,
    **env: str,
) -> Iterator[Up]:
    """Run ``hydria up`` in ``state`` (a temporary dir by default); yield its endpoint.

    ``bin_dir`` runs another checkout's ``hydria`` (its venv's ``bin``), as a
    baseline in the same run. ``octet`` picks a /24 of VIPs and management addresses of its own (240 load
    balancers at most); ``None`` takes the whole /16s (bursts of hundreds).
    """
    state = state or Path(tempfile.mkdtemp(prefix="hydria-bench-"))
    port = port or free_port()
    # the second octet of VIPs (management: the next one), as the tests take it: two
    # people benchmarking on one machine each keep to their own /16s
    net = int(os.environ.get("HYDRIA_TEST_NET", "42"))
    if octet is None:
        ranges = {
            "HYDRIA_DEFAULT_SUBNET_CIDR": f"127.{net}.0.0/16",
            "HYDRIA_MGMT_RANGE_START": f"127.{net + 1}.0.10",
            "HYDRIA_MGMT_RANGE_END": f"127.{net + 1}.255.250",
        }
    else:
        ranges = {
            "HYDRIA_DEFAULT_SUBNET_CIDR": f"127.{net}.{octet}.0/24",
            "HYDRIA_MGMT_RANGE_START": f"127.{net + 1}.{octet}.10",
            "HYDRIA_MGMT_RANGE_END": f"127.{net + 1}.{octet}.250",
        }
    environ = {
        **os.environ,
        **ranges,
        # a UDP port of its own, so runs side by side never share a health manager
        "HYDRIA_HEALTH_BIND": f"127.0.0.1:{free_port()}",
        **env,
    }
    log = open(state / "up.log", "wb")
    proc = subprocess.Popen(
        [
            str((bin_dir or BIN) / "hydria"),
            "up",
            "--state-dir",
            str(state),
            "--port",
            str(port),
            "--no-clouds-yaml",
            "--driver",
            driver,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=environ,
        start_new_session=True,
        # amphora agents start as ``python -m``, which puts the working folder first
        # on sys.path: run from a checkout, another checkout's ``hydria_up`` (a
        # baseline, ``bin_dir``) would run this checkout's agent
        cwd=state,
    )
    endpoint = Up(f"http://127.0.0.1:{port}")
    endpoint.log = state / "up.log"
    endpoint.pid = proc.pid
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(endpoint + "/", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((state / "up.log").read_text())
            time.sleep(0.1)
        yield endpoint
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            proc.kill()
        subprocess.run(["pkill", "-f", str(state)], check=False)
        log.close()


def wait_status(
    client: httpx.Client,
    path: str,
    key: str,
    status: str = "ACTIVE",
    timeout: float = 60.0,
    *,
    interval: float = 0.02,
) -> dict:
    """GET ``path`` until its ``provisioning_status`` is ``status``: at once, then
    every ``interval`` s, as clients poll (openstacksdk's ``wait_for_status``: 2 s;
    the CLI's ``--wait``: 3 s). The default, 0.02 s, is a brisk client of our own;
    much faster polling only steals the CPU it waits on. The answer carries
    ``_polls``, how many GETs it took."""
    deadline = time.monotonic() + timeout
    polls = 0
    while time.monotonic() < deadline:
        polls += 1
        body = client.get(path).json()[key]
        if body["provisioning_status"] == status:
            return {**body, "_polls": polls}
        if body["provisioning_status"] == "ERROR":
            raise RuntimeError(f"{path} went to ERROR")
        time.sleep(interval)
    raise TimeoutError(path)


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Until ``url`` (plain HTTP) answers 200. The standard library's client: an
    ``httpx.Client`` loads a CA bundle when it is made (tens of ms on a busy
    machine), which would be counted against the load balancer."""
    parts = urlsplit(url)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        conn = http.client.HTTPConnection(parts.hostname or "", parts.port or 80, timeout=1)
        try:
            conn.request("GET", parts.path or "/")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        finally:
            conn.close()
        time.sleep(0.005)
    raise TimeoutError(url)


def build_http_lb(
    client: httpx.Client,
    subnet_id: str,
    members: list[tuple[str, int]],
    name: str,
    *,
    interval: float = 0.02,
    steps: list[tuple[str, float, int]] | None = None,
) -> dict:
    """LB, HTTP listener on 80, round-robin pool, members: each step waits for ACTIVE,
    as a user of the API (or Terraform) would, polling every ``interval`` s.
    ``steps`` gets (step, seconds from its POST to ACTIVE seen, GETs it took)."""

    lb: dict = {}

    def step(what: str, post: Callable[[], httpx.Response], root: str) -> dict:
        t0 = time.perf_counter()
        res = post()
        assert res.status_code == 201, res.text
        made = dict(res.json()[root])
        lb.update(made if root == "loadbalancer" else {})
        done = wait_status(
            client, f"/lbaas/loadbalancers/{lb['id']}", "loadbalancer", interval=interval
        )
        if steps is not None:
            steps.append((what, time.perf_counter() - t0, done["_polls"]))
        return made

    step(
        "loadbalancer",
        lambda: client.post(
            "/lbaas/loadbalancers",
            json={"loadbalancer": {"name": name, "vip_subnet_id": subnet_id}},
        ),
        "loadbalancer",
    )
    listener = step(
        "listener",
        lambda: client.post(
            "/lbaas/listeners",
            json={
                "listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 80}
            },
        ),
        "listener",
    )
    pool = step(
        "pool",
        lambda: client.post(
            "/lbaas/pools",
            json={
                "pool": {
                    "listener_id": listener["id"],
                    "protocol": "HTTP",
                    "lb_algorithm": "ROUND_ROBIN",
                }
            },
        ),
        "pool",
    )
    for i, (host, port) in enumerate(members):
        step(
            f"member {i + 1}",
            lambda host=host, port=port: client.post(  # type: ignore[misc]
                f"/lbaas/pools/{pool['id']}/members",
                json={"member": {"address": host, "protocol_port": port}},
            ),
            "member",
        )
    return lb
