"""The local driver hears when an agent it started listens (``SignalsBoot``):
the agent writes to the pipe the driver passed it, so the controller wakes at
that moment instead of polling a booting agent's port."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from hydria.agent.main import tell_ready
from hydria.drivers.amphora.agent_client import AgentClient
from hydria.drivers.certs.local_ca import ControllerCA
from hydria.drivers.compute.base import SignalsBoot
from hydria.drivers.compute.local import LocalCompute
from hydria.wire.agent_api import READY_FD_ENV, AmphoraBoot
from tests.agent.conftest import boot_for
from tests.support.backends import free_port
from tests.support.procs import kill_all_mentioning


def test_tell_ready_writes_once_and_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    r, w = os.pipe()
    monkeypatch.setenv(READY_FD_ENV, str(w))
    tell_ready()
    assert os.read(r, 8) == b"1"
    assert os.read(r, 8) == b""  # closed: nothing else holds the write end
    assert READY_FD_ENV not in os.environ  # HAProxy and friends never see it
    tell_ready()  # a second call has nothing to tell
    os.close(r)


def test_tell_ready_without_a_pipe_does_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(READY_FD_ENV, raising=False)
    tell_ready()


def test_wait_booted_for_an_amphora_it_did_not_start_returns_at_once(tmp_path: Path) -> None:
    compute = LocalCompute(tmp_path)
    assert isinstance(compute, SignalsBoot)
    compute.wait_booted(str(uuid.uuid4()), timeout=3600)


@pytest.mark.integration
@pytest.mark.haproxy
def test_wait_booted_wakes_once_the_agent_listens(tmp_path: Path) -> None:
    pki = ControllerCA.load_or_create(tmp_path / "pki")
    amp_id = str(uuid.uuid4())
    net = int(os.environ.get("HYDRIA_TEST_NET", "42")) + 1
    ip = f"127.{net}.253.{os.getpid() % 200 + 10}"
    port = free_port(ip)
    compute = LocalCompute(tmp_path / "amphorae")
    client = AgentClient(pki.ca_cert_path, *pki.client_cert_paths())
    boot = boot_for(pki, amp_id, ip, port)
    try:
        compute.create(boot)
        compute.wait_booted(amp_id, timeout=3600)
        # the first ask answers: no retry, no back-off
        assert client.info(ip, port)["amphora_id"] == amp_id
        assert compute._booting == {}  # the pipe's read end is closed
    finally:
        client.close()
        compute.delete(amp_id)
        kill_all_mentioning(str(tmp_path))


@pytest.mark.integration
def test_wait_booted_wakes_when_the_agent_exits_first(tmp_path: Path) -> None:
    """An agent that dies before it listens closes the pipe: no wait for the timeout."""
    compute = LocalCompute(tmp_path / "amphorae")
    amp_id = str(uuid.uuid4())
    boot = AmphoraBoot(
        amphora_id=amp_id,
        lb_network_ip="127.0.0.1",
        agent_port=1,
        server_cert_pem="not a certificate",
        server_key_pem="not a key",
        ca_cert_pem="not a CA",
    )
    try:
        compute.create(boot)
        compute.wait_booted(amp_id, timeout=3600)  # returns: the test would hang otherwise
        assert not compute.is_running(amp_id)
    finally:
        compute.delete(amp_id)
        kill_all_mentioning(str(tmp_path))
