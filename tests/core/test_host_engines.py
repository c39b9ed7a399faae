"""Which UDP engines a host offers, in which order, and how the start-up line says it."""

from __future__ import annotations

import pytest

from hydria.core import host
from hydria.core.protocols import Served


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


@pytest.mark.parametrize(
    ("found", "driver", "engines"),
    [
        (
            host.HostSupport(nft=True, nginx="/usr/sbin/nginx"),
            "netns",
            ("nftables", "nginx-stream"),
        ),
        (host.HostSupport(nft=True, nginx="/usr/sbin/nginx"), "local", ("nginx-stream",)),
        (host.HostSupport(nft=True), "netns", ("nftables",)),
        (host.HostSupport(nft=True), "local", ()),  # nothing serves local amphorae' UDP
        (host.HostSupport(nft=True), "noop", ("nftables",)),
    ],
)
def test_local_amphorae_share_the_hosts_namespace_so_no_nftables(
    found: host.HostSupport, driver: str, engines: tuple[str, ...]
) -> None:
    seen = found.for_amphorae(driver)
    assert seen.udp_engines == engines
    assert provider_served(seen).udp_engine == (engines[0] if engines else None)


def test_words_say_why_local_amphorae_have_no_udp() -> None:
    seen = host.HostSupport(nft=True).for_amphorae("local")
    assert seen.no_udp_words() == (
        "no UDP (nftables serves netns amphorae only, and no nginx stream module)"
    )
    assert host.HostSupport().no_udp_words() == "no UDP (no engine)"


def provider_served(seen: host.HostSupport) -> Served:
    return Served(udp_engine=seen.udp_engine, sctp=seen.sctp_served)
