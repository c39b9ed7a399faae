"""How much does a UDP listener cost? Datagrams per second and loss through the VIP.

One load balancer on ``hydria up`` with a UDP listener (nginx's stream module in
the amphora) in front of one UDP echo back-end (its own process). The same
client measures, in the same run:

* **closed loop**: ``--window`` datagrams in flight from one socket, each answer
  sends the next one, for ``--seconds``: answers per second, straight to the
  back-end (the baseline) and through the VIP, in ``--rounds`` rounds that
  alternate which goes first (the machine is shared: its load drifts); the ratio
  is the median VIP rate over the median baseline rate, and each round's ratio
  is printed with the load average;
* **CPU per answered datagram** of the client, the echo back-end and nginx's
  workers in each closed loop (from /proc): on a machine whose cores are all
  busy the rate follows the CPU the path needs, so ``(client + echo) / (client +
  echo + nginx)`` is the ratio a CPU-bound run can reach, whatever the load;
* **paced**: an open-loop sender at 50 % of the VIP's closed-loop rate for
  ``--seconds``: datagrams sent, answered, lost (no answer within a second
  after the end), and where the kernel dropped them (each socket's full
  receive queue, from /proc/net/udp).

    .venv/bin/python bench/udp.py [--seconds 5] [--window 32] [--rounds 3]
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import socket
import statistics
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
from _harness import hydria_up, process_cpu_seconds, wait_status

from hydria.agent.nginx import NginxProcess

PAYLOAD = b"x" * 64


def _echo(port_out: multiprocessing.connection.Connection) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
    sock.bind(("127.0.0.1", 0))
    port_out.send(sock.getsockname()[1])
    while True:
        data, peer = sock.recvfrom(2048)
        sock.sendto(data, peer)


def closed_loop(host: str, port: int, seconds: float, window: int) -> tuple[float, int]:
    """Answers per second with ``window`` in flight; and how many went unanswered."""
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
            except TimeoutError:
                lost += window  # the window drained: count it lost, refill it
                for _ in range(window):
                    sock.send(PAYLOAD)
                continue
            answered += 1
            sock.send(PAYLOAD)
        return answered / (now - start), lost


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


def build(client: httpx.Client, endpoint: str, member_port: int) -> str:
    subnet = httpx.get(endpoint + "/v2.0/subnets?name=public").json()["subnets"][0]["id"]
    lb = client.post(
        "/lbaas/loadbalancers",
        json={"loadbalancer": {"name": "udp-bench", "vip_subnet_id": subnet}},
    ).json()["loadbalancer"]
    path = f"/lbaas/loadbalancers/{lb['id']}"
    wait_status(client, path, "loadbalancer")
    listener = client.post(
        "/lbaas/listeners",
        json={
            "listener": {
                "loadbalancer_id": lb["id"],
                "protocol": "UDP",
                "protocol_port": 5300,
                "timeout_client_data": 5000,
            }
        },
    ).json()["listener"]
    wait_status(client, path, "loadbalancer")
    pool = client.post(
        "/lbaas/pools",
        json={
            "pool": {
                "listener_id": listener["id"],
                "protocol": "UDP",
                "lb_algorithm": "ROUND_ROBIN",
            }
        },
    ).json()["pool"]
    wait_status(client, path, "loadbalancer")
    res = client.post(
        f"/lbaas/pools/{pool['id']}/members",
        json={"member": {"address": "127.0.0.1", "protocol_port": member_port}},
    )
    assert res.status_code == 201, res.text
    wait_status(client, path, "loadbalancer")
    return str(lb["vip_address"])


def _cpu(pid: int) -> float:
    """User + system CPU seconds of one process so far; 0 once it is gone."""
    try:
        return process_cpu_seconds(pid)
    except OSError:
        return 0.0


def _nginx_workers(state: Path) -> list[int]:
    """The worker processes of the amphorae's nginx (as the agent finds them)."""
    workers: list[int] = []
    for pid_file in state.glob("amphorae/*/udp/nginx.pid"):
        nginx = NginxProcess(pid_file.parent, binary="nginx")
        master = nginx.master_pid()
        if master is not None:
            workers.extend(nginx.workers(master))
    return workers


@dataclass(frozen=True)
class Loop:
    """One closed loop: its rate, unanswered count and CPU microseconds per answer."""

    rate: float
    lost: int
    client_us: float
    echo_us: float
    nginx_us: float

    @property
    def total_us(self) -> float:
        return self.client_us + self.echo_us + self.nginx_us


def measured_loop(
    host: str, port: int, seconds: float, window: int, echo_pid: int, state: Path
) -> Loop:
    """``closed_loop`` with the CPU each process of the path spent on it."""
    workers = _nginx_workers(state)
    client0, echo0 = time.process_time(), _cpu(echo_pid)
    nginx0 = sum(_cpu(w) for w in workers)
    rate, lost = closed_loop(host, port, seconds, window)
    client1, echo1 = time.process_time(), _cpu(echo_pid)
    nginx1 = sum(_cpu(w) for w in workers)
    answers = max(rate * seconds, 1.0)

    def per(seconds_used: float) -> float:
        return seconds_used / answers * 1e6

    return Loop(rate, lost, per(client1 - client0), per(echo1 - echo0), per(nginx1 - nginx0))


def _hex(host: str, port: int) -> str:
    """An IPv4 ``host:port`` as /proc/net/udp writes it (this little-endian host)."""
    return f"{socket.inet_aton(host)[::-1].hex().upper()}:{port:04X}"


def _udp_drops() -> dict[tuple[str, str], int]:
    """The kernel's drop count of every IPv4 UDP socket, by (local, remote)."""
    out = {}
    for line in Path("/proc/net/udp").read_text().splitlines()[1:]:
        fields = line.split()
        out[(fields[1], fields[2])] = int(fields[-1])
    return out


def drops_by_hop(
    before: dict[tuple[str, str], int], after: dict[tuple[str, str], int], vip: str, member: int
) -> dict[str, int]:
    """Datagrams the kernel dropped at each socket of the path (a full receive queue)."""
    front, back = _hex(vip, 5300), _hex("127.0.0.1", member)
    hops = {"nginx listening": 0, "nginx to member": 0, "echo": 0, "client": 0}
    for (local, remote), count in after.items():
        grown = count - before.get((local, remote), 0)
        if grown <= 0:
            continue
        if local == front:
            hops["nginx listening"] += grown
        elif remote == back:
            hops["nginx to member"] += grown
        elif local == back:
            hops["echo"] += grown
        elif remote == front:
            hops["client"] += grown
    return hops


def _load() -> str:
    return f"load {os.getloadavg()[0]:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=32)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    receive_port, send_port = multiprocessing.Pipe(duplex=False)
    echo = multiprocessing.Process(target=_echo, args=(send_port,), daemon=True)
    echo.start()
    member_port = receive_port.recv()
    assert echo.pid is not None
    state = Path(tempfile.mkdtemp(prefix="hydria-bench-udp-"))
    try:
        with (
            hydria_up(octet=238, state=state) as endpoint,
            httpx.Client(base_url=endpoint + "/v2", timeout=30) as client,
        ):
            vip = build(client, endpoint, member_port)
            deadline = time.monotonic() + 30
            while closed_loop(vip, 5300, 0.2, 1)[0] == 0:  # nginx serves the VIP
                if time.monotonic() > deadline:
                    raise TimeoutError("no answer through the VIP")
            print(
                f"closed loop, window {args.window}, {args.seconds:g} s each, "
                f"64-byte datagrams, {args.rounds} rounds ({_load()} at the start)"
            )
            bases: list[Loop] = []
            vias: list[Loop] = []
            for n in range(args.rounds):
                paths = [("127.0.0.1", member_port, bases), (vip, 5300, vias)]
                for host, port, out in paths if n % 2 == 0 else paths[::-1]:
                    out.append(
                        measured_loop(host, port, args.seconds, args.window, echo.pid, state)
                    )
                print(
                    f"  round {n + 1}: baseline {bases[-1].rate:9,.0f}/s, VIP {vias[-1].rate:9,.0f}/s, "
                    f"ratio {vias[-1].rate / bases[-1].rate:.2f} ({_load()})"
                )
            base = statistics.median(b.rate for b in bases)
            via = statistics.median(v.rate for v in vias)
            lost = sum(b.lost for b in bases), sum(v.lost for v in vias)
            print(
                f"  baseline, straight to the back-end: {base:10,.0f} answers/s (median; unanswered {lost[0]})"
            )
            print(
                f"  through the VIP (nginx stream):     {via:10,.0f} answers/s (median; unanswered {lost[1]})"
            )
            print(f"  ratio VIP / baseline: {via / base:.2f}")
            for name, loops in (("baseline", bases), ("VIP", vias)):
                print(
                    f"  CPU per answer, {name + ':':9} client {statistics.median(x.client_us for x in loops):5.1f} us, "
                    f"echo {statistics.median(x.echo_us for x in loops):5.1f} us, "
                    f"nginx {statistics.median(x.nginx_us for x in loops):5.1f} us"
                )
            ceiling = statistics.median(b.total_us for b in bases) / statistics.median(
                v.total_us for v in vias
            )
            print(f"  CPU-bound ratio (baseline CPU / VIP CPU per answer): {ceiling:.2f}")
            rate = via / 2
            before = _udp_drops()
            sent, answered = paced(vip, 5300, rate, args.seconds)
            hops = drops_by_hop(before, _udp_drops(), vip, member_port)
            print(
                f"paced at 50 % of the VIP's rate ({rate:,.0f}/s) for {args.seconds:g} s: "
                f"sent {sent}, answered {answered}, lost {sent - answered} "
                f"({(sent - answered) / max(sent, 1):.4%}) ({_load()})"
            )
            print("  kernel drops by socket: " + ", ".join(f"{k} {v}" for k, v in hops.items()))
    finally:
        echo.terminate()
        echo.join()


if __name__ == "__main__":
    main()
