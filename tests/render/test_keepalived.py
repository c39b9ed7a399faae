"""keepalived configuration for ACTIVE_STANDBY: pure rendering, checked by the real binary."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from hydria.render.keepalived import VrrpPeerSet, render_keepalived

PEERS = VrrpPeerSet(
    amphora_id="0f3c1a2b-aaaa-bbbb-cccc-000000000001",
    lb_id="5e6f7a8b-aaaa-bbbb-cccc-000000000002",
    interface="s-1234abcd",
    vip="10.251.3.2",
    vip_prefixlen=24,
    own_ip="10.251.3.3",
    peer_ips=("10.251.3.4",),
    priority=100,
    advert_int=0.05,
    check_script="/run/amphora/disk/check_haproxy.sh",
)


def test_both_backup_nopreempt_unicast_vrrpv3():
    text = render_keepalived(PEERS)
    for line in (
        "vrrp_version 3",
        "state BACKUP",
        "nopreempt",
        "advert_int 0.05",
        "unicast_src_ip 10.251.3.3",
        "        10.251.3.4",
        "10.251.3.2/24 dev s-1234abcd",
        "priority 100",
        "virtual_router_id 1",
        'script "/run/amphora/disk/check_haproxy.sh"',
        "check_haproxy",
    ):
        assert line in text


def test_vrrp_runs_first_among_normal_tasks_not_real_time():
    # a busy host must not delay adverts into a false takeover; real time would
    # let the kernel kill the VRRP process when a reload overruns RLIMIT_RTTIME
    text = render_keepalived(PEERS)
    assert "    vrrp_priority -20\n" in text
    assert "vrrp_rt_priority" not in text


@pytest.mark.parametrize(
    "bad",
    [
        {"interface": "eth0; rm -rf /"},
        {"vip": "10.0.0.300"},
        {"peer_ips": ("x",)},
        {"priority": 255},
        {"check_script": "/tmp/a b"},
    ],
)
def test_values_are_checked_before_they_reach_the_text(bad):
    import dataclasses

    with pytest.raises(ValueError):
        render_keepalived(dataclasses.replace(PEERS, **bad))


@pytest.mark.integration
@pytest.mark.netns
@pytest.mark.skipif(
    shutil.which("keepalived", path="/usr/sbin:/usr/bin") is None or os.geteuid() != 0,
    reason="keepalived and root (a namespace)",
)
def test_keepalived_accepts_it(tmp_path: Path):
    cfg = tmp_path / "keepalived.conf"
    import dataclasses

    # the check script must exist too (the agent writes it before it checks)
    cfg.write_text(render_keepalived(dataclasses.replace(PEERS, check_script="/bin/true")))
    binary = shutil.which("keepalived", path="/usr/sbin:/usr/bin")
    # keepalived -t looks the interface up: give it one, in a network namespace of
    # its own that goes away with the command
    res = subprocess.run(
        [
            "unshare",
            "-n",
            "sh",
            "-c",
            'ip link add s-1234abcd type veth peer name p0 && exec "$0" -t -f "$1"',
            str(binary),
            str(cfg),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr


IPV6_DUAL = VrrpPeerSet(
    amphora_id="0f3c1a2b-aaaa-bbbb-cccc-000000000001",
    lb_id="5e6f7a8b-aaaa-bbbb-cccc-000000000002",
    interface="s-1234abcd",
    vip="fd70:3::2",
    vip_prefixlen=64,
    own_ip="fd70:3::3",
    peer_ips=("fd70:3::4",),
    priority=90,
    advert_int=0.05,
    check_script="/bin/true",
    extra_vips=(("10.251.3.2", 24, "s-5678abcd"),),
)


def test_ipv6_vip_with_an_ipv4_additional_vip():
    text = render_keepalived(IPV6_DUAL)
    for line in (
        "unicast_src_ip fd70:3::3",
        "        fd70:3::4",
        "        fd70:3::2/64 dev s-1234abcd",
        "    virtual_ipaddress_excluded {\n        10.251.3.2/24 dev s-5678abcd\n    }",
    ):
        assert line in text
    import dataclasses

    with pytest.raises(ValueError):
        render_keepalived(dataclasses.replace(IPV6_DUAL, extra_vips=(("10.0.0.1", 24, "a b"),)))


@pytest.mark.integration
@pytest.mark.netns
@pytest.mark.skipif(
    shutil.which("keepalived", path="/usr/sbin:/usr/bin") is None or os.geteuid() != 0,
    reason="keepalived and root (a namespace)",
)
def test_keepalived_accepts_ipv6_and_additional_vips(tmp_path: Path):
    cfg = tmp_path / "keepalived.conf"
    cfg.write_text(render_keepalived(IPV6_DUAL))
    binary = shutil.which("keepalived", path="/usr/sbin:/usr/bin")
    res = subprocess.run(
        [
            "unshare",
            "-n",
            "sh",
            "-c",
            "ip link add s-1234abcd type veth peer name p0 && "
            'ip link add s-5678abcd type veth peer name p1 && exec "$0" -t -f "$1"',
            str(binary),
            str(cfg),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr
