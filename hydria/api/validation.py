"""Request bodies: envelopes, strict field types, and WSME-style messages.

Octavia validates bodies with WSME, which refuses unknown attributes and
values of the wrong type. Pydantic in strict mode with ``extra="forbid"``
gives the same strictness ("80" is not 80, "true" is not true); this module
turns its errors into Octavia's wording:

    Invalid input for field/attribute protocol_port. Value: '80'. ...
    Unknown attribute for argument listener: colour

On POST an explicit ``null`` means "not given" (the default applies, a
mandatory field is reported missing); on PUT it is kept, and the handler
resets the field to its default, as Octavia does. Objects nested in a body
(the listeners and pools of a fully populated load balancer) are ``Nested``
bodies, where a ``null`` means "not given" too; a fault in one is reported
with its path: ``listeners[0].default_pool.members[1].address``.
"""

from __future__ import annotations

import ipaddress
import uuid
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
    model_validator,
)

from hydria.core import constants as c
from hydria.core.errors import InvalidInput

# Columns are 32-bit integers on PostgreSQL; never let a value overflow them.
INT32_MAX = 2**31 - 1
# How much of a refused value a fault string repeats.
MAX_ECHO = 100


class Body(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", regex_engine="python-re")


class Nested(Body):
    """An object inside a POST body: an explicit ``null`` means "not given" there too."""

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_unset(cls, data: Any) -> Any:
        return _drop_nulls(data) if isinstance(data, dict) else data


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ValueError("Value should be UUID format") from None


def _ip(value: str) -> str:
    try:
        ip = ipaddress.ip_address(value)
    except ValueError:
        raise ValueError("Value should be IPv4 or IPv6 format") from None
    # Python accepts a scoped IPv6 address ("fe80::1%eth0"); Octavia's type does not,
    # and a zone names an interface of the caller's host, meaningless in an amphora.
    if isinstance(ip, ipaddress.IPv6Address) and ip.scope_id is not None:
        raise ValueError("Value should be IPv4 or IPv6 format")
    return str(ip)


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
Port = Annotated[StrictInt, Field(ge=c.MIN_PORT, le=c.MAX_PORT)]
Timeout = Annotated[StrictInt, Field(ge=c.MIN_TIMEOUT, le=c.MAX_TIMEOUT)]
ConnectionLimit = Annotated[StrictInt, Field(ge=c.MIN_CONNECTION_LIMIT, le=INT32_MAX)]
Weight = Annotated[StrictInt, Field(ge=c.MIN_WEIGHT, le=c.MAX_WEIGHT)]

M = TypeVar("M", bound=BaseModel)


def _path(loc: tuple[Any, ...]) -> str:
    """``("listeners", 0, "protocol_port")`` as ``listeners[0].protocol_port``."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _describe(err: dict[str, Any], root: str) -> str:
    loc = tuple(err.get("loc", ()))
    kind = err.get("type", "")
    if kind == "extra_forbidden":
        parent = _path(loc[:-1]) or root
        return f"Unknown attribute for argument {parent}: {shorten(loc[-1])}"
    field = _path(loc) or root
    value = shorten(err.get("input"))
    if kind == "missing":
        return f"Invalid input for field/attribute {field}. Value: 'None'. Mandatory field missing."
    if kind in ("model_type", "dict_type"):
        return (f"Invalid input for field/attribute {field}. Value: '{value}'. "
                "Value should be a JSON object.")
    reason = str(err.get("msg", "invalid value"))
    reason = reason.removeprefix("Value error, ")
    return f"Invalid input for field/attribute {field}. Value: '{value}'. {reason}"


def shorten(value: Any) -> str:
    """The offending value for a message, cut short: a 60 KB name is not echoed back."""
    text = str(value)
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "..."


def _drop_nulls(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def parse(body: Any, root: str, model: type[M], *, nulls_are_unset: bool) -> M:
    """Validate ``{root: {...}}`` against ``model``; raise InvalidInput on any fault."""
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    extra = sorted(set(body) - {root})
    if extra:
        raise InvalidInput(f"Unknown attribute for argument {root}: "
                           f"{shorten(', '.join(extra))}")
    if root not in body:
        raise InvalidInput(f"Invalid input for field/attribute {root}. Value: 'None'. "
                           "Mandatory field missing.")
    inner = body[root]
    if not isinstance(inner, dict):
        raise InvalidInput(f"Invalid input for field/attribute {root}. "
                           f"Value: '{shorten(inner)}'. Value should be a JSON object.")
    return validate(inner, root, model, nulls_are_unset=nulls_are_unset)


def validate(data: dict[str, Any], root: str, model: type[M], *,
             nulls_are_unset: bool) -> M:
    if nulls_are_unset:
        data = _drop_nulls(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_describe(exc.errors()[0], root)) from None


def given(model: BaseModel) -> dict[str, Any]:
    """The fields the caller actually sent (nulls included, for PUT)."""
    return {name: getattr(model, name) for name in model.model_fields_set}


def unsupported(option: str) -> InvalidInput:
    return InvalidInput(
        f"Provider '{c.PROVIDER_NAME}' does not support a requested option: "
        f"{option} is not supported by this release of Hydria.")


def choice(field: str, value: str, known: frozenset[str] | set[str],
           supported: frozenset[str] | set[str]) -> str:
    """Refuse an unknown value (Octavia's enum error) or one this release cannot serve."""
    if value not in known:
        options = ", ".join(sorted(known))
        raise InvalidInput(f"Invalid input for field/attribute {field}. "
                           f"Value: '{shorten(value)}'. Value should be one of: {options}")
    if value not in supported:
        raise unsupported(f"{field} {value}")
    return value


def refuse_unsupported(model: BaseModel, accepted: dict[str, tuple[Any, ...]]) -> None:
    """400 for any Octavia option this release keeps only at its "off" value."""
    for name, off_values in accepted.items():
        value = getattr(model, name, None)
        if name in model.model_fields_set and value not in off_values:
            raise unsupported(name)


def truthy(raw: str | None) -> bool:
    """oslo's bool_from_string, which Octavia uses for query flags like ``cascade``."""
    return (raw or "").strip().lower() in ("1", "t", "true", "on", "y", "yes")
