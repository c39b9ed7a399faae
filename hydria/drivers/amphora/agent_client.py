"""The control plane's side of the amphora agent API (``hydria.wire.agent_api``).

One ``httpx.Client`` with mutual TLS for every amphora: it presents the
controller's client certificate and trusts only amphorae the controller CA
signed. Transport failures become ``AmphoraUnreachable`` (temporary: the loop
retries); a configuration HAProxy refuses becomes ``ConfigRejected``
(permanent); an older version than the amphora runs becomes ``StaleConfig``.
"""

from __future__ import annotations

import socket
import ssl
import time
from pathlib import Path
from typing import Any

import httpx

from hydria.core.errors import AmphoraUnreachable, ConfigNotLoaded, ConfigRejected
from hydria.drivers.amphora.base import StaleConfig
from hydria.wire.agent_api import PREFIX

__all__ = ["AgentClient", "StaleConfig"]


def _json_or_text(res: httpx.Response) -> dict[str, Any]:
    try:
        body = res.json()
    except ValueError:
        return {"error": f"HTTP {res.status_code}", "details": res.text[:2000]}
    return body if isinstance(body, dict) else {"error": str(body)[:2000]}


def _applied(res: httpx.Response, ip: str, port: int, what: str) -> dict[str, Any]:
    """The agent's answer to a configuration it was sent (``what``: config, udp,
    vrrp): 400 is a refusal with its reason, anything but 200 a failure to reach it."""
    if res.status_code == 400:
        fault = res.json()
        raise ConfigRejected(f"{fault.get('error')}: {fault.get('details', '')}".strip())
    if res.status_code != 200:
        raise AmphoraUnreachable(
            f"agent {ip}:{port} {what}: HTTP {res.status_code} {res.text[:300]}"
        )
    body: dict[str, Any] = res.json()
    return body


class AgentClient:
    """``AmphoraAgent`` over HTTPS with mutual TLS."""

    def __init__(
        self, ca_cert: Path, client_cert: Path, client_key: Path, *, timeout: float = 15.0
    ) -> None:
        ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(ca_cert))
        ctx.load_cert_chain(str(client_cert), str(client_key))
        transport = httpx.HTTPTransport(
            verify=ctx,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            limits=httpx.Limits(max_keepalive_connections=32),
        )
        self._http = httpx.Client(transport=transport, timeout=timeout)

    def close(self) -> None:
        self._http.close()

    @staticmethod
    def _url(ip: str, port: int, path: str) -> str:
        host = f"[{ip}]" if ":" in ip else ip
        return f"https://{host}:{port}{PREFIX}{path}"

    def _request(
        self,
        method: str,
        ip: str,
        port: int,
        path: str,
        *,
        timeout: float | httpx.Timeout | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        try:
            if timeout is not None:
                kwargs["timeout"] = timeout
            return self._http.request(method, self._url(ip, port, path), **kwargs)
        except httpx.HTTPError as exc:
            raise AmphoraUnreachable(f"agent {ip}:{port}: {type(exc).__name__}: {exc}") from exc

    # -- calls ---------------------------------------------------------------

    def info(self, ip: str, port: int, *, timeout: float | None = None) -> dict[str, Any]:
        res = self._request("GET", ip, port, "/info", timeout=timeout)
        if res.status_code != 200:
            raise AmphoraUnreachable(f"agent {ip}:{port} info: HTTP {res.status_code}")
        body: dict[str, Any] = res.json()
        return body

    def wait_ready(self, ip: str, port: int, *, timeout: float) -> dict[str, Any]:
        """Poll ``info`` until the agent answers; a fresh agent needs ~0.1 s."""
        deadline = time.monotonic() + timeout
        delay = 0.01
        while True:
            try:
                return self.info(ip, port, timeout=2.0)
            except AmphoraUnreachable as exc:
                if time.monotonic() >= deadline:
                    raise AmphoraUnreachable(
                        f"the amphora's agent did not answer within {timeout:g} s of its "
                        f"boot (last: {exc})"
                    ) from exc
            time.sleep(delay)
            delay = min(delay * 1.5, 0.25)

    def put_config(self, ip: str, port: int, text: str, version: int) -> dict[str, Any]:
        res = self._request(
            "PUT",
            ip,
            port,
            "/config",
            params={"version": version},
            content=text.encode(),
            headers={"Content-Type": "text/plain"},
        )
        if res.status_code == 409:
            raise StaleConfig(res.text)
        if res.status_code == 503:
            fault = _json_or_text(res)
            raise ConfigNotLoaded(
                f"agent {ip}:{port}: {fault.get('error')}: {fault.get('details', '')}".strip()
            )
        return _applied(res, ip, port, "config")

    def put_udp(self, ip: str, port: int, doc: dict[str, Any], version: int) -> dict[str, Any]:
        """The UDP listeners' part (``PUT /1.0/udp``); answers as ``put_config``."""
        res = self._request("PUT", ip, port, "/udp", params={"version": version}, json=doc)
        if res.status_code == 409:
            raise StaleConfig(res.text)
        return _applied(res, ip, port, "udp")

    def put_tls(self, ip: str, port: int, files: dict[str, str]) -> None:
        """Listener and pool TLS material, before the configuration naming it."""
        res = self._request("PUT", ip, port, "/tls", json={"files": files})
        if res.status_code == 400:
            raise ConfigRejected(str(_json_or_text(res).get("error")))
        if res.status_code != 200:
            raise AmphoraUnreachable(f"agent {ip}:{port} tls: HTTP {res.status_code}")

    def put_vrrp(self, ip: str, port: int, text: str) -> dict[str, Any]:
        """keepalived's configuration (ACTIVE_STANDBY); reloaded only if it changed."""
        res = self._request(
            "PUT", ip, port, "/vrrp", content=text.encode(), headers={"Content-Type": "text/plain"}
        )
        return _applied(res, ip, port, "vrrp")

    def put_certificate(self, ip: str, port: int, cert_pem: str, key_pem: str) -> None:
        res = self._request(
            "PUT", ip, port, "/certificate", json={"cert_pem": cert_pem, "key_pem": key_pem}
        )
        if res.status_code != 200:
            raise AmphoraUnreachable(
                f"agent {ip}:{port} certificate: HTTP {res.status_code} {res.text[:300]}"
            )

    def delete_config(
        self, ip: str, port: int, *, drain: float = 0.0, connect_timeout: float | None = None
    ) -> None:
        """Stop HAProxy; with ``drain``, let requests in flight finish first."""
        timeout = None
        if drain or connect_timeout:
            timeout = httpx.Timeout(drain + 15.0, connect=connect_timeout or 5.0)
        res = self._request(
            "DELETE",
            ip,
            port,
            "/config",
            timeout=timeout,
            params={"drain": f"{drain:g}"} if drain else None,
        )
        if res.status_code not in (200, 204):
            raise AmphoraUnreachable(f"agent {ip}:{port} delete: HTTP {res.status_code}")

    def stats(self, ip: str, port: int) -> dict[str, Any]:
        res = self._request("GET", ip, port, "/stats")
        if res.status_code != 200:
            raise AmphoraUnreachable(f"agent {ip}:{port} stats: HTTP {res.status_code}")
        body: dict[str, Any] = res.json()
        return body
