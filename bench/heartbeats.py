"""How many heartbeats per second does the health manager verify and record?

1,000 simulated amphorae (each with a load balancer, a listener, a pool and two
members in a real SQLite database, and a management address of its own) send
real, signed UDP heartbeats to 127.0.0.1, each from its own management address
(the health manager drops any other). A sender process, on another core, sends
a fixed number of pre-encoded packets at ``--rate`` (60,000/s: more than the
receiver takes, for about three seconds; 0 sends them in one burst, which a
fraction of a second of start-up and one batch write then dominate); the
health manager (receiver, amphora directory and batch writer threads, as
``hydria health`` runs them) is pinned to one core. The figure is heartbeats
verified per CPU second that process spent (robust to other load on the
machine), with the wall-clock rate beside it; every verified heartbeat is
recorded (the writer keeps the newest one per amphora for each batch) and the
run checks afterwards that the database holds the last one of each.

Two health manager runs, same sender, same run:

* ``per-amphora keys``: as deployed, each amphora signs with its own key
  derived from the deployment key, and the health manager derives (once, then
  from its cache) the key of the id in each envelope;
* ``single key``: the baseline of issue 14, every amphora signing with one
  shared key (the health manager's key lookup answers that one key).

Baselines, from the same run and the same sender: a bare socket loop that
only reads the datagrams (the ceiling any Python receiver has here), and
``open_envelope`` + ``verify`` alone over the same packets, in memory.

    .venv/bin/python bench/heartbeats.py [--amphorae 1000] [--packets 200000] [--rate 60000]

Packets the receiver cannot take in time are dropped by the kernel, as they
would be in production; the rates count what was read while the input lasted.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

KEY = b"bench-deployment-heartbeat-key"
Amp = tuple[str, str, str, str, str, str]  # amphora, listener, pool, member, member, address


def _payload(amp: Amp) -> dict[str, Any]:
    amp_id, lst, pool, m0, m1, _ = amp
    return {
        "id": amp_id,
        "listeners": {
            lst: {
                "status": "OPEN",
                "bytes_in": 123456,
                "bytes_out": 654321,
                "active_connections": 12,
                "total_connections": 4567,
                "request_errors": 3,
            }
        },
        "pools": {pool: {"status": "UP", "members": {m0: "UP", m1: "DOWN"}}},
    }


def encode_all(
    fleet: list[Amp], count: int, first_seq: int, shared: bool
) -> list[tuple[bytes, str]]:
    """``count`` heartbeats round the fleet, each with the address it comes from."""
    from hydria.wire.heartbeat import SigningKey, encode
    from hydria.wire.heartbeat_keys import amphora_key

    one = SigningKey(KEY)
    keys = [one if shared else SigningKey(amphora_key(KEY, a[0])) for a in fleet]
    payloads = [_payload(a) for a in fleet]
    out = []
    seq = first_seq
    while len(out) < count:
        for p, key, amp in zip(payloads, keys, fleet, strict=True):
            out.append((encode(p, key, seq), amp[5]))
        seq += 1
    return out[:count]


def sender(
    fleet: list[Amp],
    count: int,
    first_seq: int,
    shared: bool,
    rate: float,
    port: int,
    cpu: int | None,
    ready: Any,
    go: Any,
) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    packets = encode_all(fleet, count, first_seq, shared)
    socks: dict[str, socket.socket] = {}
    for amp in fleet:  # each amphora sends from its management address
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.bind((amp[5], 0))
        socks[amp[5]] = sock
    ready.set()
    go.wait()
    start = time.perf_counter()
    addr = ("127.0.0.1", port)
    step = 100
    for i in range(0, len(packets), step):
        for p, source in packets[i : i + step]:
            try:
                socks[source].sendto(p, addr)
            except OSError:
                pass
        if rate:
            ahead = start + (i + step) / rate - time.perf_counter()
            if ahead > 0:
                time.sleep(ahead)
    for sock in socks.values():
        sock.close()


def run_sender(
    fleet: list[Amp],
    count: int,
    first_seq: int,
    rate: float,
    port: int,
    cpu: int | None,
    *,
    shared: bool = False,
) -> tuple[Any, Any]:
    ctx = mp.get_context("spawn")
    ready, go = ctx.Event(), ctx.Event()
    proc = ctx.Process(
        target=sender, args=(fleet, count, first_seq, shared, rate, port, cpu, ready, go)
    )
    proc.start()
    if not ready.wait(300):
        proc.kill()
        raise RuntimeError("sender did not get ready")
    return proc, go


def busy_rate(
    counter: Any, proc: Any, go: Any, *, idle: float = 0.5, limit: float = 120.0
) -> tuple[float, float, int]:
    """Start the sender; once input stops return (packets per wall-clock second while
    busy, packets per CPU second this process spent, packets)."""
    base = counter()
    cpu0 = time.process_time()
    go.set()
    t_first = None
    last_n, last_change = base, time.perf_counter()
    deadline = time.perf_counter() + limit
    while time.perf_counter() < deadline:
        time.sleep(0.01)
        n, now = counter(), time.perf_counter()
        if n != last_n:
            if t_first is None:
                t_first = now
            last_n, last_change = n, now
        elif t_first is not None and not proc.is_alive() and now - last_change > idle:
            break
    cpu = time.process_time() - cpu0
    proc.join(10)
    if t_first is None:
        return 0.0, 0.0, 0
    n = last_n - base
    return n / max(last_change - t_first, 1e-9), n / max(cpu, 1e-9), n


def bare_loop(fleet: list, args: argparse.Namespace, cpu: int | None) -> tuple[float, float, int]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 * 1024 * 1024)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.2)
    count = [0]
    stop = threading.Event()

    def loop() -> None:
        recv = sock.recvfrom
        while not stop.is_set():
            try:
                recv(65536)
            except TimeoutError:
                continue
            count[0] += 1

    t = threading.Thread(target=loop)
    t.start()
    proc, go = run_sender(fleet, args.packets, 1, args.rate, sock.getsockname()[1], cpu)
    try:
        return busy_rate(lambda: count[0], proc, go)
    finally:
        stop.set()
        t.join()
        sock.close()


def make_fleet(db: Any, n: int) -> list[Amp]:
    from hydria.core import constants as c
    from hydria.db import models as m

    fleet = [tuple(str(uuid.uuid4()) for _ in range(6)) for _ in range(n)]
    with db.session() as s:  # parents first: no ORM relationships order these rows
        for lb, *_ in fleet:
            s.add(
                m.LoadBalancer(
                    id=lb,
                    project_id="bench",
                    provisioning_status=c.ACTIVE,
                    operating_status=c.ONLINE,
                )
            )
        s.flush()
        for lb, _lst, pool, *_ in fleet:
            s.add(
                m.Pool(
                    id=pool,
                    project_id="bench",
                    load_balancer_id=lb,
                    protocol="HTTP",
                    lb_algorithm="ROUND_ROBIN",
                    provisioning_status=c.ACTIVE,
                    operating_status=c.ONLINE,
                )
            )
        s.flush()
        for i, (lb, lst, pool, m0, m1, amp) in enumerate(fleet):
            s.add(
                m.Listener(
                    id=lst,
                    project_id="bench",
                    load_balancer_id=lb,
                    protocol="HTTP",
                    protocol_port=80,
                    default_pool_id=pool,
                    provisioning_status=c.ACTIVE,
                    operating_status=c.ONLINE,
                )
            )
            for j, mid in enumerate((m0, m1)):
                s.add(
                    m.Member(
                        id=mid,
                        project_id="bench",
                        pool_id=pool,
                        address="127.0.0.1",
                        protocol_port=8000 + j,
                        provisioning_status=c.ACTIVE,
                        operating_status=c.ONLINE,
                    )
                )
            s.add(
                m.Amphora(
                    id=amp,
                    load_balancer_id=lb,
                    status=c.AMPHORA_ALLOCATED,
                    lb_network_ip=f"127.43.{i // 250}.{i % 250 + 1}",
                )
            )
    return [
        (amp, lst, pool, m0, m1, f"127.43.{i // 250}.{i % 250 + 1}")
        for i, (lb, lst, pool, m0, m1, amp) in enumerate(fleet)
    ]


class _OneKey:
    """The single-key baseline: every amphora's key is the same one."""

    def __init__(self, key: bytes) -> None:
        from hydria.wire.heartbeat import SigningKey

        self.key = SigningKey(key)

    def get(self, amphora_id: str) -> Any:
        return self.key


def health_run(
    args: argparse.Namespace, fleet_size: int, cpu: int | None, *, shared: bool
) -> dict[str, Any]:
    """One health manager on a fresh database; what it verified and recorded."""
    from hydria.db import models as m
    from hydria.db.engine import Database
    from hydria.db.migrate import upgrade
    from hydria.health.service import HealthOptions, HealthService

    with tempfile.TemporaryDirectory(prefix="hydria-bench-hb-") as tmp:
        db = Database(f"sqlite:///{Path(tmp) / 'hydria.db'}")
        upgrade(db)
        fleet = make_fleet(db, fleet_size)
        service = HealthService(
            db, HealthOptions(bind="127.0.0.1:0", heartbeat_key=KEY, detect_failures=False)
        )
        if shared:
            service.receiver.keys = _OneKey(KEY)  # type: ignore[assignment]  # the baseline
        stop = threading.Event()
        runner = threading.Thread(target=service.run, args=(stop,))
        runner.start()
        c = service.counters
        try:
            proc, go = run_sender(
                fleet, args.packets, 1, args.rate, service.address[1], cpu, shared=shared
            )
            time.sleep(0.5)  # the directory is loaded before the first packet
            rate, cpu_rate, _ = busy_rate(lambda: c.get("received"), proc, go)
            # let the writer flush what it holds
            deadline = time.monotonic() + 30
            while len(service.pending) and time.monotonic() < deadline:
                time.sleep(0.05)
            time.sleep(0.5)
        finally:
            stop.set()
            runner.join(60)
        snap = c.snapshot()
        rejected = c.rejected()
        verified = snap["received"] - rejected
        with db.session() as s:
            rows = {h.amphora_id: h.seq for h in s.query(m.AmphoraHealth)}
        last = service.seqs.snapshot()  # what the receiver accepted last, per amphora
        behind = sum(1 for a, seq in last.items() if seq and rows.get(a) != seq)
        db.dispose()
    share = verified / snap["received"] if snap["received"] else 0.0
    return {
        "wall": rate * share,
        "cpu": cpu_rate * share,
        "verified": verified,
        "rejected": rejected,
        "snap": snap,
        "rows": len(rows),
        "behind": behind,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--amphorae", type=int, default=1000)
    parser.add_argument("--packets", type=int, default=200_000, help="heartbeats sent per run")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="rounds of (single key, per-amphora keys), alternating which "
        "goes first; medians are compared [default: 3]",
    )
    parser.add_argument(
        "--rate",
        type=float,
        default=60_000,
        help="packets/s the sender offers (0: as fast as it can) [default: "
        "60,000, above the health manager's ceiling, so it measures that "
        "ceiling over a few seconds instead of a burst of a fraction of one]",
    )
    args = parser.parse_args()

    from hydria.wire.heartbeat import open_envelope, verify
    from hydria.wire.heartbeat_keys import AmphoraKeys

    cpus = sorted(os.sched_getaffinity(0))
    mine, theirs = cpus[0], (cpus[1] if len(cpus) > 1 else None)
    os.sched_setaffinity(0, {mine})  # this thread and every thread it starts: one core
    count = args.packets
    offered = f"{args.rate:,.0f}/s" if args.rate else "as fast as it can"
    print(
        f"{args.amphorae} amphorae, {count:,} heartbeats sent {offered} per run; "
        f"health manager on cpu {mine}, sender on cpu {theirs}"
    )

    fleet = [(str(uuid.uuid4()), "l", "p", "m0", "m1", "127.0.0.1") for _ in range(args.amphorae)]
    sample = [p for p, _ in encode_all(fleet, min(count, 20000), 1, False)]
    keys = AmphoraKeys(KEY)
    t0 = time.process_time()
    for p in sample:
        env = open_envelope(p)
        verify(env, keys.get(env.amphora_id))
    decode_rate = len(sample) / (time.process_time() - t0)

    base_wall, base_cpu, base_n = bare_loop(fleet, args, theirs)
    runs: dict[bool, list[dict[str, Any]]] = {True: [], False: []}
    for i in range(max(1, args.repeat)):
        for shared in (True, False) if i % 2 == 0 else (False, True):
            runs[shared].append(health_run(args, args.amphorae, theirs, shared=shared))

    def median(values: list[float]) -> float:
        return statistics.median(values) if values else 0.0

    print("                                          per CPU second   per wall second")
    print(
        f"baseline  bare UDP receive loop:         {base_cpu:12,.0f}   {base_wall:12,.0f}"
        f"   packets (n={base_n:,})"
    )
    cpu = {}
    for shared, name in (
        (True, "baseline  single shared key, median:   "),
        (False, "health manager, per-amphora keys, med.:"),
    ):
        rs = runs[shared]
        cpu[shared] = median([r["cpu"] for r in rs])
        each = ", ".join(f"{r['cpu']:,.0f}" for r in rs)
        print(
            f"{name}{cpu[shared]:12,.0f}   {median([r['wall'] for r in rs]):12,.0f}"
            f"   verified + recorded; runs (CPU): {each}"
        )
    print(f"reference open_envelope + verify alone, in memory: {decode_rate:12,.0f}")
    ratios = [p["cpu"] / s["cpu"] for p, s in zip(runs[False], runs[True], strict=True) if s["cpu"]]
    print(
        f"ratio per-amphora keys / single key (CPU, medians): "
        f"{cpu[False] / cpu[True] if cpu[True] else 0:.2f} (round by round: "
        f"{', '.join(f'{r:.2f}' for r in ratios)})"
    )
    print(f"load average (1, 5, 15 min): {os.getloadavg()}")
    print(
        f"ratio per-amphora keys / bare receive loop (CPU): "
        f"{cpu[False] / base_cpu if base_cpu else 0:.2f}"
    )
    bad = 0
    for shared, name in ((True, "single key"), (False, "per-amphora keys")):
        for r in runs[shared]:
            bad += r["behind"] + (r["verified"] == 0) + r["rejected"] + r["snap"]["write_errors"]
        print(
            f"database check ({name}): after every run all "
            f"{min(r['rows'] for r in runs[shared])}+ amphorae recorded, "
            f"{sum(r['behind'] for r in runs[shared])} not at their last seq, "
            f"{sum(r['rejected'] for r in runs[shared])} rejected"
        )
    per_amp = runs[False][-1]
    if args.rate and per_amp["wall"] >= args.rate * 0.9:
        print(
            "note: the health manager kept up with the offered rate; raise --rate to find "
            "its ceiling"
        )
    return 0 if bad == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
