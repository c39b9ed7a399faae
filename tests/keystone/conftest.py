"""A real Keystone (session) and a keystone-mode ``hydria up`` in its catalog (module)."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from tests.support import keystone as ks
from tests.support.hydria_proc import HydriaUp
from tests.support.procs import pids_mentioning

pytestmark = pytest.mark.keystone


@pytest.fixture(scope="session")
def hydria_port() -> int:
    from tests.support.backends import free_port

    return free_port()


@pytest.fixture(scope="session")
def keystone(tmp_path_factory: pytest.TempPathFactory, hydria_port: int) -> Iterator[ks.Keystone]:
    if not ks.available():
        if os.environ.get("CI"):
            pytest.fail(".venv-keystone is missing: scripts/install --test makes it")
        pytest.skip(".venv-keystone is missing: run scripts/install --test")
    with ks.running_keystone(tmp_path_factory.mktemp("keystone"), hydria_port) as server:
        yield server


@pytest.fixture(scope="module")
def hydria(
    tmp_path_factory: pytest.TempPathFactory, keystone: ks.Keystone, hydria_port: int
) -> Iterator[HydriaUp]:
    """``hydria up`` with HYDRIA_AUTH_STRATEGY=keystone on the port the catalog names."""
    up = HydriaUp(
        tmp_path_factory.mktemp("hydria") / "state",
        extra_env={**keystone.hydria_env(), "HYDRIA_KEYSTONE_TOKEN_CACHE_SECONDS": "2"},
    )
    up.port = hydria_port
    up.endpoint = f"http://127.0.0.1:{hydria_port}"
    try:
        up.start()
        yield up
    finally:
        up.cleanup()
    assert pids_mentioning(str(up.state_dir)) == [], "processes left behind"
