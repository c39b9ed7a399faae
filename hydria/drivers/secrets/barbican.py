"""``SecretStore`` over a real Barbican, through keystoneauth (``HYDRIA_SECRET_STORE=barbican``).

Hydria reads as its service user (the ``keystone_*`` settings, as Octavia's
Barbican certificate manager uses its ``[service_auth]`` user), so the
controller can read a listener's material long after the user's token has
expired. A service user has no right to a tenant's secrets in Barbican, so
access is granted the way Octavia's ``barbican_acl`` manager does it: when
the API checks a reference (``SecretAccess`` carries the caller's token), the
container and its secrets are read with the *user's* token first (so a user
can only name material it may read itself), and the service user is then
added to their ``read`` ACLs, with the user's token. Later reads without a
token (the controller) use the service user and those ACLs.

URLs are built from the Barbican endpoint (``HYDRIA_BARBICAN_ENDPOINT``, else
Keystone's catalogue, type ``key-manager``) and the reference's id: a
reference naming another host is read from our Barbican, so neither the
service token nor the user's is ever sent where a reference points.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from keystoneauth1 import exceptions as ks_exc
from keystoneauth1 import session as ks_session
from keystoneauth1.identity import v3

from hydria.core.secrets import (
    CERTIFICATE_PARTS,
    CertificateContainer,
    SecretAccess,
    SecretForbidden,
    SecretNotFound,
    SecretRef,
    SecretStoreUnavailable,
    parse_ref,
)
from hydria.core.service_user import ServiceUser

log = logging.getLogger(__name__)

_OCTETS = {"Accept": "application/octet-stream"}
_JSON = {"Accept": "application/json"}


@dataclass(frozen=True)
class BarbicanOptions:
    user: ServiceUser  # who reads (its repr never shows the password)
    endpoint: str = ""  # empty: the catalogue's key-manager endpoint
    interface: str = "public"
    region: str = ""
    timeout: float = 10.0


class BarbicanStore:
    def __init__(self, options: BarbicanOptions) -> None:
        self.options = options
        auth = v3.Password(**options.user.password_auth())
        self.session = ks_session.Session(auth=auth, timeout=options.timeout)
        self._base: str | None = None

    # -- the seam ------------------------------------------------------------------

    def certificate(self, ref: str, access: SecretAccess) -> CertificateContainer:
        parsed = _parse(ref)
        if parsed.kind == "secrets":  # a PKCS12 bundle named directly
            data = self._payload(parsed.uuid, access)
            return CertificateContainer(certificate=data, pkcs12=True)
        container = self._json(f"containers/{parsed.uuid}", access)
        parts: dict[str, bytes] = {}
        for item in container.get("secret_refs") or []:
            name, secret = item.get("name"), parse_ref(str(item.get("secret_ref", "")))
            if name in CERTIFICATE_PARTS and secret is not None:
                parts[name] = self._payload(secret.uuid, access)
        return CertificateContainer.from_parts(parts, ref)

    def secret(self, ref: str, access: SecretAccess) -> bytes:
        parsed = _parse(ref)
        if parsed.kind != "secrets":
            raise SecretNotFound(f"{ref} is not a secret.")
        return self._payload(parsed.uuid, access)

    # -- Barbican's API ------------------------------------------------------------

    def base(self) -> str:
        """``<barbican>/v1``: the setting, else the catalogue's key-manager endpoint."""
        if self._base is None:
            endpoint = self.options.endpoint
            if not endpoint:
                try:
                    endpoint = (
                        self.session.get_endpoint(
                            service_type="key-manager",
                            interface=self.options.interface,
                            region_name=self.options.region or None,
                        )
                        or ""
                    )
                except ks_exc.ClientException as exc:
                    raise SecretStoreUnavailable(f"no key-manager endpoint: {exc}") from None
                if not endpoint:
                    raise SecretStoreUnavailable("no key-manager endpoint in the catalogue")
            endpoint = endpoint.rstrip("/")
            self._base = endpoint if endpoint.endswith("/v1") else endpoint + "/v1"
        return self._base

    def _get(self, path: str, access: SecretAccess, headers: dict[str, str]) -> Any:
        """GET ``path`` as the user (a token in ``access``: then grant the service
        user read access) or as the service user."""
        url = f"{self.base()}/{path}"
        response = self._request("GET", url, access, headers)
        return response

    def _request(
        self, method: str, url: str, access: SecretAccess, headers: dict[str, str], json: Any = None
    ) -> Any:
        kwargs: dict[str, Any] = {"headers": dict(headers), "raise_exc": False}
        if json is not None:
            kwargs["json"] = json
        if access.token is not None:
            kwargs["headers"]["X-Auth-Token"] = access.token
            kwargs["authenticated"] = False
        try:
            response = self.session.request(url, method, **kwargs)
        except (
            ks_exc.ConnectFailure,
            ks_exc.ConnectionError,
            ks_exc.RequestTimeout,
            ks_exc.DiscoveryFailure,
        ) as exc:
            raise SecretStoreUnavailable(f"Barbican did not answer: {exc}") from None
        except ks_exc.Unauthorized as exc:  # the service user's own credentials
            raise SecretStoreUnavailable(f"Keystone refused the service user: {exc}") from None
        status = response.status_code
        if status == 404:
            raise SecretNotFound(f"{url} not found.")
        if status in (401, 403):
            raise SecretForbidden(f"{url}: not allowed ({status}).")
        if status >= 500:
            raise SecretStoreUnavailable(f"Barbican answered {status} for {url}")
        if status >= 400:
            raise SecretNotFound(f"{url}: Barbican answered {status}.")
        return response

    def _json(self, path: str, access: SecretAccess) -> dict[str, Any]:
        body = self._get(path, access, _JSON).json()
        if access.token is not None:
            self._grant_read(path, access)
        if not isinstance(body, dict):
            raise SecretNotFound(f"{path}: not a Barbican object")
        return body

    def _payload(self, secret_id: str, access: SecretAccess) -> bytes:
        data = bytes(self._get(f"secrets/{secret_id}/payload", access, _OCTETS).content)
        if access.token is not None:
            self._grant_read(f"secrets/{secret_id}", access)
        return data

    def _grant_read(self, path: str, access: SecretAccess) -> None:
        """Add the service user to the object's read ACL, as the user (Octavia's way)."""
        user_id = self.session.get_user_id()
        url = f"{self.base()}/{path}/acl"
        acl = self._request("GET", url, access, _JSON).json()
        read = (acl or {}).get("read") or {}
        users = [u.rsplit("/", 1)[-1] for u in read.get("users") or []]
        if user_id in users:
            return
        self._request(
            "PUT",
            url,
            access,
            _JSON,
            json={
                "read": {
                    "users": [*users, user_id],
                    "project-access": read.get("project-access", True),
                }
            },
        )
        log.info("event=barbican_acl_granted object=%s", path)


def _parse(ref: str) -> SecretRef:
    parsed = parse_ref(ref)
    if parsed is None:
        raise SecretNotFound(f"{ref} is not a secret or container reference.")
    return parsed
