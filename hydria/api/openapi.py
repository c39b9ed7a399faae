"""What the OpenAPI document (``/openapi.json``, FastAPI's) says of request bodies.

Bodies are read by hand (``hydria.api.deps.read_json_body``, then
``hydria.api.validation.parse``), so FastAPI cannot see them; each route that
takes one names its envelope here: ``{"<root>": <the pydantic model's schema>}``,
with the model's ``$defs`` written in place (the models are not recursive), so
the document needs no shared components. The schema describes the canonical
form of each field; the API also takes what Octavia's WSME types take (a
number as a string, ``"true"``), which the schema does not list.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel


def operation_id(route: APIRoute) -> str:
    """Unique per method and path: the same handler serves several prefixes
    (``/v2``, ``/v2.0``) and a path may have two methods with one handler."""
    path = re.sub(r"[^0-9A-Za-z]+", "_", route.path_format).strip("_")
    methods = sorted(m.lower() for m in route.methods or ())
    return f"{'_'.join(methods)}_{path or 'root'}"


def _inline(node: Any, defs: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/$defs/"):
            return _inline(defs[ref.removeprefix("#/$defs/")], defs)
        return {k: _inline(v, defs) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, defs) for v in node]
    return node


def body(root: str, model: type[BaseModel]) -> dict[str, Any]:
    """``openapi_extra`` for a route whose JSON body is ``{root: model}``."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})
    envelope = {
        "type": "object",
        "properties": {root: _inline(schema, defs)},
        "required": [root],
        "additionalProperties": False,
    }
    return {
        "requestBody": {"required": True, "content": {"application/json": {"schema": envelope}}}
    }
