"""Housekeeping rotates an amphora's certificate through the agent API: new
handshakes get the new certificate, HAProxy keeps running untouched, and a
certificate the CA did not sign is refused."""

from __future__ import annotations

import datetime as dt
import ssl

import pytest
from cryptography import x509

from hydria.core import constants as c
from hydria.core.errors import AmphoraUnreachable
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.drivers.certs.local_ca import ControllerCA
from hydria.housekeeping.certs import CertRotator
from hydria.wire.agent_api import boot_from_json
from tests.agent.test_agent_api import _config, _vip
from tests.support.backends import HTTPBackend
from tests.support.factories import make_lb

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def _served_cert(amphora) -> x509.Certificate:
    ctx = ssl.create_default_context(cafile=str(amphora.ca.ca_cert_path))
    ctx.load_cert_chain(*(str(p) for p in amphora.ca.client_cert_paths()))
    import socket

    with (
        socket.create_connection((amphora.ip, amphora.port), timeout=5) as raw,
        ctx.wrap_socket(raw, server_hostname=amphora.ip) as tls,
    ):
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    return x509.load_der_x509_certificate(der)


def test_rotation_swaps_the_certificate_without_touching_haproxy(amphora, sqlite_db: Database):
    backend = HTTPBackend("rot")
    try:
        vip, port = _vip()
        amphora.client.put_config(
            amphora.ip, amphora.port, _config(amphora, vip, port, backend, 1), 1
        )
        layout = amphora.compute.layout(amphora.id)
        haproxy_pid = layout.haproxy_pid.read_text()
        before = _served_cert(amphora)
        lb = make_lb(sqlite_db, status=c.ACTIVE)
        with sqlite_db.session() as s:
            s.add(
                m.Amphora(
                    id=amphora.id,
                    load_balancer_id=lb,
                    status=c.AMPHORA_ALLOCATED,
                    role=c.ROLE_STANDALONE,
                    lb_network_ip=amphora.ip,
                    cert_expiration=m.utcnow() + dt.timedelta(days=2),
                )
            )
        rotator = CertRotator(
            sqlite_db,
            amphora.ca,
            amphora.client,
            agent_port=amphora.port,
            cert_days=90,
            renew_before=dt.timedelta(days=30),
        )
        assert rotator.rotate_due() == 1
        after = _served_cert(amphora)
        assert after.serial_number != before.serial_number
        assert layout.haproxy_pid.read_text() == haproxy_pid
        with sqlite_db.session() as s:
            row = s.get(m.Amphora, amphora.id)
            assert row is not None and not row.cert_busy
            assert row.cert_expiration > m.utcnow() + dt.timedelta(days=80)
        # the boot file remembers it, so a restarted agent keeps the new one
        boot = boot_from_json(layout.boot_file.read_text())
        assert (
            x509.load_pem_x509_certificate(boot.server_cert_pem.encode()).serial_number
            == after.serial_number
        )
        assert rotator.rotate_due() == 0  # nothing is due any more
    finally:
        backend.stop()


def test_a_certificate_from_another_ca_is_refused(amphora, tmp_path):
    other = ControllerCA.load_or_create(tmp_path / "other")
    cert, key = other.issue_server_cert(amphora.id, amphora.ip)
    before = _served_cert(amphora)
    with pytest.raises(AmphoraUnreachable, match="400"):
        amphora.client.put_certificate(amphora.ip, amphora.port, cert, key)
    assert _served_cert(amphora).serial_number == before.serial_number
