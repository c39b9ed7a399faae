"""``noop`` compute: amphorae that "boot" at once and run nothing.

As Octavia's no-op compute driver, it lets the whole control plane (API,
controller, health manager, housekeeping) run with no data plane behind it, so
the cost of the control plane can be measured apart from HAProxy and so API
conformance tests run fast. The fleet lives in memory only: a restarted
``hydria up`` finds no amphora running and boots them again, which costs
nothing here. The no-op agent client (``hydria.drivers.amphora.noop``) reads
and writes the state each "agent" keeps (its HAProxy and UDP configuration
versions) here, in one record per management address that a boot or a delete
drops whole: an amphora booted again, or a management address given to a new
amphora, starts with no configuration of either kind, as a fresh VM would. (A
UDP version once outlived its amphora: the next amphora at that address refused
its first configuration as stale, and its load balancer never left PENDING_CREATE.)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from hydria.core.ids import derived_id
from hydria.wire.agent_api import AmphoraBoot


@dataclass
class AgentState:
    """What one no-op agent runs: None until a configuration of that kind arrives."""

    config_version: int | None = None
    udp_version: int | None = None


class NoopCompute:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._running: dict[str, str] = {}  # amphora id -> management address
        # what each "agent" runs, by management address (see the module docstring)
        self.agents: dict[str, AgentState] = {}
        self.created = 0  # boots asked for (benchmarks and tests read it)

    def create(self, boot: AmphoraBoot) -> str:
        with self.lock:
            self._running[boot.amphora_id] = boot.lb_network_ip
            self.agents.pop(boot.lb_network_ip, None)
            self.created += 1
        return derived_id("compute", boot.amphora_id)  # a UUID, as Nova's (and Octavia's noop)

    def is_running(self, amphora_id: str) -> bool:
        with self.lock:
            return amphora_id in self._running

    def delete(self, amphora_id: str) -> None:
        with self.lock:
            ip = self._running.pop(amphora_id, None)
            if ip is not None:
                self.agents.pop(ip, None)

    def agent(self, ip: str) -> AgentState:
        """The state of the agent at ``ip`` (created empty); call it holding ``lock``."""
        return self.agents.setdefault(ip, AgentState())

    def list_ids(self) -> list[str]:
        with self.lock:
            return sorted(self._running)

    def stop_all(self) -> None:
        with self.lock:
            self._running.clear()
            self.agents.clear()
