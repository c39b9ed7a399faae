"""How much does a UDP listener cost? Datagrams per second and loss through the VIP.

One load balancer on ``hydria up`` with a UDP listener (nginx's stream module in
the amphora) in front of one UDP echo back-end (its own process). The same
client measures, in the same run:

* **closed loop**: ``--window`` datagrams in flight from one socket, each answer
  sends the next one, for ``--seconds``: answers per second, straight to the
  back-end (the baseline) and through the VIP; the ratio is VIP / baseline;
* **paced**: an open-loop sender at 50 % of the VIP's closed-loop rate for
  ``--seconds``: datagrams sent, answered, lost (no answer within a second
  after the end).

    .venv/bin/python bench/udp.py [--seconds 5] [--window 32]
"""

from __future__ import annotations

import argparse
import multiprocessing
import socket
import threading
import time

import httpx
from _harness import hydria_up, wait_status

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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--window", type=int, default=32)
    args = parser.parse_args()
    receive_port, send_port = multiprocessing.Pipe(duplex=False)
    echo = multiprocessing.Process(target=_echo, args=(send_port,), daemon=True)
    echo.start()
    member_port = receive_port.recv()
    try:
        with (
            hydria_up(octet=238) as endpoint,
            httpx.Client(base_url=endpoint + "/v2", timeout=30) as client,
        ):
            vip = build(client, endpoint, member_port)
            deadline = time.monotonic() + 30
            while closed_loop(vip, 5300, 0.2, 1)[0] == 0:  # nginx serves the VIP
                if time.monotonic() > deadline:
                    raise TimeoutError("no answer through the VIP")
            base, base_lost = closed_loop("127.0.0.1", member_port, args.seconds, args.window)
            via, via_lost = closed_loop(vip, 5300, args.seconds, args.window)
            print(f"closed loop, window {args.window}, {args.seconds:g} s each, 64-byte datagrams")
            print(
                f"  baseline, straight to the back-end: {base:10,.0f} answers/s "
                f"(unanswered {base_lost})"
            )
            print(
                f"  through the VIP (nginx stream):     {via:10,.0f} answers/s "
                f"(unanswered {via_lost})"
            )
            print(f"  ratio VIP / baseline: {via / base:.2f}")
            rate = via / 2
            sent, answered = paced(vip, 5300, rate, args.seconds)
            print(
                f"paced at 50 % of the VIP's rate ({rate:,.0f}/s) for {args.seconds:g} s: "
                f"sent {sent}, answered {answered}, lost {sent - answered} "
                f"({(sent - answered) / max(sent, 1):.4%})"
            )
    finally:
        echo.terminate()
        echo.join()


if __name__ == "__main__":
    main()
