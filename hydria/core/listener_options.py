"""Checks of a listener's options that need nothing but the values: pure functions
that raise ``InvalidInput`` with Octavia's messages, so any caller (a route, a
service, a fully populated create) refuses the same things the same way.

``insert_headers`` is checked as Octavia's listener controller checks it, in its
order: header insertion only on HTTP and TERMINATED_HTTPS listeners; every name
among octavia-lib's HTTP and client-certificate (SSL) headers; the SSL ones only
on TERMINATED_HTTPS. Values are strings of at most 255 characters (Octavia's
``StringType(max_length=255)``); Octavia does not look inside them, and the
renderer only asks whether a value reads "true" in any case.
"""

from __future__ import annotations

from collections.abc import Mapping

from hydria.core import constants as c
from hydria.core.errors import InvalidInput


def check_insert_headers(headers: Mapping[str, object] | None, protocol: str) -> None:
    """Refuse ``headers`` on a listener of ``protocol`` as Octavia would (400).

    ``None`` and ``{}`` are "no headers" and always pass, as in Octavia.
    """
    if not headers:
        return
    if protocol not in c.LISTENER_PROTOCOLS_WITH_HEADERS:
        raise InvalidInput(
            f"insert-headers is not a valid option for a {protocol} protocol listener."
        )
    names = list(headers)
    known = set(c.SUPPORTED_HTTP_HEADERS) | set(c.SUPPORTED_SSL_HEADERS)
    if any(name not in known for name in names):
        raise InvalidInput(f"{names} is not a valid option for insert_headers")
    if protocol != c.PROTOCOL_TERMINATED_HTTPS:
        ssl = [name for name in names if name in c.SUPPORTED_SSL_HEADERS]
        if ssl:
            raise InvalidInput(f"{ssl} is not a valid option for {protocol} protocol listener.")
    for name, value in headers.items():
        if not isinstance(value, str) or len(value) > c.MAX_HEADER_VALUE_LENGTH:
            raise InvalidInput(
                f"Invalid input for field/attribute insert_headers. Value: '{dict(headers)}'. "
                f"The value of {name} must be a string of at most "
                f"{c.MAX_HEADER_VALUE_LENGTH} characters."
            )
        if not value.isprintable():  # CR, LF and other controls: never near a header
            raise InvalidInput(
                f"Invalid input for field/attribute insert_headers. The value of {name} "
                "must be printable text (no CR, LF or other control characters)."
            )
