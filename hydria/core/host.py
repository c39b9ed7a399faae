"""What this host can run for the protocols HAProxy does not carry.

HAProxy serves TCP, HTTP and PROMETHEUS listeners everywhere. UDP and SCTP need
something else in the amphora:

* **IPVS** (the kernel's ``ip_vs``, driven by keepalived) is what Octavia uses for
  both. It needs the ``ip_vs`` module, which many container and micro-VM kernels
  (this project's CI machine among them) do not have.
* **nginx's stream module** proxies UDP in user space, so it runs on any kernel.
  It cannot carry SCTP.
* **SCTP** itself needs the kernel's SCTP stack (``socket(AF_INET, SOCK_STREAM,
  IPPROTO_SCTP)`` succeeds), whatever proxies it.

* **nftables** (the ``nft`` binary, root): the kernel's NAT with ``numgen`` and
  ``jhash`` balances UDP as kube-proxy's nftables mode does, with no datagram in
  user space. It serves amphorae that own a network namespace (``netns``
  driver); nginx stays the fallback (docs/udp.md).

``detect()`` looks once (cached) and ``HostSupport.udp_engines`` says which
engines serve UDP here, preferred first: ``udp_engines`` is the pure rule.
``for_amphorae(compute_driver)`` is the host as that driver's amphorae see it:
``local`` amphorae share the host's network namespace, where nftables never
writes a table, so for them the host has no nftables; with no nginx stream
module either, a UDP listener is refused at creation (Octavia's 501) rather
than accepted and never served.
Hydria ships nftables and nginx (docs/udp.md says why); a host with ``ip_vs`` is
reported, so the day an IPVS engine lands it is chosen where it can run, as in
Octavia.
"""

from __future__ import annotations

import functools
import os
import shutil
import socket
import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Final

UDP_ENGINE_NGINX: Final = "nginx-stream"
UDP_ENGINE_NFT: Final = "nftables"
UDP_ENGINE_IPVS: Final = "ipvs"
#: The engines this release can drive, in order of preference.
IMPLEMENTED_UDP_ENGINES: Final = (UDP_ENGINE_NFT, UDP_ENGINE_NGINX)

#: The engines with a least-connections chooser (nftables has none: docs/udp.md).
LEAST_CONNECTIONS_ENGINES: Final = frozenset({UDP_ENGINE_NGINX, UDP_ENGINE_IPVS})

#: The engines that send a UDP VIP's datagrams to members of the other IP version
#: (nginx proxies; nftables' and IPVS's NAT stay within one: docs/udp.md).
CROSS_VERSION_UDP_ENGINES: Final = frozenset({UDP_ENGINE_NGINX})

#: Compute drivers whose amphorae share the host's network namespace (docs/udp.md,
#: "Why not nftables for the local driver").
SHARED_NAMESPACE_DRIVERS: Final = frozenset({"local"})

#: Where Debian's libnginx-mod-stream puts the module.
NGINX_MODULE_DIRS: Final = ("/usr/lib/nginx/modules", "/usr/local/lib/nginx/modules")
NGINX_STREAM_MODULE: Final = "ngx_stream_module.so"


@dataclass(frozen=True)
class HostSupport:
    """The facts ``detect`` found; the rules below decide what they allow."""

    ip_vs: bool = False
    sctp: bool = False
    nginx: str | None = None  # path of the nginx binary with a stream module
    nginx_stream_module: str | None = None  # the .so to load, None when built in
    haproxy_prometheus: bool = False
    nft: bool = False  # the nft binary, and root to load its tables
    #: the amphorae share the host's network namespace (``for_amphorae``): no nftables
    shared_namespace: bool = False

    @property
    def udp_engine(self) -> str | None:
        return choose_udp_engine(self)

    def for_amphorae(self, compute_driver: str) -> HostSupport:
        """Pure: this host as ``compute_driver``'s amphorae see it. Amphorae that
        share the host's network namespace (``local``) cannot run nftables."""
        return replace(self, shared_namespace=compute_driver in SHARED_NAMESPACE_DRIVERS)

    def no_udp_words(self) -> str:
        """What the start-up line and the provider say when nothing serves UDP."""
        if self.nft and self.shared_namespace:
            return "no UDP (nftables serves netns amphorae only, and no nginx stream module)"
        return "no UDP (no engine)"

    @property
    def udp_engines(self) -> tuple[str, ...]:
        """Every engine this host (or its amphorae, ``for_amphorae``) can run,
        preferred first."""
        return udp_engines(self)

    def udp_words(self, joiner: str) -> str:
        """``nftables (netns amphorae) <joiner> nginx-stream``: what runs UDP here.

        nftables serves only amphorae with a network namespace of their own
        (``netns`` driver); the others, and what nftables cannot express, run nginx.
        """
        words = [f"{e} (netns amphorae)" if e == UDP_ENGINE_NFT else e for e in self.udp_engines]
        return f" {joiner} ".join(words)

    def summary(self) -> str:
        """One line for start-up logs: ``udp=nginx-stream sctp=no ip_vs=no prometheus=yes``."""

        def yn(flag: bool) -> str:
            return "yes" if flag else "no"

        return (
            f"udp={self.udp_engine or 'none'} sctp={yn(self.sctp_served)} "
            f"ip_vs={yn(self.ip_vs)} prometheus={yn(self.haproxy_prometheus)}"
        )

    @property
    def sctp_served(self) -> bool:
        """SCTP needs kernel support and an engine that carries it (IPVS, not built yet)."""
        return self.sctp and self.udp_engine == UDP_ENGINE_IPVS


def udp_engines(
    host: HostSupport, implemented: tuple[str, ...] = IMPLEMENTED_UDP_ENGINES
) -> tuple[str, ...]:
    """Pure: IPVS where the kernel has it (as Octavia), then the kernel's nftables
    (in-kernel NAT, as kube-proxy), then nginx's stream module in user space."""
    candidates = []
    if host.ip_vs:
        candidates.append(UDP_ENGINE_IPVS)
    if host.nft and not host.shared_namespace:
        candidates.append(UDP_ENGINE_NFT)
    if host.nginx:
        candidates.append(UDP_ENGINE_NGINX)
    return tuple(engine for engine in candidates if engine in implemented)


def choose_udp_engine(
    host: HostSupport, implemented: tuple[str, ...] = IMPLEMENTED_UDP_ENGINES
) -> str | None:
    """Pure: the preferred engine of ``udp_engines``."""
    return next(iter(udp_engines(host, implemented)), None)


def _kernel_module(name: str) -> bool:
    if Path(f"/sys/module/{name}").exists():
        return True
    release = os.uname().release
    for listing in (
        f"/lib/modules/{release}/modules.dep",
        f"/lib/modules/{release}/modules.builtin",
    ):
        try:
            if f"/{name}.ko" in Path(listing).read_text(errors="replace"):
                return True
        except OSError:
            continue
    return False


def _sctp() -> bool:
    try:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_SCTP)
    except (OSError, AttributeError):
        return False
    sock.close()
    return True


def find_nginx() -> tuple[str | None, str | None]:
    """The nginx binary and the stream module to load (None when built in)."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        return None, None
    try:
        out = subprocess.run(
            [binary, "-V"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return None, None
    flags = (out.stdout + out.stderr).split()
    if "--with-stream" in flags:
        return binary, None
    for folder in NGINX_MODULE_DIRS:
        module = os.path.join(folder, NGINX_STREAM_MODULE)
        if os.path.exists(module):
            return binary, module
    return None, None


def _haproxy_prometheus() -> bool:
    binary = shutil.which("haproxy") or shutil.which("haproxy", path="/usr/sbin:/usr/local/sbin")
    if binary is None:
        return False
    try:
        out = subprocess.run(
            [binary, "-vv"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "prometheus-exporter" in out.stdout


@functools.lru_cache(maxsize=1)
def detect() -> HostSupport:
    """Look at this host once (a few milliseconds of subprocesses)."""
    nginx, module = find_nginx()
    return HostSupport(
        ip_vs=Path("/proc/net/ip_vs").exists() or _kernel_module("ip_vs"),
        sctp=_sctp(),
        nginx=nginx,
        nginx_stream_module=module,
        haproxy_prometheus=_haproxy_prometheus(),
        nft=os.geteuid() == 0
        and (shutil.which("nft") or shutil.which("nft", path="/usr/sbin:/sbin")) is not None,
    )
