"""End-to-end fixtures: a real ``hydria up`` and real back-end servers."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.backends import HTTPBackend, TCPEchoBackend
from tests.support.hydria_proc import HydriaUp, running


@pytest.fixture(scope="module")
def hydria(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HydriaUp]:
    with running(tmp_path_factory.mktemp("hydria") / "state") as up:
        yield up


@pytest.fixture
def http_backends() -> Iterator[list[HTTPBackend]]:
    servers = [HTTPBackend(f"web-{i}") for i in range(2)]
    yield servers
    for s in servers:
        s.stop()


@pytest.fixture
def tcp_backends() -> Iterator[list[TCPEchoBackend]]:
    servers = [TCPEchoBackend(f"echo-{i}") for i in range(2)]
    yield servers
    for s in servers:
        s.stop()


@pytest.fixture
def state_dir(tmp_path: Path) -> Path:
    return tmp_path / "state"
