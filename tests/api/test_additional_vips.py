"""Octavia's ``additional_vips``: one more VIP per subnet of the VIP's network, shown as
``[{"subnet_id", "ip_address"}]``, and Octavia's 400s for what it refuses (nothing written)."""

from __future__ import annotations

from hydria.db.subnets import create_subnet
from tests.api.conftest import BASE, assert_fault, snapshot


def _subnet(db, name: str, cidr: str, network: str | None = "public") -> str:
    with db.session() as s:
        return create_subnet(s, name, cidr, network_name=network, ipv6=True).id


def test_additional_vip_on_another_subnet_of_the_network(client, api, db):
    second = _subnet(db, "second", "10.70.1.0/24")
    v6 = _subnet(db, "v6", "fd70:1::/64")
    r = client.post(
        f"{BASE}/loadbalancers",
        json={
            "loadbalancer": {
                "vip_subnet_id": api.subnet_id,
                "additional_vips": [
                    {"subnet_id": second, "ip_address": "10.70.1.9"},
                    {"subnet_id": v6},
                ],
            }
        },
    )
    assert r.status_code == 201, r.text
    lb = r.json()["loadbalancer"]
    assert lb["additional_vips"] == [
        {"subnet_id": second, "ip_address": "10.70.1.9"},
        {"subnet_id": v6, "ip_address": "fd70:1::2"},
    ]
    shown = client.get(f"{BASE}/loadbalancers/{lb['id']}").json()["loadbalancer"]
    assert shown["additional_vips"] == lb["additional_vips"]
    # the address is taken: a second load balancer cannot have it
    assert_fault(
        client.post(
            f"{BASE}/loadbalancers",
            json={
                "loadbalancer": {
                    "vip_subnet_id": api.subnet_id,
                    "additional_vips": [{"subnet_id": second, "ip_address": "10.70.1.9"}],
                }
            },
        ),
        409,
    )


def test_octavia_refusals_write_nothing(client, api, db):
    other_net = _subnet(db, "elsewhere", "10.70.2.0/24", network="elsewhere")
    second = _subnet(db, "second", "10.70.1.0/24")
    before = snapshot(db)
    for body, words in (
        ([{"subnet_id": api.subnet_id}], "Duplicate VIP subnet(s) specified"),
        ([{"subnet_id": second}, {"subnet_id": second}], "Duplicate VIP subnet(s)"),
        ([{"subnet_id": other_net}], "All VIP subnets must belong to the same network"),
        ([{"subnet_id": "8a5b6c4e-0000-4000-8000-000000000000"}], "not found"),
        ([{"ip_address": "10.70.1.9"}], "subnet_id is mandatory"),
        ([{"subnet_id": second, "ip_address": "10.70.9.9"}], "is not in subnet"),
        ([{"subnet_id": second, "ip_address": "nope"}], "is not an IP address"),
        ([{"subnet_id": second, "colour": "red"}], "additional_vips"),
    ):
        r = client.post(
            f"{BASE}/loadbalancers",
            json={"loadbalancer": {"vip_subnet_id": api.subnet_id, "additional_vips": body}},
        )
        assert_fault(r, 400, words)
    assert snapshot(db) == before


def test_allowed_cidrs_may_be_of_any_vips_family(client, api, db):
    v6 = _subnet(db, "v6", "fd70:1::/64")
    dual = api.lb(additional_vips=[{"subnet_id": v6}])
    li = api.listener(dual["id"], allowed_cidrs=["192.0.2.0/24", "fd70:1::/64"])
    assert sorted(li["allowed_cidrs"]) == ["192.0.2.0/24", "fd70:1::/64"]
    single = api.lb()
    r = client.post(
        f"{BASE}/listeners",
        json={
            "listener": {
                "loadbalancer_id": single["id"],
                "protocol": "HTTP",
                "protocol_port": 81,
                "allowed_cidrs": ["fd70:1::/64"],
            }
        },
    )
    assert_fault(r, 400, "IP version incompatible with all VIPs")
