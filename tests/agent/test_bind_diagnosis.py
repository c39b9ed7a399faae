"""Why a checked configuration did not load: the new addresses this host refuses."""

from __future__ import annotations

import socket

from hydria.agent.haproxy import bind_addresses, diagnose_binds


def test_bind_addresses() -> None:
    text = "frontend a\n    bind 127.0.0.1:80\nfrontend b\n    bind [::1]:8443\n"
    assert bind_addresses(text) == {("127.0.0.1", 80), ("::1", 8443)}


def test_a_held_new_address_is_named() -> None:
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        new = f"frontend a\n    bind 127.0.0.1:{port}\n"
        assert diagnose_binds(new, "") == [f"cannot bind 127.0.0.1:{port}: Address already in use"]
        # an address the running configuration already binds is not tried
        assert diagnose_binds(new, new) == []
    with socket.socket() as probe:  # and the diagnosis left nothing bound
        probe.bind(("127.0.0.1", port))
