"""Listener and pool certificates near their end: seen by housekeeping after the
API accepted them (a gauge on ``/metrics``, a warning in the log)."""

from __future__ import annotations

import datetime as dt
import logging

import pytest
from prometheus_client import REGISTRY

from hydria.core import constants as c
from hydria.core.secrets import CertificateContainer
from hydria.db import models as m
from hydria.db.engine import Database
from hydria.housekeeping.tls_expiry import EXPIRY, Expiry, Reference, TlsExpiryWatch, classify
from tests.support.factories import make_lb, uid
from tests.support.secret_store import MemorySecretStore
from tests.support.tls_certs import CA

NOW = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
GAUGE = "hydria_certificate_expiry_timestamp_seconds"


def ref(name: str) -> Reference:
    return Reference("listener", name, "lb", "p", "default_tls_container_ref", name, is_ca=False)


def test_classify_splits_expired_expiring_and_fine():
    rows = [
        Expiry(ref("gone"), NOW - dt.timedelta(seconds=1)),
        Expiry(ref("edge"), NOW),
        Expiry(ref("soon"), NOW + dt.timedelta(days=13)),
        Expiry(ref("fine"), NOW + dt.timedelta(days=15)),
    ]
    expired, expiring = classify(rows, NOW, dt.timedelta(days=14))
    assert [e.reference.id for e in expired] == ["gone", "edge"]
    assert [e.reference.id for e in expiring] == ["soon"]


def listener_and_pool(db: Database, store: MemorySecretStore, ca: CA) -> tuple[str, str, dict]:
    """A TLS listener (default + 2 SNI + client CA) and a pool (client cert + CA) of
    project ``p``, their material put straight in the store (as if accepted earlier)."""
    soon = ca.issue("soon.example", days=5)
    later = ca.issue("later.example", days=300)
    old = ca.issue("old.example", expired=True)
    client = ca.issue("client.example", client=True, days=200)
    refs = {
        "soon": store.add_certificate(
            "p", CertificateContainer(certificate=soon.cert_pem, private_key=soon.key_pem())
        ),
        "later": store.add_certificate(
            "p", CertificateContainer(certificate=later.cert_pem, private_key=later.key_pem())
        ),
        "old": store.add_certificate(
            "p", CertificateContainer(certificate=old.cert_pem, private_key=old.key_pem())
        ),
        "client": store.add_certificate(
            "p", CertificateContainer(certificate=client.cert_pem, private_key=client.key_pem())
        ),
        "ca": store.add_secret("p", ca.cert_pem),  # the test CA ends in 30 days
    }
    lb = make_lb(db, status=c.ACTIVE, with_children=True)
    with db.session() as s:
        listener = s.query(m.Listener).filter_by(load_balancer_id=lb).one()
        pool = s.query(m.Pool).filter_by(load_balancer_id=lb).one()
        listener.protocol = "TERMINATED_HTTPS"
        listener.default_tls_container_ref = refs["later"]
        listener.sni_container_refs = [refs["soon"], refs["old"]]
        listener.client_ca_tls_container_ref = refs["ca"]
        pool.tls_enabled = True
        pool.tls_container_ref = refs["client"]
        pool.ca_tls_container_ref = refs["ca"]
        deleted = m.Listener(
            id=uid(),
            project_id="p",
            load_balancer_id=lb,
            protocol="TERMINATED_HTTPS",
            protocol_port=443,
            default_tls_container_ref=refs["old"],
            provisioning_status=c.DELETED,
            operating_status=c.OFFLINE,
        )
        s.add(deleted)
        return listener.id, pool.id, refs


def gauge() -> dict[tuple[str, str, str], float]:
    return {
        (s.labels["resource"], s.labels["field"], s.labels["ref"]): s.value
        for metric in REGISTRY.collect()
        if metric.name == GAUGE
        for s in metric.samples
    }


def test_housekeeping_publishes_every_certificates_end_and_warns_of_the_near_ones(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
):
    store = MemorySecretStore()
    ca = CA()
    listener, pool, refs = listener_and_pool(sqlite_db, store, ca)
    watch = TlsExpiryWatch(sqlite_db, lambda: store, warn_before=dt.timedelta(days=14))
    with caplog.at_level(logging.WARNING, logger="hydria.housekeeping"):
        assert watch.check() == 2  # "old" expired, "soon" within 14 days; the CA's 30 are not
    shown = gauge()
    end = {name: store_end(store, r) for name, r in refs.items()}
    assert shown == {
        ("listener", "default_tls_container_ref", refs["later"]): end["later"],
        ("listener", "sni_container_refs", refs["soon"]): end["soon"],
        ("listener", "sni_container_refs", refs["old"]): end["old"],
        ("listener", "client_ca_tls_container_ref", refs["ca"]): end["ca"],
        ("pool", "tls_container_ref", refs["client"]): end["client"],
        ("pool", "ca_tls_container_ref", refs["ca"]): end["ca"],
    }
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 2
    assert warned[0].startswith(f"event=certificate_expired resource=listener id={listener}")
    assert f"ref={refs['old']}" in warned[0]
    assert warned[1].startswith(f"event=certificate_expiring resource=listener id={listener}")
    assert f"ref={refs['soon']}" in warned[1] and "days_left=5.0" in warned[1]

    # a wider warning: the CA (30 days) and the pool's client certificate are near too
    watch.warn_before = dt.timedelta(days=250)
    assert watch.check() == 5

    # the listener goes: its certificates leave the gauge, the pool's stay
    with sqlite_db.session() as s:
        s.get(m.Listener, listener).provisioning_status = c.DELETED
    caplog.clear()
    watch.warn_before = dt.timedelta(days=14)
    with caplog.at_level(logging.WARNING, logger="hydria.housekeeping"):
        assert watch.check() == 0
    assert set(gauge()) == {
        ("pool", "tls_container_ref", refs["client"]),
        ("pool", "ca_tls_container_ref", refs["ca"]),
    }
    assert caplog.records == []
    EXPIRY.clear()


def store_end(store: MemorySecretStore, reference: str) -> float:
    from cryptography import x509

    from hydria.core.secrets import parse_ref

    parsed = parse_ref(reference)
    assert parsed is not None
    if parsed.kind == "secrets":
        pem = store.secrets[parsed.uuid][1]
    else:
        pem = store.containers[parsed.uuid][1].certificate or b""
    return x509.load_pem_x509_certificate(pem).not_valid_after_utc.timestamp()


def test_a_reference_gone_from_the_store_is_logged_and_the_rest_still_checked(
    sqlite_db: Database, caplog: pytest.LogCaptureFixture
):
    store = MemorySecretStore()
    _listener, _pool, refs = listener_and_pool(sqlite_db, store, CA())
    del store.secrets[refs["ca"].rsplit("/", 1)[1]]
    watch = TlsExpiryWatch(sqlite_db, lambda: store, warn_before=dt.timedelta(days=14))
    with caplog.at_level(logging.WARNING, logger="hydria.housekeeping"):
        assert watch.check() == 2
    unreadable = [r.getMessage() for r in caplog.records if "unreadable" in r.getMessage()]
    assert len(unreadable) == 2  # the listener's client CA and the pool's CA
    assert all("error=SecretNotFound" in line for line in unreadable)
    assert len(gauge()) == 4
    EXPIRY.clear()


def test_no_store_on_this_host_means_no_check(sqlite_db: Database):
    watch = TlsExpiryWatch(sqlite_db, lambda: None, interval=3600)
    assert watch.check_due() == 0
    assert watch.check_due() is None  # not due again for an hour
