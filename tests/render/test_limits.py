"""max_connections_for: a global maxconn HAProxy can actually start with."""

from __future__ import annotations

import pytest

from hydria.render.limits import MAX_MAXCONN, max_connections_for


def test_this_hosts_limit() -> None:
    assert max_connections_for(20000) == 9488


def test_octavias_default_needs_far_more_than_20000_fds() -> None:
    assert max_connections_for(20000) * 2 < 20000 < 50000 * 2


@pytest.mark.parametrize("nofile", [64, 100, 1024, 4096, 20000, 65536, 1 << 20, 10**7])
def test_two_fds_per_connection_plus_headroom(nofile: int) -> None:
    maxconn = max_connections_for(nofile)
    assert 1 <= maxconn <= MAX_MAXCONN
    headroom = nofile - 2 * maxconn
    assert headroom >= min(1024, nofile // 4)


def test_monotonic() -> None:
    values = [max_connections_for(n) for n in range(64, 5000, 7)]
    assert values == sorted(values)


def test_small_common_soft_limit() -> None:
    assert max_connections_for(1024) == 384


def test_capped() -> None:
    assert max_connections_for(10**9) == MAX_MAXCONN


def test_unlimited() -> None:
    assert max_connections_for(-1) == MAX_MAXCONN


@pytest.mark.parametrize("nofile", [0, 1, 63])
def test_too_low(nofile: int) -> None:
    with pytest.raises(ValueError, match="too low"):
        max_connections_for(nofile)


@pytest.mark.parametrize("nofile", ["20000", 2.0e4, True, None])
def test_type(nofile: object) -> None:
    with pytest.raises(TypeError):
        max_connections_for(nofile)  # type: ignore[arg-type]
