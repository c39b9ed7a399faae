"""A warm token skips ``auth_token``, and nothing ``auth_token`` promised is lost:
an entry lapses after the cache time (a revoked token ends), an accepted token
is never used past its expiry, a 401 is remembered, a service token or a second
X-Auth-Token always goes through. ``tests/keystone`` checks the same against a
real Keystone (revoked and expired tokens)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from hydria.api.auth.keystone import SCOPE_KEY, KeystoneAuth
from hydria.api.auth.token_memo import TokenMemo, token_expiry
from tests.support.identity import keystone_settings


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def test_entries_lapse_after_the_cache_time_and_never_outlive_the_token() -> None:
    clock = Clock()
    memo: TokenMemo[str] = TokenMemo(10, clock=clock)
    memo.put("t1", "alice")
    memo.put("t2", "bob", expires_at=clock.now + 3)
    memo.put("t3", "carol", expires_at=clock.now - 1)  # already expired: not kept
    assert (memo.get("t1"), memo.get("t2"), memo.get("t3")) == ("alice", "bob", None)
    clock.now += 3
    assert (memo.get("t1"), memo.get("t2")) == ("alice", None)
    clock.now += 7
    assert memo.get("t1") is None and len(memo) == 0


def test_bounded_oldest_first_and_off_at_zero() -> None:
    memo: TokenMemo[int] = TokenMemo(60, max_entries=3)
    for n in range(5):
        memo.put(f"t{n}", n)
    assert [memo.get(f"t{n}") for n in range(5)] == [None, None, 2, 3, 4]
    off: TokenMemo[int] = TokenMemo(0)
    off.put("t", 1)
    assert off.get("t") is None
    # tokens are kept by digest, never as text
    assert all(isinstance(k, bytes) and len(k) == 32 for k in memo._entries)  # noqa: SLF001


def test_token_expiry_from_what_auth_token_left() -> None:
    v3 = {"keystone.token_info": {"token": {"expires_at": "2030-01-02T03:04:05.000000Z"}}}
    assert token_expiry(v3) == 1893553445.0
    assert token_expiry({}) is None
    assert token_expiry({"keystone.token_info": {"token": {"expires_at": "soon"}}}) is None


class FakeAuthToken:
    """``auth_token``'s contract: accept ``good-*`` tokens (setting the identity
    headers and token info), answer 401 to anything else. Counts its calls."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self.calls = 0
        self.expires_at = "2099-01-01T00:00:00Z"

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        self.calls += 1
        token = environ.get("HTTP_X_AUTH_TOKEN", "")
        if not token.startswith("good-"):
            start_response("401 Unauthorized", [("WWW-Authenticate", "Keystone uri='x'")])
            return [b"Authentication required"]
        environ.update(
            HTTP_X_PROJECT_ID=token.removeprefix("good-"),
            HTTP_X_USER_ID="user",
            HTTP_X_ROLES="member,reader",
            HTTP_X_IDENTITY_STATUS="Confirmed",
        )
        environ["keystone.token_info"] = {"token": {"expires_at": self.expires_at}}
        return self.app(environ, start_response)


def _request(auth: KeystoneAuth, *headers: tuple[bytes, bytes]) -> tuple[int, Any]:
    seen: dict[str, Any] = {}
    sent: list[dict[str, Any]] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen["identity"] = scope[SCOPE_KEY]
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b""}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    auth.app = app
    scope = {"type": "http", "method": "GET", "path": "/v2/lbaas/loadbalancers"}
    asyncio.run(auth(scope | {"headers": list(headers)}, receive, send))
    return sent[0]["status"], seen.get("identity")


def test_a_warm_token_skips_auth_token(tmp_path: Path) -> None:
    from hydria.api.auth.keystone import _accepted

    fake = FakeAuthToken(_accepted)
    auth = KeystoneAuth(
        None,  # type: ignore[arg-type]
        keystone_settings(tmp_path, keystone_token_cache_seconds=60),
        protocol=fake,
    )
    good = (b"x-auth-token", b"good-project-a")
    status, first = _request(auth, good)
    assert status == 200 and first.project_id == "project-a" and fake.calls == 1
    for _ in range(5):
        assert _request(auth, good) == (200, first)
    assert fake.calls == 1  # warm: auth_token not called again
    # a refusal is remembered too, and stays auth_token's answer
    assert _request(auth, (b"x-auth-token", b"forged"))[0] == 401
    assert _request(auth, (b"x-auth-token", b"forged"))[0] == 401
    assert fake.calls == 2
    # no token, two tokens, or a service token: always through auth_token
    assert _request(auth)[0] == 401
    _request(auth, good, (b"x-auth-token", b"good-project-b"))
    _request(auth, good, (b"x-service-token", b"good-service"))
    assert fake.calls == 5


def test_an_expired_token_goes_back_to_auth_token(tmp_path: Path) -> None:
    from hydria.api.auth.keystone import _accepted

    fake = FakeAuthToken(_accepted)
    fake.expires_at = "2000-01-01T00:00:00Z"  # auth_token would refuse it next time
    auth = KeystoneAuth(
        None,  # type: ignore[arg-type]
        keystone_settings(tmp_path, keystone_token_cache_seconds=60),
        protocol=fake,
    )
    good = (b"x-auth-token", b"good-project-a")
    _request(auth, good)
    _request(auth, good)
    assert fake.calls == 2  # never remembered past its expiry
