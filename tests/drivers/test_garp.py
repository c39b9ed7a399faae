"""The gratuitous ARP frames a rebuilt SINGLE amphora announces its VIP with (pure)."""

from __future__ import annotations

import pytest

from hydria.drivers.network.garp import frames


def test_request_and_reply_announce_the_vip() -> None:
    mac = bytes.fromhex("02aabbccddee")
    request, reply = frames(mac, "10.251.7.5")
    vip = bytes([10, 251, 7, 5])
    for frame, op, target_mac in ((request, 1, b"\x00" * 6), (reply, 2, b"\xff" * 6)):
        assert len(frame) == 42
        assert frame[:6] == b"\xff" * 6 and frame[6:12] == mac and frame[12:14] == b"\x08\x06"
        assert frame[14:22] == bytes([0, 1, 8, 0, 6, 4, 0, op])
        # sender and target are both the VIP
        assert frame[22:28] == mac and frame[28:32] == vip
        assert frame[32:38] == target_mac and frame[38:42] == vip


def test_refuses_what_is_not_ipv4_or_a_mac() -> None:
    with pytest.raises(ValueError):
        frames(bytes(6), "fd00::5")
    with pytest.raises(ValueError):
        frames(bytes(5), "10.0.0.1")
