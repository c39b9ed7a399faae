"""How much does a UDP listener cost? Datagrams per second and loss through the VIP,
on the nftables engine and on nginx, against the same client sending straight to
the back-end, in the same run.

Namespaces as a ``netns`` amphora sees them: a client namespace, two amphora
namespaces (each with a VIP and the agent's ``UdpStore`` running one engine on
what the controller's renderers make: nftables in one, nginx in the other, so
nginx's datagrams do not pay for the conntrack that the nftables table turns on
in its namespace, which a real nginx amphora does not have) and a member
namespace with one UDP echo back-end (its own process). Each VIP's datagrams
cross two veths and the amphora.

Two references. ``baseline`` goes straight from the client to the back-end
over a veth of their own: the issue's yardstick, but not the same kind of path
(one hop where the VIP's has two and a namespace between them). ``routed``
crosses a plain router namespace (two veths, forwarding, no netfilter rules):
the VIP path's hops without an engine. ``routed`` is the honest baseline for a
load balancer here: Hydria's member networks are not the VIP's network, so a
client that reached a back-end without the load balancer would still cross a
router between the two; both ratios are printed.

* **closed loop**: ``--window`` datagrams in flight from one socket, each answer
  sends the next one, for ``--seconds``: answers per second straight to the
  back-end (the baseline), through nftables and through nginx, in ``--rounds``
  rounds that rotate which goes first (the machine is shared: its load drifts);
  each ratio is the median engine rate over the median baseline rate, and each
  round is printed with the load average.
* **where the time goes**: the CPU each process spends per answer on each path
  (the client's thread, the echo back-end, nginx's workers). The kernel forwards,
  NATs and tracks a datagram in the softirq of whoever sent it, so on the
  nftables path the amphora's work shows up in the client's and the back-end's
  system time; on nginx's, nginx's own process is a third one on the CPUs.
* **--cpu N**: the client's thread, the echo back-end and nginx's processes run
  on CPU N only, on every path. Unpinned, the rate of one path swings twofold
  between rounds (54,000 to 99,000 answers/s straight to the back-end in one
  run) with whether the scheduler ran the client and the back-end on two CPUs
  at once or on one; pinned, every path runs the same way and the rate follows
  what each answer costs. It hides nothing: the kernel forwards, NATs and
  tracks a datagram in the softirq of whoever sent it, on that same CPU, so the
  amphora's work is in the closed loop either way (a real amphora would do it
  on CPUs of its own). nginx, a third process, is pinned there too. The
  paced run is not pinned: a sender, its reader and the back-end on one CPU
  starve the back-end (tried twice: once 14 % of the datagrams lost at the
  back-end's own receive buffer, none in the amphora), which says nothing of
  the path.
* **--persistence**: SOURCE_IP persistence on both pools; nftables then
  refreshes the client's persistence entry with every datagram it sends (its
  ``persistence_timeout`` counts from the client's last datagram).
* **CPU ratio**: the CPU per answer of all the path's processes together
  (client, back-end, nginx), baseline over the path's: the cost ratio, steadier
  than the rates on a shared machine.
* **paced**: an open-loop sender at 50 % of each engine's closed-loop rate for
  ``--seconds``: datagrams sent, answered, lost (no answer within a second
  after the end), and the kernel's UDP receive-buffer drops in each namespace.

    .venv/bin/python bench/udp.py [--seconds 5] [--window 32] [--rounds 3] [--members 1]
        [--persistence] [--cpu N]
    .venv/bin/python bench/udp.py --hold nftables --seconds 20   # one path, for perf

Needs root, ``nft``, ``ip`` and nginx with its stream module.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from hydria.agent.nft import NftTable  # noqa: E402
from hydria.agent.udp import UdpStore  # noqa: E402
from hydria.core import graph as g  # noqa: E402
from hydria.render.nft import render_nft  # noqa: E402
from hydria.render.nginx import NginxOptions, render_udp  # noqa: E402
from tests.support.netns_lab import ip, kill_namespace  # noqa: E402
from tests.support.netns_thread import call_in  # noqa: E402

PAYLOAD = b"x" * 64
VIP, CLIENT, AMP_CLIENT_SIDE = "10.70.211.10", "10.70.211.2", "10.70.211.1"
MEMBER, AMP_MEMBER_SIDE, MEMBER_PORT = "10.70.212.2", "10.70.212.1", 7001
# the client's own link to the member, for the baseline
CLIENT_DIRECT, MEMBER_DIRECT = "10.70.213.2", "10.70.213.3"
# and a plain router namespace between them: the VIP path's hops without an engine
CLIENT_ROUTED, ROUTER_CLIENT_SIDE = "10.70.214.2", "10.70.214.1"
MEMBER_ROUTED, ROUTER_MEMBER_SIDE = "10.70.215.2", "10.70.215.1"
NFT_PORT, NGINX_PORT = 5300, 5301
# the nginx amphora: its own VIP network and member network
CLIENT_NGX, NGX_CLIENT_SIDE, NGX_VIP = "10.70.216.2", "10.70.216.1", "10.70.216.10"
MEMBER_NGX, NGX_MEMBER_SIDE = "10.70.217.2", "10.70.217.1"

_ECHO = """
import socket, sys
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
sock.bind((sys.argv[1], int(sys.argv[2])))
print("ready", flush=True)
while True:
    data, peer = sock.recvfrom(2048)
    sock.sendto(data, peer)
"""


def pin(cpu: int | None, pid: int = 0) -> None:
    """Keep ``pid`` (0: the calling thread) on ``cpu``; None: leave it to the scheduler."""
    if cpu is not None:
        os.sched_setaffinity(pid, {cpu})


def closed_loop(
    host: str, port: int, seconds: float, window: int, cpu: int | None = None
) -> tuple[float, int, float]:
    """Answers per second with ``window`` in flight; how many went unanswered; the
    CPU seconds this thread spent (user and system). ``cpu``: run on that CPU only."""
    pin(cpu)
    cpu0 = time.thread_time()
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        sock.connect((host, port))
        sock.settimeout(0.5)
        for _ in range(window):
            sock.send(PAYLOAD)
        answered = lost = 0
        start = time.perf_counter()
        end = start + seconds
        while (now := time.perf_counter()) < end:
            try:
                sock.recv(2048)
            except (TimeoutError, ConnectionRefusedError):
                lost += window  # the window drained: count it lost, refill it
                for _ in range(window):
                    sock.send(PAYLOAD)
                continue
            answered += 1
            sock.send(PAYLOAD)
        return answered / (now - start), lost, time.thread_time() - cpu0


def paced(host: str, port: int, rate: float, seconds: float) -> tuple[int, int]:
    """Send at ``rate`` per second for ``seconds``; (sent, answered)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
    sock.connect((host, port))
    sock.settimeout(1.0)
    answered = 0
    done = threading.Event()

    def receive() -> None:
        nonlocal answered
        while True:
            try:
                sock.recv(2048)
                answered += 1
            except TimeoutError:
                if done.is_set():
                    return
            except OSError:
                return

    reader = threading.Thread(target=receive)
    reader.start()
    sent = 0
    start = time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        due = int(elapsed * rate)
        while sent < due:
            sock.send(PAYLOAD)
            sent += 1
        time.sleep(0.0005)
    done.set()
    reader.join()
    sock.close()
    return sent, answered


def rcvbuf_errors() -> int:
    """UDP datagrams this namespace dropped at a full receive queue so far."""
    lines = [
        line.split()
        for line in Path("/proc/thread-self/net/snmp").read_text().splitlines()
        if line.startswith("Udp:")
    ]
    return int(lines[1][lines[0].index("RcvbufErrors")])


def _cpu(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def _lb(
    lb_id: str, vip: str, port: int, member: str, extra: int = 0, *, sticky: bool = False
) -> g.LoadBalancer:
    """One UDP listener, one ROUND_ROBIN pool: the echo back-end, and ``extra``
    disabled members beside it (they take no flow, but a ruleset may still make
    every datagram look at them); ``sticky``: SOURCE_IP persistence (Octavia's
    default timeout), which nftables refreshes with every client datagram."""
    others = tuple(
        g.Member(
            id=f"{lb_id}-x{n:03}",
            address=f"{member.rsplit('.', 1)[0]}.{100 + n}",
            protocol_port=MEMBER_PORT,
            admin_state_up=False,
        )
        for n in range(extra)
    )
    return g.LoadBalancer(
        id=lb_id,
        vip_address=vip,
        listeners=(
            g.Listener(
                id=f"{lb_id}-li",
                protocol="UDP",
                protocol_port=port,
                default_pool_id=f"{lb_id}-pool",
                timeout_client_data=5000,
            ),
        ),
        pools=(
            g.Pool(
                id=f"{lb_id}-pool",
                protocol="UDP",
                lb_algorithm="ROUND_ROBIN",
                session_persistence=g.SessionPersistence(type="SOURCE_IP") if sticky else None,
                members=(
                    g.Member(id=f"{lb_id}-m", address=member, protocol_port=MEMBER_PORT),
                    *others,
                ),
            ),
        ),
    )


class Lab:
    """client -- amphora (VIP, nftables) -- member (echo), and client -- amphora
    (VIP, nginx) -- member; removed by ``close``."""

    def __init__(self, folder: Path, members: int = 1, *, sticky: bool = False) -> None:
        tag = uuid.uuid4().hex[:4]
        self.client, self.amp, self.member = f"hydb{tag}c", f"hydb{tag}a", f"hydb{tag}m"
        self.router, self.ngx = f"hydb{tag}r", f"hydb{tag}n"
        self.made: list[str] = []
        self.echo: subprocess.Popen[str] | None = None
        self.stores: list[tuple[str, UdpStore]] = []
        for ns in (self.client, self.amp, self.member, self.router, self.ngx):
            ip("netns", "add", ns)
            self.made.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        for peer, dev in ((self.client, "c0"), (self.member, "m0")):
            ip("-n", self.amp, "link", "add", dev, "type", "veth", "peer", "name", "eth0",
               "netns", peer)  # fmt: skip
        for ns, dev, addresses in (
            (self.amp, "c0", (f"{AMP_CLIENT_SIDE}/24", f"{VIP}/24")),
            (self.amp, "m0", (f"{AMP_MEMBER_SIDE}/24",)),
            (self.client, "eth0", (f"{CLIENT}/24",)),
            (self.member, "eth0", (f"{MEMBER}/24",)),
        ):
            for address in addresses:
                ip("-n", ns, "addr", "add", address, "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
        ip("-n", self.client, "link", "add", "d0", "type", "veth", "peer", "name", "d0",
           "netns", self.member)  # fmt: skip
        for ns, address in ((self.client, CLIENT_DIRECT), (self.member, MEMBER_DIRECT)):
            ip("-n", ns, "addr", "add", f"{address}/24", "dev", "d0")
            ip("-n", ns, "link", "set", "d0", "up")
        for peer, dev in ((self.client, "r0"), (self.member, "r1")):
            ip("-n", self.router, "link", "add", dev, "type", "veth", "peer", "name", dev,
               "netns", peer)  # fmt: skip
        for ns, dev, address in (
            (self.router, "r0", ROUTER_CLIENT_SIDE),
            (self.client, "r0", CLIENT_ROUTED),
            (self.router, "r1", ROUTER_MEMBER_SIDE),
            (self.member, "r1", MEMBER_ROUTED),
        ):
            ip("-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
        for peer, dev in ((self.client, "n0"), (self.member, "n1")):
            ip("-n", self.ngx, "link", "add", dev, "type", "veth", "peer", "name", dev,
               "netns", peer)  # fmt: skip
        for ns, dev, addresses in (
            (self.ngx, "n0", (NGX_CLIENT_SIDE, NGX_VIP)),
            (self.client, "n0", (CLIENT_NGX,)),
            (self.ngx, "n1", (NGX_MEMBER_SIDE,)),
            (self.member, "n1", (MEMBER_NGX,)),
        ):
            for address in addresses:
                ip("-n", ns, "addr", "add", f"{address}/24", "dev", dev)
            ip("-n", ns, "link", "set", dev, "up")
        ip("-n", self.client, "route", "add", "10.70.215.0/24", "via", ROUTER_CLIENT_SIDE)
        ip("-n", self.member, "route", "add", "10.70.214.0/24", "via", ROUTER_MEMBER_SIDE)
        call_in(self.router, Path("/proc/sys/net/ipv4/ip_forward").write_text, "1")
        self.echo = subprocess.Popen(
            ["ip", "netns", "exec", self.member, sys.executable, "-c", _ECHO, "0.0.0.0",
             str(MEMBER_PORT)],
            stdout=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        assert self.echo.stdout is not None and self.echo.stdout.readline().strip() == "ready"
        nft_dir, nginx_dir = folder / "nft", folder / "nginx"
        self.nft_store = UdpStore(nft_dir, nft=NftTable(nft_dir, own_network=True))
        self.nginx_store = UdpStore(nginx_dir)
        self.stores = [(self.amp, self.nft_store), (self.ngx, self.nginx_store)]
        nft_doc = render_nft(
            _lb("lb-bench-nft", VIP, NFT_PORT, MEMBER, members - 1, sticky=sticky), version=1
        )
        nginx_doc = render_udp(
            _lb("lb-bench-nginx", NGX_VIP, NGINX_PORT, MEMBER_NGX, members - 1, sticky=sticky),
            NginxOptions(run_dir=str(nginx_dir), stream_module=self.nginx_store.nginx.module),
            version=1,
        )
        self.in_amp(self.nft_store.apply, nft_doc, 1)
        call_in(self.ngx, self.nginx_store.apply, nginx_doc, 1)

    def in_amp(self, fn: Callable[..., object], *args: object) -> object:
        return call_in(self.amp, fn, *args)

    def nginx_workers(self) -> list[int]:
        nginx = self.nginx_store.nginx
        master = nginx.master_pid()
        return [] if master is None else sorted(nginx.workers(master))

    def drops(self) -> dict[str, int]:
        return {
            name: call_in(ns, rcvbuf_errors)
            for name, ns in (
                ("client", self.client),
                ("nft amphora", self.amp),
                ("nginx amphora", self.ngx),
                ("member", self.member),
            )
        }

    def close(self) -> None:
        for ns, store in self.stores:
            try:
                call_in(ns, store.remove)
            except Exception as exc:  # the namespace goes anyway
                print(f"  (cleanup: {exc})")
        if self.echo is not None:
            self.echo.kill()
            self.echo.wait()
        for ns in self.made:
            kill_namespace(ns)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--members",
        type=int,
        default=1,
        help="members in each pool: the echo back-end and MEMBERS - 1 disabled ones",
    )
    parser.add_argument(
        "--hold",
        metavar="PATH",
        help="only run PATH's closed loop (baseline, routed, nftables or nginx) for --seconds, "
        "e.g. under 'perf record'",
    )
    parser.add_argument(
        "--persistence",
        action="store_true",
        help="SOURCE_IP session persistence on both pools",
    )
    parser.add_argument(
        "--cpu",
        type=int,
        metavar="N",
        help="run the client, the echo back-end and nginx's processes on CPU N only, on "
        "every path (the rate then follows each path's CPU, not where the scheduler put them)",
    )
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="hydria-bench-udp-"))
    lab = Lab(folder, args.members, sticky=args.persistence)
    try:
        assert lab.echo is not None
        servers = [lab.echo.pid, *lab.nginx_workers(), lab.nginx_store.nginx.master_pid() or 0]
        for pid in filter(None, servers):
            pin(args.cpu, pid)
        paths = {
            "baseline": (MEMBER_DIRECT, MEMBER_PORT),
            "routed": (MEMBER_ROUTED, MEMBER_PORT),
            "nftables": (VIP, NFT_PORT),
            "nginx": (NGX_VIP, NGINX_PORT),
        }
        for name, (host, port) in paths.items():  # every path answers before we time it
            deadline = time.monotonic() + 30
            while call_in(lab.client, closed_loop, host, port, 0.2, 1)[0] == 0:
                if time.monotonic() > deadline:
                    raise TimeoutError(f"no answer through {name}")
        if args.hold:
            host, port = paths[args.hold]
            print(f"holding {args.hold}: echo pid {lab.echo.pid if lab.echo else '-'}", flush=True)
            rate, _, cpu = call_in(
                lab.client, closed_loop, host, port, args.seconds, args.window, args.cpu
            )
            print(f"  {rate:,.0f} answers/s, client {cpu / (rate * args.seconds) * 1e6:.1f} us")
            return
        print(
            f"closed loop, window {args.window}, {args.seconds:g} s each, 64-byte datagrams, "
            f"{args.rounds} rounds, {args.members} member(s) per pool"
            + (" with SOURCE_IP persistence, " if args.persistence else ", ")
            + ("any CPU" if args.cpu is None else f"all on CPU {args.cpu}")
            + f" ({_load()} at the start)"
        )
        rates: dict[str, list[float]] = {name: [] for name in paths}
        lost: dict[str, int] = dict.fromkeys(paths, 0)
        # microseconds of CPU per answer, by path and by process
        cpu_us: dict[str, dict[str, list[float]]] = {
            name: {"client": [], "echo": [], "nginx": []} for name in paths
        }
        # and all of them together, per round
        cpu_all: dict[str, list[float]] = {name: [] for name in paths}
        order = list(paths)
        echo_pid = lab.echo.pid
        for n in range(args.rounds):
            for name in order[n % len(order) :] + order[: n % len(order)]:
                host, port = paths[name]
                workers = lab.nginx_workers() if name == "nginx" else []
                nginx0, echo0 = sum(_cpu(w) for w in workers), _cpu(echo_pid)
                rate, unanswered, client_cpu = call_in(
                    lab.client, closed_loop, host, port, args.seconds, args.window, args.cpu
                )
                answers = max(rate * args.seconds, 1.0)
                spent = {"client": client_cpu, "echo": _cpu(echo_pid) - echo0}
                if workers:
                    spent["nginx"] = sum(_cpu(w) for w in workers) - nginx0
                for who, seconds in spent.items():
                    cpu_us[name][who].append(seconds / answers * 1e6)
                cpu_all[name].append(sum(spent.values()) / answers * 1e6)
                rates[name].append(rate)
                lost[name] += unanswered
            base = rates["baseline"][-1]
            print(
                f"  round {n + 1}: baseline {base:7,.0f}/s, "
                + ", ".join(
                    f"{name} {rates[name][-1]:7,.0f}/s ({rates[name][-1] / base:.2f})"
                    for name in order[1:]
                )
                + f" ({_load()})"
            )
        medians = {name: statistics.median(values) for name, values in rates.items()}
        for name, label in (
            ("baseline", "straight to the back-end"),
            ("routed", "through a router, no engine"),
            ("nftables", "through the VIP, nftables"),
            ("nginx", "through the VIP, nginx"),
        ):
            print(
                f"  {label + ':':28} {medians[name]:10,.0f} answers/s "
                f"(median; unanswered {lost[name]})"
            )
        for name in ("nftables", "nginx"):
            print(
                f"  ratio {name} / baseline: {medians[name] / medians['baseline']:.2f} "
                f"(/ routed: {medians[name] / medians['routed']:.2f})"
            )
        print("CPU per answer (median, us): client thread, echo back-end, nginx workers, all")
        cost = {name: statistics.median(values) for name, values in cpu_all.items()}
        for name in paths:
            print(
                f"  {name:9}"
                + "".join(
                    f" {who} {statistics.median(values):5.1f}"
                    for who, values in cpu_us[name].items()
                    if values
                )
                + f", all {cost[name]:5.1f}"
            )
        print(f"  CPU ratio routed / baseline: {cost['baseline'] / cost['routed']:.2f}")
        for name in ("nftables", "nginx"):
            print(
                f"  CPU ratio {name} / baseline: {cost['baseline'] / cost[name]:.2f} "
                f"(/ routed: {cost['routed'] / cost[name]:.2f})"
            )
        if args.cpu is not None:  # the paced run is not pinned (see the docstring)
            for pid in filter(None, servers):
                os.sched_setaffinity(pid, os.sched_getaffinity(0))
        for name in ("nftables", "nginx"):
            host, port = paths[name]
            rate = medians[name] / 2
            before = lab.drops()
            sent, answered = call_in(lab.client, paced, host, port, rate, args.seconds)
            after = lab.drops()
            print(
                f"paced, {name}, at 50 % of its rate ({rate:,.0f}/s) for {args.seconds:g} s: "
                f"sent {sent}, answered {answered}, lost {sent - answered} "
                f"({(sent - answered) / max(sent, 1):.4%}) ({_load()})"
            )
            print(
                "  kernel receive-buffer drops by namespace: "
                + ", ".join(f"{k} {after[k] - before[k]}" for k in after)
            )
    finally:
        lab.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
