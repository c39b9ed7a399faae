"""What does TLS termination through Hydria cost? New handshakes and HTTPS requests
per second through a TERMINATED_HTTPS VIP, as ratios to two baselines in the same
run: the same client against a TLS back-end directly, and against a hand-written
HAProxy terminating TLS in front of the same back-end.

A ``hydria up`` (local amphorae, real HAProxy); the certificate (ECDSA P-256,
made here) is stored in Hydria's embedded Barbican-compatible store through its
``/v1`` API and named by a TERMINATED_HTTPS listener on 443 (Octavia's defaults:
TLS 1.2 and 1.3, its ciphers, ALPN h2, http/1.1, http/1.0; connection logging on)
in front of an HTTP pool. One nginx serves the direct baseline (TLS on its own
port, the same certificate) and the pool's member (plain HTTP); each answers
``GET /`` with a two-byte body from memory. The second baseline is HAProxy with a
hand-written configuration: the same certificate, versions, ciphers and ALPN, the
same member, no flow log. A second ``hydria up`` with
``HYDRIA_CONNECTION_LOGGING=false`` serves the same load balancer without flow
logs: what Hydria's configuration costs by itself. The client is ``wrk``
everywhere:

* **handshakes/s**: every request on a new connection (``Connection: close``),
  so each one costs a full TLS handshake (no session resumption);
* **requests/s**: keep-alive HTTPS requests over ``--connections`` connections;
  and plain HTTP through an HTTP listener on the same VIP and pool, to tell what
  TLS costs from what the proxy hop (and its flow log) costs.

The direct baseline answers by itself; the VIP and the hand-written HAProxy each
add a proxy hop (parse, a second HTTP exchange with the member, which nginx then
answers) on the same two cores as the client. So VIP / direct is the price of a
proxy in front of the back-end, not of Hydria: VIP / hand-written is what Hydria
adds, and VIP without flow log / hand-written what its configuration alone
adds. Besides the rates (which swing with a shared machine's load), the CPU time
per keep-alive request from /proc: Hydria's HAProxy worker and its amphora agent
(which reads the flow log, a datagram per request), against the hand-written
HAProxy. The flow log lines HAProxy could not hand over (``DroppedLogs``) are
printed too.

Every server runs in a session of its own, as the amphora's HAProxy does (it
daemonises). With the kernel's autogroups (``kernel.sched_autogroup_enabled``) a
session is one scheduling group: on a loaded host a server in wrk's session is
woken at once, one in another session waits for its group's turn. Before this,
nginx (both baselines' server) and a hand-written HAProxy started from this
script shared wrk's group while the VIP's HAProxy did not: such a HAProxy served
28,605 keep-alive requests/s beside the VIP's 8,076 (without flow log) at 17.9
and 21.0 us of CPU per request (2026-12-01, load 25).

Runs alternate the arms ``--rounds`` times (the order rotating) for ``--seconds``
each; medians are compared. Ratios only: the host is shared.

    .venv/bin/python bench/tls.py [--seconds 4] [--rounds 3] [--connections 16]
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import re
import shutil
import socket
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
from _harness import free_port, hydria_up, load, process_cpu_seconds, wait_status
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from hydria.core import constants as c
from hydria.wire.amphora_layout import AmphoraLayout

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
HAPROXY = shutil.which("haproxy") or "/usr/sbin/haproxy"
WRK = shutil.which("wrk") or "/usr/bin/wrk"
ARMS = ("direct", "vip", "vip-nolog", "hand")


def make_cert(folder: Path) -> tuple[bytes, bytes, Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench.example")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(days=1))
        .not_valid_after(now + dt.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("bench.example")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_pem = cert.public_bytes(serialization.Encoding.PEM)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    crt, keyf = folder / "bench.crt", folder / "bench.key"
    crt.write_bytes(cert_pem)
    keyf.write_bytes(key_pem)
    keyf.chmod(0o600)
    return cert_pem, key_pem, crt, keyf


def _wait_port(port: int, what: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on {port}: {what.read_text(errors='replace')}")


def start_nginx(folder: Path, crt: Path, key: Path) -> tuple[subprocess.Popen[bytes], int, int]:
    tls_port, plain_port = free_port(), free_port()
    conf = folder / "nginx.conf"
    conf.write_text(f"""
daemon off;
worker_processes auto;
pid {folder}/nginx.pid;
error_log {folder}/nginx.err warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {folder}/body;
    proxy_temp_path {folder}/proxy;
    fastcgi_temp_path {folder}/fastcgi;
    uwsgi_temp_path {folder}/uwsgi;
    scgi_temp_path {folder}/scgi;
    keepalive_requests 1000000;
    server {{
        listen 127.0.0.1:{tls_port} ssl;
        ssl_certificate {crt};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        ssl_session_cache off;
        ssl_session_tickets off;
        location / {{ return 200 "ok"; }}
    }}
    server {{
        listen 127.0.0.1:{plain_port};
        location / {{ return 200 "ok"; }}
    }}
}}
""")
    (folder / "nginx.err").touch()
    proc = subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a scheduling group of its own: see the docstring
    )
    _wait_port(tls_port, folder / "nginx.err")
    _wait_port(plain_port, folder / "nginx.err")
    return proc, tls_port, plain_port


def start_hand_written(
    folder: Path, cert_pem: bytes, key_pem: bytes, member_port: int
) -> tuple[subprocess.Popen[bytes], int]:
    """HAProxy as an operator would write it for this listener: Octavia's TLS
    defaults on the bind, an HTTP frontend, the member; HAProxy's own defaults
    otherwise (threads, keep-alive on both sides, connection reuse)."""
    port = free_port()
    pem = folder / "hand.pem"
    pem.write_bytes(cert_pem + key_pem)
    pem.chmod(0o600)
    conf = folder / "hand.cfg"
    conf.write_text(f"""global
    maxconn 4096

defaults
    mode http
    timeout connect 5s
    timeout client 50s
    timeout server 50s

frontend tls
    bind 127.0.0.1:{port} ssl crt {pem} ciphers {c.DEFAULT_TLS_CIPHERS} no-sslv3 no-tlsv10 no-tlsv11 alpn {",".join(c.DEFAULT_ALPN_PROTOCOLS)}
    default_backend member

backend member
    server m1 127.0.0.1:{member_port}
""")
    log = folder / "hand.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [HAPROXY, "-db", "-f", str(conf)],
            stdout=out,
            stderr=out,
            start_new_session=True,  # a scheduling group of its own: see the docstring
        )
    _wait_port(port, log)
    return proc, port


def wrk(url: str, seconds: float, connections: int, *, close: bool) -> tuple[float, int]:
    """Requests per second and requests done."""
    cmd = [WRK, "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s"]
    if close:
        cmd += ["-H", "Connection: close"]  # "Connection:close" (no space) is not sent
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    n = re.search(r"(\d+) requests in", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m is None or n is None:
        raise RuntimeError(out)
    if errors:
        print(f"  ! {errors.group(1)} non-2xx answers from {url}")
    return float(m.group(1)), int(n.group(1))


def store_certificate(client: httpx.Client, cert_pem: bytes, key_pem: bytes) -> str:
    def secret(payload: bytes) -> str:
        r = client.post(
            "/v1/secrets",
            json={
                "name": "bench",
                "payload": payload.decode(),
                "payload_content_type": "text/plain",
            },
        )
        r.raise_for_status()
        return str(r.json()["secret_ref"])

    r = client.post(
        "/v1/containers",
        json={
            "type": "certificate",
            "name": "bench",
            "secret_refs": [
                {"name": "certificate", "secret_ref": secret(cert_pem)},
                {"name": "private_key", "secret_ref": secret(key_pem)},
            ],
        },
    )
    r.raise_for_status()
    return str(r.json()["container_ref"])


def build_lb(api: httpx.Client, root: httpx.Client, ref: str, member_port: int) -> dict:
    """A TERMINATED_HTTPS listener on 443 (Octavia's defaults) and an HTTP one on 80,
    the same pool behind both, its one member the plain nginx."""
    subnets = root.get("/v2.0/subnets").json()["subnets"]
    subnet = next(s["id"] for s in subnets if s["name"] == "public")
    lb = api.post(
        "/lbaas/loadbalancers",
        json={"loadbalancer": {"name": "bench-tls", "vip_subnet_id": subnet}},
    ).json()["loadbalancer"]
    path = f"/lbaas/loadbalancers/{lb['id']}"
    wait_status(api, path, "loadbalancer")
    res = api.post(
        "/lbaas/listeners",
        json={
            "listener": {
                "loadbalancer_id": lb["id"],
                "protocol": "TERMINATED_HTTPS",
                "protocol_port": 443,
                "default_tls_container_ref": ref,
            }
        },
    )
    res.raise_for_status()
    listener = res.json()["listener"]
    wait_status(api, path, "loadbalancer")
    pool = api.post(
        "/lbaas/pools",
        json={
            "pool": {
                "listener_id": listener["id"],
                "protocol": "HTTP",
                "lb_algorithm": "ROUND_ROBIN",
            }
        },
    ).json()["pool"]
    wait_status(api, path, "loadbalancer")
    api.post(
        f"/lbaas/pools/{pool['id']}/members",
        json={"member": {"address": "127.0.0.1", "protocol_port": member_port}},
    ).raise_for_status()
    wait_status(api, path, "loadbalancer")
    api.post(
        "/lbaas/listeners",
        json={
            "listener": {
                "loadbalancer_id": lb["id"],
                "protocol": "HTTP",
                "protocol_port": 80,
                "default_pool_id": pool["id"],
            }
        },
    ).raise_for_status()
    wait_status(api, path, "loadbalancer")
    return lb


def show_info(stats_socket: Path) -> dict[str, str]:
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(stats_socket))
        s.sendall(b"show info\n")
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    return dict(line.split(": ", 1) for line in data.decode().splitlines() if ": " in line)


class Amphora:
    """The one amphora of the run: its HAProxy worker and agent, for CPU time."""

    def __init__(self, state: Path) -> None:
        (root,) = (state / "amphorae").iterdir()
        self.layout = AmphoraLayout(root)
        self.agent_pid = int(self.layout.agent_pid.read_text().split()[0])

    def info(self) -> dict[str, str]:
        return show_info(self.layout.stats_socket)

    def cpu(self) -> tuple[float, float]:
        """CPU seconds of the current HAProxy worker and of the agent."""
        worker = int(self.info()["Pid"])
        return process_cpu_seconds(worker), process_cpu_seconds(self.agent_pid)


def _median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


NAMES = {
    "direct": "nginx TLS directly",
    "vip": "Hydria VIP",
    "vip-nolog": "Hydria VIP, no flow log",
    "hand": "hand-written HAProxy",
}


def report(results: dict[tuple[str, str], list[float]], cpu: dict[str, list[float]]) -> None:
    for kind in ("handshakes/s", "requests/s"):
        m = {arm: _median(results[(kind, arm)]) for arm in ARMS}
        print(f"  {kind}:")
        for arm in ARMS:
            print(
                f"    {NAMES[arm]:24s} {m[arm]:8.0f}   runs {[round(x) for x in results[(kind, arm)]]}"
            )
        print(
            f"    ratios: VIP/direct {m['vip'] / m['direct']:5.2f}   VIP/hand-written"
            f" {m['vip'] / m['hand']:5.2f}   VIP without flow log/hand-written"
            f" {m['vip-nolog'] / m['hand']:5.2f}   hand-written/direct {m['hand'] / m['direct']:5.2f}"
        )
    http = _median(results[("requests/s", "http-vip")])
    tls = _median(results[("requests/s", "vip")])
    print(
        f"  plain HTTP requests/s via the same VIP and pool {http:8.0f}: TLS/HTTP via VIP {tls / http:5.2f}"
    )
    hap, agent, nolog, hand = (_median(cpu[k]) for k in ("vip", "agent", "vip-nolog", "hand"))
    print(
        f"  CPU per keep-alive HTTPS request (median of runs): hand-written HAProxy {hand:5.1f} us;"
        f" Hydria without flow log {nolog:5.1f} us ({nolog / hand:4.2f}x); Hydria's HAProxy"
        f" {hap:5.1f} us + its agent reading the flow log {agent:5.1f} us = {hap + agent:5.1f} us"
        f" ({(hap + agent) / hand:4.2f}x)"
    )


@contextlib.contextmanager
def hydria_lb(
    octet: int, cert_pem: bytes, key_pem: bytes, member_port: int, **env: str
) -> Iterator[tuple[dict, Amphora]]:
    """A ``hydria up`` serving the bench's load balancer, and its amphora."""
    with hydria_up(octet, **env) as endpoint, httpx.Client(base_url=endpoint, timeout=30) as root:
        with httpx.Client(base_url=endpoint + "/v2", timeout=30) as api:
            ref = store_certificate(root, cert_pem, key_pem)
            lb = build_lb(api, root, ref, member_port)
            yield lb, Amphora(endpoint.log.parent)
            api.delete(f"/lbaas/loadbalancers/{lb['id']}", params={"cascade": "true"})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--octet", type=int, default=141, help="and the next one")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="hydria-bench-tls-"))
    cert_pem, key_pem, crt, key = make_cert(folder)
    nginx, tls_port, plain_port = start_nginx(folder, crt, key)
    procs = [nginx]
    try:
        hand, hand_port = start_hand_written(folder, cert_pem, key_pem, plain_port)
        procs.append(hand)
        with (
            hydria_lb(args.octet, cert_pem, key_pem, plain_port) as (lb, amphora),
            hydria_lb(
                args.octet + 1, cert_pem, key_pem, plain_port, HYDRIA_CONNECTION_LOGGING="false"
            ) as (lb_nolog, amphora_nolog),
        ):
            urls = {
                "direct": f"https://127.0.0.1:{tls_port}/",
                "vip": f"https://{lb['vip_address']}:443/",
                "vip-nolog": f"https://{lb_nolog['vip_address']}:443/",
                "hand": f"https://127.0.0.1:{hand_port}/",
                "http-vip": f"http://{lb['vip_address']}:80/",
            }
            for url in urls.values():
                wrk(url, 1, 2, close=False)  # warm up every arm

            def cpu_now() -> dict[str, float]:
                (hap, agent), (nolog, _) = amphora.cpu(), amphora_nolog.cpu()
                return {
                    "vip": hap,
                    "agent": agent,
                    "vip-nolog": nolog,
                    "hand": process_cpu_seconds(hand.pid),
                }

            start_load, start_info = load(), amphora.info()
            results: dict[tuple[str, str], list[float]] = {}
            cpu: dict[str, list[float]] = {"vip": [], "agent": [], "vip-nolog": [], "hand": []}
            for i in range(args.rounds):
                shift = i % len(ARMS)
                arms = ARMS[shift:] + ARMS[:shift]  # rotate who goes first
                for kind, close in (("handshakes/s", True), ("requests/s", False)):
                    for arm in arms:
                        before = cpu_now()
                        rate, done = wrk(urls[arm], args.seconds, args.connections, close=close)
                        after = cpu_now()
                        results.setdefault((kind, arm), []).append(rate)
                        if not close:
                            for key in [arm, "agent"] if arm == "vip" else [arm]:
                                if key in cpu:
                                    cpu[key].append((after[key] - before[key]) / done * 1e6)
                rate, _ = wrk(urls["http-vip"], args.seconds, args.connections, close=False)
                results.setdefault(("requests/s", "http-vip"), []).append(rate)
            end_info = amphora.info()
            print(
                f"TLS through a TERMINATED_HTTPS VIP vs nginx TLS directly and vs a hand-written"
                f" HAProxy terminating TLS to the same nginx ({args.rounds} rounds x"
                f" {args.seconds:g} s, {args.connections} connections, wrk, same run;"
                f" {start_load} at the start, {load()} at the end)"
            )
            report(results, cpu)
            requests = int(end_info["CumReq"]) - int(start_info["CumReq"])
            dropped = int(end_info["DroppedLogs"]) - int(start_info["DroppedLogs"])
            print(
                f"  flow log lines HAProxy dropped (its DroppedLogs): {dropped} of {requests}"
                f" requests (net.unix.max_dgram_qlen"
                f" {Path('/proc/sys/net/unix/max_dgram_qlen').read_text().strip()})"
            )
    finally:
        for proc in reversed(procs):
            proc.terminate()
            proc.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
