"""How one resource is described: its fields, once, as data.

A ``Resource`` is a tuple of ``Field``s in the order Octavia's responses show
them. Everything the layers above need is read from it, never written again:

- request bodies (``hydria.api.schemas.bodies``): the fields settable on
  create (``create``; ``required`` ones without a default), inside a fully
  populated load balancer (``nested``) and on update (``update``), each with
  its pydantic ``type``, checked in ``check_order``;
- defaults: ``default`` fills a field left out of a create and is what an
  update to ``null`` puts back (``null="default"``; or the null is ignored,
  ``"ignore"``, or refused, ``"refuse"``, as Octavia does per field);
- Octavia options this release keeps only at an "off" value (``off``):
  anything else is refused with Octavia's unsupported-option fault;
- responses (``hydria.services.shape``): every ``shown`` field, how it is
  shown (``show``);
- lists: the query parameters that filter (``filter``) and sort (``sort``),
  with the column each one reads (``column``).

Pure data: no database, no I/O; api, services and db may all import it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from hydria.core.errors import InvalidInput


class Show(StrEnum):
    """How a response shows a field's value."""

    VALUE = "value"  # the column as stored
    TEXT = "text"  # "" for a null (Octavia's names and descriptions)
    TIME = "time"  # naive UTC to the second
    LIST = "list"  # [] for a null
    DICT = "dict"  # {} for a null
    LIST_OR_NULL = "list_or_null"  # null for an empty list
    CONST = "const"  # always ``default``: an Octavia field Hydria does not store
    PARENT = "parent"  # ``[{"id": <column>}]``
    PERSISTENCE = "persistence"  # a pool's session persistence, keys in Octavia's order
    RELATED = "related"  # filled in by the service (ids of children)


class _Unset:
    def __repr__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Unset()  # a create must give the field: no default


@dataclass(frozen=True)
class Child:
    """A field holding the nested create body (or a list of them) of another resource."""

    root: str  # that resource's ``root``
    many: bool = False


@dataclass(frozen=True)
class Field:
    """One attribute of a resource (see the module docstring)."""

    name: str
    type: Any = Any  # pydantic annotation of the value a body may carry
    default: Any = None
    create: bool = False
    update: bool = False
    nested: bool | None = None  # settable inside a fully populated create (default: create)
    child: Child | None = None  # a body of another resource (a pool's members)
    null: str = "default"  # an update to null: "default" back, "ignore" it, "refuse" it
    off: tuple[Any, ...] | None = None  # unsupported unless at one of these values
    filter: bool = False
    sort: bool | None = None  # default: filter
    show: Show = Show.VALUE
    shown: bool = True
    column: str | None = None  # row attribute; default: ``name``
    stored: bool = True

    @property
    def attr(self) -> str:
        return self.column or self.name

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def in_nested(self) -> bool:
        return self.create if self.nested is None else self.nested

    @property
    def sortable(self) -> bool:
        return self.filter if self.sort is None else self.sort


# Every resource with timestamps sorts by them and by id (the keyset tie-breaker).
TIMESTAMP_SORTS = ("created_at", "updated_at", "id")


@dataclass(frozen=True)
class Resource:
    kind: str  # "Pool": in faults ("Pool <id> not found.")
    root: str  # "pool": the body's and the answer's envelope
    collection: str  # "pools"
    fields: tuple[Field, ...]
    links: str = ""  # the list's links key, when not "<collection>_links"
    extra_sorts: tuple[str, ...] = TIMESTAMP_SORTS
    # The order in which a body's fields are checked (the first fault is the one
    # reported); fields not named here follow in declaration order.
    check_order: tuple[str, ...] = ()
    by_name: Mapping[str, Field] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_name", {f.name: f for f in self.fields})

    @property
    def links_key(self) -> str:
        return self.links or f"{self.collection}_links"

    def in_check_order(self) -> list[Field]:
        first = [self.by_name[name] for name in self.check_order]
        return first + [f for f in self.fields if f.name not in self.check_order]

    def field(self, name: str) -> Field:
        return self.by_name[name]

    def filters(self) -> dict[str, str]:
        """Query parameter -> row attribute, for equality filters."""
        return {f.name: f.attr for f in self.fields if f.filter}

    def sorts(self) -> dict[str, str]:
        """Sort key -> row attribute."""
        keys = {f.name: f.attr for f in self.fields if f.sortable}
        keys.update((name, name) for name in self.extra_sorts)
        return keys

    def unsupported(self, *, nested: bool = False) -> dict[str, tuple[Any, ...]]:
        """Options accepted only at their "off" values, on a create (or nested create)."""
        if nested:
            return {
                f.name: f.off
                for f in self.fields
                if f.off is not None and f.in_nested and f.child is None
            }
        return {f.name: f.off for f in self.fields if f.off is not None and f.create}

    def update_unsupported(self) -> dict[str, tuple[Any, ...]]:
        return {f.name: f.off for f in self.fields if f.off is not None and f.update}

    def update_changes(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """The changes an update makes: its supported fields, nulls as Octavia treats them."""
        out: dict[str, Any] = {}
        for f in self.fields:
            if f.name not in given or f.off is not None:
                continue
            name, value = f.name, given[f.name]
            if value is None:
                if f.null == "ignore":
                    continue
                if f.null == "refuse":
                    raise InvalidInput(f"None is not a valid option for {name}")
                value = None if f.required else _copy(f.default)
            out[name] = value
        return out

    def create_columns(self, given: Mapping[str, Any]) -> dict[str, Any]:
        """Row values of a create: what was given, the default for what was not."""
        out: dict[str, Any] = {}
        for f in self.fields:
            if not (f.create and f.stored and f.off is None) or f.show is Show.RELATED:
                continue
            value = given.get(f.name)
            if value is None and not f.required:
                value = f.default
            out[f.attr] = _copy(value)
        return out


def _copy(value: Any) -> Any:
    """A fresh list or dict, so rows never share a default's mutable value."""
    if isinstance(value, list):
        return list(value)
    if isinstance(value, dict):
        return dict(value)
    return value


def text(value: str | None) -> str:
    """Octavia shows a missing name or description as ``""``, never null."""
    return value if value is not None else ""
