"""Turning request bytes into JSON values that every database can store.

``json.loads`` alone lets through input that only fails later, as a 500:

- nesting deep enough to exhaust the parser's recursion (``[[[[...``), or any
  deeper than ``MAX_DEPTH``;
- ``NaN`` and ``Infinity``, which are not JSON and which no response can print;
- lone UTF-16 surrogates (``"\\ud800"``), which cannot be encoded as UTF-8
  when the row is written;
- NUL characters, which PostgreSQL refuses in text columns (SQLite stores
  them, so the same request would work on one database and fail on the other).

``decode`` refuses all of these with InvalidInput (400) before a handler runs.
Octavia's WSME accepts NUL characters; Hydria refuses them on purpose so that
SQLite and PostgreSQL deployments answer the same way.
"""

from __future__ import annotations

import json
from typing import Any

from hydria.core.errors import InvalidInput

# The deepest Octavia body is a few levels (root, object, list, object); anything
# far deeper is refused here, so no later step (validation, repr in a message,
# the JSON columns) can run out of recursion on it.
MAX_DEPTH = 32


def _no_constants(name: str) -> Any:
    raise InvalidInput(f"The request body is not valid JSON: {name} is not a JSON value.")


def _check_text(value: str) -> None:
    if "\x00" in value:
        raise InvalidInput("The request body contains a NUL character, which is not allowed.")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidInput(
            "The request body contains a string that is not valid Unicode (a lone surrogate)."
        ) from None


def _check_value(value: Any) -> None:
    """Walk the decoded value (without recursion): its depth, every key and string."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, str):
            _check_text(item)
            continue
        if not isinstance(item, (dict, list)):
            continue
        if depth > MAX_DEPTH:
            raise InvalidInput("The request body is nested too deeply.")
        if isinstance(item, dict):
            for key, child in item.items():
                _check_text(key)
                stack.append((child, depth + 1))
        else:
            stack.extend((child, depth + 1) for child in item)


def decode(raw: bytes) -> Any:
    """The JSON value in ``raw``; InvalidInput if it is not JSON a database can store."""
    try:
        value = json.loads(raw, parse_constant=_no_constants)
    except RecursionError:
        raise InvalidInput("The request body is nested too deeply.") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidInput(f"The request body is not valid JSON: {exc}") from None
    _check_value(value)
    return value
