"""The nftables UDP renderer: golden rulesets, each checked by ``nft -c`` in a throwaway
network namespace, and what it reports, probes and leaves to nginx.

``HYDRIA_REGEN_GOLDEN=1 pytest tests/render`` rewrites the golden files; review the diff.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hydria.core import graph as g
from hydria.core.nft import NftPlan, flow_marks, objects, ruleset
from hydria.core.udp import ENGINE_NFT, UdpConfig
from hydria.render.nft import nft_refusal, render_nft
from hydria.render.values import UnrenderableValue

from .cases import lb, member
from .nginx_cases import UDP_HM, udp_listener, udp_pool

GOLDEN = Path(__file__).parent / "golden_nft"
REGEN = os.environ.get("HYDRIA_REGEN_GOLDEN") == "1"
NFT = shutil.which("nft")

CASES: dict[str, g.LoadBalancer] = {
    "roundrobin_weights_backup_monitor": lb(
        listeners=[udp_listener()],
        pools=[
            udp_pool(
                health_monitor=UDP_HM,
                members=(
                    member("member-a", "192.0.2.21", 5353, weight=3),
                    member("member-b", "192.0.2.22", 5353, backup=True),
                    member("member-c", "192.0.2.23", 5353, weight=0),
                    member("member-d", "192.0.2.24", 5353, admin_state_up=False),
                    member("member-e", "192.0.2.25", 5353, weight=2),
                ),
            )
        ],
    ),
    "source_ip_limit_cidrs": lb(
        listeners=[
            udp_listener(
                connection_limit=500, allowed_cidrs=("10.0.0.0/8", "192.0.2.0/24", "2001:db8::/32")
            )
        ],
        pools=[udp_pool(algorithm="SOURCE_IP")],
    ),
    "source_ip_port": lb(listeners=[udp_listener()], pools=[udp_pool(algorithm="SOURCE_IP_PORT")]),
    "persistence_timeout_granularity": lb(
        listeners=[udp_listener(), udp_listener("listener-udp2", 5060, "pool-udp2")],
        pools=[
            udp_pool(
                session_persistence=g.SessionPersistence(
                    "SOURCE_IP", persistence_timeout=120, persistence_granularity="255.255.255.0"
                )
            ),
            udp_pool(
                "pool-udp2",
                session_persistence=g.SessionPersistence("SOURCE_IP"),
                members=(member("member-x", "192.0.2.31", 5060),),
            ),
        ],
    ),
    "timeout_client_data": lb(
        listeners=[
            udp_listener(timeout_client_data=2500),
            udp_listener("listener-udp2", 5060, "pool-udp2", timeout_client_data=0),
        ],
        pools=[
            udp_pool(),
            udp_pool("pool-udp2", members=(member("member-x", "192.0.2.31", 5060),)),
        ],
    ),
    # an IPv6 VIP: the same chains in an ip6 table; the IPv4 CIDR is not its business
    "ipv6_roundrobin_limit_cidrs": lb(
        vip="2001:db8::10",
        listeners=[
            udp_listener(connection_limit=500, allowed_cidrs=("10.0.0.0/8", "2001:db8:1::/48"))
        ],
        pools=[
            udp_pool(
                members=(
                    member("member-a", "2001:db8:2::21", 5353, weight=2),
                    member("member-b", "2001:db8:2::22", 5353),
                )
            )
        ],
    ),
    # persistence keyed by an IPv6 netmask; SOURCE_IP_PORT hashes ip6 saddr . sport
    "ipv6_persistence_source_ip_port": lb(
        vip="2001:db8::10",
        listeners=[udp_listener()],
        pools=[
            udp_pool(
                algorithm="SOURCE_IP_PORT",
                session_persistence=g.SessionPersistence(
                    "SOURCE_IP",
                    persistence_timeout=60,
                    persistence_granularity="ffff:ffff:ffff:ffff::",
                ),
                members=(
                    member("member-a", "2001:db8:2::21", 5353),
                    member("member-b", "2001:db8:2::22", 5353),
                ),
            )
        ],
    ),
    "disabled_listener_and_empty_pool": lb(
        listeners=[
            udp_listener(admin_state_up=False),
            udp_listener("listener-udp2", 5060, "pool-udp2"),
        ],
        pools=[udp_pool(), udp_pool("pool-udp2", members=())],
    ),
}


def _text(balancer: g.LoadBalancer) -> str:
    text = render_nft(balancer, version=3).text
    assert text is not None
    return text


def nft_check(text: str, tmp_path: Path) -> None:
    """``nft -c -f``: the kernel checks the transaction and commits nothing (own netns)."""
    path = tmp_path / "ruleset.nft"
    path.write_text(text)
    res = subprocess.run(
        ["unshare", "--net", NFT or "nft", "-c", "-f", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stderr


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    text = _text(CASES[case])
    path = GOLDEN / f"{case}.nft"
    if REGEN:
        path.write_text(text)
    assert text == path.read_text(), f"{case} differs from {path} (HYDRIA_REGEN_GOLDEN=1)"


def test_every_golden_file_has_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.nft")) == sorted(CASES)


@pytest.mark.skipif(NFT is None or os.geteuid() != 0, reason="needs nft and root")
@pytest.mark.parametrize("case", sorted(CASES))
def test_golden_passes_nft_check(case: str, tmp_path: Path) -> None:
    nft_check((GOLDEN / f"{case}.nft").read_text(), tmp_path)


def test_plan_travels_as_json_and_reports_like_nginx() -> None:
    doc = render_nft(CASES["roundrobin_weights_backup_monitor"], version=3)
    assert doc.engine == ENGINE_NFT and doc.nft is not None
    assert UdpConfig.from_dict(doc.to_dict()) == doc
    assert doc.pools["pool-udp"] == {
        "member-a": "UP",
        "member-b": "UP",
        "member-c": "DRAIN",
        "member-d": "MAINT",
        "member-e": "UP",
    }
    assert {p.member_id for p in doc.probes} == {"member-a", "member-b", "member-c", "member-e"}


def test_dead_members_leave_the_map_and_backups_take_over() -> None:
    plan = render_nft(CASES["roundrobin_weights_backup_monitor"], version=3).nft
    assert isinstance(plan, NftPlan)
    text = ruleset(plan, down={"member-a"})
    assert "numgen inc mod 2 vmap { 0-1 : goto llistenerudp_mmembere }" in text
    text = ruleset(plan, down={"member-a", "member-e"})
    assert "numgen inc mod 1 vmap { 0 : goto llistenerudp_mmemberb }" in text
    text = ruleset(plan, down={"member-a", "member-e", "member-b"})
    assert "vmap" not in text and "\t\tdrop" in text


def test_stale_objects_are_deleted_in_the_same_transaction() -> None:
    plan = render_nft(CASES["persistence_timeout_granularity"], version=3).nft
    assert plan is not None
    before = objects(plan)
    after_down = objects(plan, {"member-x"})
    assert before != after_down  # the sticky map of a changed member set is a new one
    text = ruleset(plan, {"member-x"}, existing=before | {("counter", "gone")})
    stale = sorted((before | {("counter", "gone")}) - after_down)
    for kind, name in stale:
        assert f"delete {kind} ip {plan.table} {name}\n" in text


def test_timeout_client_data_is_each_flows_conntrack_timeout() -> None:
    """Whole seconds rounded up (2500 ms: 3 s), 0 ("no timeout") the API's maximum,
    both conntrack states; the dispatch rule gives the policy to each new flow."""
    plan = render_nft(CASES["timeout_client_data"], version=3).nft
    assert plan is not None
    assert [li.idle_timeout for li in plan.listeners] == [3, 2_073_600]
    text = ruleset(plan)
    assert "policy = { unreplied : 3, replied : 3 }" in text
    assert 'ct timeout set "llistenerudp_t3" jump llistenerudp\n' in text
    assert "policy = { unreplied : 2073600, replied : 2073600 }" in text


def test_a_changed_timeout_is_a_new_policy_and_the_old_one_goes() -> None:
    """The kernel keeps the policy an existing object was made with: a new value
    is a new object, and the old one is deleted in the same transaction."""
    balancer = CASES["timeout_client_data"]
    before = render_nft(balancer, version=3).nft
    changed = dataclasses.replace(
        balancer,
        listeners=(
            dataclasses.replace(balancer.listeners[0], timeout_client_data=7000),
            balancer.listeners[1],
        ),
    )
    after = render_nft(changed, version=4).nft
    assert before is not None and after is not None
    text = ruleset(after, existing=objects(before))
    assert f"delete ct timeout ip {after.table} llistenerudp_t3\n" in text
    assert "ct timeout llistenerudp_t7 {" in text
    assert f"delete ct timeout ip {after.table} llistenerudp2_t2073600" not in text


def test_a_plan_held_before_timeouts_keeps_the_kernels_own() -> None:
    """An agent may hold a plan written before ``idle_timeout`` existed."""
    plan = render_nft(CASES["source_ip_port"], version=3).nft
    assert plan is not None
    raw = plan.to_dict()
    for li in raw["listeners"]:
        del li["idle_timeout"]
    old = NftPlan.from_dict(raw)
    assert "ct timeout" not in ruleset(old)


def test_flow_marks_are_stable_distinct_and_never_zero() -> None:
    """A member's flows keep their mark whatever else changes (flows begun under an
    earlier ruleset are still its own); two pairs never share one."""
    plan = render_nft(CASES["roundrobin_weights_backup_monitor"], version=3).nft
    assert plan is not None
    marks = flow_marks(plan)
    assert len(marks) == 5 and len(set(marks.values())) == 5 and 0 not in marks.values()
    fewer = dataclasses.replace(
        plan,
        listeners=(dataclasses.replace(plan.listeners[0], members=plan.listeners[0].members[:2]),),
    )
    assert flow_marks(fewer) == {k: marks[k] for k in list(marks)[:2]}
    # counted and accepted by one lookup, not a rule per member and direction
    text = ruleset(plan)
    stats = text.split("chain stats {")[1]
    assert stats.count("counter name") == 1
    assert (
        f'original . {marks[("listener-udp", "member-a")]:#010x} : "llistenerudp_mmembera_in"'
        in stats
    )


def test_flow_marks_that_meet_take_the_next_value(monkeypatch: pytest.MonkeyPatch) -> None:
    import hydria.core.nft as nft

    class Same:
        def hexdigest(self) -> str:
            return "ffffffff"

    plan = render_nft(CASES["roundrobin_weights_backup_monitor"], version=3).nft
    assert plan is not None
    monkeypatch.setattr(nft.hashlib, "sha256", lambda data: Same())  # every digest meets
    assert sorted(flow_marks(plan).values()) == [1, 2, 3, 4, 0xFFFFFFFF]


def test_least_connections_and_mixed_versions_stay_on_nginx() -> None:
    lc = lb(listeners=[udp_listener()], pools=[udp_pool(algorithm="LEAST_CONNECTIONS")])
    assert nft_refusal(lc) == "pool pool-udp uses LEAST_CONNECTIONS"
    with pytest.raises(UnrenderableValue):
        render_nft(lc, version=1)
    # IPv4 members behind an IPv6 VIP: NAT stays within one IP version
    mixed = lb(listeners=[udp_listener()], pools=[udp_pool()], vip="2001:db8::10")
    assert nft_refusal(mixed) == "pool pool-udp has a member of another IP version than the VIP"
    assert nft_refusal(CASES["source_ip_port"]) is None
    assert nft_refusal(CASES["ipv6_roundrobin_limit_cidrs"]) is None


def test_an_ipv6_vip_makes_an_ip6_table() -> None:
    plan = render_nft(CASES["ipv6_roundrobin_limit_cidrs"], version=1).nft
    assert plan is not None and plan.family == "ip6"
    assert NftPlan.from_dict(plan.to_dict()) == plan
    # a plan held by an agent from before IPv6 has no family: it was an ip table
    held = {k: v for k, v in render_nft(CASES["source_ip_port"], version=1).nft.to_dict().items()}
    del held["family"]
    assert NftPlan.from_dict(held).family == "ip"
    text = ruleset(plan)
    assert "dnat ip6 to [2001:db8:2::21]:5353" in text
    assert "10.0.0.0/8" not in text and "ip6 saddr != { 2001:db8:1::/48 } drop" in text


def test_ipv6_granularity_is_an_ipv6_netmask_or_the_whole_address() -> None:
    def key(granularity: str | None) -> str:
        balancer = CASES["ipv6_persistence_source_ip_port"]
        pool = dataclasses.replace(
            balancer.pools[0],
            session_persistence=g.SessionPersistence(
                "SOURCE_IP", persistence_granularity=granularity
            ),
        )
        text = _text(dataclasses.replace(balancer, pools=(pool,)))
        return text.split("ct mark set ", 1)[1].split(" map @", 1)[0]

    assert key("ffff:ffff:ffff:ffff::") == "ip6 saddr and ffff:ffff:ffff:ffff::"
    assert key(None) == "ip6 saddr"
    assert key("255.255.255.0") == "ip6 saddr"  # an IPv4 mask: as nginx, the whole address
    assert key("ffff:0:ffff::") == "ip6 saddr"  # not contiguous


def test_no_udp_listener_no_text() -> None:
    assert render_nft(lb(), version=1).text is None


def test_no_guard_chain_without_cidrs_or_limit() -> None:
    """An empty base chain would still cost every datagram a hook call."""
    assert "chain guard" not in _text(CASES["source_ip_port"])
    assert "chain guard" in _text(CASES["source_ip_limit_cidrs"])
