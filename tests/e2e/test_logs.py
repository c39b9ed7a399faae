"""Log offloading through a real ``hydria up``: a UDP syslog listener in the test.

One HTTP request through the VIP gives exactly one tenant flow log line, in
the configured ``user_log_format`` (Octavia's fields: project id, load balancer
id, listener id as the frontend; cut short and marked, so it is not the default),
at the tenant target and in the amphora's own ``logs/haproxy.log``; the agent's
admin logs reach the admin target and ``logs/admin.log``.
"""

from __future__ import annotations

import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.backends import HTTPBackend
from tests.support.hydria_proc import HydriaUp, running
from tests.support.lbs import build_http_lb, public_subnet_id

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


#: A configured user_log_format: Octavia's fields, cut after the bytes, with a last
#: word of its own (a line in the default format would not end with it).
FLOW_FORMAT = "{{ project_id }} {{ lb_id }} %f %ci %cp %t %{+Q}r %ST %B flowtest"


class SyslogListener:
    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.lines: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                self.lines.append(self.sock.recv(65536).decode(errors="replace"))
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self.sock.close()


@pytest.fixture(scope="module")
def targets() -> Iterator[tuple[SyslogListener, SyslogListener]]:
    tenant, admin = SyslogListener(), SyslogListener()
    yield tenant, admin
    tenant.close()
    admin.close()


@pytest.fixture(scope="module")
def hydria(
    tmp_path_factory: pytest.TempPathFactory, targets: tuple[SyslogListener, SyslogListener]
) -> Iterator[HydriaUp]:
    tenant, admin = targets
    with running(
        tmp_path_factory.mktemp("hydria-logs") / "state",
        extra_env={
            "HYDRIA_TENANT_LOG_TARGETS": f"127.0.0.1:{tenant.port}",
            "HYDRIA_ADMIN_LOG_TARGETS": f"127.0.0.1:{admin.port}",
            "HYDRIA_USER_LOG_FORMAT": FLOW_FORMAT,
        },
    ) as up:
        yield up


def _wait(what: str, check, hydria: HydriaUp, timeout: float = 30.0):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := check():
            return value
        time.sleep(0.1)
    raise AssertionError(f"{what} never happened\n{hydria.log(tail=4000)}")


def test_one_request_one_flow_log_line(
    hydria: HydriaUp, targets: tuple[SyslogListener, SyslogListener]
) -> None:
    tenant, admin = targets
    backend = HTTPBackend("web-0")
    try:
        with hydria.api() as api:
            built = build_http_lb(
                api, public_subnet_id(hydria.endpoint), [(backend.host, backend.port)]
            )
        lb_id, listener_id = built.lb["id"], built.listener["id"]
        # flow lines carry the load balancer's id (HAProxy's "Proxy ... stopped" notices
        # at reloads reach the tenant target too, as in Octavia, and do not)
        assert not [line for line in tenant.lines if lb_id in line]
        with urllib.request.urlopen(f"http://{built.vip}/", timeout=10) as res:
            assert res.status == 200
        flow = _wait(
            "a flow log line", lambda: [line for line in tenant.lines if lb_id in line], hydria
        )
        amphorae = list((hydria.state_dir / "amphorae").iterdir())
        local = [p / "logs" / "haproxy.log" for p in amphorae]

        def local_lines() -> list[str]:
            return [
                line
                for p in local
                if p.exists()
                for line in p.read_text().splitlines()
                if lb_id in line
            ]

        _wait("the same line in the amphora's folder", local_lines, hydria)
        time.sleep(0.5)  # room for a second line, if one were (wrongly) coming
        flow = [line for line in tenant.lines if lb_id in line]
        assert len(flow) == 1, flow
        assert len(local_lines()) == 1
        # the configured format: <project> <lb> <listener> <client ip> <port> <date>
        # "GET / HTTP/1.1" 200 <bytes> flowtest
        words = flow[0].split(": ", 1)[1].split() if ": " in flow[0] else flow[0].split()
        i = words.index(lb_id)
        assert words[i + 1] == listener_id and words[i - 1] == built.lb["project_id"]
        assert words[i + 2] == "127.0.0.1" and words[i + 3].isdigit()
        assert '"GET / HTTP/1.1" 200 ' in flow[0]
        assert words[-1] == "flowtest" and words[-2].isdigit() and words[-3] == "200", words
        assert _wait(
            "admin logs at the admin target",
            lambda: [line for line in admin.lines if "event=" in line],
            hydria,
        )
        assert any(Path(p / "logs" / "admin.log").exists() for p in amphorae)
    finally:
        backend.stop()
