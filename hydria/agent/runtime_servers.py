"""Member changes without a reload: HAProxy's runtime API for ``server`` lines.

A reload re-executes HAProxy's master, which parses the whole configuration and
forks a new worker: most of a change's time in the amphora (about 150 ms of
180 on a busy two-core host). When a new configuration differs from the running
one only in the ``server`` lines of some backends (a member added, removed, its
weight or admin state changed) the running worker can take the change through
its stats socket instead (HAProxy 2.6 dynamic servers: ``add server``, ``del
server``, ``set server``); the file is still replaced, so the next reload or
restart reads the same servers.

``server_commands(old, new)`` is pure: the CLI commands that turn ``old`` into
``new``, or ``None`` when only a reload can (anything but servers changed, or a
backend where dynamic servers are not allowed or not equivalent). It is
deliberately narrow, and every doubt is a reload, which is always correct:

- comments differ freely (the header names the version); every other line
  outside ``server`` lines must be the same, in the same order;
- a backend's servers may change only under ``balance roundrobin`` or
  ``balance leastconn`` (HAProxy refuses dynamic servers with a static
  algorithm; ``source`` and ``hash`` map a client to a server by the server
  list) and without persistence (``cookie``, ``stick``: a server named by a
  cookie or a table entry), ``default-server`` (dynamic servers do not inherit
  it) or peers;
- a server whose address or options other than ``weight`` and ``disabled``
  changed is deleted and added again;
- a token with a quote, a backslash or a ``;`` is never sent (the CLI splits
  on those differently than the configuration parser).

A removed server is put in maintenance first (new requests go elsewhere), then
deleted; HAProxy refuses to delete one that still has connections, and the
caller then reloads, so a request in flight is never cut (the old worker
finishes it, as with any reload).
"""

from __future__ import annotations

from dataclasses import dataclass

_DYNAMIC_BALANCE = frozenset({"roundrobin", "leastconn"})
# backend directives under which a server list change is not only the server list
_PINNING_WORDS = ("cookie", "stick", "stick-table", "default-server", "hash-type", "peers")
_UNSAFE_CHARS = frozenset("\"'\\;\n\r#")


@dataclass(frozen=True)
class Server:
    address: str
    options: tuple[str, ...]


@dataclass
class _Parsed:
    # every line that is not a comment or a backend's server line, in order
    skeleton: list[str]
    # backend name -> server name -> server, in file order
    servers: dict[str, dict[str, Server]]
    # backend name -> its directives (for the checks above)
    directives: dict[str, list[list[str]]]


def _parse(text: str) -> _Parsed | None:
    parsed = _Parsed([], {}, {})
    backend: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if not raw[:1].isspace():  # a section header
            backend = words[1] if words[0] == "backend" and len(words) == 2 else None
            if backend is not None:
                if backend in parsed.servers:
                    return None
                parsed.servers[backend] = {}
                parsed.directives[backend] = []
            parsed.skeleton.append(line)
            continue
        if backend is not None and words[0] == "server":
            if len(words) < 3 or words[1] in parsed.servers[backend]:
                return None
            parsed.servers[backend][words[1]] = Server(words[2], tuple(words[3:]))
            continue
        if backend is not None:
            parsed.directives[backend].append(words)
        parsed.skeleton.append(line)
    return parsed


def _dynamic(directives: list[list[str]]) -> bool:
    """Whether this backend takes servers at runtime with the same effect as in the file."""
    balance = [d for d in directives if d[0] == "balance"]
    if len(balance) != 1 or len(balance[0]) != 2 or balance[0][1] not in _DYNAMIC_BALANCE:
        return False
    return not any(d[0] in _PINNING_WORDS or d[0].startswith("stick") for d in directives)


def _without(options: tuple[str, ...], word: str, takes_value: bool) -> tuple[str, ...]:
    out: list[str] = []
    skip = False
    for i, opt in enumerate(options):
        if skip:
            skip = False
            continue
        if opt == word:
            skip = takes_value and i + 1 < len(options)
            continue
        out.append(opt)
    return tuple(out)


def _weight(options: tuple[str, ...]) -> str:
    for i, opt in enumerate(options[:-1]):
        if opt == "weight":
            return options[i + 1]
    return "1"


def _add(backend: str, name: str, server: Server) -> list[str]:
    if "cookie" in server.options or "track" in server.options:
        raise _NeedsReload
    cmds = [" ".join(["add server", f"{backend}/{name}", server.address, *server.options])]
    if "check" in server.options:
        cmds.append(f"enable health {backend}/{name}")
    if "disabled" not in server.options:
        cmds.append(f"enable server {backend}/{name}")
    return cmds


def _remove(backend: str, name: str) -> list[str]:
    return [f"disable server {backend}/{name}", f"del server {backend}/{name}"]


def _change(backend: str, name: str, old: Server, new: Server) -> list[str]:
    def rest(s: Server) -> tuple[str, ...]:
        return _without(_without(s.options, "weight", True), "disabled", False)

    if old.address != new.address or rest(old) != rest(new):
        return [*_remove(backend, name), *_add(backend, name, new)]
    cmds = []
    if _weight(old.options) != _weight(new.options):
        cmds.append(f"set server {backend}/{name} weight {_weight(new.options)}")
    was, now = "disabled" in old.options, "disabled" in new.options
    if was != now:
        cmds.append(f"{'disable' if now else 'enable'} server {backend}/{name}")
    return cmds


class _NeedsReload(Exception):
    pass


def server_commands(old: str, new: str) -> list[str] | None:
    """The runtime commands that make ``old`` run as ``new``; ``None``: reload."""
    before, after = _parse(old), _parse(new)
    if before is None or after is None or before.skeleton != after.skeleton:
        return None
    if before.servers.keys() != after.servers.keys():
        return None
    commands: list[str] = []
    try:
        for backend, servers in after.servers.items():
            was = before.servers[backend]
            if was == servers:
                continue
            if not _dynamic(after.directives[backend]):
                return None
            for name in [n for n in was if n not in servers]:
                commands.extend(_remove(backend, name))
            for name, server in servers.items():
                if name not in was:
                    commands.extend(_add(backend, name, server))
                elif was[name] != server:
                    commands.extend(_change(backend, name, was[name], server))
    except _NeedsReload:
        return None
    if any(_UNSAFE_CHARS & set(cmd) for cmd in commands):
        return None
    return commands
