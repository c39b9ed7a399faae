"""What an amphora is told about its UDP listeners, as a value both sides share.

The controller renders it (``hydria.render.nginx``, or ``hydria.render.nft``
for the nftables engine, whose ``text`` the agent re-makes from ``nft``) and pushes it as JSON
(``PUT /1.0/udp``, see ``hydria.wire.agent_api``); the agent runs the engine on
``text``, probes the members in ``probes`` and reports ``listeners`` and
``pools`` in its heartbeats like HAProxy's frontends and backends.

nginx OSS has no active health checks, so the agent takes a member out itself:
every member's ``server`` line in ``text`` ends with the marker
``# member <id>``, and ``mark_down(text, ids)`` adds ``down`` to the lines of
the members its probes found dead. That is the whole contract between the
renderer and the agent's edit, tested from both sides.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Final

from hydria.core.nft import NftPlan

#: The engines a ``UdpConfig`` can be for (``hydria.core.host`` detects them).
ENGINE_NGINX: Final = "nginx-stream"
ENGINE_NFT: Final = "nftables"
ENGINES: Final = frozenset({ENGINE_NGINX, ENGINE_NFT})
MARK: Final = "# member "
#: Ends the marker of a backup member in a hashed upstream (nginx has no ``backup``
#: with ``hash``): the agent keeps such a line ``down`` while a primary can serve.
STANDBY: Final = " standby"
_LINE_RE: Final = re.compile(
    r"^(?P<head>\s*server\s+\S+(?:\s+[^;#\s]+)*?)(?P<tail>;\s*# member "
    r"(?P<id>[A-Za-z0-9-]{1,64})(?P<standby> standby)?)\s*$"
)


def member_mark(member_id: str, *, standby: bool = False) -> str:
    return MARK + member_id + (STANDBY if standby else "")


def effective(text: str, down: Iterable[str]) -> str:
    """Pure: what nginx runs: ``mark_down`` then ``standby_backups``."""
    return standby_backups(mark_down(text, down))


def standby_backups(text: str) -> str:
    """Pure: in each upstream, the ``standby`` lines ``down`` while any other line is not.

    This is ``backup`` for hashed upstreams, done by the agent: backups take
    traffic only once every primary member is down (admin, weight 0 or probe).
    """
    lines = text.split("\n")
    out: list[str] = []
    block: list[str] = []
    inside = False
    for line in lines:
        if line.strip().startswith("upstream ") and line.rstrip().endswith("{"):
            inside, block = True, [line]
            continue
        if not inside:
            out.append(line)
            continue
        block.append(line)
        if line.strip() == "}":
            out.extend(_standby_block(block))
            inside, block = False, []
    out.extend(block)
    return "\n".join(out)


def _standby_block(block: list[str]) -> list[str]:
    matches = [(line, _LINE_RE.match(line)) for line in block]
    primary_up = any(
        m is not None and not m.group("standby") and " down" not in m.group("head")
        for _, m in matches
    )
    if not primary_up:
        return block
    return [
        f"{m.group('head')} down{m.group('tail')}"
        if m is not None and m.group("standby") and " down" not in m.group("head")
        else line
        for line, m in matches
    ]


def mark_down(text: str, down: Iterable[str]) -> str:
    """Pure: ``text`` with ``down`` added to the server lines of the ``down`` members.

    A line already ``down`` (an admin-disabled member) stays as it is; lines of
    members not named are untouched, so marking nothing returns ``text`` itself.
    """
    wanted = set(down)
    if not wanted:
        return text
    out = []
    for line in text.split("\n"):
        m = _LINE_RE.match(line)
        if m and m.group("id") in wanted and " down" not in m.group("head"):
            line = f"{m.group('head')} down{m.group('tail')}"
        out.append(line)
    return "\n".join(out)


@dataclass(frozen=True)
class Probe:
    """One member to check, with its monitor's settings (seconds, counts)."""

    pool_id: str
    member_id: str
    address: str
    port: int
    type: str  # UDP-CONNECT, TCP, HTTP
    delay: int
    timeout: int
    rise: int  # max_retries: successes to come back up
    fall: int  # max_retries_down: failures to go down
    http_method: str = "GET"
    url_path: str = "/"
    expected_codes: str = "200"


@dataclass(frozen=True)
class UdpConfig:
    """The UDP part of one load balancer's configuration on one amphora.

    ``text`` is None when the load balancer has no UDP listener (the engine is
    stopped). ``listeners``: listener id -> enabled. ``pools``: pool id -> member
    id -> the status to report when no probe decides (``no check``, ``MAINT`` for
    an admin-disabled member, ``DRAIN`` for weight 0). ``upstreams``: listener id ->
    the ``ip:port`` of each member its datagrams can go to, so the agent counts a
    listener's live sessions (``active_connections``) from the engine's sockets.
    ``engine``: which engine runs it; for ``nftables``, ``nft`` is the plan the
    agent makes the ruleset from (``hydria.core.nft.ruleset``, dead members out)
    and ``text`` that ruleset with every member up.
    """

    text: str | None
    listeners: Mapping[str, bool] = field(default_factory=dict)
    pools: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    probes: tuple[Probe, ...] = ()
    upstreams: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    engine: str = ENGINE_NGINX
    nft: NftPlan | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "engine": self.engine,
            "nft": None if self.nft is None else self.nft.to_dict(),
            "text": self.text,
            "listeners": dict(self.listeners),
            "pools": {k: dict(v) for k, v in self.pools.items()},
            "probes": [asdict(p) for p in self.probes],
            "upstreams": {k: list(v) for k, v in self.upstreams.items()},
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> UdpConfig:
        text = data.get("text")
        if text is not None and not isinstance(text, str):
            raise ValueError("text must be a string or null")
        listeners = {str(k): bool(v) for k, v in dict(data.get("listeners") or {}).items()}
        pools = {
            str(k): {str(m): str(s) for m, s in dict(v).items()}
            for k, v in dict(data.get("pools") or {}).items()
        }
        probes = tuple(Probe(**dict(p)) for p in data.get("probes") or ())
        upstreams = {
            str(k): tuple(str(a) for a in v) for k, v in dict(data.get("upstreams") or {}).items()
        }
        engine = str(data.get("engine") or ENGINE_NGINX)
        if engine not in ENGINES:
            raise ValueError(f"engine must be one of {sorted(ENGINES)}, not {engine!r}")
        nft = None if data.get("nft") is None else NftPlan.from_dict(data["nft"])
        if engine == ENGINE_NFT and text is not None and nft is None:
            raise ValueError("an nftables configuration needs its plan")
        return cls(
            text=text,
            listeners=listeners,
            pools=pools,
            probes=probes,
            upstreams=upstreams,
            engine=engine,
            nft=nft,
        )
