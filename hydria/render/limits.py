"""How many connections HAProxy may promise, given the open-file limit it runs under.

HAProxy sizes its file-descriptor table from the global ``maxconn``: every proxied
connection holds two descriptors (client side and server side), and on top of that
come the listening sockets, the stats socket, log sockets, the master-worker pipes,
one poller and one wake-up pipe per thread, and the health checks in flight. At
start-up it computes that total (``maxsock``) and, when it cannot raise
``RLIMIT_NOFILE`` that far, it refuses to start::

    [ALERT] [haproxy.main()] Cannot raise FD limit to 100029, limit is 20000.

``haproxy -c`` does *not* catch this, so a config that validates can still fail to
load. Octavia's default of 50000 connections needs about 100000 descriptors; on a
host that allows 20000 the reload fails. Callers therefore derive
``RenderOptions.max_connections`` from the amphora's real limit with
:func:`max_connections_for`.

This module is pure: it is handed the limit, it never reads it.
"""

from __future__ import annotations

from typing import Final

#: Descriptors held back for everything that is not a proxied connection
#: (listeners, stats and log sockets, pollers, pipes, health checks). A quarter
#: of the limit is kept back on small hosts, so a tiny limit still yields a
#: usable, startable configuration.
RESERVED_FDS: Final = 1024
#: HAProxy needs a client-side and a server-side descriptor per connection.
FDS_PER_CONNECTION: Final = 2
#: Octavia's ceiling for a global maxconn; also what "unlimited" maps to.
MAX_MAXCONN: Final = 1_000_000
#: Below this the limit is a misconfiguration, not something to run HAProxy under.
MIN_NOFILE: Final = 64


def max_connections_for(nofile_limit: int) -> int:
    """The largest global ``maxconn`` HAProxy can honour under ``nofile_limit``.

    ``nofile_limit`` is the process's ``RLIMIT_NOFILE`` (the soft limit HAProxy
    inherits; it cannot raise it past the hard limit without privileges). A
    negative value means ``RLIM_INFINITY`` and yields :data:`MAX_MAXCONN`.

    >>> max_connections_for(20000)
    9488
    """
    if isinstance(nofile_limit, bool) or not isinstance(nofile_limit, int):
        raise TypeError(f"nofile_limit must be an int, not {type(nofile_limit).__name__}")
    if nofile_limit < 0:  # RLIM_INFINITY
        return MAX_MAXCONN
    if nofile_limit < MIN_NOFILE:
        raise ValueError(
            f"open-file limit {nofile_limit} is too low to run HAProxy (need at least {MIN_NOFILE})"
        )
    reserved = min(RESERVED_FDS, nofile_limit // 4)
    return min(MAX_MAXCONN, (nofile_limit - reserved) // FDS_PER_CONNECTION)
