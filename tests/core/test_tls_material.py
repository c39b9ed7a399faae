"""The material checks as pure functions: each refusal names its check."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography.hazmat.primitives import serialization

from hydria.core import tls_material as tm
from hydria.core.secrets import CertificateContainer
from tests.support.tls_certs import CA

ROOT = CA("Unit CA")
LEAF = ROOT.issue("svc.example", names=("svc.example", "alt.example"))


def bundle(**kw):
    return tm.certificate_bundle(CertificateContainer(**kw), field="f", ref="r")


def test_pem_bundle_with_intermediates_and_names():
    got = bundle(certificate=LEAF.cert_pem, private_key=LEAF.key_pem(), intermediates=ROOT.cert_pem)
    assert got.names == ("svc.example", "alt.example")
    assert got.pem.count(b"BEGIN CERTIFICATE") == 2 and b"PRIVATE KEY" in got.pem
    assert len(got.digest) == 64


def test_der_certificate_and_encrypted_key_with_passphrase():
    der = LEAF.cert.public_bytes(serialization.Encoding.DER)
    got = bundle(certificate=der, private_key=LEAF.key_pem(b"pw"), private_key_passphrase=b"pw")
    assert b"ENCRYPTED" not in got.pem  # HAProxy gets the key in the clear, 0600


def test_pkcs12_with_and_without_the_flag():
    assert bundle(certificate=LEAF.pkcs12(), pkcs12=True).names[0] == "svc.example"
    assert bundle(certificate=LEAF.pkcs12()).names[0] == "svc.example"  # sniffed
    with pytest.raises(tm.BadMaterial, match="passphrase is wrong or it is not PKCS12"):
        bundle(certificate=LEAF.pkcs12(b"pw"), pkcs12=True, private_key_passphrase=b"no")


@pytest.mark.parametrize(
    ("kw", "match"),
    [
        ({"certificate": b"junk", "private_key": b"k"}, "neither PEM nor DER"),
        ({"certificate": LEAF.cert_pem}, "no private key"),
        (
            {"certificate": LEAF.cert_pem, "private_key": ROOT.issue("x").key_pem()},
            "does not match",
        ),
        (
            {
                "certificate": LEAF.cert_pem,
                "private_key": LEAF.key_pem(b"a"),
                "private_key_passphrase": b"b",
            },
            "passphrase is wrong",
        ),
        ({"certificate": LEAF.cert_pem, "private_key": LEAF.key_pem(b"a")}, "no passphrase"),
        (
            {
                "certificate": LEAF.cert_pem,
                "private_key": LEAF.key_pem(),
                "private_key_passphrase": b"x",
            },
            "not encrypted",
        ),
        (
            {
                "certificate": LEAF.cert_pem,
                "private_key": b"-----BEGIN PRIVATE KEY-----\nxx\n-----END PRIVATE KEY-----\n",
            },
            "private key",
        ),
    ],
)
def test_refusals_say_which_check(kw, match):
    with pytest.raises(tm.BadMaterial, match=match):
        bundle(**kw)


def test_dates():
    old = ROOT.issue("old.example", expired=True)
    with pytest.raises(tm.BadMaterial, match="expired on"):
        bundle(certificate=old.cert_pem, private_key=old.key_pem())
    assert bundle(certificate=LEAF.cert_pem, private_key=LEAF.key_pem()).names
    with pytest.raises(tm.BadMaterial, match="not valid before"):
        tm.certificate_bundle(
            CertificateContainer(LEAF.cert_pem, LEAF.key_pem()),
            field="f",
            ref="r",
            now=dt.datetime(2000, 1, 1, tzinfo=dt.UTC),
        )
    # the controller's reading: an expired one still loads
    tm.certificate_bundle(
        CertificateContainer(old.cert_pem, old.key_pem()), field="f", ref="r", check_dates=False
    )


def test_ca_and_crl():
    assert b"BEGIN CERTIFICATE" in tm.ca_bundle(ROOT.cert_pem, field="ca", ref="r")
    with pytest.raises(tm.BadMaterial, match="is not a CA"):
        tm.ca_bundle(LEAF.cert_pem, field="ca", ref="r")
    with pytest.raises(tm.BadMaterial, match="CA certificate is neither"):
        tm.ca_bundle(b"nope", field="ca", ref="r")
    crl = tm.crl(ROOT.crl_pem(), field="crl", ref="r")
    assert tm.crl_issued_by(crl, ROOT.cert_pem)
    assert not tm.crl_issued_by(crl, CA("Another").cert_pem)
    from cryptography import x509

    der = x509.load_pem_x509_crl(ROOT.crl_pem()).public_bytes(serialization.Encoding.DER)
    assert tm.crl(der, field="crl", ref="r").startswith(b"-----BEGIN X509 CRL")
    with pytest.raises(tm.BadMaterial, match="X.509 CRL"):
        tm.crl(b"nope", field="crl", ref="r")


def test_fault_repeats_no_material():
    with pytest.raises(tm.BadMaterial) as caught:
        bundle(certificate=LEAF.cert_pem, private_key=ROOT.issue("x").key_pem())
    assert b"PRIVATE" not in str(caught.value).encode() and "MII" not in str(caught.value)
