"""A real amphora (agent + HAProxy) started by the real ``local`` compute driver."""

from __future__ import annotations

import itertools
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hydria.drivers.amphora.agent_client import AgentClient
from hydria.drivers.certs.local_ca import ControllerCA
from hydria.drivers.compute.local import LocalCompute
from hydria.wire.agent_api import AmphoraBoot
from tests.support.backends import free_port
from tests.support.procs import kill_all_mentioning, pids_mentioning

# management addresses of their own, apart from the e2e tests' ranges
_hosts = itertools.count(10 + (os.getpid() % 20) * 10)


@dataclass
class Amphora:
    id: str
    ip: str
    port: int
    compute: LocalCompute
    ca: ControllerCA
    client: AgentClient


@pytest.fixture
def pki(tmp_path: Path) -> ControllerCA:
    return ControllerCA.load_or_create(tmp_path / "pki")


def boot_for(pki: ControllerCA, amp_id: str, ip: str, port: int, **extra: Any) -> AmphoraBoot:
    """The boot document of an amphora whose agent listens on ``ip:port``, with a
    server certificate from ``pki`` (``extra``: heartbeat settings and the like)."""
    cert, key = pki.issue_server_cert(amp_id, ip)
    return AmphoraBoot(
        amphora_id=amp_id,
        lb_network_ip=ip,
        agent_port=port,
        server_cert_pem=cert,
        server_key_pem=key,
        ca_cert_pem=pki.ca_cert_pem,
        **extra,
    )


@pytest.fixture
def amphora(tmp_path: Path, pki: ControllerCA) -> Iterator[Amphora]:
    amp_id = str(uuid.uuid4())
    ip = f"127.44.250.{next(_hosts) % 250 + 1}"
    port = free_port(ip)
    compute = LocalCompute(tmp_path / "amphorae")
    boot = boot_for(pki, amp_id, ip, port)
    client = AgentClient(pki.ca_cert_path, *pki.client_cert_paths())
    compute.create(boot)
    try:
        client.wait_ready(ip, port, timeout=30)
        yield Amphora(amp_id, ip, port, compute, pki, client)
    finally:
        client.close()
        compute.delete(amp_id)
        kill_all_mentioning(str(tmp_path))
    assert pids_mentioning(str(tmp_path)) == [], "processes left behind"
