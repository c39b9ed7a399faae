"""The value types a resource's fields take in a request body (pydantic annotations).

Typed as Octavia's WSME types read JSON: an integer field takes a number or a
string of one (``"80"``, as the ``openstack`` CLI sends ``--connection-limit``)
and stores an integer; a boolean field takes true/false, 0/1 or WSME's
unambiguous strings (``"true"``, ``"off"``, ...); anything else is refused.
Unlike WSME, a fractional number is refused rather than truncated (80.5 is not
80). The messages of the checks here end up in Octavia's "Invalid input for
field/attribute ..." faults (``hydria.api.validation``).
"""

from __future__ import annotations

import ipaddress
import re
import uuid
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictBool,
    StrictInt,
)

from hydria.core import constants as c

# Columns are 32-bit integers on PostgreSQL; never let a value overflow them.
INT32_MAX = 2**31 - 1

# WSME's unambiguous boolean strings.
TRUE_STRINGS = frozenset({"true", "t", "yes", "y", "on", "1"})
FALSE_STRINGS = frozenset({"false", "f", "no", "n", "off", "0"})
INT_STRING = re.compile(r"\s*[+-]?[0-9]+\s*")


def _wsme_int(value: object) -> object:
    """A number or a string of one, as an int; anything else is left to be refused."""
    if isinstance(value, str):
        if INT_STRING.fullmatch(value) is None:
            raise ValueError("Value should be an integer")
        return int(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def _wsme_bool(value: object) -> object:
    if isinstance(value, str):
        lowered = value.strip().lower()
        if lowered in TRUE_STRINGS:
            return True
        if lowered in FALSE_STRINGS:
            return False
        raise ValueError(f"Value not an unambiguous boolean: {value}")
    if isinstance(value, int) and not isinstance(value, bool) and value in (0, 1):
        return bool(value)
    return value


# An integer or a boolean as WSME reads one from JSON (module docstring).
WsmeInt = Annotated[StrictInt, BeforeValidator(_wsme_int)]
WsmeBool = Annotated[StrictBool, BeforeValidator(_wsme_bool)]


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("Value should be UUID format") from None


def _ip(value: str) -> str:
    """Checked, and kept as written: Octavia's type answers a member's
    ``2001:db8:0:0:0:0:0:1`` with that text, and its tests compare it. Where an
    address is handed out (a VIP) the service stores the canonical form, as
    Neutron's port does; the renderers parse every address again."""
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("Value should be IPv4 or IPv6 format") from None
    # Python accepts a scoped IPv6 address ("fe80::1%eth0"); Octavia's type does not,
    # and a zone names an interface of the caller's host, meaningless in an amphora.
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        raise ValueError("Value should be IPv4 or IPv6 format")
    return value


def _cidr(value: str) -> str:
    try:
        return ipaddress.ip_network(value, strict=False).with_prefixlen
    except ValueError:
        raise ValueError("Value should be IPv4 or IPv6 CIDR format") from None


UUID = Annotated[str, AfterValidator(_uuid)]
IPAddress = Annotated[str, AfterValidator(_ip)]
CIDR = Annotated[str, AfterValidator(_cidr)]
Name = Annotated[str, Field(max_length=c.MAX_NAME_LENGTH)]
Description = Annotated[str, Field(max_length=c.MAX_DESCRIPTION_LENGTH)]
ProjectId = Annotated[str, Field(max_length=36)]
Tags = list[Annotated[str, Field(max_length=255)]]
Port = Annotated[WsmeInt, Field(ge=c.MIN_PORT, le=c.MAX_PORT)]
Timeout = Annotated[WsmeInt, Field(ge=c.MIN_TIMEOUT, le=c.MAX_TIMEOUT)]
ConnectionLimit = Annotated[WsmeInt, Field(ge=c.MIN_CONNECTION_LIMIT, le=INT32_MAX)]
Weight = Annotated[WsmeInt, Field(ge=c.MIN_WEIGHT, le=c.MAX_WEIGHT)]
HeaderValue = Annotated[str, Field(max_length=255)]

# RFC 6265 token characters minus those HAProxy reads specially (quotes, '#',
# parentheses, backslash): the name is written into ``req.cook(...)``. Octavia also
# takes '#', "'" and non-ASCII letters, which the renderer would refuse later
# (the load balancer going to ERROR after a 201). ``\Z``, not ``$``, which
# would let a trailing newline through.
CookieName = Annotated[str, Field(max_length=255, pattern=r"^[A-Za-z0-9!$%&*+.^_`|~-]+\Z")]

# Octavia takes 0 for both; HAProxy cannot check every 0 s or wait 0 s for an
# answer, and the renderer refuses such a monitor (the load balancer would go to
# ERROR after a 201), so the API asks for at least one second.
Seconds = Annotated[WsmeInt, Field(ge=1, le=INT32_MAX)]
Retries = Annotated[WsmeInt, Field(ge=c.MIN_HM_RETRIES, le=c.MAX_HM_RETRIES)]
HOST_NAME_CHARS = re.compile(r"[A-Za-z0-9.-]+")


def _status_codes(value: str) -> str:
    """Octavia's forms ("200", "200, 202", "200-204"), kept as the user wrote them.

    Stored as sent, as Octavia does (a client that compares what it sent with
    what it reads back, such as Terraform, sees no change); the renderer drops the
    spaces HAProxy's list does not take. Every code must be an HTTP status
    (100-599), a range must not run backwards, and digits must be ASCII (the
    pattern's ``\\d`` also matches other scripts' digits).
    """
    if not value.isascii():
        raise ValueError("Value should be written with the digits 0-9")
    if "-" in value:
        low, high = (int(code) for code in value.split("-"))
        codes = [low, high]
        if low > high:
            raise ValueError("Value should be a range from the lower code to the higher")
    else:
        codes = [int(code) for code in value.split(",")]
    if any(not 100 <= code <= 599 for code in codes):
        raise ValueError("Value should be HTTP status codes from 100 to 599")
    return value


def _host_name(value: str) -> str:
    # Octavia's pattern lets a label start with "_" and, ending in "$", a trailing
    # newline through; HAProxy sends the name as the Host header, and the renderer
    # takes plain host names only (letters, digits, hyphens, dots).
    if not HOST_NAME_CHARS.fullmatch(value):
        raise ValueError("Value should be a host name (letters, digits, hyphens, dots)")
    return value


ExpectedCodes = Annotated[
    str, Field(pattern=r"^(\d{3}(\s*,\s*\d{3})*)$|^(\d{3}-\d{3})$"), AfterValidator(_status_codes)
]
DomainName = Annotated[
    str,
    Field(
        min_length=1,
        max_length=255,
        pattern=(r"^(?=.{1,253}\.?$)(?:(?!-|[^.]+_)[A-Za-z0-9-_]{1,63}(?<!-)(?:\.|$))+$"),
    ),
    AfterValidator(_host_name),
]
UrlPath = Annotated[str, Field(min_length=1, max_length=2048, pattern=r"^/[^\s]*\Z")]


def _names_from(known: tuple[str, ...], what: str, invalid: str) -> AfterValidator:
    """A non-empty list of names, each one of ``known``: Octavia's faults say
    ``what`` the list holds and begin the list of the unknown ones with ``invalid``."""

    def check(value: list[str]) -> list[str]:
        if not value:
            raise ValueError(
                f"Empty {what} list. Either specify at least one {what} "
                "or remove this parameter to use the default."
            )
        unknown = [v for v in value if v not in known]
        if unknown:
            raise ValueError(f"{invalid}: {', '.join(unknown)}")
        return value

    return AfterValidator(check)


TlsVersions = Annotated[
    list[Annotated[str, Field(max_length=32)]],
    _names_from(c.TLS_VERSIONS_ALL, "TLS version", "Invalid TLS versions"),
]
# Octavia's ALPN protocol names and its check of a cipher string.
ALPN_PROTOCOLS = ("h2", "http/1.1", "http/1.0")
CLIENT_AUTH_MODES = ("NONE", "OPTIONAL", "MANDATORY")
_CIPHERS_RE = re.compile(r"[A-Za-z0-9\-+!:@=_.]+\Z")


def _ciphers(value: str) -> str:
    if not _CIPHERS_RE.match(value):
        raise ValueError(
            "Invalid characters in cipher string. Only alphanumeric, -, +, !, "
            ":, @, =, _, and . are allowed."
        )
    return value


def _client_auth(value: str) -> str:
    if value not in CLIENT_AUTH_MODES:
        raise ValueError(f"Value should be one of: {', '.join(CLIENT_AUTH_MODES)}")
    return value


AlpnProtocols = Annotated[
    list[Annotated[str, Field(max_length=32)]],
    _names_from(ALPN_PROTOCOLS, "ALPN protocol", "Invalid ALPN protocol"),
]
Ciphers = Annotated[str, Field(max_length=2048), AfterValidator(_ciphers)]
ClientAuthentication = Annotated[str, AfterValidator(_client_auth)]
# A secret store reference (Octavia: a string of at most 255 characters).
SecretRef = Annotated[str, Field(min_length=1, max_length=255)]
HstsMaxAge = Annotated[StrictInt, Field(ge=0, le=INT32_MAX)]
# A profile's data: a JSON object as a string, as in Octavia.
ProfileData = Annotated[str, Field(max_length=4096)]
ProviderName = Annotated[str, Field(max_length=255)]


class StrictBody(BaseModel):
    """A request body: unknown attributes and loosely typed values are refused."""

    model_config = ConfigDict(strict=True, extra="forbid", regex_engine="python-re")


class SessionPersistence(StrictBody):
    type: str | None = None
    cookie_name: CookieName | None = None
    persistence_timeout: Annotated[WsmeInt, Field(ge=0, le=INT32_MAX)] | None = None
    persistence_granularity: IPAddress | None = None
