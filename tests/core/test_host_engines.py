"""Which UDP engines a host offers, in which order, and how the start-up line says it."""

from __future__ import annotations

import pytest

from hydria.core import host


@pytest.mark.parametrize(
    ("found", "engines"),
    [
        (host.HostSupport(nft=True, nginx="/usr/sbin/nginx"), ("nftables", "nginx-stream")),
        (host.HostSupport(nft=True), ("nftables",)),
        (host.HostSupport(nginx="/usr/sbin/nginx"), ("nginx-stream",)),
        (host.HostSupport(ip_vs=True, nft=True), ("nftables",)),  # IPVS not built
        (host.HostSupport(), ()),
    ],
)
def test_engines_preferred_first(found: host.HostSupport, engines: tuple[str, ...]) -> None:
    assert found.udp_engines == engines
    assert found.udp_engine == (engines[0] if engines else None)


def test_words_say_nftables_serves_netns_amphorae() -> None:
    found = host.HostSupport(nft=True, nginx="/usr/sbin/nginx")
    assert found.udp_words("and") == "nftables (netns amphorae) and nginx-stream"
    assert found.summary().startswith("udp=nftables ")
