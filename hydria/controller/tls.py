"""The TLS material a load balancer's configuration names, read and checked.

``resolve(lb, store)`` reads every reference the served listeners and pools
name (``graph.LoadBalancer.tls_refs``) from the secret store as the load
balancer's project, checks it with ``hydria.core.tls_material`` and turns it
into the files HAProxy loads, each named by the SHA-256 of its content. It
returns the graph with ``tls_files`` filled (so the pure renderer can name the
files) and the files themselves, which the reconciler hands to each amphora
over the agent's mutual-TLS API before the configuration. Nothing is logged
but references and file names.

The API checked the same material before it stored the references; meeting a
fault here (a secret deleted or replaced since) is permanent for this
generation: the load balancer goes to ERROR with the reason, and the running
configuration keeps serving. A certificate that expired since is not refused
here (the API refuses new expired ones; an operator rotates old ones).
"""

from __future__ import annotations

from dataclasses import replace

from hydria.core import graph, tls_material
from hydria.core.errors import APIError, PermanentError, TemporaryError
from hydria.core.secrets import SecretAccess, SecretForbidden, SecretNotFound
from hydria.drivers.secrets.base import SecretStore


class TlsMaterialUnusable(PermanentError):
    """A reference the configuration needs cannot be read, or its material is bad."""


class SecretStoreUnavailable(TemporaryError):
    """The secret store did not answer; worth a retry."""


def resolve(
    lb: graph.LoadBalancer, store: SecretStore | None
) -> tuple[graph.LoadBalancer, dict[str, str]]:
    refs = lb.tls_refs()
    if not refs:
        return lb, {}
    if store is None:
        raise TlsMaterialUnusable(
            "the configuration names TLS material and no secret store is configured"
        )
    access = SecretAccess(project_id=lb.project_id)
    files: dict[str, str] = {}
    entries: list[tuple[str, str, str]] = []
    for kind, ref in refs:
        try:
            if kind == "cert":
                pem = tls_material.certificate_bundle(
                    store.certificate(ref, access), field="certificate", ref=ref, check_dates=False
                ).pem
            elif kind == "ca":
                pem = tls_material.ca_bundle(
                    store.secret(ref, access), field="CA", ref=ref, check_dates=False
                )
            else:
                pem = tls_material.crl(store.secret(ref, access), field="CRL", ref=ref)
        except (SecretNotFound, SecretForbidden) as exc:
            raise TlsMaterialUnusable(
                f"TLS reference {ref!r} cannot be read: {type(exc).__name__}"
            ) from None
        except APIError as exc:
            raise TlsMaterialUnusable(str(exc)) from None
        except Exception as exc:  # the store's transport: try again later
            raise SecretStoreUnavailable(f"secret store: {type(exc).__name__}") from None
        name = tls_material.fingerprint(pem) + ".pem"
        files[name] = pem.decode()
        entries.append((kind, ref, name))
    return replace(lb, tls_files=tuple(entries)), files
