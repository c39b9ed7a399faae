"""ACTIVE_STANDBY stick tables shared through HAProxy ``peers`` (render/haproxy_peers.py).

Pure checks of the rendered section, ``haproxy -c`` in zero-warning mode, and a
live pair: two real HAProxy processes on loopback addresses, each with the
other as its peer. A client stuck to a member by the first one (SOURCE_IP) is
sent to the same member by the second after the first is killed, although the
second, on its own, would have picked the other member; a replacement of the
first, at a new address the survivor's configuration does not know, learns
the survivor's entries by name.
"""

from __future__ import annotations

import http.client
import os
import random
import subprocess
from dataclasses import replace
from pathlib import Path

import pytest

from hydria.core import graph as g
from hydria.render.haproxy import render
from hydria.render.haproxy_peers import PEER_PORT, peers_view
from hydria.render.values import UnrenderableValue

from .cases import OPTIONS, lb, listener, member, pool
from .test_haproxy_check import HAPROXY, _free_port, _haproxy, _member, _stats, _wait_for


def _pair(a_ip: str, b_ip: str) -> tuple[g.Amphora, g.Amphora]:
    peers = (g.Peer("MASTER", a_ip, "amp-a"), g.Peer("BACKUP", b_ip, "amp-b"))
    return (
        g.Amphora(id="amp-a", lb_network_ip="192.0.2.10", role="MASTER", peers=peers),
        g.Amphora(id="amp-b", lb_network_ip="192.0.2.11", role="BACKUP", peers=peers),
    )


SOURCE_IP = g.SessionPersistence("SOURCE_IP", persistence_timeout=600)


def test_single_has_no_peers() -> None:
    text = render(
        lb(listeners=[listener()], pools=[pool(session_persistence=SOURCE_IP)]),
        g.Amphora(id="amp-1", lb_network_ip="192.0.2.10"),
        OPTIONS,
        version=1,
    )
    assert "peers" not in text and "localpeer" not in text


def test_pair_shares_stick_tables() -> None:
    a, b = _pair("203.0.113.21", "2001:db8::22")
    balancer = lb(listeners=[listener()], pools=[pool(session_persistence=SOURCE_IP)])
    text_a = render(balancer, a, OPTIONS, version=1)
    text_b = render(balancer, b, OPTIONS, version=1)
    assert "    localpeer MASTER\n" in text_a and "    localpeer BACKUP\n" in text_b
    for text in (text_a, text_b):
        assert (
            f"peers hydria_peers\n    peer BACKUP [2001:db8::22]:{PEER_PORT}\n"
            f"    peer MASTER 203.0.113.21:{PEER_PORT}\n"
        ) in text
        assert "stick-table type ipv6 size 10k expire 600s peers hydria_peers\n" in text
    # the sections differ only in which peer is local
    assert text_a.replace("localpeer MASTER", "localpeer BACKUP") == text_b


def test_peers_refused_when_inconsistent() -> None:
    a, _ = _pair("203.0.113.21", "203.0.113.22")
    with pytest.raises(UnrenderableValue):
        peers_view(replace(a, id="amp-c"))  # not one of its own peers
    with pytest.raises(UnrenderableValue):
        peers_view(
            replace(
                a,
                peers=(
                    g.Peer("MASTER", "203.0.113.21", "amp-a"),
                    g.Peer("MASTER", "203.0.113.22", "amp-b"),
                ),
            )
        )
    with pytest.raises(UnrenderableValue):
        peers_view(replace(a, peers=(g.Peer("MASTER", "not-an-ip", "amp-a"),)))


@pytest.mark.integration
@pytest.mark.haproxy
@pytest.mark.skipif(not HAPROXY.exists(), reason=f"{HAPROXY} is not installed")
def test_haproxy_check_accepts_the_pair(tmp_path: Path) -> None:
    a, _ = _pair("203.0.113.21", "2001:db8::22")
    balancer = lb(
        listeners=[listener(), listener("listener-tcp", "TCP", 3306, "pool-tcp")],
        pools=[
            pool(session_persistence=SOURCE_IP),
            pool("pool-tcp", "TCP", session_persistence=SOURCE_IP),
        ],
    )
    cfg = tmp_path / "haproxy.cfg"
    cfg.write_text(render(balancer, a, OPTIONS, version=1))
    res = subprocess.run(
        [str(HAPROXY), "-c", "-dW", "-f", str(cfg)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 0, res.stdout + res.stderr


def _loopback_net() -> str:
    """127.<octet base>.<random>: addresses of this test's own on the loopback."""
    return (
        f"127.{int(os.environ.get('HYDRIA_TEST_OCTET_BASE', '10')) % 250}.{random.randint(1, 250)}"
    )


@pytest.mark.integration
@pytest.mark.haproxy
@pytest.mark.skipif(not HAPROXY.exists(), reason=f"{HAPROXY} is not installed")
def test_stick_table_survives_the_loss_of_the_peer(tmp_path: Path) -> None:
    net = _loopback_net()
    a_ip, b_ip, vip_a, vip_b = (f"{net}.{i}" for i in (1, 2, 11, 12))
    amp_a, amp_b = _pair(a_ip, b_ip)
    port = _free_port(vip_a)
    with _member("127.0.0.1", b"member-1") as (p1, _), _member("127.0.0.1", b"member-2") as (p2, _):
        members = [member("m1", "127.0.0.1", p1), member("m2", "127.0.0.1", p2)]

        def config(amp: g.Amphora, vip: str, run: Path) -> str:
            balancer = lb(
                vip=vip,
                listeners=[listener(port=port)],
                pools=[pool(members=members, session_persistence=SOURCE_IP)],
            )
            return render(
                balancer, amp, replace(OPTIONS, stats_socket=str(run / "stats.sock")), version=1
            )

        def get(vip: str, source: str = "127.0.0.1") -> bytes:
            conn = http.client.HTTPConnection(vip, port, timeout=5, source_address=(source, 0))
            try:
                conn.request("GET", "/")
                response = conn.getresponse()
                assert response.status == 200
                return response.read()
            finally:
                conn.close()

        run_a, run_b = tmp_path / "a", tmp_path / "b"
        run_a.mkdir()
        run_b.mkdir()
        with _haproxy(config(amp_b, vip_b, run_b), run_b) as sock_b:
            with _haproxy(config(amp_a, vip_a, run_a), run_a):
                # another client first, so A's round robin sends ours to the member
                # that B, on its own, would not pick first
                assert get(vip_a, source=f"{net}.99") == b"member-1"
                assert get(vip_a) == b"member-2"
                _wait_for(
                    lambda: "key=::ffff:127.0.0.1 " in _stats(sock_b, "show table pool-1"),
                    "the entry to reach the peer",
                )
            # A is gone: B sends our client where A did, every time
            assert {get(vip_b) for _ in range(4)} == {b"member-2"}
            # A's replacement (same role, a new address) joins B, whose configuration
            # still names the old address, and learns B's entries at start
            new_a = replace(
                amp_a,
                peers=(g.Peer("MASTER", f"{net}.3", "amp-a"), g.Peer("BACKUP", b_ip, "amp-b")),
            )
            run_c = tmp_path / "c"
            run_c.mkdir()
            with _haproxy(config(new_a, vip_a, run_c), run_c) as sock_c:
                _wait_for(
                    lambda: "key=::ffff:127.0.0.1 " in _stats(sock_c, "show table pool-1"),
                    "the replacement to learn the survivor's entries",
                )
                assert get(vip_a) == b"member-2"
