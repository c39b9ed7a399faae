"""Is this TLS material sound? Pure checks on bytes, with the ``cryptography`` library.

A listener's certificates, a client CA, a CRL and a pool's client certificate
come out of a secret store as bytes (``hydria.core.secrets``). Before anything is
stored or rendered they pass through here, and a fault says which check failed:

* ``certificate_bundle``: PEM or DER, or a PKCS12 bundle; the passphrase (if the
  key or the bundle is encrypted) is right; there is a private key and it matches
  the certificate; the certificate is not expired (nor not yet valid). The answer
  is one PEM text HAProxy loads as it is (certificate, intermediates, key without
  a passphrase) and the host names the certificate serves (for SNI).
* ``ca_bundle``: PEM or DER certificates, each one a CA (basicConstraints CA true)
  and not expired.
* ``crl``: a PEM or DER certificate revocation list; HAProxy takes PEM.

Nothing here logs, and no fault repeats the material: only which check failed.
The same functions serve the API (a 400 before a row is written) and the
controller (the amphora gets only what passed, in the form it loads).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import dsa, ec, ed448, ed25519, rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from hydria.core.errors import InvalidInput
from hydria.core.secrets import CertificateContainer

_PEM_CERT = b"-----BEGIN CERTIFICATE-----"


class BadMaterial(InvalidInput):
    """TLS material that cannot be used; the message says which check failed."""

    def __init__(self, field: str, ref: str, reason: str) -> None:
        super().__init__(f"Validation failure: {field} {ref!r}: {reason}")
        self.field = field
        self.reason = reason


@dataclass(frozen=True, slots=True)
class CertBundle:
    """A checked certificate with its key, as HAProxy loads it."""

    pem: bytes  # certificate, intermediates, then the key (no passphrase)
    names: tuple[str, ...]  # the CN and DNS subject alternative names, lower case
    not_after: dt.datetime

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.pem).hexdigest()


def _now(now: dt.datetime | None) -> dt.datetime:
    return now if now is not None else dt.datetime.now(dt.UTC)


def _load_certs(data: bytes) -> list[x509.Certificate]:
    """PEM (one or more) or one DER certificate; ValueError if neither."""
    data = data or b""
    if _PEM_CERT in data:
        return x509.load_pem_x509_certificates(data.strip())
    # DER is binary: a last byte that happens to be 0x20 or 0x0a is part of it
    return [x509.load_der_x509_certificate(data)]


def _check_dates(cert: x509.Certificate, now: dt.datetime, field: str, ref: str, what: str) -> None:
    if cert.not_valid_after_utc <= now:
        raise BadMaterial(
            field, ref, f"the {what} expired on {cert.not_valid_after_utc:%Y-%m-%d %H:%M:%S} UTC."
        )
    if cert.not_valid_before_utc > now:
        raise BadMaterial(
            field,
            ref,
            f"the {what} is not valid before {cert.not_valid_before_utc:%Y-%m-%d %H:%M:%S} UTC.",
        )


_KeyTypes = (
    rsa.RSAPrivateKey,
    ec.EllipticCurvePrivateKey,
    ed25519.Ed25519PrivateKey,
    ed448.Ed448PrivateKey,
    dsa.DSAPrivateKey,
)
_Key = (
    rsa.RSAPrivateKey
    | ec.EllipticCurvePrivateKey
    | ed25519.Ed25519PrivateKey
    | ed448.Ed448PrivateKey
    | dsa.DSAPrivateKey
)


def _load_key(data: bytes, passphrase: bytes | None, field: str, ref: str) -> object:
    pem = b"-----BEGIN" in data
    data = data.strip() if pem else data  # DER is binary: never strip it
    loader = serialization.load_pem_private_key if pem else serialization.load_der_private_key
    try:
        return loader(data, password=passphrase or None)
    except TypeError as exc:  # encrypted without a passphrase, or a passphrase for a clear key
        if passphrase:
            raise BadMaterial(
                field, ref, "a passphrase was given but the private key is not encrypted."
            ) from exc
        raise BadMaterial(
            field, ref, "the private key is encrypted and no passphrase was given."
        ) from exc
    except ValueError as exc:
        if passphrase and b"ENCRYPTED" in data:
            raise BadMaterial(field, ref, "the private key passphrase is wrong.") from exc
        raise BadMaterial(field, ref, "the private key is neither PEM nor DER.") from exc
    except Exception as exc:  # unsupported algorithms and the like
        raise BadMaterial(
            field, ref, f"the private key cannot be loaded ({type(exc).__name__})."
        ) from exc


def _public_bytes(key: _Key) -> bytes:
    data: bytes = key.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return data


def _names(cert: x509.Certificate) -> tuple[str, ...]:
    names: list[str] = []
    for attr in cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME):
        value = attr.value if isinstance(attr.value, str) else attr.value.decode(errors="replace")
        names.append(value.lower())
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names.extend(n.lower() for n in san.value.get_values_for_type(x509.DNSName))
    except x509.ExtensionNotFound:
        pass
    return tuple(dict.fromkeys(names))


def _from_pkcs12(
    data: bytes, passphrase: bytes | None, field: str, ref: str
) -> tuple[x509.Certificate, list[x509.Certificate], object]:
    try:
        key, cert, extra = pkcs12.load_key_and_certificates(data, passphrase or None)
    except ValueError as exc:
        raise BadMaterial(
            field,
            ref,
            "the PKCS12 bundle cannot be opened: the passphrase is wrong or it is not PKCS12.",
        ) from exc
    if cert is None:
        raise BadMaterial(field, ref, "the PKCS12 bundle holds no certificate.")
    if key is None:
        raise BadMaterial(field, ref, "the PKCS12 bundle holds no private key.")
    return cert, list(extra), key


def certificate_bundle(
    container: CertificateContainer,
    *,
    field: str,
    ref: str,
    now: dt.datetime | None = None,
    check_dates: bool = True,
) -> CertBundle:
    """Check a certificate container (or a PKCS12 secret); the PEM HAProxy loads.

    ``check_dates`` False: a certificate that expired after it was accepted
    still loads (the controller's reading; the API refuses new expired ones)."""
    moment = _now(now)
    data = container.certificate or b""
    key: object
    if container.pkcs12 or (data and _PEM_CERT not in data and container.private_key is None):
        cert, intermediates, key = _from_pkcs12(data, container.private_key_passphrase, field, ref)
    else:
        try:
            chain = _load_certs(data)
        except ValueError as exc:
            raise BadMaterial(
                field, ref, "the certificate is neither PEM nor DER (nor a PKCS12 bundle)."
            ) from exc
        cert, intermediates = chain[0], chain[1:]
        if container.intermediates:
            try:
                intermediates += _load_certs(container.intermediates)
            except ValueError as exc:
                raise BadMaterial(
                    field, ref, "the intermediates are neither PEM nor DER certificates."
                ) from exc
        if not container.private_key:
            raise BadMaterial(field, ref, "the container has no private key.")
        key = _load_key(container.private_key, container.private_key_passphrase, field, ref)
    if not isinstance(key, _KeyTypes):
        raise BadMaterial(field, ref, "the private key's type is not supported.")
    if _public_bytes(key) != cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    ):
        raise BadMaterial(field, ref, "the private key does not match the certificate.")
    if check_dates:
        _check_dates(cert, moment, field, ref, "certificate")
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, *intermediates))
    pem += key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    return CertBundle(pem=pem, names=_names(cert), not_after=cert.not_valid_after_utc)


def ca_bundle(
    data: bytes, *, field: str, ref: str, now: dt.datetime | None = None, check_dates: bool = True
) -> bytes:
    """Check a CA bundle (each certificate a CA, none expired); its PEM text."""
    moment = _now(now)
    try:
        certs = _load_certs(data)
    except ValueError as exc:
        raise BadMaterial(field, ref, "the CA certificate is neither PEM nor DER.") from exc
    for cert in certs:
        try:
            bc = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
            is_ca = bc.ca
        except x509.ExtensionNotFound:
            is_ca = False
        if not is_ca:
            raise BadMaterial(
                field,
                ref,
                "the certificate is not a CA (its basic constraints do not say CA:TRUE).",
            )
        if check_dates:
            _check_dates(cert, moment, field, ref, "CA certificate")
    return b"".join(c.public_bytes(serialization.Encoding.PEM) for c in certs)


def crl(data: bytes, *, field: str, ref: str) -> bytes:
    """Check a certificate revocation list; its PEM text."""
    raw = data or b""
    try:
        if b"-----BEGIN X509 CRL-----" in raw:
            parsed = x509.load_pem_x509_crl(raw.strip())
        else:
            parsed = x509.load_der_x509_crl(raw)
    except ValueError as exc:
        raise BadMaterial(
            field, ref, "the revocation list is neither a PEM nor a DER X.509 CRL."
        ) from exc
    return parsed.public_bytes(serialization.Encoding.PEM)


def crl_issued_by(crl_pem: bytes, ca_pem: bytes) -> bool:
    """Whether one of the CA bundle's certificates signed the CRL (HAProxy needs it)."""
    revocation = x509.load_pem_x509_crl(crl_pem)
    return any(
        # the ignore below: a certificate's key type includes X25519/X448 keys,
        # which cannot sign; a CA bundle of real CAs never holds one
        revocation.is_signature_valid(ca.public_key())  # type: ignore[arg-type]
        for ca in x509.load_pem_x509_certificates(ca_pem)
    )


def fingerprint(pem: bytes) -> str:
    """The name a piece of material goes by on the amphora: its SHA-256, so a new
    certificate is a new file (and a new configuration), and equal ones are shared."""
    return hashlib.sha256(pem).hexdigest()
