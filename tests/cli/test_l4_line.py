"""`hydria up`'s start-up line and the provider's description name the same engines,
the ones ``hydria.core.host.detect`` found on this host that the compute driver's
amphorae can run (nftables only where an amphora owns its network namespace)."""

from __future__ import annotations

import pytest

from hydria.cli.up_cmd import _l4_line
from hydria.core import host
from hydria.services.provider import provider_description, served


@pytest.mark.parametrize("driver", ["local", "netns"])
def test_startup_line_and_provider_say_what_the_host_runs(driver: str) -> None:
    found = host.detect().for_amphorae(driver)
    line, description = _l4_line(driver), provider_description(driver)
    if found.udp_engine is None:
        assert line.startswith(found.no_udp_words())
        assert found.no_udp_words() in description
    else:
        assert line.startswith(f"UDP on {found.udp_engine}")
        assert f"UDP through {found.udp_engine}" in description
    assert ("no ip_vs" in line) == (not found.ip_vs)
    assert ("no SCTP" in line) == (not found.sctp_served)
    assert line.startswith(f"UDP on {found.udp_words('and')}") or found.udp_engine is None
    assert f"UDP through {found.udp_words('or')};" in description or found.udp_engine is None
    assert served(driver).udp_engine == found.udp_engine
    if host.find_nginx()[0] is not None and not found.ip_vs:
        # this machine: nftables where root runs nft (netns amphorae), nginx beside it
        expected = (host.UDP_ENGINE_NFT,) if found.nft and driver == "netns" else ()
        assert found.udp_engines == (*expected, host.UDP_ENGINE_NGINX)


def test_local_amphorae_on_a_host_with_nft_and_no_nginx(monkeypatch: pytest.MonkeyPatch) -> None:
    """nftables serves netns amphorae only: a local deployment there serves no UDP,
    and both the start-up line and the provider say so (creates answer 501:
    tests/api/test_protocols.py)."""
    monkeypatch.setattr(host, "detect", lambda: host.HostSupport(nft=True))
    why = "no UDP (nftables serves netns amphorae only, and no nginx stream module)"
    assert _l4_line("local").startswith(why + ",")
    assert f"; {why};" in provider_description("local")
    assert served("local").udp_engine is None
    assert _l4_line("netns").startswith("UDP on nftables (netns amphorae),")
    assert served("netns").udp_engine == host.UDP_ENGINE_NFT
