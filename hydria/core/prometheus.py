"""A PROMETHEUS listener's scrape under Octavia's metric names: a pure rewrite.

Octavia's amphora does not hand HAProxy's exporter to clients as it is: a small
proxy in the amphora renames its families so dashboards see the load balancer's
objects, not HAProxy's. Hydria gives the same names (its own code, the names
are the interface):

* ``haproxy_process_X`` -> ``octavia_loadbalancer_X``, except the memory pools
  (``haproxy_process_pool_*`` -> ``octavia_memory_pool_*``);
* ``haproxy_frontend_X`` -> ``octavia_listener_X``, label ``proxy`` -> ``listener``;
* ``haproxy_backend_X`` -> ``octavia_pool_X``, label ``proxy`` -> ``pool``, and
  the words ``servers``/``server`` in a name -> ``members``/``member``
  (``octavia_pool_active_members``, ``octavia_pool_member_aborts_total``);
* ``haproxy_server_X`` -> ``octavia_member_X``, labels ``proxy`` -> ``pool``,
  ``server`` -> ``member``;
* every other family (HAProxy's stick tables, resolvers, ...) is left out, and so
  are the samples of Hydria's own plumbing proxies (``HIDDEN``);
* ``octavia_loadbalancer_cpu`` and ``octavia_loadbalancer_memory`` (percentages)
  are added from the amphora's load and memory, as Octavia's proxy adds them.

The rendered HAProxy configuration (``hydria.render.haproxy``) routes the
listener's ``GET /metrics`` to the agent on ``proxy_socket``, and the agent reads
HAProxy's exporter on ``exporter_socket`` (``hydria.agent.prometheus``).
"""

from __future__ import annotations

import os
import re
from typing import Final

#: HAProxy's proxies that carry the scrape itself, never shown to the client.
EXPORTER_FRONTEND: Final = "hydria-prom-in"
PROXY_BACKEND: Final = "hydria-prom"
HIDDEN: Final = frozenset({EXPORTER_FRONTEND, PROXY_BACKEND})

_KINDS: Final[tuple[tuple[str, str, dict[str, str]], ...]] = (
    ("haproxy_process_pool_", "octavia_memory_pool_", {}),
    ("haproxy_process_", "octavia_loadbalancer_", {}),
    ("haproxy_frontend_", "octavia_listener_", {"proxy": "listener"}),
    ("haproxy_backend_", "octavia_pool_", {"proxy": "pool"}),
    ("haproxy_server_", "octavia_member_", {"proxy": "pool", "server": "member"}),
)
_SAMPLE_RE: Final = re.compile(r"^(?P<name>[a-zA-Z_:][a-zA-Z0-9_:]*)(?P<rest>[{ ].*)$")
_LABEL_RE: Final = re.compile(
    r'(?P<lead>[{,]\s*)(?P<key>[a-zA-Z_][a-zA-Z0-9_]*)="'
    r'(?P<value>(?:[^"\\]|\\.)*)"'
)


def sockets(stats_socket: str) -> tuple[str, str]:
    """(HAProxy's exporter socket, the agent's proxy socket) beside the stats socket."""
    folder = os.path.dirname(stats_socket) or "."
    return f"{folder}/prom-in.sock", f"{folder}/prom.sock"


def rename(name: str) -> tuple[str, dict[str, str]] | None:
    """Octavia's name for one HAProxy family and its label renames; None: left out."""
    for prefix, new, labels in _KINDS:
        if name.startswith(prefix):
            rest = name[len(prefix) :]
            if prefix == "haproxy_backend_":
                rest = rest.replace("servers", "members").replace("server_", "member_")
            return new + rest, labels
    return None


def _relabel(rest: str, labels: dict[str, str]) -> str | None:
    """The label set with keys renamed; None if the sample is a hidden proxy's."""
    if not rest.startswith("{"):
        return rest
    hidden = False

    def one(m: re.Match[str]) -> str:
        nonlocal hidden
        key = m.group("key")
        if key in ("proxy", "server") and m.group("value") in HIDDEN:
            hidden = True
        return f'{m.group("lead")}{labels.get(key, key)}="{m.group("value")}"'

    end = rest.find("}")
    if end < 0:
        return None
    out = _LABEL_RE.sub(one, rest[:end]) + rest[end:]
    return None if hidden else out


def octavia_metrics(text: str, *, cpu: float, memory: float) -> str:
    """HAProxy's exposition ``text`` under Octavia's names, with cpu and memory first."""
    out = [
        "# HELP octavia_loadbalancer_cpu Load balancer CPU utilization (percentage).",
        "# TYPE octavia_loadbalancer_cpu gauge",
        f"octavia_loadbalancer_cpu {cpu:.1f}",
        "# HELP octavia_loadbalancer_memory Load balancer memory utilization (percentage).",
        "# TYPE octavia_loadbalancer_memory gauge",
        f"octavia_loadbalancer_memory {memory:.1f}",
    ]
    for line in text.splitlines():
        if line.startswith("#"):
            parts = line.split(" ", 3)
            if len(parts) >= 3 and parts[1] in ("HELP", "TYPE"):
                renamed = rename(parts[2])
                if renamed is not None:
                    out.append(" ".join([parts[0], parts[1], renamed[0], *parts[3:]]))
            continue
        m = _SAMPLE_RE.match(line)
        if m is None:
            continue
        renamed = rename(m.group("name"))
        if renamed is None:
            continue
        rest = _relabel(m.group("rest"), renamed[1])
        if rest is not None:
            out.append(renamed[0] + rest)
    return "\n".join(out) + "\n"


def host_usage() -> tuple[float, float]:
    """(CPU %, memory %) of this host: the 1-minute load over the cores, MemAvailable."""
    cpu = os.getloadavg()[0] / (os.cpu_count() or 1) * 100
    total = available = 0
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                key, _, value = line.partition(":")
                if key == "MemTotal":
                    total = int(value.split()[0])
                elif key == "MemAvailable":
                    available = int(value.split()[0])
    except (OSError, ValueError):
        return cpu, 0.0
    return cpu, (100.0 * (total - available) / total) if total else 0.0
