"""The UDP renderer: golden files, what it reports and probes, and `nginx -t` on the binary.

``HYDRIA_REGEN_GOLDEN=1 pytest tests/render`` rewrites the golden files; review the diff.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from hydria.core import graph as g
from hydria.core.host import find_nginx
from hydria.core.udp import UdpConfig, mark_down
from hydria.render.nginx import render_udp

from .cases import lb, listener, pool
from .nginx_cases import CASES, OPTIONS, VERSION, udp_listener, udp_pool

GOLDEN = Path(__file__).parent / "golden_nginx"
REGEN = os.environ.get("HYDRIA_REGEN_GOLDEN") == "1"


def _text(balancer: g.LoadBalancer) -> str:
    text = render_udp(balancer, OPTIONS, version=VERSION).text
    assert text is not None
    return text


@pytest.mark.parametrize("case", sorted(CASES))
def test_golden(case: str) -> None:
    text = _text(CASES[case])
    path = GOLDEN / f"{case}.conf"
    if REGEN:
        path.write_text(text)
    assert text == path.read_text(), f"{case} differs from {path} (HYDRIA_REGEN_GOLDEN=1)"


def test_every_golden_file_has_a_case() -> None:
    assert sorted(p.stem for p in GOLDEN.glob("*.conf")) == sorted(CASES)


def test_no_udp_listener_no_text() -> None:
    assert render_udp(lb(listeners=[listener()], pools=[pool()]), OPTIONS, version=1) == UdpConfig(
        text=None
    )


def test_reports_and_probes() -> None:
    cfg = render_udp(CASES["udp_roundrobin_monitor_weights_backup"], OPTIONS, version=1)
    assert cfg.listeners == {"listener-udp": True}
    assert cfg.pools == {
        "pool-udp": {"member-a": "UP", "member-b": "UP", "member-c": "DRAIN", "member-d": "MAINT"}
    }
    assert [
        (p.member_id, p.address, p.port, p.type, p.delay, p.timeout, p.rise, p.fall)
        for p in cfg.probes
    ] == [
        ("member-a", "192.0.2.21", 5353, "UDP-CONNECT", 3, 2, 2, 3),
        ("member-b", "192.0.2.22", 5353, "UDP-CONNECT", 3, 2, 2, 3),
        ("member-c", "192.0.2.23", 5353, "UDP-CONNECT", 3, 2, 2, 3),
    ]
    assert UdpConfig.from_dict(cfg.to_dict()) == cfg
    unmonitored = render_udp(CASES["udp_source_ip"], OPTIONS, version=1)
    assert unmonitored.probes == ()
    assert set(unmonitored.pools["pool-udp"].values()) == {"no check"}
    disabled = render_udp(CASES["udp_disabled_listener_and_empty_pool"], OPTIONS, version=1)
    assert disabled.listeners == {"listener-udp": False, "listener-empty": True}


def test_mark_down_edits_only_the_named_members() -> None:
    text = _text(CASES["udp_roundrobin_monitor_weights_backup"])
    down = mark_down(text, ["member-a", "member-d", "member-nobody"])
    changed = [(a, b) for a, b in zip(text.splitlines(), down.splitlines(), strict=True) if a != b]
    assert changed == [
        (
            "        server 192.0.2.21:5353 weight=3 max_fails=0; # member member-a",
            "        server 192.0.2.21:5353 weight=3 max_fails=0 down; # member member-a",
        )
    ]
    assert mark_down(text, []) is text


NGINX, MODULE = find_nginx()


@pytest.mark.nginx
@pytest.mark.skipif(NGINX is None, reason="nginx with the stream module is not installed")
@pytest.mark.parametrize("case", sorted(CASES))
def test_nginx_accepts_golden_and_marked_down(case: str, tmp_path: Path) -> None:
    assert NGINX is not None
    text = (GOLDEN / f"{case}.conf").read_text()
    text = mark_down(text, ["member-a", "member-x"])
    # nginx -t binds UDP listeners: the golden VIP is a documentation address
    text = text.replace(str(OPTIONS.run_dir), str(tmp_path)).replace("203.0.113.10", "127.0.0.1")
    if MODULE is None:
        text = text.replace(f"load_module {OPTIONS.stream_module};\n", "")
    else:
        text = text.replace(str(OPTIONS.stream_module), MODULE)
    conf = tmp_path / "nginx.conf"
    conf.write_text(text)
    res = subprocess.run(
        [NGINX, "-t", "-q", "-c", str(conf), "-e", str(tmp_path / "e.log")],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert res.returncode == 0, res.stderr


def test_udp_pool_behind_tcp_listener_is_refused() -> None:
    from hydria.render.values import UnrenderableValue

    with pytest.raises(UnrenderableValue, match="not UDP"):
        render_udp(lb(listeners=[udp_listener(pool="pool-1")], pools=[pool()]), OPTIONS, version=1)
    assert udp_pool  # the helpers stay importable for other tests


def test_standby_backups_serve_only_when_no_primary_can() -> None:
    from hydria.core.udp import effective, standby_backups

    text = _text(CASES["udp_persistence_granularity"])
    y = "server 192.0.2.32:5060 weight=1 max_fails=0"
    assert f"{y}; # member member-y standby" in text  # as rendered: the agent decides
    running = standby_backups(text)
    assert f"{y} down; # member member-y standby" in running  # member-x can serve
    # member-x probed dead: the backup takes over; the other upstream is untouched
    assert f"{y}; # member member-y standby" in effective(text, ["member-x"])
    assert effective(text, ["member-x"]).count(" down;") == 1
    # the backup dead too: it stays down whatever the primaries do
    assert f"{y} down; # member member-y standby" in effective(text, ["member-x", "member-y"])
    assert standby_backups(running) == running
