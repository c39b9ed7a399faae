"""The no-op side of the agent API: every call succeeds in memory, no network.

It stands in for ``AgentClient`` (the same ``AmphoraAgent`` Protocol) when
amphorae come from the no-op compute driver, whose in-memory fleet keeps each
agent's state (``NoopCompute.agents``): ``info`` answers at once, ``put_config``
records the version and, like a real agent, refuses an older one with
``StaleConfig`` (so the controller's generation checks run as in production),
``delete_config`` forgets it; ``put_udp`` keeps the UDP part's version the same
way. Nothing is kept here by address: a state that outlived its amphora would
be refused by the next one at that address. It counts the configurations
accepted per address: with no HAProxy behind it, that is how tests and
benchmarks count reloads.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from hydria.drivers.amphora.base import StaleConfig
from hydria.drivers.compute.noop import NoopCompute


class NoopAgentClient:
    def __init__(self, fleet: NoopCompute) -> None:
        self.fleet = fleet
        self.pushes: Counter[str] = Counter()  # configurations accepted, by address

    def close(self) -> None:
        return None

    def info(self, ip: str, port: int, *, timeout: float | None = None) -> dict[str, Any]:
        with self.fleet.lock:
            state = self.fleet.agents.get(ip)
            version = state.config_version if state else None
            udp_version = state.udp_version if state else None
        return {
            "config_version": version,
            "haproxy_running": version is not None,
            "stats_socket": f"/nonexistent/noop-{ip}.sock",
            "udp_config_version": udp_version,
        }

    def wait_ready(self, ip: str, port: int, *, timeout: float) -> dict[str, Any]:
        return self.info(ip, port)

    def put_tls(self, ip: str, port: int, files: dict[str, str]) -> None:
        return None

    def put_vrrp(self, ip: str, port: int, text: str) -> dict[str, Any]:
        return {"vrrp_running": False, "changed": False}

    def put_config(self, ip: str, port: int, text: str, version: int) -> dict[str, Any]:
        with self.fleet.lock:
            self._accept(ip, "config_version", version)
            self.pushes[ip] += 1
        return {"config_version": version, "reloaded": True}

    def put_udp(self, ip: str, port: int, doc: dict[str, Any], version: int) -> dict[str, Any]:
        with self.fleet.lock:
            self._accept(ip, "udp_version", version, what="UDP version")
        return {"udp_config_version": version}

    def _accept(self, ip: str, field: str, version: int, *, what: str = "version") -> None:
        """Record ``version`` in the agent state's ``field``, refusing an older one
        (as a real agent answers 409); call it holding ``fleet.lock``."""
        state = self.fleet.agent(ip)
        current = getattr(state, field)
        if current is not None and version < current:
            raise StaleConfig(f"amphora {ip} runs {what} {current}, got {version}")
        setattr(state, field, version)

    def put_certificate(self, ip: str, port: int, cert_pem: str, key_pem: str) -> None:
        return None

    def stats(self, ip: str, port: int) -> dict[str, Any]:
        return {"haproxy_running": False, "rows": []}

    def delete_config(
        self, ip: str, port: int, *, drain: float = 0.0, connect_timeout: float | None = None
    ) -> None:
        with self.fleet.lock:
            self.fleet.agents.pop(ip, None)
