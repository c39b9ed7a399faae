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

from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError, model_validator

from hydria.core.errors import InvalidInput
from hydria.core.resources.types import StrictBody
from hydria.services.validation import shorten

Body = StrictBody


class Nested(Body):
    """An object inside a POST body: an explicit ``null`` means "not given" there too."""

    @model_validator(mode="before")
    @classmethod
    def _nulls_are_unset(cls, data: Any) -> Any:
        return _drop_nulls(data) if isinstance(data, dict) else data


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
        return (
            f"Invalid input for field/attribute {field}. Value: '{value}'. "
            "Value should be a JSON object."
        )
    reason = str(err.get("msg", "invalid value"))
    reason = reason.removeprefix("Value error, ")
    return f"Invalid input for field/attribute {field}. Value: '{value}'. {reason}"


def _drop_nulls(data: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in data.items() if v is not None}


def parse(body: Any, root: str, model: type[M], *, nulls_are_unset: bool) -> M:
    """Validate ``{root: {...}}`` against ``model``; raise InvalidInput on any fault."""
    if not isinstance(body, dict):
        raise InvalidInput("The request body must be a JSON object.")
    extra = sorted(set(body) - {root})
    if extra:
        raise InvalidInput(f"Unknown attribute for argument {root}: {shorten(', '.join(extra))}")
    if root not in body:
        raise InvalidInput(
            f"Invalid input for field/attribute {root}. Value: 'None'. Mandatory field missing."
        )
    inner = body[root]
    if not isinstance(inner, dict):
        raise InvalidInput(
            f"Invalid input for field/attribute {root}. "
            f"Value: '{shorten(inner)}'. Value should be a JSON object."
        )
    return validate(inner, root, model, nulls_are_unset=nulls_are_unset)


def validate(data: dict[str, Any], root: str, model: type[M], *, nulls_are_unset: bool) -> M:
    if nulls_are_unset:
        data = _drop_nulls(data)
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidInput(_describe(dict(exc.errors()[0]), root)) from None


def given(model: BaseModel) -> dict[str, Any]:
    """The fields the caller actually sent (nulls included, for PUT)."""
    return {name: getattr(model, name) for name in model.model_fields_set}


def truthy(raw: str | None) -> bool:
    """oslo's bool_from_string, which Octavia uses for query flags like ``cascade``."""
    return (raw or "").strip().lower() in ("1", "t", "true", "on", "y", "yes")
