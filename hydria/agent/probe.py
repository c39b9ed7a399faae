"""Active health checks for UDP pools, run by the agent (nginx OSS has none).

A UDP-CONNECT check works as Octavia's: send a datagram to the member and
listen. An ICMP port-unreachable (``ECONNREFUSED`` on the connected socket)
means nothing listens there: a failure. A reply, or silence until the timeout,
is a success (a UDP service owes no answer). TCP checks connect; HTTP checks
send the monitor's request and compare the status with its expected codes.

``step`` is the pure part: HAProxy's rise/fall counting. A member starts UP
(as HAProxy's servers do), goes DOWN after ``fall`` failures in a row, and
comes back after ``rise`` successes in a row. One thread per probed member
checks it every ``delay`` seconds and calls ``on_change`` when its state flips,
so the agent can re-render the upstream and reload.
"""

from __future__ import annotations

import errno
import http.client
import logging
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from hydria.core.udp import Probe

log = logging.getLogger("hydria.agent.probe")

UP = "UP"
DOWN = "DOWN"
PAYLOAD = b"\0"


@dataclass(frozen=True)
class Health:
    status: str = UP
    streak: int = 0  # consecutive results against the current status


def step(state: Health, ok: bool, *, rise: int, fall: int) -> Health:
    """Pure: the member's state after one check."""
    if (state.status == UP) == ok:
        return Health(state.status, 0)
    streak = state.streak + 1
    if streak >= (fall if state.status == UP else rise):
        return Health(DOWN if state.status == UP else UP, 0)
    return Health(state.status, streak)


def _family(address: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in address else socket.AF_INET


def udp_connect(address: str, port: int, timeout: float) -> bool:
    with socket.socket(_family(address), socket.SOCK_DGRAM) as sock:
        sock.settimeout(timeout)
        try:
            sock.connect((address, port))
            sock.send(PAYLOAD)
            sock.recv(65535)
        except TimeoutError:
            return True  # no ICMP error: something may well listen
        except ConnectionRefusedError:
            return False
        except OSError as exc:
            return exc.errno not in (errno.ECONNREFUSED, errno.EHOSTUNREACH, errno.ENETUNREACH)
    return True


def tcp_connect(address: str, port: int, timeout: float) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout):
            return True
    except OSError:
        return False


def _code_ok(code: int, expected: str) -> bool:
    for part in expected.replace(" ", "").split(","):
        low, _, high = part.partition("-")
        if int(low) <= code <= int(high or low):
            return True
    return False


def http_check(probe: Probe, timeout: float) -> bool:
    conn = http.client.HTTPConnection(probe.address, probe.port, timeout=timeout)
    try:
        conn.request(probe.http_method, probe.url_path)
        return _code_ok(conn.getresponse().status, probe.expected_codes)
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def check(probe: Probe) -> bool:
    timeout = float(max(probe.timeout, 1))
    if probe.type == "UDP-CONNECT":
        return udp_connect(probe.address, probe.port, timeout)
    if probe.type == "HTTP":
        return http_check(probe, timeout)
    return tcp_connect(probe.address, probe.port, timeout)


class Prober:
    """Runs the probes of the current configuration; keeps states across changes."""

    def __init__(
        self, on_change: Callable[[], None], checker: Callable[[Probe], bool] = check
    ) -> None:
        self.on_change = on_change
        self.checker = checker
        self._lock = threading.Lock()
        self._states: dict[tuple[str, str], Health] = {}
        self._threads: dict[Probe, tuple[threading.Thread, threading.Event]] = {}

    def set_probes(self, probes: tuple[Probe, ...]) -> None:
        """Start probing new members, stop probing gone ones; unchanged ones keep state."""
        wanted = set(probes)
        with self._lock:
            for probe in list(self._threads):
                if probe not in wanted:
                    self._threads.pop(probe)[1].set()
            keys = {(p.pool_id, p.member_id) for p in probes}
            self._states = {k: s for k, s in self._states.items() if k in keys}
            for probe in probes:
                if probe not in self._threads:
                    stop = threading.Event()
                    thread = threading.Thread(
                        target=self._run,
                        args=(probe, stop),
                        daemon=True,
                        name=f"probe-{probe.member_id[:8]}",
                    )
                    self._threads[probe] = (thread, stop)
                    thread.start()

    def stop(self) -> None:
        self.set_probes(())

    def statuses(self) -> dict[tuple[str, str], str]:
        with self._lock:
            return {k: s.status for k, s in self._states.items()}

    def down(self) -> set[str]:
        with self._lock:
            return {member for (_, member), s in self._states.items() if s.status == DOWN}

    def _run(self, probe: Probe, stop: threading.Event) -> None:
        key = (probe.pool_id, probe.member_id)
        while not stop.is_set():
            started = time.monotonic()
            ok = self.checker(probe)
            if stop.is_set():
                return
            with self._lock:
                before = self._states.get(key, Health())
                after = step(before, ok, rise=probe.rise, fall=probe.fall)
                self._states[key] = after
            if after.status != before.status:
                log.info(
                    "event=member_%s pool=%s member=%s address=%s:%s type=%s",
                    after.status.lower(),
                    probe.pool_id,
                    probe.member_id,
                    probe.address,
                    probe.port,
                    probe.type,
                )
                try:
                    self.on_change()
                except Exception:  # never let a probe thread die
                    log.exception("event=probe_apply_failed member=%s", probe.member_id)
            # checks start every ``delay`` seconds, however long one took (as HAProxy's inter)
            stop.wait(max(max(probe.delay, 1) - (time.monotonic() - started), 0.05))
