"""Checks of request values that Octavia reports in its own words.

Unknown choices get Octavia's enum fault; known values and options that this
release cannot serve get the provider's unsupported-option fault.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from hydria.core import constants as c
from hydria.core.errors import InvalidInput, ProviderUnsupported

# How much of a refused value a fault string repeats.
MAX_ECHO = 100


def shorten(value: Any) -> str:
    """The offending value for a message, cut short: a 60 KB name is not echoed back."""
    text = str(value)
    return text if len(text) <= MAX_ECHO else text[:MAX_ECHO] + "..."


def unsupported(option: str) -> ProviderUnsupported:
    """Octavia's provider fault (501, faultcode "Server"): valid, but not served here."""
    return ProviderUnsupported.of(
        f"{option} is not supported by this release of Hydria.", c.PROVIDER_NAME
    )


def choice(
    field: str, value: str, known: frozenset[str] | set[str], supported: frozenset[str] | set[str]
) -> str:
    """Refuse an unknown value (Octavia's enum error) or one this release cannot serve."""
    if value not in known:
        options = ", ".join(sorted(known))
        raise InvalidInput(
            f"Invalid input for field/attribute {field}. "
            f"Value: '{shorten(value)}'. Value should be one of: {options}"
        )
    if value not in supported:
        raise unsupported(f"{field} {value}")
    return value


def refuse_unsupported(req: Any, accepted: Mapping[str, tuple[Any, ...]]) -> None:
    """Refuse any Octavia option given at a value other than its "off" ones.

    ``req`` is a request body (only the fields the caller set count) or a dict
    of the fields given.
    """
    given: Mapping[str, Any] = (
        req if isinstance(req, Mapping) else {n: getattr(req, n) for n in req.model_fields_set}
    )
    for name, off_values in accepted.items():
        if name in given and given[name] not in off_values:
            raise unsupported(name)


def given(req: Any) -> dict[str, Any]:
    """The fields of a request body the caller actually sent (nulls included, for PUT)."""
    return {name: getattr(req, name) for name in req.model_fields_set}
