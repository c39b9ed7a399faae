"""`hydria up`'s start-up line and the provider's description name the same engine,
the one ``hydria.core.host.detect`` found on this host."""

from __future__ import annotations

from hydria.cli.up_cmd import _l4_line
from hydria.core import host
from hydria.services.provider import provider_description


def test_startup_line_and_provider_say_what_the_host_runs() -> None:
    found = host.detect()
    line, description = _l4_line(), provider_description()
    if found.udp_engine is None:
        assert line.startswith("no UDP (no engine)")
        assert "no UDP (no engine)" in description
    else:
        assert line.startswith(f"UDP on {found.udp_engine}")
        assert f"UDP through {found.udp_engine}" in description
    assert ("no ip_vs" in line) == (not found.ip_vs)
    assert ("no SCTP" in line) == (not found.sctp_served)
    assert line.startswith(f"UDP on {found.udp_words('and')}") or found.udp_engine is None
    assert f"UDP through {found.udp_words('or')};" in description or found.udp_engine is None
    if host.find_nginx()[0] is not None and not found.ip_vs:
        # this machine: nftables where root runs nft, nginx beside it (or alone)
        expected = (host.UDP_ENGINE_NFT,) if found.nft else ()
        assert found.udp_engines == (*expected, host.UDP_ENGINE_NGINX)
