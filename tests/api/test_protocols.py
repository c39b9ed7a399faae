"""UDP, SCTP and PROMETHEUS through the API: what is accepted, Octavia's 400s, the 501s."""

from __future__ import annotations

from hydria.core import host
from tests.api.conftest import BASE, assert_fault, snapshot


def test_udp_listener_pool_and_monitor(client, api, db):
    lb = api.lb()
    tcp = api.listener(lb["id"], protocol="TCP", protocol_port=53)
    udp = api.listener(lb["id"], protocol="UDP", protocol_port=53)  # same port, other transport
    assert (tcp["protocol"], udp["protocol"]) == ("TCP", "UDP")
    pool = api.pool(
        listener_id=udp["id"],
        protocol="UDP",
        lb_algorithm="SOURCE_IP",
        session_persistence={
            "type": "SOURCE_IP",
            "persistence_timeout": 60,
            "persistence_granularity": "255.255.255.0",
        },
    )
    assert pool["session_persistence"] == {
        "type": "SOURCE_IP",
        "cookie_name": None,
        "persistence_timeout": 60,
        "persistence_granularity": "255.255.255.0",
    }
    hm = api.hm(pool["id"], type="UDP-CONNECT", delay=3, timeout=2, max_retries=2)
    assert hm["type"] == "UDP-CONNECT"
    before = snapshot(db)
    r = client.put(
        f"{BASE}/healthmonitors/{hm['id']}", json={"healthmonitor": {"delay": 1, "timeout": 1}}
    )
    assert_fault(r, 400, "The request delay value 1 should be larger than 3 for UDP-CONNECT")
    r = client.post(
        f"{BASE}/listeners",
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "UDP", "protocol_port": 53}},
    )
    assert_fault(r, 409, "already using protocol UDP and protocol_port 53")
    r = client.put(
        f"{BASE}/listeners/{udp['id']}",
        json={"listener": {"insert_headers": {"X-Forwarded-For": "true"}}},
    )
    assert_fault(r, 400, "UDP protocol listener does not support TLS or header insertion.")
    r = client.put(
        f"{BASE}/pools/{pool['id']}",
        json={"pool": {"session_persistence": {"type": "APP_COOKIE", "cookie_name": "c"}}},
    )
    assert_fault(r, 400, "Cookie names are not supported for UDP/SCTP pools.")
    assert snapshot(db) == before


def test_udp_pool_refuses_other_monitors(client, api, db):
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"], protocol="UDP")
    before = snapshot(db)
    r = client.post(
        f"{BASE}/healthmonitors",
        json={
            "healthmonitor": {
                "pool_id": pool["id"],
                "type": "PING",
                "delay": 5,
                "timeout": 3,
                "max_retries": 3,
            }
        },
    )
    assert_fault(
        r,
        400,
        "The associated pool protocol is UDP, so only a "
        "UDP-CONNECT/SCTP/TCP/HTTP health monitor is supported.",
    )
    assert snapshot(db) == before


def test_sctp_is_a_501_with_the_provider_message(client, api, db):
    lb = api.lb()
    pool = api.pool(loadbalancer_id=lb["id"], protocol="UDP")
    before = snapshot(db)
    prefix = "Provider 'amphora' does not support a requested option: "
    r = client.post(
        f"{BASE}/listeners",
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "SCTP", "protocol_port": 9}},
    )
    assert_fault(r, 501, prefix + "protocol SCTP")
    r = client.post(
        f"{BASE}/pools",
        json={
            "pool": {"loadbalancer_id": lb["id"], "protocol": "SCTP", "lb_algorithm": "ROUND_ROBIN"}
        },
    )
    assert_fault(r, 501, prefix + "protocol SCTP")
    r = client.post(
        f"{BASE}/healthmonitors",
        json={
            "healthmonitor": {
                "pool_id": pool["id"],
                "type": "SCTP",
                "delay": 5,
                "timeout": 3,
                "max_retries": 3,
            }
        },
    )
    assert_fault(r, 501, prefix + "type SCTP")
    assert snapshot(db) == before


def test_prometheus_listener_takes_no_pool(client, api, db):
    lb = api.lb()
    prom = api.listener(
        lb["id"], protocol="PROMETHEUS", protocol_port=9100, allowed_cidrs=["10.0.0.0/8"]
    )
    assert prom["protocol"] == "PROMETHEUS"
    before = snapshot(db)
    r = client.post(
        f"{BASE}/pools",
        json={
            "pool": {"listener_id": prom["id"], "protocol": "HTTP", "lb_algorithm": "ROUND_ROBIN"}
        },
    )
    assert_fault(r, 400, "Protocol PROMETHEUS listeners cannot have child objects.")
    r = client.post(
        f"{BASE}/listeners",
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "HTTP", "protocol_port": 9100}},
    )
    assert_fault(r, 409, "already using protocol PROMETHEUS and protocol_port 9100")
    assert snapshot(db) == before


def test_udp_on_local_amphorae_without_nginx_is_a_501(client, api, db, monkeypatch):
    """The local driver's amphorae share the host's network namespace, where nftables
    never writes a table: on a host with nft but no nginx stream module nothing
    would serve a UDP listener, so creating one is Octavia's 501 (single creates
    and the fully populated one), and the provider's description says why."""
    monkeypatch.setattr(host, "detect", lambda: host.HostSupport(nft=True))
    lb = api.lb()
    before = snapshot(db)
    prefix = "Provider 'amphora' does not support a requested option: "
    r = client.post(
        f"{BASE}/listeners",
        json={"listener": {"loadbalancer_id": lb["id"], "protocol": "UDP", "protocol_port": 53}},
    )
    assert_fault(r, 501, prefix + "protocol UDP needs a UDP engine in the amphora")
    r = client.post(
        f"{BASE}/pools",
        json={
            "pool": {"loadbalancer_id": lb["id"], "protocol": "UDP", "lb_algorithm": "ROUND_ROBIN"}
        },
    )
    assert_fault(r, 501, prefix + "protocol UDP")
    r = client.post(
        f"{BASE}/loadbalancers",
        json={
            "loadbalancer": {
                "vip_subnet_id": api.subnet_id,
                "listeners": [{"protocol": "UDP", "protocol_port": 53}],
            }
        },
    )
    assert_fault(r, 501, prefix + "protocol UDP")
    assert snapshot(db) == before
    (amphora,) = [
        p for p in client.get(f"{BASE}/providers").json()["providers"] if p["name"] == "amphora"
    ]
    assert "no UDP (nftables serves netns amphorae only" in amphora["description"]

    # the same host with nginx's stream module: local amphorae run UDP on nginx
    monkeypatch.setattr(host, "detect", lambda: host.HostSupport(nft=True, nginx="/usr/sbin/nginx"))
    udp = api.listener(lb["id"], protocol="UDP", protocol_port=53)
    assert udp["protocol"] == "UDP"
    (amphora,) = [
        p for p in client.get(f"{BASE}/providers").json()["providers"] if p["name"] == "amphora"
    ]
    assert "UDP through nginx-stream;" in amphora["description"]


def test_least_connections_udp_where_only_nftables_serves_is_a_501(
    client, api, db, settings, monkeypatch
):
    """netns amphorae on a host with nft and no nginx stream module: UDP runs on
    nftables, which has no least-connections chooser, so a LEAST_CONNECTIONS UDP
    pool (created or changed to it) is Octavia's 501 instead of an amphora that
    would need nginx; other algorithms and TCP pools are accepted."""
    lb = api.lb()
    monkeypatch.setattr(host, "detect", lambda: host.HostSupport(nft=True))
    monkeypatch.setattr(settings, "compute_driver", "netns")
    prefix = "Provider 'amphora' does not support a requested option: "
    before = snapshot(db)
    r = client.post(
        f"{BASE}/pools",
        json={
            "pool": {
                "loadbalancer_id": lb["id"],
                "protocol": "UDP",
                "lb_algorithm": "LEAST_CONNECTIONS",
            }
        },
    )
    assert_fault(r, 501, prefix + "lb_algorithm LEAST_CONNECTIONS on a UDP pool needs nginx")
    assert snapshot(db) == before
    pool = api.pool(loadbalancer_id=lb["id"], protocol="UDP", lb_algorithm="SOURCE_IP")
    before = snapshot(db)
    r = client.put(
        f"{BASE}/pools/{pool['id']}", json={"pool": {"lb_algorithm": "LEAST_CONNECTIONS"}}
    )
    assert_fault(r, 501, prefix + "lb_algorithm LEAST_CONNECTIONS on a UDP pool")
    assert snapshot(db) == before
    tcp = api.pool(loadbalancer_id=lb["id"], protocol="TCP", lb_algorithm="LEAST_CONNECTIONS")
    assert tcp["lb_algorithm"] == "LEAST_CONNECTIONS"
