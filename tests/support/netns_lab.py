"""Network namespaces, bridges and veths for tests, every one removed afterwards.

A ``Lab`` records what it makes and ``cleanup()`` (called from a fixture's
``finally``) kills every process inside its namespaces and deletes them and
its links, even after a failure. Addresses only ever live on these
namespaces and bridges. Needs root.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

# a back-end that answers every GET with its name (run inside a namespace)
_BACKEND = """
import socket, sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
name, host, port = sys.argv[1], sys.argv[2], int(sys.argv[3])
class Server(ThreadingHTTPServer):
    address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_GET(self):
        body = name.encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
Server((host, port), H).serve_forever()
"""


# requests the VIP every 20 ms until stdin closes, retrying a failure once after
# 0.3 s (as clients with a backoff do: the VRRP takeover must fit in it);
# prints "<time> ok <body>" or "<time> fail" per request
_TRAFFIC = """
import sys, threading, time, urllib.request
url = sys.argv[1]
stop = threading.Event()
threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
def get():
    with urllib.request.urlopen(url, timeout=1) as r:
        return r.read().decode()
while not stop.is_set():
    t = time.time()
    try:
        body = get()
    except OSError:
        time.sleep(0.3)
        try:
            body = get()
        except OSError as exc:
            print(f"{t:.4f} fail {type(exc).__name__}:{exc}".replace(chr(10), " "), flush=True)
            time.sleep(0.02)
            continue
    print(f"{t:.4f} ok {body} {time.time():.4f}", flush=True)
    time.sleep(0.02)
"""


def url_host(address: str) -> str:
    """``address`` as the host part of a URL (IPv6 in brackets)."""
    return f"[{address}]" if ":" in address else address


@contextlib.contextmanager
def claimed_octet() -> Iterator[int]:
    """A third octet ``n`` for one deployment's 10.250-252.n.0/24 networks that no
    other deployment on this machine holds while the block runs.

    Two deployments that drew the same octet (they were drawn at random) put the
    same /24 on two bridges; the host then routes one's management traffic onto
    the other's bridge and a spare's agent never answers (seen once in CI). The
    claim is an exclusive ``flock`` on a file per octet, so it goes with the
    process that held it, however that process ends; an octet already on one of
    the host's interfaces is skipped as well."""
    on_host = ip("-o", "addr", "show", check=False)
    for n in random.sample(range(1, 251), 250):
        if any(f" 10.{second}.{n}." in on_host for second in (250, 251, 252)):
            continue
        fd = os.open(f"/tmp/hydria-test-octet-{n}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            yield n
        finally:
            os.close(fd)  # closing the descriptor releases the lock
        return
    raise RuntimeError("every third octet 1-250 of 10.250-252 is held by another test")


_held: list[contextlib.AbstractContextManager[int]] = []


def octet_for_this_process() -> int:
    """``claimed_octet`` for a one-shot process (a benchmark): held until it exits."""
    claim = claimed_octet()
    n = claim.__enter__()
    _held.append(claim)
    return n


def deployment_env(n: int, mgmt_bridge: str) -> dict[str, str]:
    """A ``hydria up --driver netns``'s networks on third octet ``n``: management
    10.250.n.0/24 on ``mgmt_bridge`` (the host side .1), VIPs 10.251.n.0/24; the
    member subnet, 10.252.n.0/24, is ``member_subnet``'s."""
    return {
        "HYDRIA_COMPUTE_DRIVER": "netns",
        "HYDRIA_NETNS_MGMT_BRIDGE": mgmt_bridge,
        "HYDRIA_MGMT_CIDR": f"10.250.{n}.0/24",
        "HYDRIA_MGMT_RANGE_START": f"10.250.{n}.10",
        "HYDRIA_MGMT_RANGE_END": f"10.250.{n}.250",
        "HYDRIA_DEFAULT_SUBNET_CIDR": f"10.251.{n}.0/24",
    }


def member_subnet(hydria: Path, state: Path, n: int) -> str:
    """``hydria subnet create members`` (10.252.n.0/24, addresses .100-.199 for ports)
    in the deployment whose state is ``state``; its id."""
    made = subprocess.run(
        [
            str(hydria),
            "subnet",
            "create",
            "members",
            "--cidr",
            f"10.252.{n}.0/24",
            "--allocation-start",
            f"10.252.{n}.100",
            "--allocation-end",
            f"10.252.{n}.199",
            "--state-dir",
            str(state),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return made.stdout.split()[0]


def subnet_bridge(subnet_id: str) -> str:
    """The bridge the ``netns`` network driver makes for a subnet."""
    return "hydbr" + subnet_id.replace("-", "")[:8]


def can_use_netns() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


def ip(*args: str, check: bool = True) -> str:
    res = subprocess.run(["ip", *args], capture_output=True, text=True, check=False)
    if check and res.returncode != 0:
        raise RuntimeError(f"ip {' '.join(args)}: {res.stderr}")
    return res.stdout


def namespaces() -> set[str]:
    try:
        return set(os.listdir("/run/netns"))
    except FileNotFoundError:
        return set()


def links() -> set[str]:
    out = ip("-o", "link", "show")
    return {line.split(":")[1].strip().split("@")[0] for line in out.splitlines()}


def ns_pids(ns: str) -> list[int]:
    return [int(p) for p in ip("netns", "pids", ns, check=False).split()]


def kill_namespace(ns: str) -> None:
    """SIGKILL everything inside ``ns``, wait for it, delete ``ns``."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        pids = ns_pids(ns)
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    ip("netns", "del", ns, check=False)


class Lab:
    def __init__(self) -> None:
        self.tag = uuid.uuid4().hex[:4]
        self.namespaces: list[str] = []
        self.links: list[str] = []
        self.procs: list[subprocess.Popen[bytes]] = []  # killed in cleanup()

    def bridge(self, name: str) -> str:
        if name not in links():
            ip("link", "add", name, "type", "bridge")
        self.links.append(name)
        ip("link", "set", name, "up")
        return name

    def host(self, name: str, bridge: str, address: str, *, gateway: str | None = None) -> str:
        """A namespace ``hydt<tag><name>`` with one port on ``bridge`` at ``address``/len."""
        ns = f"hydt{self.tag}{name}"
        ip("netns", "add", ns)
        self.namespaces.append(ns)
        veth = f"ht{self.tag}{name}"[:15]
        ip("link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", ns)
        self.links.append(veth)
        ip("link", "set", veth, "master", bridge, "up")
        ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", ns, "link", "set", "eth0", "up")
        # IPv6: usable at once (no duplicate address detection on the test's own bridges)
        ip("-n", ns, "addr", "add", address, "dev", "eth0", *(("nodad",) if ":" in address else ()))
        if gateway:
            ip("-n", ns, "route", "add", "default", "via", gateway)
        return ns

    def run(self, ns: str, *cmd: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["ip", "netns", "exec", ns, *cmd],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def curl(self, ns: str, url: str, *extra: str) -> subprocess.CompletedProcess[str]:
        return self.run(ns, "curl", "-gsS", "--connect-timeout", "3", "-m", "10", *extra, url)

    def can_connect(self, ns: str, address: str, port: int) -> bool:
        """Does a TCP connection from inside ``ns`` get through (3 s at most)?"""
        code = (
            "import socket,sys\ntry:\n socket.create_connection((sys.argv[1], "
            "int(sys.argv[2])), timeout=3).close()\nexcept OSError:\n sys.exit(1)"
        )
        return self.run(ns, sys.executable, "-c", code, address, str(port)).returncode == 0

    def traffic(self, ns: str, url: str) -> subprocess.Popen[str]:
        """A client in ``ns`` that requests ``url`` until its stdin is closed."""
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", _TRAFFIC, url],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.procs.append(proc)  # type: ignore[arg-type]
        return proc

    def http_backend(self, ns: str, name: str, address: str, port: int) -> None:
        proc = subprocess.Popen(
            ["ip", "netns", "exec", ns, sys.executable, "-c", _BACKEND, name, address, str(port)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        self.procs.append(proc)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.curl(ns, f"http://{url_host(address)}:{port}/").stdout == name:
                return
            time.sleep(0.05)
        raise RuntimeError(f"back-end {name} did not start")

    def cleanup(self) -> None:
        for ns in self.namespaces:
            kill_namespace(ns)
        for proc in self.procs:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
        for link in self.links:
            ip("link", "del", link, check=False)


def hydria_leftovers(bridge: str) -> tuple[list[str], list[str]]:
    """(``hyd-`` namespaces, ``hy*`` veths) attached to management bridge ``bridge``."""
    out = ip("-o", "link", "show", "master", bridge, check=False)
    veths = [line.split(":")[1].strip().split("@")[0] for line in out.splitlines()]
    ours = {"hyd-" + v[3:] for v in veths if v.startswith("hym")}
    return sorted(ours & namespaces()), sorted(veths)


def remove_hydria_leftovers(bridge: str, amphorae_dir: Path) -> None:
    """Everything a ``hydria up`` on ``bridge`` may have left: its namespaces
    (found by their management veth or by their folder) and veths."""
    found, _ = hydria_leftovers(bridge)
    if amphorae_dir.exists():
        found += [f"hyd-{p.name.replace('-', '')[:8]}" for p in amphorae_dir.iterdir()]
    for ns in set(found) & namespaces():
        kill_namespace(ns)
    for link in links():
        if link.startswith(("hym", "hyp")) and link[3:11] in {n[4:] for n in found}:
            ip("link", "del", link, check=False)
