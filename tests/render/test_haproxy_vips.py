"""Additional VIPs (dual stack): every frontend binds each one too, options kept."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from hydria.render.haproxy import render
from hydria.render.haproxy_vips import additional_binds
from hydria.render.values import UnrenderableValue

from .cases import AMPHORA, OPTIONS, lb, listener, pool
from .test_haproxy_check import HAPROXY


def test_bind_repeated_per_additional_vip_with_its_options() -> None:
    assert additional_binds("203.0.113.10:443 ssl crt /x.pem", ("2001:db8::5", "198.51.100.7")) == (
        "[2001:db8::5]:443 ssl crt /x.pem",
        "198.51.100.7:443 ssl crt /x.pem",
    )
    assert additional_binds("[2001:db8::1]:80", ("203.0.113.10",)) == ("203.0.113.10:80",)
    with pytest.raises(UnrenderableValue):
        additional_binds("203.0.113.10:80", ("not-an-ip",))


def test_every_listener_binds_every_vip(tmp_path: Path) -> None:
    balancer = lb(
        listeners=[listener(), listener("listener-tcp", "TCP", 3306, "pool-tcp")],
        pools=[pool(), pool("pool-tcp", "TCP")],
        additional_vips=("2001:db8::5",),
    )
    text = render(balancer, AMPHORA, OPTIONS, version=1)
    assert "    bind 203.0.113.10:80\n    bind [2001:db8::5]:80\n" in text
    assert "    bind 203.0.113.10:3306\n    bind [2001:db8::5]:3306\n" in text
    if HAPROXY.exists():
        cfg = tmp_path / "haproxy.cfg"
        cfg.write_text(text)
        res = subprocess.run(
            [str(HAPROXY), "-c", "-dW", "-f", str(cfg)],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        assert res.returncode == 0, res.stdout + res.stderr
