"""Thin, idempotent calls of iproute2 (``ip``) for the ``netns`` drivers.

Each function makes one thing true (a bridge exists, a veth joins it, an
address is on an interface) and does nothing when it already is, so a
controller that died half-way through a plug repeats the plug and finishes it.
Errors from ``ip`` become ``NetnsError`` with its message.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import logging
import os
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from hydria.drivers.network import rtnl

_T = TypeVar("_T")

log = logging.getLogger("hydria.netns")

NETNS_DIR = Path("/run/netns")


class NetnsError(RuntimeError):
    """An ``ip`` command failed; the text is its error output."""


def ip(*args: str, ns: str | None = None, check: bool = True) -> str:
    cmd = ["ip", *(["-n", ns] if ns else []), *args]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise NetnsError(f"{' '.join(cmd)}: {proc.stderr.strip()}")
    return proc.stdout


def batch(commands: list[list[str]], ns: str | None = None) -> None:
    """Several ``ip`` commands in one process (``ip -batch -``), in order; the first
    that fails stops the rest and raises ``NetnsError``."""
    if len(commands) == 1:
        ip(*commands[0], ns=ns)
        return
    cmd = ["ip", *(["-n", ns] if ns else []), "-batch", "-"]
    text = "".join(" ".join(c) + "\n" for c in commands)
    proc = subprocess.run(cmd, input=text, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        raise NetnsError(f"{' '.join(cmd)} <<{text!r}: {proc.stderr.strip()}")


def host_link_exists(name: str) -> bool:
    """An interface of the host's namespace, from sysfs (no ``ip`` started)."""
    if SYS_NET.is_dir():
        return (SYS_NET / name).exists()
    return link_exists(name)


def nodad(cidr_address: str) -> tuple[str, ...]:
    """``nodad`` for an IPv6 address (see ``ensure_address``), nothing for IPv4."""
    return ("nodad",) if ":" in cidr_address else ()


def in_ns(ns: str, *cmd: str) -> None:
    """Run ``cmd`` inside namespace ``ns`` (sysctl and the like)."""
    proc = subprocess.run(
        ["ip", "netns", "exec", ns, *cmd], capture_output=True, text=True, check=False
    )
    if proc.returncode != 0:
        raise NetnsError(f"in {ns}: {' '.join(cmd)}: {proc.stderr.strip()}")


_CLONE_NEWNET = 0x40000000


def run_in_ns(namespace: Path, work: Callable[[], _T]) -> _T:
    """``work()`` in a thread of its own that joined the network namespace mounted
    at ``namespace`` (``setns``): sockets it opens and ``/proc/sys/net`` files it
    writes are that namespace's. The thread ends with it, so no other thread of
    the caller ever leaves its own namespace; no process is started (``ip netns
    exec`` costs a fork, an exec and a remount of ``/sys``). Raises ``OSError``."""
    result: list[_T] = []
    failed: list[BaseException] = []

    def run() -> None:
        try:
            fd = os.open(namespace, os.O_RDONLY | os.O_CLOEXEC)
            try:
                libc = ctypes.CDLL(None, use_errno=True)
                if libc.setns(fd, _CLONE_NEWNET) != 0:
                    err = ctypes.get_errno()
                    raise OSError(err, f"setns {namespace}: {os.strerror(err)}")
            finally:
                os.close(fd)
            result.append(work())
        except BaseException as exc:  # handed to the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="in-netns", daemon=True)
    thread.start()
    thread.join()
    if failed:
        raise failed[0]
    return result[0]


def set_sysctls(ns: str, values: dict[str, str]) -> None:
    """``sysctl -w`` of ``net.*`` keys inside ``ns``, without starting a process."""

    def write() -> None:
        for key, value in values.items():
            with open(Path("/proc/sys") / key.replace(".", "/"), "w") as fh:
                fh.write(value)

    try:
        run_in_ns(NETNS_DIR / ns, write)
    except OSError as exc:
        raise NetnsError(f"in {ns}: sysctl {values}: {exc}") from exc


def links(ns: str | None = None) -> dict[str, dict[str, Any]]:
    """Interfaces by name, as ``ip -j link`` describes them."""
    out = ip("-j", "link", "show", ns=ns)
    return {item["ifname"]: item for item in json.loads(out or "[]")}


def host_links() -> list[str]:
    """Names of the host's interfaces, from sysfs (no ``ip`` started)."""
    if SYS_NET.is_dir():
        return sorted(p.name for p in SYS_NET.iterdir())
    return sorted(links())


def link_exists(name: str, ns: str | None = None) -> bool:
    return ip("link", "show", "dev", name, ns=ns, check=False) != ""


def addresses(dev: str, ns: str | None = None) -> set[str]:
    """``address/prefix`` strings on ``dev`` (empty if it does not exist)."""
    out = ip("-j", "addr", "show", "dev", dev, ns=ns, check=False)
    found: set[str] = set()
    for item in json.loads(out or "[]"):
        for info in item.get("addr_info", []):
            found.add(f"{info['local']}/{info['prefixlen']}")
    return found


def addresses_by_link(ns: str | None = None) -> dict[str, set[str]]:
    """Every interface and its ``address/prefix`` strings: over rtnetlink from a
    thread in ``ns`` (``rtnl.dump``, no process), else one call of ``ip``."""
    try:
        return rtnl.dump() if ns is None else run_in_ns(NETNS_DIR / ns, rtnl.dump)
    except OSError as exc:  # a namespace that is gone: ``ip`` says so, as before
        log.debug("event=rtnl_dump_failed namespace=%s reason=%s", ns, exc)
    out = ip("-j", "addr", "show", ns=ns, check=False)
    return {
        item["ifname"]: {f"{i['local']}/{i['prefixlen']}" for i in item.get("addr_info", [])}
        for item in json.loads(out or "[]")
    }


def ensure_address(dev: str, cidr_address: str, ns: str | None = None) -> None:
    """``cidr_address`` on ``dev``; an IPv6 one without duplicate address detection
    (``nodad``: usable at once, so HAProxy and keepalived bind it at once; the
    controller hands out every address on the subnet, so none is a duplicate)."""
    if cidr_address not in addresses(dev, ns):
        extra = ("nodad",) if ":" in cidr_address else ()
        ip("addr", "replace", cidr_address, "dev", dev, *extra, ns=ns)


def remove_address(dev: str, cidr_address: str, ns: str | None = None) -> None:
    if cidr_address in addresses(dev, ns):
        ip("addr", "del", cidr_address, "dev", dev, ns=ns, check=False)


#: the host's interfaces (the controller's network namespace mounted it): read
#: there instead of starting ``ip`` for what a file says
SYS_NET = Path("/sys/class/net")
_IFF_UP = 0x1

#: ``addr_assign_type`` of an address set by hand (``NET_ADDR_SET``)
_ADDR_SET = "3"


def bridge_mac(name: str) -> str:
    """A fixed, locally administered unicast MAC address for bridge ``name`` (pure)."""
    digest = hashlib.sha256(name.encode()).digest()[:5]
    return ":".join(f"{b:02x}" for b in (0x02, *digest))


def ensure_bridge(name: str) -> None:
    """The bridge exists, is up and has a MAC address of its own.

    A Linux bridge whose address was never set takes the lowest MAC address of
    its ports, so plugging or deleting an amphora's veth may change the MAC of
    the host's address on the management bridge; every amphora then sends its
    heartbeats to the old MAC (its ARP entry still looks good) and nothing
    arrives for seconds: enough for the failure detector to fail over healthy,
    freshly rebuilt amphorae. An address set by hand never moves.
    """
    sysfs = SYS_NET / name
    if not sysfs.exists() and not link_exists(name):
        ip("link", "add", name, "type", "bridge", check=False)
        log.info("event=bridge_created bridge=%s", name)
    try:
        assigned = (sysfs / "addr_assign_type").read_text().strip()
    except OSError:
        assigned = ""
    if assigned != _ADDR_SET:
        ip("link", "set", name, "address", bridge_mac(name))
    if not _is_up(name):
        ip("link", "set", name, "up")


def _is_up(name: str) -> bool:
    """``IFF_UP`` on a host interface, read from sysfs (no ``ip`` started)."""
    try:
        return bool(int((SYS_NET / name / "flags").read_text().strip(), 16) & _IFF_UP)
    except (OSError, ValueError):
        return False


def delete_link(name: str, ns: str | None = None) -> None:
    ip("link", "del", name, ns=ns, check=False)


def namespaces(prefix: str) -> list[str]:
    try:
        return sorted(p.name for p in NETNS_DIR.iterdir() if p.name.startswith(prefix))
    except FileNotFoundError:
        return []


def ns_exists(ns: str) -> bool:
    return (NETNS_DIR / ns).exists()


def ensure_ns(ns: str) -> None:
    if not ns_exists(ns):
        ip("netns", "add", ns, check=False)
        if not ns_exists(ns):
            raise NetnsError(f"cannot create network namespace {ns}")
    ip("link", "set", "lo", "up", ns=ns)


def ns_created(ns: str) -> float:
    """When ``ns`` was made (its mount point's time), or now if it is gone."""
    try:
        return (NETNS_DIR / ns).stat().st_mtime
    except OSError:
        return time.time()


def ns_pids(ns: str) -> list[int]:
    out = ip("netns", "pids", ns, check=False)
    return [int(p) for p in out.split() if p.isdigit()]


def delete_ns(ns: str) -> None:
    if ns_exists(ns):
        ip("netns", "del", ns, check=False)


def ensure_veth(host_name: str, ns: str, inside_name: str, bridge: str) -> None:
    """A veth pair: ``host_name`` on ``bridge``, ``inside_name`` in ``ns``, both up."""
    if not link_exists(inside_name, ns):
        if link_exists(host_name):  # a half-made pair from an interrupted plug
            delete_link(host_name)
        ip("link", "add", host_name, "type", "veth", "peer", "name", inside_name, "netns", ns)
    ip("link", "set", host_name, "master", bridge, "up")
    ip("link", "set", inside_name, "up", ns=ns)
