"""The rendered text on the real HAProxy binary.

Every golden file must pass ``haproxy -c`` in zero-warning mode, and a rendered
configuration must actually start and serve: traffic reaches members, health
checks send what the monitor asked for, a listener without a pool answers 503,
a disabled listener does not bind, allowed_cidrs refuses other sources, IPv6
works, and the maxconn from ``max_connections_for`` fits the open-file limit.
"""

from __future__ import annotations

import contextlib
import http.client
import http.server
import resource
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from hydria.core import graph as g
from hydria.render.haproxy import render
from hydria.render.limits import max_connections_for

from .cases import AMPHORA, CASES, hm, lb, listener, member, pool

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]

HAPROXY = Path("/usr/sbin/haproxy")
GOLDEN = Path(__file__).parent / "golden"

if not HAPROXY.exists():
    pytest.skip(f"{HAPROXY} is not installed (apt-get install haproxy)", allow_module_level=True)


@pytest.mark.parametrize("path", sorted(GOLDEN.glob("*.cfg")), ids=lambda p: p.stem)
def test_golden_file_passes_haproxy_check(path: Path) -> None:
    # -dW: zero-warning mode, a warning fails the check too.
    result = subprocess.run(
        [str(HAPROXY), "-c", "-dW", "-f", str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_there_are_golden_files() -> None:
    assert len(list(GOLDEN.glob("*.cfg"))) == len(CASES) >= 15


# ------------------------------------------------------------------ live runs


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[tuple[str, str, dict[str, str]]]
    body: bytes

    def do_GET(self) -> None:
        self.seen.append((self.command, self.path, {k.lower(): v for k, v in self.headers.items()}))
        self.send_response(202 if self.path.startswith("/health") else 200)
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@contextlib.contextmanager
def _member(host: str, body: bytes) -> Iterator[tuple[int, list]]:
    seen: list = []
    handler = type("Handler", (_Recorder,), {"seen": seen, "body": body})
    server_cls = type(
        "Server",
        (http.server.ThreadingHTTPServer,),
        {"address_family": socket.AF_INET6 if ":" in host else socket.AF_INET},
    )
    server = server_cls((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], seen
    finally:
        server.shutdown()
        server.server_close()


def _free_port(host: str = "127.0.0.1") -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def _haproxy(
    text: str, tmp_path: Path, *, nofile: int | None = None, prefix: tuple[str, ...] = ()
) -> Iterator[Path]:
    """Run HAProxy (master-worker, as the agent does) until the stats socket answers.

    ``prefix`` runs it under another command (e.g. in a new network namespace).
    """
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(text)
    sock = tmp_path / "stats.sock"
    argv = [str(HAPROXY), "-W", "-db", "-f", str(cfg)]
    if nofile:  # soft and hard limit, as on an amphora that allows no more
        argv = ["sh", "-c", f'ulimit -n {int(nofile)} && exec "$@"', "sh", *argv]
    argv = [*prefix, *argv]
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        deadline = time.monotonic() + 15
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"haproxy exited {proc.returncode}: {proc.stdout.read()}")
            with contextlib.suppress(OSError):
                _stats(sock, "show info")
                break
            if time.monotonic() > deadline:
                raise TimeoutError("haproxy did not open its stats socket")
            time.sleep(0.05)
        yield sock
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


def _stats(sock: Path, command: str) -> str:
    with socket.socket(socket.AF_UNIX) as s:
        s.settimeout(5)
        s.connect(str(sock))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def _server_status(sock: Path, backend: str, server: str) -> str:
    for row in _stats(sock, "show stat").splitlines():
        fields = row.split(",")
        if fields[:2] == [backend, server]:
            return fields[17]
    return "missing"


def _get(host: str, port: int) -> tuple[int, bytes]:
    conn = http.client.HTTPConnection(host, port, timeout=5)
    try:
        conn.request("GET", "/")
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


def _rejected(host: str, port: int) -> bool:
    """The connection is closed or reset before any byte is exchanged."""
    try:
        with socket.create_connection((host, port), timeout=5) as s:
            return s.recv(1) == b""
    except ConnectionResetError:
        return True


def _wait_for(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def test_live_ipv4(tmp_path: Path) -> None:
    ports = {name: _free_port() for name in ("http", "nopool", "disabled", "cidr")}
    with _member("127.0.0.1", b"member-a") as (member_port, seen):
        monitor = hm(
            "HTTP",
            delay=1,
            timeout=1,
            max_retries=1,
            url_path="/health check",
            expected_codes="200-204",
            http_version=1.1,
            domain_name="app.example.com",
        )
        balancer = lb(
            vip="127.0.0.1",
            listeners=[
                listener(
                    port=ports["http"],
                    insert_headers=(
                        ("X-Forwarded-For", "true"),
                        ("X-Forwarded-Port", "true"),
                        ("X-Forwarded-Proto", "true"),
                        ("X-Real-IP", "true"),
                    ),
                    timeout_tcp_inspect=1000,
                ),
                listener("listener-nopool", port=ports["nopool"], pool=None),
                listener("listener-disabled", port=ports["disabled"], admin_state_up=False),
                listener("listener-cidr", "TCP", ports["cidr"], allowed_cidrs=("192.0.2.0/24",)),
            ],
            pools=[
                pool(members=[member("member-a", "127.0.0.1", member_port)], health_monitor=monitor)
            ],
        )
        soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
        options = g.RenderOptions(
            stats_socket=str(tmp_path / "stats.sock"), max_connections=max_connections_for(soft)
        )
        with _haproxy(render(balancer, AMPHORA, options, version=1), tmp_path) as sock:
            # The health check: percent-encoded path, HTTP/1.1 with Host, 202 accepted.
            _wait_for(
                lambda: any(path.startswith("/health") for _, path, _ in seen), "a health check"
            )
            method, path, headers = next(s for s in seen if s[1].startswith("/health"))
            assert (method, path, headers.get("host")) == (
                "GET",
                "/health%20check",
                "app.example.com",
            )
            _wait_for(lambda: _server_status(sock, "pool-1", "member-a") == "UP", "member-a UP")

            assert _get("127.0.0.1", ports["http"]) == (200, b"member-a")
            _, _, headers = seen[-1]
            assert headers["x-forwarded-for"] == "127.0.0.1"
            assert headers["x-forwarded-port"] == str(ports["http"])
            assert headers["x-forwarded-proto"] == "http"
            assert headers["x-real-ip"] == "127.0.0.1"

            assert _get("127.0.0.1", ports["nopool"])[0] == 503

            with pytest.raises(ConnectionRefusedError):
                socket.create_connection(("127.0.0.1", ports["disabled"]), timeout=5)

            assert _rejected("127.0.0.1", ports["cidr"])


def test_live_ipv6(tmp_path: Path) -> None:
    if not socket.has_ipv6:
        pytest.skip("no IPv6 here")
    try:
        port = _free_port("::1")
    except OSError:
        pytest.skip("::1 is not configured")
    with _member("::1", b"member-v6") as (member_port, _seen):
        balancer = lb(
            vip="::1",
            listeners=[listener(port=port)],
            pools=[
                pool(
                    members=[
                        member(
                            "member-a",
                            "::1",
                            member_port,
                            monitor_address="::1",
                            monitor_port=member_port,
                        )
                    ],
                    health_monitor=hm("TCP", delay=1, timeout=1, max_retries=1),
                )
            ],
        )
        options = g.RenderOptions(stats_socket=str(tmp_path / "stats.sock"), max_connections=100)
        with _haproxy(render(balancer, AMPHORA, options, version=1), tmp_path) as sock:
            _wait_for(lambda: _server_status(sock, "pool-1", "member-a") == "UP", "member UP")
            assert _get("::1", port) == (200, b"member-v6")


def test_maxconn_fits_the_open_file_limit(tmp_path: Path) -> None:
    nofile = 20000
    balancer, options = CASES["http_roundrobin_http_monitor"]
    balancer = replace(balancer, vip_address="127.0.0.1", listeners=(listener(port=_free_port()),))
    options = replace(options, stats_socket=str(tmp_path / "stats.sock"))

    good = replace(options, max_connections=max_connections_for(nofile))
    with _haproxy(render(balancer, AMPHORA, good, version=1), tmp_path, nofile=nofile) as sock:
        assert f"Maxconn: {good.max_connections}" in _stats(sock, "show info")

    octavia_default = replace(options, max_connections=50000)
    try:
        with _haproxy(
            render(balancer, AMPHORA, octavia_default, version=1), tmp_path, nofile=nofile
        ):
            pytest.skip("this HAProxy could raise its own open-file limit (CAP_SYS_RESOURCE)")
    except RuntimeError as exc:
        assert "FD limit" in str(exc)
