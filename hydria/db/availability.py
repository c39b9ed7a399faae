"""Telling "the database is away for now" from "this will never work".

A service that starts during a PostgreSQL restart should wait for it; one given
a wrong database name, user or an unwritable SQLite path should stop at once
with the reason. (The FATAL texts below are PostgreSQL's English ones: with
``lc_messages`` set to another language a wrong name is waited out, up to
``db_wait_seconds``, instead of stopping at once.)
"""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError

# SQLSTATE class 08 (connection exception), and class 57's "server going away or
# not there yet" codes: admin_shutdown, crash_shutdown, cannot_connect_now
_AWAY_CODES = frozenset({"57P01", "57P02", "57P03"})
# libpq gives no SQLSTATE when a connection attempt fails, only the server's
# FATAL text; these FATALs pass by themselves, every other one (no such
# database, role or password) does not
_PASSING_FATALS = (
    "starting up",
    "shutting down",
    "in recovery mode",
    "too many clients",
    "accepting connections",
    "remaining connection slots",
)


def database_away(exc: DBAPIError) -> bool:
    """True when trying again later may succeed (server down, restarting, busy)."""
    if exc.connection_invalidated:
        return True
    orig = exc.orig
    if type(orig).__module__.startswith("psycopg"):
        sqlstate = getattr(orig, "sqlstate", None)
        if sqlstate is not None:
            return sqlstate.startswith("08") or sqlstate in _AWAY_CODES
        if type(orig).__name__ != "OperationalError":
            return False
        text = str(orig)
        if "FATAL:" not in text:  # no server answered: refused, reset, timed out
            return True
        return any(reason in text for reason in _PASSING_FATALS)
    # SQLite: another process holds the write lock for a moment
    return "database is locked" in str(orig)
