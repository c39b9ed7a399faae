"""Hydria as separate processes (``hydria api`` and ``hydria controller``) on one
database and one state folder, the way an operator scales out."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.backends import free_port
from tests.support.hydria_proc import BIN, NET
from tests.support.procs import kill_all_mentioning


class Split:
    def __init__(self, state_dir: Path, db_url: str, octet: int, **env: str) -> None:
        self.state_dir = state_dir
        self.db_url = db_url
        self.env = {
            **os.environ,
            "HYDRIA_DATABASE_URL": db_url,
            "HYDRIA_STATE_DIR": str(state_dir),
            "HYDRIA_MGMT_RANGE_START": f"127.{NET + 1}.{octet}.10",
            "HYDRIA_MGMT_RANGE_END": f"127.{NET + 1}.{octet}.250",
            "HYDRIA_HEALTH_BIND": f"127.0.0.1:{free_port()}",
            "HYDRIA_POLL_INTERVAL": "0.5",
            # split services get the deployment's heartbeat key from the operator
            "HYDRIA_HEARTBEAT_KEY": secrets.token_hex(32),
            **env,
        }
        self.subnet_cidr = f"127.{NET}.{octet}.0/24"
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.endpoints: list[str] = []
        state_dir.mkdir(parents=True, exist_ok=True)
        # split services refuse to start without the deployment's CA: made once, shared
        self.run("certs", "init")

    def run(self, *args: str) -> str:
        res = subprocess.run(
            [str(BIN / "hydria"), *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert res.returncode == 0, res.stderr
        return res.stdout

    def start(self, name: str, *args: str) -> subprocess.Popen[bytes]:
        log = open(self.state_dir / f"{name}.log", "ab")
        proc = subprocess.Popen(
            [str(BIN / "hydria"), *args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()
        self.procs[name] = proc
        return proc

    def start_api(self, name: str) -> str:
        port = free_port()
        self.start(name, "api", "--port", str(port))
        endpoint = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            assert self.procs[name].poll() is None, self.log(name)
            try:
                if httpx.get(endpoint + "/", timeout=1).status_code == 200:
                    self.endpoints.append(endpoint)
                    return endpoint
            except httpx.TransportError:
                time.sleep(0.1)
        raise AssertionError(f"{name} did not answer:\n{self.log(name)}")

    def kill(self, name: str, sig: int = signal.SIGKILL) -> None:
        proc = self.procs[name]
        if proc.poll() is None:
            proc.send_signal(sig)
            proc.wait(60)

    def log(self, name: str, tail: int | None = None) -> str:
        """The whole log (searching a tail can miss a line a burst pushed out)."""
        try:
            text = (self.state_dir / f"{name}.log").read_text()
        except OSError:
            return ""
        return text[-tail:] if tail else text

    def logs(self) -> str:
        return "\n".join(f"--- {n} ---\n{self.log(n, tail=6000)}" for n in self.procs)

    def cleanup(self) -> None:
        for name in list(self.procs):
            self.kill(name, signal.SIGTERM)
        kill_all_mentioning(str(self.state_dir))
