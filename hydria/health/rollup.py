"""Operating status from HAProxy's view, with Octavia's rules. Pure functions.

Each function returns the new status, or ``None`` for "leave it as it is"
(an HAProxy word we do not know, or an object too new to be in the running
configuration yet).

Members (HAProxy server status):

    UP, UP 1/3 (going down)        -> ONLINE
    DOWN, DOWN 1/2 (coming up)     -> ERROR
    DRAIN, NOLB                    -> DRAINING
    MAINT, MAINT(via ...), ...     -> OFFLINE   (admin_state_up false renders "disabled")
    no check                       -> NO_MONITOR
    not reported                   -> OFFLINE (kept NO_MONITOR if it was)

Pools (HAProxy backend status, then their members):

    UP -> ONLINE, DOWN -> ERROR; ONLINE with any member in ERROR -> DEGRADED;
    not reported (disabled, or no listener uses it) -> OFFLINE

Listeners (HAProxy frontend status):

    OPEN -> ONLINE, FULL (at its connection limit) -> DEGRADED, STOP -> OFFLINE;
    not reported -> ERROR if it should run (enabled, load balancer ACTIVE), else OFFLINE

Load balancer: OFFLINE when disabled; otherwise ONLINE, DEGRADED if a listener is
DEGRADED or a pool DEGRADED, ERROR if a pool is in ERROR (no member can serve).
As in Octavia, a listener's status does not include its pool's: the status
tree shows both, and the load balancer sums them up.
"""

from __future__ import annotations

from collections.abc import Iterable

from hydria.core import constants as c

_MEMBER_WORDS = {
    "UP": c.ONLINE,
    "DOWN": c.ERROR,
    "DRAIN": c.DRAINING,
    "NOLB": c.DRAINING,
    "MAINT": c.OFFLINE,
    "NO CHECK": c.NO_MONITOR,
}


def member_status(raw: str | None, *, current: str, new: bool = False) -> str | None:
    """A member's status from its HAProxy server status (``None``: not reported)."""
    if raw is None:
        if new or current == c.NO_MONITOR:
            return None
        return c.OFFLINE
    word = raw.strip().upper()
    if word.startswith("MAINT"):
        return c.OFFLINE
    if word != "NO CHECK":
        word = word.split(" ", 1)[0]  # "UP 1/3", "DOWN 1/2": transitional
    return _MEMBER_WORDS.get(word)


def pool_status(
    raw: str | None, member_statuses: Iterable[str], *, new: bool = False
) -> str | None:
    """A pool's status from its HAProxy backend status and its members' new statuses."""
    if raw is None:
        return None if new else c.OFFLINE
    word = raw.strip().upper()
    if word == "UP":
        return c.DEGRADED if c.ERROR in member_statuses else c.ONLINE
    if word == "DOWN":
        return c.ERROR
    return None


def listener_status(
    raw: str | None, *, enabled: bool, lb_active: bool, new: bool = False
) -> str | None:
    """A listener's status from its HAProxy frontend status."""
    if raw is None:
        if new:
            return None
        return c.ERROR if enabled and lb_active else c.OFFLINE
    word = raw.strip().upper()
    if word == "OPEN":
        return c.ONLINE
    if word == "FULL":
        return c.DEGRADED
    if word == "STOP":
        return c.OFFLINE
    return None


def load_balancer_status(
    *, enabled: bool, listener_statuses: Iterable[str], pool_statuses: Iterable[str]
) -> str:
    """The load balancer's status from its listeners' and pools' new statuses."""
    if not enabled:
        return c.OFFLINE
    pools = set(pool_statuses)
    if c.ERROR in pools:
        return c.ERROR
    if c.DEGRADED in pools or c.DEGRADED in set(listener_statuses):
        return c.DEGRADED
    return c.ONLINE
