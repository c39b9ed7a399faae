"""HAProxy's log lines: where a frontend's flow logs go and in what format.

Pure, like the rest of ``hydria.render``: settings in, checked configuration
words out. Octavia's log offloading options (tenant and admin targets, the
tenant flow log format, ``connection_logging``) arrive in ``RenderOptions``;
a value HAProxy would misread is refused with ``UnrenderableValue``.
"""

from __future__ import annotations

import re
from typing import Final

from hydria.core import graph
from hydria.render import values as v
from hydria.render.values import UnrenderableValue

#: syslog facility used with ``options.log_target``.
LOG_FACILITY: Final = "local0"
#: The ring that carries logs to TCP syslog targets (named in the template too).
LOG_RING: Final = "hydria-logs"
_LOG_FORMAT_RE: Final = re.compile(r"[^\"\\\x00-\x1f\x7f]{1,2048}")


def _logs(options: graph.RenderOptions) -> bool:
    return bool(options.log_target or options.log_targets or options.log_tcp_targets)


def flow_log_lines(options: graph.RenderOptions) -> tuple[str, ...]:
    """A frontend's own ``log`` lines: its flow logs go there, HAProxy's process
    notices (a proxy stopped at a reload) do not."""
    if not options.connection_logging:
        return ()
    lines = [f"log {log_address(t)} len 8192 {LOG_FACILITY}" for t in options.log_targets]
    if options.log_tcp_targets:
        lines.append(f"log ring@{LOG_RING} len 8192 {LOG_FACILITY}")
    if options.log_target is not None and lines:
        lines.insert(0, "log global")
    return tuple(lines)


def log_address(target: str, *, tcp: bool = False) -> str:
    """``host:port`` (IPv6 as ``[addr]:port``) or, over UDP only, a Unix socket path."""
    if target.startswith("/") and not tcp:
        return v.word(target, "log target")
    host, sep, port = target.rpartition(":")
    if not sep:
        raise UnrenderableValue(f"log target {target!r} is not host:port")
    return v.hostport(v.ip(host.strip("[]"), "log target"), v.port(int(port), "log target"))


def log_option(
    options: graph.RenderOptions, *, http: bool, lb_id: str, project_id: str
) -> str | None:
    """``option httplog``/``tcplog``, or Octavia's tenant flow log format, if logging."""
    if not _logs(options) or not options.connection_logging:
        return None
    if options.log_format is None:
        return "option httplog" if http else "option tcplog"
    text = options.log_format.replace("{{ project_id }}", project_id or "-")
    text = text.replace("{{ lb_id }}", lb_id)
    if not http:  # HAProxy refuses HTTP fields in tcp mode; Octavia drops them too
        for field in ("%{+Q}r", "%r", "%{+Q}ST", "%ST"):
            text = text.replace(field, "-")
    if not _LOG_FORMAT_RE.fullmatch(text):
        raise UnrenderableValue(
            f"log format {options.log_format!r} has characters HAProxy "
            "would misread (quotes, backslashes, control characters)"
        )
    return f'log-format "{text}"'
