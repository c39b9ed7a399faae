"""What does TLS termination through Hydria cost? New handshakes and HTTPS requests
per second through a TERMINATED_HTTPS VIP, as a ratio to the same client against a
TLS back-end directly, in the same run.

One ``hydria up`` (local amphorae, real HAProxy); the certificate (ECDSA P-256,
made here) is stored in Hydria's embedded Barbican-compatible store through its
``/v1`` API and named by a TERMINATED_HTTPS listener on 443 in front of an HTTP
pool. One nginx process serves both the baseline (TLS on its own port, the same
certificate, TLS 1.2 and 1.3) and the pool's member (plain HTTP); each answers
``GET /`` with a two-byte body. The client is ``wrk`` for both sides:

* **handshakes/s**: every request on a new connection (``Connection: close``),
  so each one costs a full TLS handshake (no session resumption);
* **requests/s**: keep-alive HTTPS requests over ``--connections`` connections;
  and plain HTTP through an HTTP listener on the same VIP and pool, to tell what
  TLS costs from what the proxy hop (and its flow log) costs.

Runs alternate baseline and VIP ``--rounds`` times for ``--seconds`` each; the
medians are compared. Ratios only: the host is shared.

    .venv/bin/python bench/tls.py [--seconds 4] [--rounds 2] [--connections 16]
"""

from __future__ import annotations

import argparse
import datetime as dt
import re
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx
from _harness import free_port, hydria_up, wait_status
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"
WRK = shutil.which("wrk") or "/usr/bin/wrk"


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
    proc = subprocess.Popen(
        [NGINX, "-p", str(folder), "-c", str(conf)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    if proc.poll() is not None:
        raise RuntimeError((folder / "nginx.err").read_text())
    return proc, tls_port, plain_port


def wrk(url: str, seconds: float, connections: int, *, close: bool) -> float:
    cmd = [WRK, "-t", "2", "-c", str(connections), "-d", f"{seconds:g}s"]
    if close:
        cmd += ["-H", "Connection: close"]
    out = subprocess.run([*cmd, url], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([0-9.]+)", out)
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m is None:
        raise RuntimeError(out)
    if errors:
        print(f"  ! {errors.group(1)} non-2xx answers from {url}")
    return float(m.group(1))


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seconds", type=float, default=4.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--octet", type=int, default=141)
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="hydria-bench-tls-"))
    cert_pem, key_pem, crt, key = make_cert(folder)
    nginx, tls_port, plain_port = start_nginx(folder, crt, key)
    try:
        with hydria_up(args.octet) as endpoint, httpx.Client(base_url=endpoint, timeout=30) as root:
            api = httpx.Client(base_url=endpoint + "/v2", timeout=30)
            ref = store_certificate(root, cert_pem, key_pem)
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
                        "alpn_protocols": ["http/1.1"],
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
                json={"member": {"address": "127.0.0.1", "protocol_port": plain_port}},
            ).raise_for_status()
            wait_status(api, path, "loadbalancer")
            # the same pool behind a plain HTTP listener: what the proxy hop costs
            # without TLS, to tell TLS termination from the rest
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
            plain_vip = f"http://{lb['vip_address']}:80/"
            vip = f"https://{lb['vip_address']}:443/"
            direct = f"https://127.0.0.1:{tls_port}/"
            wrk(vip, 1, 2, close=False)  # warm up both
            wrk(direct, 1, 2, close=False)

            results: dict[tuple[str, str], list[float]] = {}
            for _ in range(args.rounds):
                for kind, close in (("handshakes/s", True), ("requests/s", False)):
                    for side, url in (("direct", direct), ("vip", vip)):
                        rate = wrk(url, args.seconds, args.connections, close=close)
                        results.setdefault((kind, side), []).append(rate)
                rate = wrk(plain_vip, args.seconds, args.connections, close=False)
                results.setdefault(("requests/s", "http-vip"), []).append(rate)
            print(
                f"TLS through a TERMINATED_HTTPS VIP vs nginx TLS directly "
                f"({args.rounds} rounds x {args.seconds:g} s, {args.connections} "
                f"connections, wrk, same run)"
            )
            for kind in ("handshakes/s", "requests/s"):
                d = statistics.median(results[(kind, "direct")])
                v = statistics.median(results[(kind, "vip")])
                print(
                    f"  {kind:13s} direct {d:9.0f}   via VIP {v:9.0f}   ratio {v / d:5.2f}"
                    f"   (runs: direct {[round(x) for x in results[(kind, 'direct')]]}, "
                    f"vip {[round(x) for x in results[(kind, 'vip')]]})"
                )
            h = statistics.median(results[("requests/s", "http-vip")])
            v = statistics.median(results[("requests/s", "vip")])
            print(
                f"  plain HTTP requests/s via the same VIP and pool {h:9.0f}: TLS via VIP / "
                f"HTTP via VIP = {v / h:5.2f}"
            )
            api.delete(path, params={"cascade": "true"})
            api.close()
    finally:
        nginx.terminate()
        nginx.wait(10)
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
