"""L7 policies and rules: Octavia's checks across fields, and what HAProxy can be given.

Pure functions, used by the API's services before anything is stored and by
the renderer before anything is written:

- ``check_rule(...)``: Octavia's ``l7rule_data`` per rule type (a key for
  HEADER, COOKIE and SSL_DN_FIELD; which compare types each type takes; the
  SSL types' values), in Octavia's words ("Error parsing L7Rule: Invalid L7
  Rule: ..."), plus what keeps a value one word of HAProxy's configuration:
  no control characters, printable ASCII, a regex that compiles, a key that
  cannot close ``req.hdr(...)`` early.
- ``sanitize_policy(...)``: Octavia's ``sanitize_l7policy_api_args``: the
  action implied by the redirect fields, the fields an action clears, the
  default ``redirect_http_code`` (302 for URL and prefix redirects).
- ``check_url(...)``: a redirect target (http or https, a host, RFC 3986
  characters only).
- ``haproxy_word(...)``/``haproxy_logformat(...)``: a checked value as HAProxy
  reads it back unchanged (``\\``, space, quotes and ``#`` escaped; ``%``
  doubled where HAProxy reads a log-format string).
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Mapping
from typing import Any, Final

from hydria.core import constants as c
from hydria.core.errors import InvalidInput

# Octavia's patterns (RFC 7230/6265); ``\Z`` so no trailing newline slips through.
HEADER_VALUE_RE: Final = re.compile(r"[A-Za-z0-9!\"#$%&'()*+,\-./:;<=>?@\[\]^_`{|}~\\]+\Z")
QUOTED_HEADER_VALUE_RE: Final = re.compile(
    r"\"[A-Za-z0-9 !\"#$%&'()*+,\-./:;<=>?@\[\]^_`{|}~\\]*\"\Z"
)
COOKIE_VALUE_RE: Final = re.compile(r"[A-Za-z0-9!#$%&'()*+\-./:<=>?@\[\]^_`{|}~]+\Z")
# Octavia's header name pattern takes ',', '#' and "'" (its '+-.' is a range);
# inside ``req.hdr(...)`` a ',' starts another argument, so Hydria keeps to RFC 7230
# token characters HAProxy reads literally there.
HEADER_NAME_RE: Final = re.compile(r"[A-Za-z0-9!$%&*+.^_`|~-]+\Z")
DN_FIELD_RE: Final = re.compile(r"[A-Za-z][A-Za-z0-9-]*\Z")
# Anything HAProxy's parser would end a word or a line on, or that is not text.
_CONTROL_RE: Final = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# RFC 3986: unreserved, reserved and '%' (for escapes); no space, quote or backslash.
_URL_RE: Final = re.compile(r"[A-Za-z0-9\-._~:/?#\[\]@!$&'()*+,;=%]+\Z")

_STRING_COMPARES: Final = frozenset(
    {
        c.L7RULE_COMPARE_STARTS_WITH,
        c.L7RULE_COMPARE_ENDS_WITH,
        c.L7RULE_COMPARE_CONTAINS,
        c.L7RULE_COMPARE_EQUAL_TO,
    }
)
_SSL_TYPES: Final = frozenset(
    {c.L7RULE_TYPE_SSL_CONN_HAS_CERT, c.L7RULE_TYPE_SSL_VERIFY_RESULT, c.L7RULE_TYPE_SSL_DN_FIELD}
)
_KEYED: Final = frozenset({c.L7RULE_TYPE_HEADER, c.L7RULE_TYPE_COOKIE})


def rule_fault(msg: str) -> InvalidInput:
    return InvalidInput(f"Error parsing L7Rule: Invalid L7 Rule: {msg}")


def _invalid_string(what: str) -> InvalidInput:
    return InvalidInput(f"Error parsing L7Rule: Invalid characters in {what}")


def _numbered_group_reference(value: str) -> bool:
    """Does ``value`` refer to a group by its number (``\\1``, ``(?(1)...)``)?

    HAProxy compiles ACL regexes without numbered captures (PCRE2's
    NO_AUTO_CAPTURE: only named groups capture), so such a pattern, valid for
    Python, makes HAProxy refuse the whole configuration and the load balancer
    go to ERROR; Octavia accepts it and fails there. Named references
    (``(?P<n>...)(?P=n)``) work in both and are allowed."""
    i = 0
    while i < len(value):
        if value[i] == "\\":
            if i + 1 < len(value) and value[i + 1] in "123456789":
                return True
            i += 2
            continue
        if value.startswith("(?(", i) and value[i + 3 : i + 4].isdigit():
            return True
        i += 1
    return False


def _regex(value: str) -> None:
    try:
        re.compile(value)
    except (re.error, OverflowError, RecursionError) as e:
        raise InvalidInput(
            f"Error parsing L7Rule: Unable to parse regular expression: {e}"
        ) from None
    if _numbered_group_reference(value):
        raise InvalidInput(
            "Error parsing L7Rule: Unable to parse regular expression: a reference to a "
            "numbered group (HAProxy captures named groups only: use (?P<name>...) and (?P=name))"
        )


def _header_value(value: str, what: str) -> None:
    if not (HEADER_VALUE_RE.match(value) or QUOTED_HEADER_VALUE_RE.match(value)):
        raise _invalid_string(what)


def check_rule(rule_type: str, compare_type: str, key: str | None, value: str | None) -> None:
    """Octavia's checks of one rule as it will be stored (400 with its message)."""
    if not value:
        raise rule_fault("L7 rule type requires a value")
    for text, what in ((key, "key"), (value, "value")):
        if text is not None and (_CONTROL_RE.search(text) or not text.isascii()):
            raise _invalid_string(what)
    if rule_type in _KEYED:
        if not key:
            raise rule_fault("L7 rule type requires a key")
        if not HEADER_NAME_RE.match(key):
            raise _invalid_string("key")
        if compare_type == c.L7RULE_COMPARE_REGEX:
            _regex(value)
        elif rule_type == c.L7RULE_TYPE_HEADER:
            _header_value(value, "header value")
        elif not COOKIE_VALUE_RE.match(value):
            raise _invalid_string("cookie value")
    elif rule_type in (c.L7RULE_TYPE_HOST_NAME, c.L7RULE_TYPE_PATH):
        if compare_type == c.L7RULE_COMPARE_REGEX:
            _regex(value)
        else:
            _header_value(value, "comparison value")
    elif rule_type == c.L7RULE_TYPE_FILE_TYPE:
        if compare_type == c.L7RULE_COMPARE_REGEX:
            _regex(value)
        elif compare_type == c.L7RULE_COMPARE_EQUAL_TO:
            _header_value(value, "comparison value")
        else:
            raise rule_fault("invalid comparison type for rule type")
    elif rule_type in _SSL_TYPES:
        _check_ssl_rule(rule_type, compare_type, key, value)
    else:
        raise rule_fault("invalid rule type")
    if rule_type not in _KEYED and rule_type != c.L7RULE_TYPE_SSL_DN_FIELD and key:
        # Octavia stores and ignores it; Hydria writes nothing for it either, but it
        # must be safe if it is ever shown in a configuration comment.
        if not HEADER_NAME_RE.match(key):
            raise _invalid_string("key")


def _check_ssl_rule(rule_type: str, compare_type: str, key: str | None, value: str) -> None:
    msg = None
    if rule_type == c.L7RULE_TYPE_SSL_CONN_HAS_CERT:
        if key:
            msg = f'L7rule type {rule_type} does not use the "key" field.'
        elif value.lower() != "true":
            msg = f"L7rule value {value} is not a boolean True string."
        elif compare_type != c.L7RULE_COMPARE_EQUAL_TO:
            msg = f"L7rule type {rule_type} only supports the EQUAL_TO compare type."
    elif rule_type == c.L7RULE_TYPE_SSL_VERIFY_RESULT:
        if key:
            msg = f'L7rule type {rule_type} does not use the "key" field.'
        elif not (value.isascii() and value.isdigit()) or len(value) > 10:
            msg = f"L7rule type {rule_type} needs a int value, which is >= 0"
        elif compare_type != c.L7RULE_COMPARE_EQUAL_TO:
            msg = f"L7rule type {rule_type} only supports the EQUAL_TO compare type."
    else:  # SSL_DN_FIELD
        if compare_type == c.L7RULE_COMPARE_REGEX:
            _regex(value)
        if not key or not value:
            msg = f"L7rule type {rule_type} needs to specify a key and a value."
        elif not DN_FIELD_RE.match(key):
            msg = "Invalid L7rule distinguished name field."
        elif compare_type != c.L7RULE_COMPARE_REGEX:
            _header_value(value, "comparison value")
    if msg:
        raise rule_fault(msg)


def check_url(url: str) -> str:
    """A redirect target: Octavia's "Not a valid URL: ..." for anything else."""
    fault = InvalidInput(f"Invalid L7 Policy arguments: Not a valid URL: {url}")
    if _CONTROL_RE.search(url) or not _URL_RE.match(url):
        raise fault
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        raise fault from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise fault
    return url


def _policy_args(msg: str) -> InvalidInput:
    return InvalidInput(f"Invalid L7 Policy arguments: {msg}")


def sanitize_policy(given: Mapping[str, Any], *, create: bool) -> dict[str, Any]:
    """Octavia's rules between ``action`` and the redirect fields, on what was sent.

    Returns the fields to store: the action a redirect field implies, the
    other redirect fields cleared, a URL or prefix redirect's code 302 unless
    given. ``redirect_pool`` (a nested create's pool) counts as a pool id.
    """
    out = dict(given)
    action = out.get("action")
    has_pool = bool(out.get("redirect_pool_id") or out.get("redirect_pool"))
    if action is not None:
        if action == c.L7POLICY_ACTION_REJECT:
            out.update(redirect_url=None, redirect_pool_id=None)
            out.pop("redirect_pool", None)
            has_pool = False
        elif action == c.L7POLICY_ACTION_REDIRECT_TO_URL:
            if not out.get("redirect_url"):
                raise _policy_args("redirect_url must not be None")
            out.update(redirect_pool_id=None)
            out.pop("redirect_pool", None)
            has_pool = False
        elif action == c.L7POLICY_ACTION_REDIRECT_TO_POOL:
            if not has_pool:
                raise _policy_args("redirect_pool_id or redirect_pool must not be None")
            out.update(redirect_url=None)
        elif action == c.L7POLICY_ACTION_REDIRECT_PREFIX:
            if not out.get("redirect_prefix"):
                raise _policy_args("redirect_prefix must not be None")
        else:
            raise InvalidInput(f"Invalid L7 Policy action specified: {action}")
    if has_pool and (out.get("redirect_url") or out.get("redirect_prefix")):
        raise _policy_args(
            "Cannot specify redirect_pool_id and redirect_url or redirect_prefix at the same time"
        )
    if has_pool:
        out.update(
            action=c.L7POLICY_ACTION_REDIRECT_TO_POOL,
            redirect_url=None,
            redirect_prefix=None,
            redirect_http_code=None,
        )
    for name, kind in (
        ("redirect_url", c.L7POLICY_ACTION_REDIRECT_TO_URL),
        ("redirect_prefix", c.L7POLICY_ACTION_REDIRECT_PREFIX),
    ):
        if out.get(name):
            check_url(out[name])
            other = "redirect_prefix" if name == "redirect_url" else "redirect_url"
            out.update({"action": kind, "redirect_pool_id": None, other: None})
            out.pop("redirect_pool", None)
            if not out.get("redirect_http_code"):
                out["redirect_http_code"] = c.L7POLICY_DEFAULT_REDIRECT_CODE
    code = out.get("redirect_http_code")
    if code is not None and code not in c.L7POLICY_REDIRECT_HTTP_CODES:
        codes = ", ".join(str(x) for x in c.L7POLICY_REDIRECT_HTTP_CODES)
        raise InvalidInput(
            f"Invalid input for field/attribute redirect_http_code. Value: "
            f"'{code}'. Value should be one of: {codes}"
        )
    if create and "action" not in out:
        raise InvalidInput("Invalid L7 Policy action specified: None")
    return out


# --------------------------------------------------------------------------- #
# What the renderer writes                                                     #
# --------------------------------------------------------------------------- #

_WORD_ESCAPES: Final = {"\\": "\\\\", " ": "\\ ", '"': '\\"', "'": "\\'", "#": "\\#"}


def match_text(compare_type: str, value: str) -> str:
    """What HAProxy compares: a quoted header value (RFC 7230) without its quotes,
    as Octavia's configuration has HAProxy read it."""
    if (
        compare_type != c.L7RULE_COMPARE_REGEX
        and len(value) >= 2
        and QUOTED_HEADER_VALUE_RE.match(value)
    ):
        return value[1:-1]
    return value


def haproxy_word(value: str) -> str:
    """``value`` as one word HAProxy reads back unchanged; refuses what it cannot write."""
    if not value or _CONTROL_RE.search(value) or not value.isascii():
        raise ValueError(f"{value!r} cannot be written as one HAProxy word")
    return "".join(_WORD_ESCAPES.get(ch, ch) for ch in value)


def haproxy_logformat(value: str) -> str:
    """A log-format argument (redirect targets): a word with every ``%`` doubled."""
    return haproxy_word(value.replace("%", "%%"))
