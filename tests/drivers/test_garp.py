"""The frames a rebuilt SINGLE amphora announces its VIP with (pure): gratuitous ARP
for IPv4, an unsolicited neighbour advertisement for IPv6."""

from __future__ import annotations

import ipaddress

import pytest

from hydria.drivers.network.garp import announce_in, frames, neighbour_advert


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


def test_unsolicited_neighbour_advertisement_of_an_ipv6_vip() -> None:
    mac = bytes.fromhex("02aabbccddee")
    body = neighbour_advert(mac, "fd70:2f::5")
    assert len(body) == 32
    # type 136, code 0, checksum left to the kernel; Override only (not solicited,
    # not a router): a receiver replaces the MAC of the entry it has
    assert body[:4] == bytes([136, 0, 0, 0]) and body[4:8] == bytes([0x20, 0, 0, 0])
    assert body[8:24] == ipaddress.IPv6Address("fd70:2f::5").packed
    # one option: the target link-layer address (type 2, 8 bytes long)
    assert body[24:26] == bytes([2, 1]) and body[26:32] == mac


def test_the_advertisement_refuses_what_is_not_ipv6_or_a_mac() -> None:
    with pytest.raises(ValueError):
        neighbour_advert(bytes(6), "10.0.0.5")
    with pytest.raises(ValueError):
        neighbour_advert(bytes(7), "fd00::5")


def test_announcing_in_a_namespace_that_is_gone_raises_for_the_fallback(tmp_path):
    with pytest.raises(OSError, match="announce 10.0.0.5 on eth0"):
        announce_in(tmp_path / "no-such-netns", "eth0", "10.0.0.5")
