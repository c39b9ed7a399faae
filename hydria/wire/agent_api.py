"""The amphora agent's HTTPS API, as both sides see it.

All paths are under ``/1.0``. Requests and answers are JSON unless noted.

``GET  /1.0/info``
    200 ``{"amphora_id", "api_version", "haproxy_version", "config_version",
    "haproxy_running", "stats_socket", "heartbeat_seq", "ping_check"}``. ``config_version``
    is null before the first config; ``heartbeat_seq`` is the last heartbeat sequence
    number the agent sent (0 before the first; null if it sends none): the health
    manager asks for it over this mutually authenticated channel before it trusts a
    heartbeat far ahead of the last one it saw; ``ping_check`` is the script a PING
    monitor's external check runs (an older agent leaves it out);
    ``binds_any_address``: HAProxy may bind addresses the amphora does not hold
    yet (``ip_nonlocal_bind``), so the controller plugs the VIP while it pushes
    the configuration (false or absent: it plugs first).
``PUT  /1.0/config?version=N`` (body: the HAProxy configuration, text/plain)
    Validates with ``haproxy -c``, swaps atomically, reloads seamlessly.
    200 ``{"config_version": N}``; 400 ``{"error": "...", "details": "<haproxy -c output>"}``
    when HAProxy refuses it (the old config keeps running); 503 with the same body
    when the checked config would not load (e.g. an address in use: the last good
    one is restored and serves; worth a retry); 409 when N is older
    than the running version (a stale controller); an equal N is a no-op 200.
``DELETE /1.0/config[?drain=SECONDS]``
    Stops HAProxy and forgets the configuration. 200. With ``drain`` (0 to
    ``MAX_DRAIN_SECONDS``), HAProxy first stops accepting and lets the requests
    in flight finish for up to that long (an amphora retired by a failover while
    it still serves); 400 for a drain that is not such a number.
``PUT  /1.0/udp?version=N`` (body: ``hydria.core.udp.UdpConfig`` as JSON)
    The UDP listeners' engine configuration (nginx's stream module), the members
    to probe and what to report. Checked with ``nginx -t``, swapped, reloaded with
    SIGHUP; a null ``text`` stops the engine. Same answers as ``/config``
    (``{"udp_config_version": N}``). Pushed before ``/config``, so an agent at
    the generation in ``config_version`` holds that generation's UDP part too.
    ``GET /1.0/info`` adds ``udp_engine``, ``udp_dir``, ``udp_stream_module``,
    ``udp_config_version`` and ``udp_running``.
``PUT  /1.0/certificate`` (body: ``{"cert_pem", "key_pem"}``)
    Replaces the agent's own server certificate (rotation before expiry). New
    connections get it at once; HAProxy is not touched. 200; 400 if the pair
    does not load or the CA did not sign it.
``PUT  /1.0/tls`` (body: ``{"files": {"<sha256>.pem": "<PEM text>", ...}}``)
    Listener and pool TLS material (certificate with its key, CA, CRL), each file
    named by the SHA-256 of its content. Written 0600 in the amphora's
    ``certs/`` folder before the ``/config`` that names them; a file no running
    configuration names any more is removed once a new one has loaded (and all of
    them by ``DELETE /1.0/config``). 200 ``{"written": N}``; 400 for a name
    that is not such a digest or content that does not match it. The agent never
    logs the content. ``GET /1.0/info`` adds ``tls_material_dir``.
``GET  /1.0/stats``
    200 ``{"haproxy_running": bool, "rows": [ {HAProxy "show stat" row as a dict}, ...]}``.

Versions are the load balancer's ``generation`` in the database.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from typing import Final

API_VERSION: Final = "1.0"
PREFIX: Final = "/1.0"
DEFAULT_AGENT_PORT: Final = 9443
# set by a compute driver that starts the agent itself (``local``): the number of
# an inherited pipe's write end; the agent writes one byte there and closes it once
# it listens, so the driver hears the moment it can be asked (no polling)
READY_FD_ENV: Final = "HYDRIA_AGENT_READY_FD"
MAX_CONFIG_BYTES: Final = 4 * 1024 * 1024
MAX_DRAIN_SECONDS: Final = 60.0
#: How the agent names a piece of TLS material: the SHA-256 of its content.
TLS_FILE_PATTERN: Final = r"[0-9a-f]{64}\.pem"


@dataclass(frozen=True)
class AmphoraBoot:
    """What an amphora is given when it is created (Octavia's config drive).

    PEM strings: the agent's own certificate and key (SAN = ``lb_network_ip``)
    and the controller CA that signed it and every controller's client cert.
    The ``netns`` compute driver renders it as the instance's user data.
    ``heartbeat_key`` is this amphora's own heartbeat key, in hex: derived from
    the deployment's key and ``amphora_id`` (``hydria.wire.heartbeat_keys``), so
    it signs for this amphora only. Heartbeats go out from ``lb_network_ip``.
    """

    amphora_id: str
    lb_network_ip: str
    agent_port: int
    server_cert_pem: str
    server_key_pem: str
    ca_cert_pem: str
    heartbeat_key: str = ""
    controller_addresses: tuple[str, ...] = ()  # "host:port" for UDP heartbeats
    heartbeat_interval: float = 10.0
    # the amphora's own (admin) logs: to these syslog targets, and under its folder
    admin_log_targets: tuple[str, ...] = ()
    log_protocol: str = "UDP"
    log_retry_count: int = 5
    disable_local_log_storage: bool = False
    # an instance of its own (the ``netns`` driver): its hostname, and operator
    # access by ssh (off when ``ssh_authorized_keys`` is empty)
    hostname: str = ""
    ssh_user: str = ""
    ssh_authorized_keys: str = ""
    ssh_host_key: str = ""  # OpenSSH private key; the controller keeps the public half


#: Octavia's default [haproxy_amphora] user_log_format (the tenant flow log format).
DEFAULT_USER_LOG_FORMAT: Final = (
    "{{ project_id }} {{ lb_id }} %f %ci %cp %t %{+Q}r %ST %B %U %[ssl_c_verify] "
    "%{+Q}[ssl_c_s_dn] %b %s %Tt %tsc"
)


@dataclass(frozen=True)
class LogOffload:
    """Octavia's log offloading options, as the controller applies them.

    Tenant flow logs (HAProxy's connection/HTTP log lines, ``user_log_format``)
    go to ``tenant_log_targets`` and, unless ``disable_local_log_storage``, to
    the agent, which writes them under the amphora's folder with rotation;
    ``connection_logging`` False logs none. Admin logs (the agent's own) go to
    ``admin_log_targets`` and the same folder. ``log_protocol``: UDP or TCP.
    """

    tenant_log_targets: tuple[str, ...] = ()
    admin_log_targets: tuple[str, ...] = ()
    log_protocol: str = "UDP"
    log_retry_count: int = 5
    disable_local_log_storage: bool = False
    connection_logging: bool = True
    user_log_format: str = DEFAULT_USER_LOG_FORMAT


def boot_to_json(boot: AmphoraBoot) -> str:
    """The boot file the compute driver hands an amphora (its 'config drive')."""
    data = asdict(boot)
    data["controller_addresses"] = list(boot.controller_addresses)
    data["admin_log_targets"] = list(boot.admin_log_targets)
    return json.dumps(data, indent=1)


def boot_from_json(text: str) -> AmphoraBoot:
    data = json.loads(text)
    data["controller_addresses"] = tuple(data.get("controller_addresses") or ())
    data["admin_log_targets"] = tuple(data.get("admin_log_targets") or ())
    known = {f.name for f in fields(AmphoraBoot)}
    return AmphoraBoot(**{k: v for k, v in data.items() if k in known})
