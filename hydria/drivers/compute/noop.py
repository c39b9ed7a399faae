"""``noop`` compute: amphorae that "boot" at once and run nothing.

As Octavia's no-op compute driver, it lets the whole control plane (API,
controller, health manager, housekeeping) run with no data plane behind it, so
the cost of the control plane can be measured apart from HAProxy and so API
conformance tests run fast. The fleet lives in memory only: a restarted
``hydria up`` finds no amphora running and boots them again, which costs
nothing here. The no-op agent client (``hydria.drivers.amphora.noop``) reads
and writes the configuration versions kept here, so an amphora booted again,
or a management address given to a new amphora, starts with no configuration,
as a fresh VM would.
"""

from __future__ import annotations

import threading

from hydria.core.ids import derived_id
from hydria.wire.agent_api import AmphoraBoot


class NoopCompute:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self._running: dict[str, str] = {}  # amphora id -> management address
        # configuration version each "agent" runs, by management address
        self.versions: dict[str, int] = {}
        self.created = 0  # boots asked for (benchmarks and tests read it)

    def create(self, boot: AmphoraBoot) -> str:
        with self.lock:
            self._running[boot.amphora_id] = boot.lb_network_ip
            self.versions.pop(boot.lb_network_ip, None)
            self.created += 1
        return derived_id("compute", boot.amphora_id)  # a UUID, as Nova's (and Octavia's noop)

    def is_running(self, amphora_id: str) -> bool:
        with self.lock:
            return amphora_id in self._running

    def delete(self, amphora_id: str) -> None:
        with self.lock:
            ip = self._running.pop(amphora_id, None)
            if ip is not None:
                self.versions.pop(ip, None)

    def list_ids(self) -> list[str]:
        with self.lock:
            return sorted(self._running)

    def stop_all(self) -> None:
        with self.lock:
            self._running.clear()
            self.versions.clear()
