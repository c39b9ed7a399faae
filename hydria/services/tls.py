"""TLS on listeners and pools: Octavia's rules for the references, and the material.

A TERMINATED_HTTPS listener names its certificates (default, SNI), the client CA
and CRL by reference; a pool names the client certificate Hydria shows its
members and the CA and CRL it checks them with. Before a row is written, each
reference is read from the secret store as the owning project and checked by
``hydria.core.tls_material`` (PEM or PKCS12, key matches, not expired, passphrase,
CA is a CA, CRL parses and the CA signed it): a fault is a 400 naming the field
and the check, so nothing unusable is stored or rendered. A reference the store
cannot find, or that belongs to another project, is a 400 saying so.

The store is whatever ``hydria.cli.wiring`` put in ``Env.secrets``: it meets
``SecretReader`` structurally (the ``hydria.drivers.secrets`` Protocol; services
sit above ``core`` and ``db`` only, so the two methods are restated here).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from hydria.core import constants as c
from hydria.core import tls_material
from hydria.core.errors import InvalidInput
from hydria.core.secrets import (
    CertificateContainer,
    SecretAccess,
    SecretForbidden,
    SecretNotFound,
)


@dataclass(frozen=True)
class Material:
    """Which fields of an object name TLS material by reference: its own certificates
    (a field may hold a list), and the CA and CRL its peers are checked against."""

    certificates: tuple[str, ...]
    ca: str
    crl: str

    @property
    def refs(self) -> tuple[str, ...]:
        return (*self.certificates, self.ca, self.crl)


LISTENER = Material(
    ("default_tls_container_ref", "sni_container_refs"),
    ca="client_ca_tls_container_ref",
    crl="client_crl_container_ref",
)
POOL = Material(("tls_container_ref",), ca="ca_tls_container_ref", crl="crl_container_ref")

#: A listener's reference fields, and the options only a TLS listener uses.
LISTENER_REFS = LISTENER.refs
POOL_REFS = POOL.refs
LISTENER_FIELDS = (
    *LISTENER_REFS,
    "client_authentication",
    "tls_ciphers",
    "tls_versions",
    "alpn_protocols",
    "hsts_max_age",
    "hsts_include_subdomains",
    "hsts_preload",
)
POOL_FIELDS = (*POOL_REFS, "tls_enabled", "tls_ciphers", "tls_versions", "alpn_protocols")


class SecretReader(Protocol):
    def certificate(self, ref: str, access: SecretAccess) -> CertificateContainer: ...

    def secret(self, ref: str, access: SecretAccess) -> bytes: ...


def _fault(detail: str) -> InvalidInput:
    return InvalidInput(f"Validation failure: {detail}")


def _read(
    store: SecretReader | None, ref: str, field: str, access: SecretAccess, *, container: bool
) -> Any:
    if store is None:
        raise InvalidInput(
            f"Could not retrieve certificate: ['{ref}'] ({field}: no secret store is configured)"
        )
    try:
        if container:
            return store.certificate(ref, access)
        return store.secret(ref, access)
    except SecretForbidden:
        raise InvalidInput(
            f"Could not retrieve certificate: ['{ref}'] ({field}: the "
            f"secret belongs to another project)"
        ) from None
    except SecretNotFound:
        raise InvalidInput(
            f"Could not retrieve certificate: ['{ref}'] ({field}: no such "
            f"secret or container in project {access.project_id})"
        ) from None


def check_certificate(
    store: SecretReader | None, ref: str, field: str, access: SecretAccess
) -> tls_material.CertBundle:
    container = _read(store, ref, field, access, container=True)
    return tls_material.certificate_bundle(container, field=field, ref=ref)


def check_ca_and_crl(
    store: SecretReader | None,
    ca_ref: str,
    crl_ref: str | None,
    access: SecretAccess,
    *,
    ca_field: str,
    crl_field: str,
) -> None:
    ca_pem = tls_material.ca_bundle(
        _read(store, ca_ref, ca_field, access, container=False), field=ca_field, ref=ca_ref
    )
    if crl_ref:
        crl_pem = tls_material.crl(
            _read(store, crl_ref, crl_field, access, container=False), field=crl_field, ref=crl_ref
        )
        if not tls_material.crl_issued_by(crl_pem, ca_pem):
            raise tls_material.BadMaterial(
                crl_field, crl_ref, f"the revocation list was not issued by the CA in {ca_field}."
            )


def has_refs(values: Mapping[str, Any]) -> bool:
    """Octavia's "has TLS container references" (certificates or a client CA)."""
    return bool(
        values.get("default_tls_container_ref")
        or values.get("sni_container_refs")
        or values.get("client_ca_tls_container_ref")
    )


def check_listener_rules(protocol: str, values: Mapping[str, Any], *, update: bool) -> None:
    """Octavia's checks of a listener's TLS fields that need no store.

    ``values``: the listener as it will be (the row merged with the changes on an
    update).
    """
    tls = protocol == c.PROTOCOL_TERMINATED_HTTPS
    if not tls and has_refs(values):
        raise _fault(
            f"Certificate container references are not allowed on {protocol} protocol listeners."
        )
    if tls:
        if not (values.get("default_tls_container_ref") or values.get("sni_container_refs")):
            if values.get("client_ca_tls_container_ref"):
                raise _fault(
                    "An SNI or default certificate container reference must be "
                    "provided with a client CA container reference."
                )
            raise _fault(
                "An SNI or default certificate container reference must be "
                f"provided for {protocol} protocol listeners."
            )
    auth = values.get("client_authentication") or c.CLIENT_AUTH_NONE
    if auth != c.CLIENT_AUTH_NONE and not values.get("client_ca_tls_container_ref"):
        raise _fault(
            f"Client authentication setting {auth} requires a client CA container reference."
        )
    if values.get("client_crl_container_ref") and not values.get("client_ca_tls_container_ref"):
        raise _fault(
            "A client authentication CA reference is required to specify a client "
            "authentication revocation list."
        )
    hsts_on = isinstance(values.get("hsts_max_age"), int)
    if (values.get("hsts_include_subdomains") or values.get("hsts_preload")) and not hsts_on:
        if update:
            raise _fault(
                "Cannot enable hsts_include_subdomains or hsts_preload if "
                "hsts_max_age was not set as well."
            )
        raise _fault(
            "HSTS configuration options hsts_include_subdomains and hsts_preload "
            "only make sense if hsts_max_age is set as well."
        )
    if hsts_on and not tls:
        raise _fault(
            "The HSTS feature can only be used for listeners using the TERMINATED_HTTPS protocol."
        )


def check_material(
    store: SecretReader | None,
    kind: Material,
    values: Mapping[str, Any],
    access: SecretAccess,
    *,
    changed: set[str] | None = None,
) -> None:
    """Read and check every reference ``values`` name in the fields ``kind`` says
    (on an update: those given, and the CA again when its CRL is given)."""

    def wanted(name: str) -> bool:
        return changed is None or name in changed

    for name in kind.certificates:
        value = values.get(name)
        if value and wanted(name):
            for ref in value if isinstance(value, list | tuple) else (value,):
                check_certificate(store, ref, name, access)
    ca = values.get(kind.ca)
    if ca and (wanted(kind.ca) or wanted(kind.crl)):
        check_ca_and_crl(
            store, ca, values.get(kind.crl), access, ca_field=kind.ca, crl_field=kind.crl
        )


def _fill(values: dict[str, Any], only_given: bool) -> None:
    defaults = {
        "tls_ciphers": c.DEFAULT_TLS_CIPHERS,
        "tls_versions": list(c.DEFAULT_TLS_VERSIONS),
        "alpn_protocols": list(c.DEFAULT_ALPN_PROTOCOLS),
    }
    for name, default in defaults.items():
        if values.get(name) is None and (name in values or not only_given):
            values[name] = default


def listener_defaults(protocol: str, values: dict[str, Any], *, only_given: bool = False) -> None:
    """Octavia's defaults for a TLS listener's ciphers, versions and ALPN protocols
    (on an update, ``only_given``: a null puts the default back)."""
    if protocol == c.PROTOCOL_TERMINATED_HTTPS:
        _fill(values, only_given)


def check_pool_rules(
    values: Mapping[str, Any],
    *,
    current: Mapping[str, Any] | None = None,
    given: Mapping[str, Any] | None = None,
) -> None:
    """Octavia's pool rules: a CRL needs a CA; on an update a CA under a CRL stays."""
    if current is not None and given is not None and "ca_tls_container_ref" in given:
        if not given["ca_tls_container_ref"] and values.get("crl_container_ref"):
            if current.get("ca_tls_container_ref"):
                raise _fault(
                    "A CA reference cannot be removed when a certificate "
                    "revocation list is present."
                )
            raise _fault("A CA reference is required to specify a certificate revocation list.")
    if values.get("crl_container_ref") and not values.get("ca_tls_container_ref"):
        if current is None:
            raise _fault("A CA certificate reference is required to specify a revocation list.")
        raise _fault("A CA reference is required to specify a certificate revocation list.")


def pool_defaults(values: dict[str, Any], *, tls_enabled: bool, only_given: bool = False) -> None:
    """Octavia fills a TLS-enabled pool's ciphers, versions and ALPN protocols."""
    if tls_enabled:
        _fill(values, only_given)
