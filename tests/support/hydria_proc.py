"""Run ``hydria up`` as a real process for end-to-end tests."""

from __future__ import annotations

import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

from tests.support.backends import free_port
from tests.support.procs import kill_all_mentioning, pids_mentioning

# Each `hydria up` takes the next octet for its VIP subnet and management range.
# pytest-xdist workers (gw0, gw1, ...) start 60 apart, so parallel workers never
# hand two load balancers the same VIP address.
_worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
_octets = itertools.count(
    int(os.environ.get("HYDRIA_TEST_OCTET_BASE", "10"))
    + 60 * (int(_worker) if _worker.isdigit() else 0)
)
# The second octet of every VIP subnet (management: the next one); a second
# suite running on the same machine at the same time picks another.
NET = int(os.environ.get("HYDRIA_TEST_NET", "42"))
BIN = Path(sys.executable).parent


def free_udp_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class HydriaUp:
    """One ``hydria up`` with its own state dir, port, VIP subnet and mgmt range."""

    def __init__(
        self,
        state_dir: Path,
        *,
        extra_env: dict[str, str] | None = None,
        args: tuple[str, ...] = (),
        cwd: Path | None = None,
    ) -> None:
        n = next(_octets) % 250 + 1
        self.cwd = cwd  # where it runs from (None: the test's own folder)
        self.state_dir = state_dir
        self.port = free_port()
        self.endpoint = f"http://127.0.0.1:{self.port}"
        self.subnet_cidr = f"127.{NET}.{n}.0/24"
        # heartbeats: a UDP port of its own, so parallel runs never share 5555
        self.health_port = free_udp_port()
        self.health_bind = f"127.0.0.1:{self.health_port}"
        self.env = {
            **os.environ,
            "HYDRIA_DEFAULT_SUBNET_CIDR": self.subnet_cidr,
            "HYDRIA_MGMT_RANGE_START": f"127.{NET + 1}.{n}.10",
            "HYDRIA_MGMT_RANGE_END": f"127.{NET + 1}.{n}.250",
            "HYDRIA_POLL_INTERVAL": "0.5",
            "HYDRIA_HEALTH_BIND": self.health_bind,
            **(extra_env or {}),
        }
        self.args = args  # more `hydria up` options, e.g. ("--driver", "noop")
        self.proc: subprocess.Popen[bytes] | None = None
        self.log_path = state_dir / "hydria-up.log"

    def start(self, timeout: float = 60.0) -> None:
        self.state_dir.mkdir(parents=True, exist_ok=True)
        log = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            [
                str(BIN / "hydria"),
                "up",
                "--state-dir",
                str(self.state_dir),
                "--port",
                str(self.port),
                "--no-clouds-yaml",
                *self.args,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,
            cwd=self.cwd,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(
                    f"hydria up exited {self.proc.returncode}:\n{self.log(tail=8000)}"
                )
            try:
                if httpx.get(self.endpoint + "/", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"hydria up did not answer in {timeout}s:\n{self.log(tail=8000)}")

    def stop(self, timeout: float = 60.0) -> None:
        """A clean stop (SIGTERM): amphorae are stopped on purpose."""
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def kill(self) -> None:
        """A crash (SIGKILL): amphorae keep running."""
        if self.proc and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()

    def cleanup(self) -> None:
        self.stop()
        kill_all_mentioning(str(self.state_dir))

    def log(self, tail: int | None = None) -> str:
        """The whole log (searching a tail can miss a line a burst pushed out)."""
        try:
            text = self.log_path.read_text()
        except OSError:
            return ""
        return text[-tail:] if tail else text

    # -- clients -------------------------------------------------------------

    def openstack(self, *args: str, parse: bool = True) -> Any:
        cmd = [
            str(BIN / "openstack"),
            "--os-auth-type",
            "none",
            "--os-endpoint",
            self.endpoint,
            *args,
        ]
        if parse:
            cmd += ["-f", "json"]
        res = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            raise AssertionError(
                f"{' '.join(args)} failed ({res.returncode}):\n{res.stderr}"
                f"\n--- hydria log ---\n{self.log(tail=8000)}"
            )
        return json.loads(res.stdout) if parse and res.stdout.strip() else res.stdout

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=self.endpoint + "/v2", timeout=30)

    def wait_for(
        self, path: str, key: str, status: str, *, timeout: float = 60.0, absent_ok: bool = False
    ) -> dict[str, Any]:
        """Poll ``GET path`` until ``provisioning_status`` is ``status``."""
        deadline = time.monotonic() + timeout
        body: dict[str, Any] = {}
        with self.api() as client:
            while time.monotonic() < deadline:
                res = client.get(path)
                assert res.status_code < 500, res.text
                if res.status_code == 404 and absent_ok:
                    return {}
                body = res.json().get(key, {})
                if body.get("provisioning_status") == status:
                    return body
                assert body.get("provisioning_status") != "ERROR" or status == "ERROR", (
                    f"{path} went to ERROR\n{self.log(tail=8000)}"
                )
                time.sleep(0.05)
        raise AssertionError(f"{path} not {status} in {timeout}s: {body}\n{self.log(tail=8000)}")


@contextmanager
def running(
    state_dir: Path,
    *,
    extra_env: dict[str, str] | None = None,
    args: tuple[str, ...] = (),
    cwd: Path | None = None,
) -> Iterator[HydriaUp]:
    """A started ``hydria up``, cleaned up afterwards; fails if it left processes behind."""
    up = HydriaUp(state_dir, extra_env=extra_env, args=args, cwd=cwd)
    try:
        up.start()
        yield up
    finally:
        up.cleanup()
    assert pids_mentioning(str(up.state_dir)) == [], "processes left behind"
