"""The checks that make a graph value safe to write into HAProxy's configuration.

Each returns the value as the configuration should read it, or raises
``UnrenderableValue``: the API refuses such values first, so reaching one here
means a bug or a row written behind the API's back.
"""

from __future__ import annotations

import ipaddress
import re
import urllib.parse
from typing import Final

from hydria.core import constants as c
from hydria.core import errors

_ID_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,254}")
_CODES_RE: Final = re.compile(
    r"[1-5][0-9]{2}(?:-[1-5][0-9]{2})?(?:,[1-5][0-9]{2}(?:-[1-5][0-9]{2})?)*"
)
_PATH_WORD_RE: Final = re.compile(r"[A-Za-z0-9 _./:@\[\]+,=~-]{1,1024}")
# What may stay literal in a health-check URI: RFC 3986 path and query characters
# minus the quote characters; '%' stays so an already-encoded path is kept as is.
_URI_SAFE: Final = "/?&=:@!$()*+,;-._~%"


class UnrenderableValue(errors.PermanentError):
    """A graph value cannot be written into the configuration safely.

    The API should have refused it; reaching the renderer means a bug or a row
    written behind the API's back. Retrying will not help.
    """


def ident(value: object, what: str) -> str:
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise UnrenderableValue(f"{what} {value!r} is not a valid id")
    return value


def integer(value: object, what: str, *, minimum: int = 0, maximum: int | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise UnrenderableValue(f"{what} must be an integer, not {value!r}")
    if value < minimum or (maximum is not None and value > maximum):
        raise UnrenderableValue(f"{what} {value} is out of range")
    return value


def timeout_ms(value: object, what: str) -> int:
    """A listener timeout in ms; 0 ("no timeout") becomes the API's maximum."""
    return integer(value, what, maximum=c.MAX_TIMEOUT) or c.MAX_TIMEOUT


def port(value: object, what: str) -> int:
    return integer(value, what, minimum=c.MIN_PORT, maximum=c.MAX_PORT)


def ip(value: object, what: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
    if not isinstance(value, str):
        raise UnrenderableValue(f"{what} {value!r} is not an IP address")
    try:
        addr = ipaddress.ip_address(value)
    except ValueError:
        raise UnrenderableValue(f"{what} {value!r} is not an IP address") from None
    if isinstance(addr, ipaddress.IPv6Address) and addr.scope_id:
        raise UnrenderableValue(f"{what} {value!r}: scoped IPv6 addresses are not supported")
    return addr


def cidr(value: object, what: str) -> str:
    if not isinstance(value, str):
        raise UnrenderableValue(f"{what}: {value!r} is not a CIDR")
    try:
        return str(ipaddress.ip_network(value, strict=False))
    except ValueError:
        raise UnrenderableValue(f"{what}: {value!r} is not a CIDR") from None


def host(addr: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    return f"[{addr}]" if addr.version == 6 else str(addr)


def hostport(addr: ipaddress.IPv4Address | ipaddress.IPv6Address, port: int) -> str:
    return f"{host(addr)}:{port}"


def word(value: object, what: str) -> str:
    """A path or address that must read back as exactly one word of the configuration.

    Plain characters only; a space is allowed (state directories may have one) and
    then the word is single-quoted. Quotes, ``#``, ``$`` (HAProxy 2.6 expands it
    even inside single quotes), backslashes and control characters are refused.
    """
    if not isinstance(value, str) or not _PATH_WORD_RE.fullmatch(value):
        raise UnrenderableValue(f"{what} {value!r} contains characters HAProxy would misread")
    return f"'{value}'" if " " in value else value


def uri(path: str, what: str) -> str:
    if not isinstance(path, str) or not path.startswith("/"):
        raise UnrenderableValue(f"{what}: url_path {path!r} must start with '/'")
    return urllib.parse.quote(path, safe=_URI_SAFE)


def expected_codes(codes: str | None, what: str) -> str:
    """Octavia's "200, 202" as HAProxy's list "200,202" (no spaces)."""
    codes = "".join((codes or "200").split())
    if not _CODES_RE.fullmatch(codes):
        raise UnrenderableValue(
            f"{what}: expected_codes {codes!r} is not like 200, 200,202 or 200-204"
        )
    return codes
