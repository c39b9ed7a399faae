"""bench/tempest_shim's correction of octavia-tempest-plugin's network override set-up.

The plugin's own ``resource_setup`` must run with the subnet options hidden (its
faulty branch would fail on them), and afterwards the class must hold the subnets
the options name, as the plugin's network-creating branch sets its own.
"""

from __future__ import annotations

import importlib.util
import types
from pathlib import Path
from typing import Any

import pytest
from oslo_config import cfg

SHIM = Path(__file__).resolve().parents[1] / "bench" / "tempest_shim" / "hydria_network_override.py"
V4 = {"id": "v4-subnet", "cidr": "127.42.190.0/24", "ip_version": 4}


def _shim() -> Any:
    spec = importlib.util.spec_from_file_location("hydria_network_override", SHIM)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Subnets:
    def __init__(self, v6_mode: str | None) -> None:
        self.v6 = {"id": "v6-subnet", "cidr": "fd00:42::/64", "ipv6_address_mode": v6_mode}

    def show_subnet(self, subnet_id: str) -> dict[str, Any]:
        return {"subnet": {"v4-subnet": V4, "v6-subnet": self.v6}[subnet_id]}


def _plugin(conf: cfg.ConfigOpts, v6_mode: str | None) -> types.ModuleType:
    """A stand-in for the plugin's test_base: records what its set-up saw."""

    class LoadBalancerBaseTest:
        lb_mem_subnet_client = _Subnets(v6_mode)
        seen: tuple[Any, ...] = ()

        @classmethod
        def resource_setup(cls) -> None:
            lb = conf.load_balancer
            cls.seen = (lb.test_subnet_override, lb.test_ipv6_subnet_override)
            cls.lb_member_vip_net = {"id": "net"}
            cls.lb_member_vip_subnet = cls.lb_member_vip_ipv6_subnet = None

    module = types.ModuleType("octavia_tempest_plugin.tests.test_base")
    module.LoadBalancerBaseTest = LoadBalancerBaseTest
    return module


@pytest.fixture
def conf(monkeypatch: pytest.MonkeyPatch) -> cfg.ConfigOpts:
    fresh = cfg.ConfigOpts()
    fresh.register_opts(
        [
            cfg.BoolOpt("test_with_noop", default=False),
            cfg.BoolOpt("test_with_ipv6", default=True),
            cfg.StrOpt("test_network_override", default="net"),
            cfg.StrOpt("test_subnet_override", default="v4-subnet"),
            cfg.StrOpt("test_ipv6_subnet_override", default="v6-subnet"),
        ],
        group="load_balancer",
    )
    fresh([])
    monkeypatch.setattr(cfg, "CONF", fresh)
    return fresh


@pytest.mark.parametrize(("mode", "stateful"), [("dhcpv6-stateful", True), (None, False)])
def test_the_plugin_sets_up_without_the_subnets_then_holds_them(
    conf: cfg.ConfigOpts, mode: str | None, stateful: bool
) -> None:
    plugin = _plugin(conf, mode)
    shim = _shim()
    shim.correct(plugin)
    shim.correct(plugin)  # once only: a second call does not wrap the wrapper
    base = getattr(plugin, "LoadBalancerBaseTest")
    base.resource_setup()
    assert base.seen == (None, None)
    assert conf.load_balancer.test_subnet_override == "v4-subnet"  # put back
    assert base.lb_member_vip_subnet == base.lb_member_1_subnet == V4
    assert base.lb_member_vip_ipv6_subnet["id"] == base.lb_member_2_ipv6_subnet["id"] == "v6-subnet"
    assert base.lb_member_vip_ipv6_net == {"id": "net"}
    assert base.lb_member_vip_ipv6_subnet_stateful is stateful


def test_without_ipv6_only_the_ipv4_subnet_is_set(conf: cfg.ConfigOpts) -> None:
    conf.set_override("test_with_ipv6", False, group="load_balancer")
    plugin = _plugin(conf, None)
    _shim().correct(plugin)
    base = getattr(plugin, "LoadBalancerBaseTest")
    base.resource_setup()
    assert base.lb_member_vip_subnet == V4
    assert base.lb_member_vip_ipv6_subnet is None
