"""Address families on UDP listeners: Octavia's amphora-provider 501 for a member whose
IP version none of the VIPs has, and this deployment's 501 for a member of another
version than the VIP where nftables (NAT within one version) is the only UDP engine;
an IPv6 VIP with IPv6 members is served there. Each refusal writes nothing."""

from __future__ import annotations

import pytest

from hydria.core import host
from hydria.db.subnets import create_subnet
from tests.api.conftest import BASE, assert_fault, snapshot

PREFIX = "Provider 'amphora' does not support a requested option: "
MIXING = PREFIX + "This provider cannot mix IPv4 and IPv6 addresses between the VIP and the"


def _v6_subnet(db, name: str = "v6", cidr: str = "fd71:1::/64") -> str:
    with db.session() as s:
        return create_subnet(s, name, cidr, network_name="public", ipv6=True).id


@pytest.fixture
def nginx_host(monkeypatch):
    """UDP on nginx whatever this machine has: the mixing rule is Octavia's, not an engine's."""
    monkeypatch.setattr(host, "detect", lambda: host.HostSupport(nginx="/usr/sbin/nginx"))


@pytest.fixture
def nft_only(monkeypatch, settings):
    """netns amphorae on a host with nft and no nginx stream module."""
    monkeypatch.setattr(host, "detect", lambda: host.HostSupport(nft=True))
    monkeypatch.setattr(settings, "compute_driver", "netns")


def _udp_pool(api, lb_id: str) -> dict:
    li = api.listener(lb_id, protocol="UDP", protocol_port=53)
    return api.pool(listener_id=li["id"], protocol="UDP", lb_algorithm="ROUND_ROBIN")


def test_udp_member_of_a_family_no_vip_has_is_a_501(client, api, db, nginx_host):
    lb = api.lb()  # IPv4 VIP only
    pool = _udp_pool(api, lb["id"])
    before = snapshot(db)
    r = client.post(
        f"{BASE}/pools/{pool['id']}/members",
        json={"member": {"address": "fd00::5", "protocol_port": 53}},
    )
    assert_fault(r, 501, MIXING + " members of UDP load balancers.")
    assert snapshot(db) == before
    # the batch update checks every member it is given, new or kept
    kept = api.member(pool["id"], address="10.0.0.5", protocol_port=53)
    before = snapshot(db)
    r = client.put(
        f"{BASE}/pools/{pool['id']}/members",
        json={
            "members": [
                {"address": "10.0.0.5", "protocol_port": 53},
                {"address": "fd00::6", "protocol_port": 53},
            ]
        },
    )
    assert_fault(r, 501, MIXING)
    assert snapshot(db) == before
    assert kept["address"] == "10.0.0.5"
    # a TCP pool mixes freely, and a UDP pool no listener uses is not checked (as Octavia)
    tcp = api.pool(loadbalancer_id=lb["id"], protocol="TCP")
    assert api.member(tcp["id"], address="fd00::7")["address"] == "fd00::7"
    lone = api.pool(loadbalancer_id=lb["id"], protocol="UDP")
    assert api.member(lone["id"], address="fd00::8")["address"] == "fd00::8"


def test_an_additional_vip_of_the_family_allows_the_member(client, api, db, nginx_host):
    v6 = _v6_subnet(db)
    lb = api.lb(additional_vips=[{"subnet_id": v6}])
    pool = _udp_pool(api, lb["id"])
    assert api.member(pool["id"], address="fd00::5", protocol_port=53)["address"] == "fd00::5"
    assert api.member(pool["id"], address="10.0.0.5", protocol_port=53)["address"] == "10.0.0.5"


def test_fully_populated_create_mixing_families_is_a_501(client, api, db, nginx_host):
    before = snapshot(db)
    body = {
        "loadbalancer": {
            "vip_subnet_id": api.subnet_id,
            "listeners": [
                {
                    "protocol": "UDP",
                    "protocol_port": 53,
                    "default_pool": {
                        "name": "dns",
                        "protocol": "UDP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "members": [{"address": "fd00::5", "protocol_port": 53}],
                    },
                }
            ],
        }
    }
    assert_fault(client.post(f"{BASE}/loadbalancers", json=body), 501, MIXING)
    assert snapshot(db) == before
    member = body["loadbalancer"]["listeners"][0]["default_pool"]["members"][0]
    member["address"] = "10.0.0.5"
    r = client.post(f"{BASE}/loadbalancers", json=body)
    assert r.status_code == 201, r.text


def test_ipv6_vip_and_members_on_udp_where_only_nftables_serves(client, api, db, nft_only):
    """nftables serves an IPv6 VIP with IPv6 members (an ip6 table): no 501, by
    single creates and in a fully populated create."""
    v6 = _v6_subnet(db)
    lb = api.lb(vip_subnet_id=v6)
    pool = _udp_pool(api, lb["id"])
    assert api.member(pool["id"], address="fd00::5", protocol_port=53)["address"] == "fd00::5"
    body = {
        "loadbalancer": {
            "vip_subnet_id": v6,
            "listeners": [
                {
                    "protocol": "UDP",
                    "protocol_port": 53,
                    "default_pool": {
                        "name": "dns6",
                        "protocol": "UDP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "members": [{"address": "fd00::6", "protocol_port": 53}],
                    },
                }
            ],
        }
    }
    r = client.post(f"{BASE}/loadbalancers", json=body)
    assert r.status_code == 201, r.text


def test_member_of_the_other_version_than_the_vip_where_only_nftables_serves_is_a_501(
    client, api, db, nft_only
):
    """Octavia's rule lets an additional VIP of the member's version pass; the
    nftables engine forwards a UDP VIP within its own version, so here it is a 501."""
    v6 = _v6_subnet(db)
    lb = api.lb(additional_vips=[{"subnet_id": v6}])  # Octavia's rule would allow IPv6
    pool = _udp_pool(api, lb["id"])
    words = PREFIX + "a UDP member of IPv6 behind an IPv4 VIP needs nginx"
    before = snapshot(db)
    r = client.post(
        f"{BASE}/pools/{pool['id']}/members",
        json={"member": {"address": "fd00::5", "protocol_port": 53}},
    )
    assert_fault(r, 501, words)
    r = client.put(
        f"{BASE}/pools/{pool['id']}/members",
        json={"members": [{"address": "fd00::5", "protocol_port": 53}]},
    )
    assert_fault(r, 501, words)
    assert snapshot(db) == before
    assert api.member(pool["id"], address="10.0.0.5", protocol_port=53)["address"] == "10.0.0.5"
    # a listener whose default pool already holds such a member: refused too
    tcp_only = api.pool(loadbalancer_id=lb["id"], protocol="UDP")
    api.member(tcp_only["id"], address="fd00::7", protocol_port=53)  # no listener: unchecked
    before = snapshot(db)
    r = client.post(
        f"{BASE}/listeners",
        json={
            "listener": {
                "loadbalancer_id": lb["id"],
                "protocol": "UDP",
                "protocol_port": 54,
                "default_pool_id": tcp_only["id"],
            }
        },
    )
    assert_fault(r, 501, words)
    assert snapshot(db) == before
    # and in a fully populated create with a dual-stack VIP
    v6_body = {
        "loadbalancer": {
            "vip_subnet_id": api.subnet_id,
            "additional_vips": [{"subnet_id": v6}],
            "listeners": [
                {
                    "protocol": "UDP",
                    "protocol_port": 53,
                    "default_pool": {
                        "name": "dns",
                        "protocol": "UDP",
                        "lb_algorithm": "ROUND_ROBIN",
                        "members": [{"address": "fd00::5", "protocol_port": 53}],
                    },
                }
            ],
        }
    }
    assert_fault(client.post(f"{BASE}/loadbalancers", json=v6_body), 501, words)
    assert snapshot(db) == before
