"""The controller CA: the root of trust between controllers and amphorae.

Kept as PEM files in the PKI folder (``<state_dir>/pki``). Every amphora gets
its own server certificate whose SAN is its management address; every
controller presents the one client certificate this CA signed. The agent
refuses any client the CA did not sign, and the controller refuses any
amphora the CA did not sign, so a stray process on the management network can
neither configure an amphora nor pose as one.

Keys are ECDSA P-256: as strong as RSA-3072 for this use, and made in well
under a millisecond, which matters when an amphora is booted per request.

The folder is 0700 and every file in it 0600; a key found readable by others
is refused (``InsecureFile``), since it may have leaked.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from hydria.core.private_files import check_private, ensure_private_dir, read_private, write_private

CA_DAYS = 3650
CLIENT_DAYS = 730


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _key_pem(key: ec.EllipticCurvePrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def _cert_pem(cert: x509.Certificate) -> str:
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def _write_private(path: Path, text: str) -> None:
    write_private(path, text.encode())


@contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """Several processes (api, controller, health) may start at once on one folder."""
    ensure_private_dir(folder)
    with open(folder / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


class ControllerCA:
    """Loads the CA from ``folder``, or creates it the first time."""

    def __init__(
        self, folder: Path, ca_key: ec.EllipticCurvePrivateKey, ca_cert: x509.Certificate
    ) -> None:
        self.folder = folder
        self._key = ca_key
        self._cert = ca_cert
        self.ca_cert_pem = _cert_pem(ca_cert)

    # -- files ---------------------------------------------------------------

    @property
    def ca_cert_path(self) -> Path:
        return self.folder / "ca.pem"

    def client_cert_paths(self) -> tuple[Path, Path]:
        return self.folder / "controller.pem", self.folder / "controller.key"

    @classmethod
    def load_or_create(cls, folder: Path) -> ControllerCA:
        folder = Path(folder)
        with _locked(folder):
            key_path, cert_path = folder / "ca.key", folder / "ca.pem"
            if key_path.exists() and cert_path.exists():
                key = serialization.load_pem_private_key(read_private(key_path), None)
                assert isinstance(key, ec.EllipticCurvePrivateKey), "CA key must be ECDSA"
                ca = cls(folder, key, x509.load_pem_x509_certificate(cert_path.read_bytes()))
            else:
                key = _key()
                cert = _self_signed(key)
                _write_private(key_path, _key_pem(key))
                _write_private(cert_path, _cert_pem(cert))
                ca = cls(folder, key, cert)
            ca._ensure_client_cert()
        return ca

    def _ensure_client_cert(self) -> None:
        cert_path, key_path = self.client_cert_paths()
        if cert_path.exists() and key_path.exists():
            check_private(key_path)
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            renew_after = cert.not_valid_after_utc - dt.timedelta(days=30)
            if cert.issuer == self._cert.subject and dt.datetime.now(dt.UTC) < renew_after:
                return
        cert_pem, key_pem = self.issue("hydria-controller", client=True, days=CLIENT_DAYS)
        _write_private(key_path, key_pem)
        _write_private(cert_path, cert_pem)

    # -- issuing -------------------------------------------------------------

    def issue_server_cert(self, amphora_id: str, ip: str, *, days: int = 365) -> tuple[str, str]:
        """(cert PEM, key PEM) for an amphora agent listening on ``ip``."""
        return self.issue(amphora_id, ip=ip, days=days)

    def issue(
        self, common_name: str, *, ip: str | None = None, client: bool = False, days: int = 365
    ) -> tuple[str, str]:
        key = _key()
        now = dt.datetime.now(dt.UTC)
        usage = ExtendedKeyUsageOID.CLIENT_AUTH if client else ExtendedKeyUsageOID.SERVER_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=days))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if ip is not None:
            builder = builder.add_extension(
                x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address(ip))]),
                critical=False,
            )
        cert = builder.sign(self._key, hashes.SHA256())
        return _cert_pem(cert), _key_pem(key)


def _self_signed(key: ec.EllipticCurvePrivateKey) -> x509.Certificate:
    now = dt.datetime.now(dt.UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Hydria controller CA")])
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
