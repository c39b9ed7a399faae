"""A new VIP subnet: no overlap with another or with the management range, no IPv6
yet (``check_new_subnet`` is pure; ``create_subnet`` answers 409/400 and writes
nothing)."""

from __future__ import annotations

import ipaddress

import pytest

from hydria.core.errors import Conflict, InvalidInput
from hydria.db.engine import Database
from hydria.db.migrate import upgrade
from hydria.db.models import Subnet
from hydria.db.subnets import check_new_subnet, create_subnet

MGMT = ("127.43.0.10", "127.43.255.250")
EXISTING = [("public", "127.42.0.0/16"), ("lab", "10.9.0.0/29")]


@pytest.mark.parametrize(
    "cidr", ["127.44.0.0/16", "10.9.0.8/29", "127.43.0.0/29", "127.43.255.252/30"]
)
def test_clear_subnets_pass(cidr: str) -> None:
    check_new_subnet(ipaddress.ip_network(cidr), EXISTING, mgmt_range=MGMT)


@pytest.mark.parametrize(
    ("cidr", "error", "words"),
    [
        ("127.42.5.0/24", Conflict, "overlaps subnet 'public' (127.42.0.0/16)"),
        ("127.0.0.0/8", Conflict, "overlaps subnet 'public'"),
        ("10.9.0.4/30", Conflict, "overlaps subnet 'lab'"),
        ("127.43.0.8/29", Conflict, "overlaps the management range 127.43.0.10 - 127.43.255.250"),
        ("127.43.128.0/17", Conflict, "management range"),
        ("2001:db8::/64", InvalidInput, "IPv6 subnets are not supported yet"),
    ],
)
def test_refused(cidr: str, error: type[Exception], words: str) -> None:
    with pytest.raises(error) as exc:
        check_new_subnet(ipaddress.ip_network(cidr), EXISTING, mgmt_range=MGMT)
    assert words in str(exc.value)
    assert error is not Conflict or exc.value.status_code == 409  # type: ignore[attr-defined]


def test_create_subnet_writes_nothing_when_refused(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(db)
    with db.session() as session:
        create_subnet(session, "public", "127.42.0.0/16", mgmt_range=MGMT)
    for cidr in ("127.42.1.0/24", "127.43.0.0/16", "fd00::/64"):
        with pytest.raises((Conflict, InvalidInput)), db.session() as session:
            create_subnet(session, "other", cidr, mgmt_range=MGMT)
    with db.session() as session:
        assert [s.name for s in session.query(Subnet)] == ["public"]
    db.dispose()


def test_ipv6_subnets_with_the_netns_driver() -> None:
    """``ipv6=True`` (the netns driver): IPv6 subnets pass, overlaps are still refused,
    and an IPv4 subnet never counts as overlapping an IPv6 one."""
    v6 = [*EXISTING, ("v6", "fd00:1::/64")]
    check_new_subnet(ipaddress.ip_network("fd00:2::/64"), v6, mgmt_range=MGMT, ipv6=True)
    with pytest.raises(Conflict, match="overlaps subnet 'v6'"):
        check_new_subnet(ipaddress.ip_network("fd00:1::/96"), v6, mgmt_range=MGMT, ipv6=True)


def test_create_ipv6_subnet_and_its_range(tmp_path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'db.sqlite'}")
    upgrade(db)
    with db.session() as session:
        row = create_subnet(session, "v6", "fd00:1::/64", mgmt_range=MGMT, ipv6=True)
        assert (row.ip_version, row.gateway_ip, row.allocation_start) == (
            6,
            "fd00:1::1",
            "fd00:1::2",
        )
    db.dispose()
