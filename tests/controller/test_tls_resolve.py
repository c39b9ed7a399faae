"""The controller's reading of TLS references: files named by digest, shared
between listeners, and a reference that no longer reads is a permanent error."""

from __future__ import annotations

import pytest

from hydria.controller import tls
from hydria.core import graph as g
from hydria.core.secrets import CertificateContainer
from tests.support.secret_store import MemorySecretStore
from tests.support.tls_certs import CA

ROOT = CA("Resolve CA")
LEAF = ROOT.issue("x.example")


def _lb(store: MemorySecretStore, **kw) -> g.LoadBalancer:
    ref = store.add_certificate("p", CertificateContainer(LEAF.cert_pem, LEAF.key_pem()))
    listeners = (
        g.Listener(
            "l1",
            "TERMINATED_HTTPS",
            443,
            default_tls_container_ref=ref,
            client_ca_tls_container_ref=store.add_secret("p", ROOT.cert_pem),
            client_authentication="MANDATORY",
            **kw,
        ),
        g.Listener("l2", "TERMINATED_HTTPS", 8443, default_tls_container_ref=ref),
        g.Listener("l3", "HTTP", 80, default_tls_container_ref="ignored"),
    )
    return g.LoadBalancer("lb", "192.0.2.1", project_id="p", listeners=listeners)


def test_files_by_digest_shared_between_listeners():
    store = MemorySecretStore()
    lb = _lb(store)
    resolved, files = tls.resolve(lb, store)
    assert len(files) == 2 and len(resolved.tls_files) == 2
    assert all(len(name) == 68 and name.endswith(".pem") for name in files)
    kinds = sorted(k for k, _r, _f in resolved.tls_files)
    assert kinds == ["ca", "cert"]


def test_nothing_to_read_without_tls():
    lb = g.LoadBalancer("lb", "192.0.2.1", listeners=(g.Listener("l", "HTTP", 80),))
    assert tls.resolve(lb, None) == (lb, {})


def test_unreadable_or_bad_material_is_permanent():
    store = MemorySecretStore()
    lb = _lb(store)
    with pytest.raises(tls.TlsMaterialUnusable, match="no secret store"):
        tls.resolve(lb, None)
    store.containers.clear()
    with pytest.raises(tls.TlsMaterialUnusable, match="SecretNotFound"):
        tls.resolve(lb, store)
    store = MemorySecretStore()
    lb = _lb(store)
    for uid, (owner, _) in list(store.containers.items()):
        other = ROOT.issue("y.example")
        store.containers[uid] = (owner, CertificateContainer(LEAF.cert_pem, other.key_pem()))
    with pytest.raises(tls.TlsMaterialUnusable, match="does not match"):
        tls.resolve(lb, store)


def test_a_store_that_does_not_answer_is_temporary():
    class Down:
        def certificate(self, ref, access):
            raise ConnectionError("refused")

        def secret(self, ref, access):
            raise ConnectionError("refused")

    store = MemorySecretStore()
    with pytest.raises(tls.SecretStoreUnavailable):
        tls.resolve(_lb(store), Down())
