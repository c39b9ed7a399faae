"""The nftables engine's agent pieces without a namespace: conntrack's live flows,
where the engine is offered, and the shared tool runner's errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from hydria.agent.haproxy import ConfigInvalid, HAProxyError
from hydria.agent.nft import NftTable, conntrack_flows, own_instance
from hydria.agent.processes import run_tool
from hydria.agent.udp import UdpStore
from hydria.core.udp import ENGINE_NFT, ENGINE_NGINX, UdpConfig

CONNTRACK = """\
ipv4     2 udp      17 29 src=10.0.1.2 dst=10.0.1.10 sport=40001 dport=5353 [UNREPLIED] \
src=10.0.2.2 dst=10.0.2.1 sport=7001 dport=40001 mark=0 zone=0 use=2
ipv4     2 udp      17 110 src=10.0.1.3 dst=10.0.1.10 sport=40002 dport=5353 \
src=10.0.2.3 dst=10.0.2.1 sport=7001 dport=40002 [ASSURED] mark=0 zone=0 use=2
ipv4     2 tcp      6 431999 ESTABLISHED src=10.0.1.2 dst=10.0.1.10 sport=1 dport=5353 \
src=10.0.1.10 dst=10.0.1.2 sport=5353 dport=1 [ASSURED] mark=0 zone=0 use=2
ipv4     2 udp      17 29 src=10.0.1.2 dst=10.0.1.10 sport=40003 dport=53 \
src=10.0.2.2 dst=10.0.2.1 sport=53 dport=40003 mark=0 zone=0 use=2
"""


def test_conntrack_counts_udp_flows_by_their_original_destination() -> None:
    assert conntrack_flows(CONNTRACK) == {("10.0.1.10", 5353): 2, ("10.0.1.10", 53): 1}


def test_the_host_is_not_an_instance_of_its_own() -> None:
    # the test runs in the host's PID namespace (or a container's), never under
    # hydria.agent.instance: a local agent must not offer nftables
    assert not own_instance()


def test_engines_offered(tmp_path: Path) -> None:
    store = UdpStore(tmp_path, nft=NftTable(tmp_path, own_network=False))
    assert ENGINE_NFT not in store.engines()
    assert store.can_run(UdpConfig(text=None, engine=ENGINE_NFT))  # stopping is always fine
    assert not store.can_run(UdpConfig(text="x", engine=ENGINE_NFT))
    assert store.can_run(UdpConfig(text="x", engine=ENGINE_NGINX)) == store.nginx.available


def test_run_tool_tells_refused_from_could_not_run() -> None:
    with pytest.raises(ConfigInvalid, match="refused") as refused:
        run_tool(
            [sys.executable, "-c", "import sys; sys.exit('bad line 3')"],
            name="python",
            failed="python refused it",
            error=HAProxyError,
            refused=ConfigInvalid,
        )
    assert "bad line 3" in refused.value.details
    with pytest.raises(HAProxyError, match="could not run") as missing:
        run_tool(["/nonexistent/tool"], name="tool", failed="-", error=HAProxyError)
    assert not isinstance(missing.value, ConfigInvalid)
    assert run_tool([sys.executable, "-c", "print(1)"], name="p", failed="-", error=HAProxyError)
