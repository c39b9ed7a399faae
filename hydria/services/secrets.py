"""The embedded secret store's API work: Barbican v1 secrets and containers.

What users and clients (``openstack secret ...``, python-barbicanclient,
Octavia's own users' scripts) need of Barbican's v1 API, on Hydria's
endpoint: secrets with text or base64 payloads (PEM, PKCS12, DER, any
octets), their payloads by ``Accept``, ``certificate``, ``generic`` and
``rsa`` containers, and Barbican's lists (``limit``/``offset``, ``name`` and
the other equality filters, ``next``/``previous`` links, ``total``).

Scope is the caller's project and nothing else, admin or not, as Barbican's
default policy keeps secrets to their project: another project's secret or
container is "not found" (never a 403 that says it exists). Payloads are
sealed before they reach the database (``hydria.db.secret_box``); the reader
the controller uses is ``hydria.db.secrets.EmbeddedSecretStore``. Checks follow
Barbican's validators; every refusal is a 4xx with Barbican's wording, and
``hydria.api.errors`` gives it Barbican's body.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import threading
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from hydria.config import Settings
from hydria.core.errors import APIError, InvalidInput, NotFound, PayloadTooLarge
from hydria.core.secrets import parse_ref
from hydria.db.models import SecretContainer, StoredSecret, utcnow
from hydria.db.secret_box import SecretBox, load_or_create_key
from hydria.db.secrets import EmbeddedSecretStore, container_row, is_uuid, live_secret
from hydria.services.context import RequestContext
from hydria.services.unit import Env

SECRET_TYPES = ("symmetric", "passphrase", "private", "public", "certificate", "opaque")
CONTAINER_TYPES = ("generic", "rsa", "certificate")
PLAIN_TEXT = "text/plain"
BINARY = ("application/octet-stream", "application/pkcs8")
MAX_PAYLOAD_BYTES = 20_000  # Barbican's max_allowed_secret_in_bytes
DEFAULT_LIMIT, MAX_LIMIT = 10, 100  # Barbican's default and max paging
SMALLINT_MAX = 32767
MAX_OFFSET = 2**31 - 1  # past any real list; keeps SQL's OFFSET within 64 bits
_ROLE_NAMES = {
    "certificate": ({"certificate"}, {"private_key", "private_key_passphrase", "intermediates"}),
    "rsa": ({"public_key", "private_key"}, {"private_key_passphrase"}),
}

R = TypeVar("R", StoredSecret, SecretContainer)


class NotAcceptable(APIError):
    status_code = 406
    faultcode = "Client"


_stores: dict[str, EmbeddedSecretStore] = {}
_stores_lock = threading.Lock()


def store_for(env: Env) -> EmbeddedSecretStore:
    """The embedded store of this database, its key read (or made, 0600) once."""
    return embedded_store(env.settings, env.db)


def embedded_store(settings: Settings, db: Any) -> EmbeddedSecretStore:
    path = settings.secret_key_path
    key = f"{path}|{id(db)}"
    with _stores_lock:
        store = _stores.get(key)
        if store is None:
            store = EmbeddedSecretStore(db, SecretBox(load_or_create_key(path)))
            _stores[key] = store
        return store


# ---- refusals in Barbican's words -------------------------------------------------


def _invalid(schema: str, reason: str, prop: str) -> InvalidInput:
    return InvalidInput(
        f"Provided object does not match schema '{schema}': {reason}. Invalid property: '{prop}'"
    )


def _secret(session: Session, secret_id: str, ctx: RequestContext) -> StoredSecret:
    """The caller's project's live secret ``secret_id``; Barbican's "not found" otherwise
    (another project's too: that it exists is not said)."""
    row = live_secret(session, secret_id, ctx.project_id)
    if row is None:
        raise NotFound("Secret not found.")
    return row


def _container(session: Session, container_id: str, ctx: RequestContext) -> SecretContainer:
    """The caller's project's container ``container_id``, as ``_secret`` finds a secret."""
    row = container_row(session, container_id, ctx.project_id)
    if row is None:
        raise NotFound("Container not found.")
    return row


def _string(
    body: Mapping[str, Any], key: str, schema: str, *, nullable: bool = False, max_length: int = 255
) -> str | None:
    value = body.get(key)
    if value is None:
        if key in body and not nullable:
            raise _invalid(schema, "None is not of type 'string'", key)
        return None
    if not isinstance(value, str):
        raise _invalid(schema, f"{value!r} is not of type 'string'", key)
    if len(value) > max_length:
        raise _invalid(schema, f"'{key}' is longer than {max_length} characters", key)
    if "\x00" in value:
        raise _invalid(schema, f"'{key}' contains a NUL character", key)
    return value


def _body(body: Any, schema: str) -> Mapping[str, Any]:
    if not isinstance(body, dict):
        raise _invalid(schema, "the body is not a JSON object", "body")
    return body


# ---- secrets ----------------------------------------------------------------------


def normalize_content_type(raw: str) -> str | None:
    """Barbican's internal media type of a payload content type; None if unsupported."""
    parts = [p.strip() for p in raw.split(";")]
    mime = parts[0].lower()
    if len(parts) > 2:
        return None
    if len(parts) == 2:
        key, _, charset = parts[1].partition("=")
        if (
            key.strip().lower() != "charset"
            or charset.strip().lower() != "utf-8"
            or mime != PLAIN_TEXT
        ):
            return None
    if mime == PLAIN_TEXT or mime in BINARY:
        return mime
    return None


def _expiration(body: Mapping[str, Any], schema: str) -> dt.datetime | None:
    raw = _string(body, "expiration", schema, nullable=True)
    if raw is None or not raw.strip():
        return None
    try:
        when = dt.datetime.fromisoformat(raw.strip())
        if when.tzinfo is not None:
            when = when.astimezone(dt.UTC).replace(tzinfo=None)
    except (ValueError, OverflowError):
        raise _invalid(schema, "Invalid date for 'expiration'", "expiration") from None
    if when <= utcnow():
        raise _invalid(schema, "'expiration' is before current time", "expiration")
    return when


@dataclass(frozen=True)
class NewPayload:
    content_type: str
    data: bytes


def _payload(body: Mapping[str, Any], schema: str) -> NewPayload | None:
    raw_type = _string(body, "payload_content_type", schema, nullable=True)
    encoding = _string(body, "payload_content_encoding", schema)
    if "payload" not in body:
        if raw_type is not None:
            raise _invalid(
                schema, "payload must be provided when payload_content_type is specified", "payload"
            )
        return None
    payload = body["payload"]
    if not isinstance(payload, str):
        raise _invalid(schema, f"{payload!r} is not of type 'string'", "payload")
    if len(payload.encode()) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge("Provided information too large to process")
    if raw_type is None:
        raise _invalid(
            schema,
            "If 'payload' is supplied, 'payload_content_type' must also be supplied.",
            "payload_content_type",
        )
    content_type = normalize_content_type(raw_type)
    if content_type is None:
        raise _invalid(
            schema,
            "payload_content_type is not one of ['text/plain', "
            "'text/plain;charset=utf-8', 'text/plain; charset=utf-8', "
            "'application/octet-stream', 'application/pkcs8']",
            "payload_content_type",
        )
    if encoding is not None and encoding != "base64":
        raise _invalid(schema, f"{encoding!r} is not one of ['base64']", "payload_content_encoding")
    if (content_type == PLAIN_TEXT) != (encoding is None):
        supported = "None" if content_type == PLAIN_TEXT else "['base64', 'binary']"
        raise _invalid(
            schema,
            f"payload_content_encoding is not one of {supported}",
            "payload_content_encoding",
        )
    payload = payload.strip()
    if not payload:
        raise _invalid(schema, "If 'payload' specified, must be non empty", "payload")
    if encoding == "base64":
        try:
            data = base64.b64decode("".join(payload.split()), validate=True)
        except (binascii.Error, ValueError):
            raise _invalid(
                schema, "Invalid payload for payload_content_encoding", "payload"
            ) from None
        if not data:
            raise _invalid(schema, "If 'payload' specified, must be non empty", "payload")
    else:
        data = payload.encode()
    return NewPayload(content_type, data)


def _bit_length(body: Mapping[str, Any], schema: str) -> int | None:
    value = body.get("bit_length")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= SMALLINT_MAX:
        raise _invalid(
            schema, f"{value!r} is not an integer from 1 to {SMALLINT_MAX}", "bit_length"
        )
    return value


def _new(model: type[R], ctx: RequestContext, name: str | None, **values: Any) -> R:
    """A new secret or container of the caller's project, by the caller."""
    return model(
        id=str(uuid.uuid4()),
        project_id=ctx.project_id,
        creator_id=ctx.user_id,
        name=name.strip() if name is not None else None,
        **values,
    )


def create_secret(env: Env, ctx: RequestContext, body: Any, base: str) -> str:
    """Store a secret (sealed); its reference."""
    schema = "Secret"
    body = _body(body, schema)
    name = _string(body, "name", schema, nullable=True)
    secret_type = _string(body, "secret_type", schema, max_length=80) or "opaque"
    if secret_type not in SECRET_TYPES:
        raise _invalid(schema, f"{secret_type!r} is not one of {list(SECRET_TYPES)}", "secret_type")
    row = _new(
        StoredSecret,
        ctx,
        name,
        secret_type=secret_type,
        algorithm=_string(body, "algorithm", schema),
        mode=_string(body, "mode", schema),
        bit_length=_bit_length(body, schema),
        expiration=_expiration(body, schema),
    )
    payload = _payload(body, schema)
    store = store_for(env)
    if payload is not None:
        row.content_type = payload.content_type
        row.ciphertext = store.box.seal(row.id, payload.data)
    with env.db.session() as session:
        session.add(row)
    return secret_href(base, row.id)


def put_payload(
    env: Env,
    ctx: RequestContext,
    secret_id: str,
    data: bytes,
    content_type: str,
    content_encoding: str | None,
) -> None:
    """Barbican's ``PUT /v1/secrets/{id}``: the payload of a secret made without one."""
    normal = normalize_content_type(content_type or "")
    if normal is None:
        raise UnsupportedPayloadType(f"Content-Type of '{content_type}' is not supported for PUT.")
    if not data:
        raise InvalidInput("No data supplied to process.")
    if len(data) > MAX_PAYLOAD_BYTES:
        raise PayloadTooLarge("Provided information too large to process")
    if content_encoding is not None and content_encoding.strip().lower() == "base64":
        try:
            data = base64.b64decode(b"".join(data.split()), validate=True)
        except (binascii.Error, ValueError):
            raise InvalidInput("Invalid payload for payload_content_encoding") from None
    store = store_for(env)
    with env.db.session() as session:
        row = _secret(session, secret_id, ctx)
        if row.ciphertext is not None:
            raise Conflict409("Secret already has data, cannot modify it.")
        row.content_type = normal
        row.ciphertext = store.box.seal(row.id, data)


class UnsupportedPayloadType(APIError):
    status_code = 415
    faultcode = "Client"


class Conflict409(APIError):
    status_code = 409
    faultcode = "Client"


def _iso(when: dt.datetime | None) -> str | None:
    return when.isoformat() if when is not None else None


def secret_href(base: str, secret_id: str) -> str:
    return f"{base}v1/secrets/{secret_id}"


def container_href(base: str, container_id: str) -> str:
    return f"{base}v1/containers/{container_id}"


def shape_secret(row: StoredSecret, base: str) -> dict[str, Any]:
    shaped: dict[str, Any] = {
        "status": "ACTIVE",
        "created": _iso(row.created_at),
        "updated": _iso(row.updated_at or row.created_at),
        "expiration": _iso(row.expiration),
        "algorithm": row.algorithm,
        "bit_length": row.bit_length,
        "mode": row.mode,
        "name": row.name,
        "secret_ref": secret_href(base, row.id),
        "secret_type": row.secret_type,
        "creator_id": row.creator_id,
    }
    if row.content_type is not None:
        shaped["content_types"] = {"default": row.content_type}
    return shaped


def get_secret(env: Env, ctx: RequestContext, secret_id: str, base: str) -> dict[str, Any]:
    with env.db.session() as session:
        return shape_secret(_secret(session, secret_id, ctx), base)


def choose_media_type(accept: str | None, stored: str) -> str:
    """The payload's media type for an ``Accept`` header, as Barbican picks it:
    none at all means octets, ``*/*`` the type it was stored with."""
    if accept is None or not accept.strip():
        return "application/octet-stream"
    for item in accept.split(","):
        media = item.split(";", 1)[0].strip().lower()
        if media == "*/*":
            return stored
        if media == "application/*":
            return "application/octet-stream"
        if media == "text/*":
            return PLAIN_TEXT
        normal = normalize_content_type(item.strip())
        if normal is not None:
            return normal
    raise NotAcceptable("Wrong payload content-type")


def get_payload(
    env: Env, ctx: RequestContext, secret_id: str, accept: str | None
) -> tuple[bytes, str]:
    """The decrypted payload and the media type it is answered with."""
    store = store_for(env)
    with env.db.session() as session:
        row = _secret(session, secret_id, ctx)
        payload = store.payload_of(row)
        stored = row.content_type or "application/octet-stream"
    if payload is None:
        raise NotFound("No secret payload to retrieve found.")
    media = choose_media_type(accept, stored)
    if media == PLAIN_TEXT:
        try:
            payload.decode()
        except UnicodeDecodeError:
            raise NotAcceptable("Wrong payload content-type") from None
        return payload, "text/plain; charset=utf-8"
    return payload, media


def delete_secret(env: Env, ctx: RequestContext, secret_id: str) -> None:
    with env.db.session() as session:
        session.delete(_secret(session, secret_id, ctx))


def _paging(query: Mapping[str, str]) -> tuple[int, int]:
    def number(key: str, default: int) -> int:
        try:
            return int(query.get(key, default))
        except ValueError:
            return default

    offset = min(max(number("offset", 0), 0), MAX_OFFSET)
    limit = number("limit", DEFAULT_LIMIT)
    limit = DEFAULT_LIMIT if limit < 1 else min(limit, MAX_LIMIT)
    return offset, limit


def _nav(
    kind: str, base: str, offset: int, limit: int, total: int, query: Mapping[str, str]
) -> dict[str, str]:
    rest = {k: v for k, v in query.items() if k not in ("limit", "offset")}

    def href(at: int) -> str:
        return f"{base}v1/{kind}?" + urlencode({"limit": limit, "offset": at, **rest})

    links = {}
    if offset > 0:
        links["previous"] = href(max(offset - limit, 0))
    if offset + limit < total:
        links["next"] = href(offset + limit)
    return links


def _offset_page(
    env: Env,
    kind: str,
    model: Any,
    where: list[Any],
    equal: Mapping[str, Any],
    shape: Callable[[Any, str], dict[str, Any]],
    query: Mapping[str, str],
    base: str,
) -> dict[str, Any]:
    """One of Barbican's offset pages of ``model`` rows (secrets or containers).

    Barbican pages by ``offset``/``limit`` and counts the ``total``, unlike
    Octavia's keyset pages (``hydria.services.listing``); ``equal`` maps a query
    parameter to the column it must equal when given.
    """
    offset, limit = _paging(query)
    where = where + [column == query[name] for name, column in equal.items() if query.get(name)]
    with env.db.session() as session:
        total = session.scalar(select(func.count()).select_from(model).where(*where)) or 0
        rows = session.scalars(
            select(model)
            .where(*where)
            .order_by(model.created_at, model.id)
            .offset(offset)
            .limit(limit)
        ).all()
        shaped = [shape(r, base) for r in rows]
    answer: dict[str, Any] = {kind: shaped}
    if shaped:
        answer.update(_nav(kind, base, offset, limit, total, query))
    answer["total"] = total
    return answer


def list_secrets(
    env: Env, ctx: RequestContext, query: Mapping[str, str], base: str
) -> dict[str, Any]:
    where = [
        StoredSecret.project_id == ctx.project_id,
        (StoredSecret.expiration.is_(None)) | (StoredSecret.expiration > utcnow()),
    ]
    bits = query.get("bits", "")
    if bits.isdigit() and int(bits) > 0:
        where.append(StoredSecret.bit_length == int(bits))
    equal = {
        "name": StoredSecret.name,
        "secret_type": StoredSecret.secret_type,
        "alg": StoredSecret.algorithm,
        "mode": StoredSecret.mode,
    }
    return _offset_page(env, "secrets", StoredSecret, where, equal, shape_secret, query, base)


# ---- containers ---------------------------------------------------------------------


def create_container(env: Env, ctx: RequestContext, body: Any, base: str) -> str:
    schema = "Container"
    body = _body(body, schema)
    name = _string(body, "name", schema, nullable=True)
    ctype = body.get("type")
    if ctype is None:
        raise _invalid(schema, "'type' is a required property", "type")
    if ctype not in CONTAINER_TYPES:
        raise _invalid(schema, f"{ctype!r} is not one of {list(CONTAINER_TYPES)}", "type")
    refs = body.get("secret_refs") or []
    if not isinstance(refs, list):
        raise _invalid(schema, f"{refs!r} is not of type 'array'", "secret_refs")
    items: list[tuple[str, str]] = []  # (name, secret id)
    for item in refs:
        if not isinstance(item, dict):
            raise _invalid(schema, f"{item!r} is not of type 'object'", "secret_refs")
        ref = _string(item, "secret_ref", schema, max_length=1024)
        if not ref:
            raise _invalid(schema, "'secret_ref' is a required property", "secret_refs")
        ref_name = _string(item, "name", schema, nullable=True) or ""
        parsed = parse_ref(ref)
        if (
            parsed is None
            or parsed.kind != "secrets"
            or not ref.startswith(base)
            or not is_uuid(parsed.uuid)
        ):
            raise _invalid(
                schema,
                "Secret_ref does not match the configured hostname, please try again",
                "secret_ref",
            )
        items.append((ref_name, parsed.uuid.lower()))
    if len({n for n, _ in items}) != len(items):
        raise _invalid(schema, "Duplicate reference names are not allowed", "secret_refs")
    if len({s for _, s in items}) != len(items):
        raise _invalid(schema, "Duplicate secret ids are not allowed", "secret_refs")
    if items and ctype in _ROLE_NAMES:
        required, optional = _ROLE_NAMES[ctype]
        names = {n for n, _ in items}
        if names - required - optional:
            allowed = ", ".join(f"'{n}'" for n in sorted(required | optional))
            raise _invalid(
                schema,
                f"only {allowed} reference names are allowed for {ctype} type",
                "secret_refs",
            )
        if not required <= names:
            need = " and ".join(f"'{n}'" for n in sorted(required))
            raise _invalid(
                schema,
                f"The minimum required reference names are {need} for {ctype} type",
                "secret_refs",
            )
    row = _new(
        SecretContainer,
        ctx,
        name,
        type=ctype,
        secret_refs=[{"name": n, "secret_id": s} for n, s in items],
    )
    with env.db.session() as session:
        for ref_name, secret_id in items:
            if live_secret(session, secret_id, ctx.project_id) is None:
                raise NotFound(f"Secret provided for '{ref_name}' doesn't exist.")
        session.add(row)
    return container_href(base, row.id)


def shape_container(row: SecretContainer, base: str) -> dict[str, Any]:
    return {
        "status": "ACTIVE",
        "updated": _iso(row.updated_at or row.created_at),
        "name": row.name,
        "consumers": [],
        "container_ref": container_href(base, row.id),
        "creator_id": row.creator_id,
        "created": _iso(row.created_at),
        "type": row.type,
        "secret_refs": [
            {"name": item["name"], "secret_ref": secret_href(base, item["secret_id"])}
            for item in row.secret_refs
        ],
    }


def get_container(env: Env, ctx: RequestContext, container_id: str, base: str) -> dict[str, Any]:
    with env.db.session() as session:
        return shape_container(_container(session, container_id, ctx), base)


def delete_container(env: Env, ctx: RequestContext, container_id: str) -> None:
    with env.db.session() as session:
        session.delete(_container(session, container_id, ctx))


def list_containers(
    env: Env, ctx: RequestContext, query: Mapping[str, str], base: str
) -> dict[str, Any]:
    where = [SecretContainer.project_id == ctx.project_id]
    equal = {"name": SecretContainer.name, "type": SecretContainer.type}
    return _offset_page(
        env, "containers", SecretContainer, where, equal, shape_container, query, base
    )
