"""The amphora's UDP listeners: the engine that runs them, its probes, its report.

``PUT /1.0/udp?version=N`` hands the agent a ``hydria.core.udp.UdpConfig``
naming its engine. ``UdpStore.apply`` keeps it (``udp/udp.json``) and runs it
without the members the probes found dead:

* **nftables** (``hydria.agent.nft``): the ruleset made from the plan, checked
  with ``nft -c`` and applied as one ``nft -f`` transaction; the kernel
  forwards the datagrams, no process to supervise.
* **nginx** (``hydria.agent.nginx``): the text with those members marked
  ``down``, checked with ``nginx -t``, swapped in and reloaded; the last good
  file is put back if the reload fails. Backup members of hashed upstreams
  stay ``down`` while a primary can serve (``hydria.core.udp.effective``).

Switching engines stops the other (nginx stopped, the old table deleted).
Versions work as for HAProxy: older is refused, equal is a no-op. When a probe
flips a member, ``refresh`` runs the held configuration again.

``report`` is what heartbeats carry, in HAProxy's words so the health manager
rolls UDP up exactly like TCP: listeners ``OPEN``/``STOP`` with their counters
(nftables: per member counters and conntrack's live flows; nginx: its session
logs, one line per ended session, and its live upstream sockets), pools
``UP``/``DOWN`` and members ``UP``/``DOWN``/``no check``/``MAINT``/``DRAIN``.
Nothing is reported while the engine does not run, so its listeners turn
ERROR, which is how a dead engine shows in the API.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import sys
import threading
from collections import Counter
from pathlib import Path
from typing import Any

from hydria.agent.haproxy import ConfigInvalid
from hydria.agent.nft import NftTable
from hydria.agent.nginx import NginxProcess
from hydria.agent.probe import Prober
from hydria.core.udp import ENGINE_NFT, ENGINE_NGINX, UdpConfig, effective

log = logging.getLogger("hydria.agent.udp")

#: A session log is rotated (renamed, nginx told to reopen) past this size.
MAX_LOG_BYTES = 1024 * 1024


class StaleUdpVersion(Exception):
    def __init__(self, offered: int, running: int) -> None:
        super().__init__(f"UDP configuration version {offered} is older than the running {running}")


def _write(path: Path, data: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "w") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    tmp.replace(path)


class SessionCounters:
    """Per listener sums of nginx's session log lines, read incrementally."""

    def __init__(self, folder: Path, nginx: NginxProcess) -> None:
        self.folder = folder
        self.nginx = nginx
        self._offsets: dict[str, int] = {}
        self.totals: dict[str, dict[str, int]] = {}

    def _add(self, listener_id: str, lines: list[str]) -> None:
        total = self.totals.setdefault(
            listener_id, {"bytes_in": 0, "bytes_out": 0, "total_connections": 0}
        )
        for line in lines:
            parts = line.split()
            if len(parts) < 4:
                continue
            try:
                received, sent = int(parts[2]), int(parts[3])
            except ValueError:
                continue
            total["bytes_in"] += received
            total["bytes_out"] += sent
            total["total_connections"] += 1

    def read(self, listener_id: str) -> dict[str, int]:
        path = self.folder / f"udp-{listener_id}.log"
        offset = self._offsets.get(listener_id, 0)
        try:
            with open(path, "rb") as fh:
                fh.seek(0, os.SEEK_END)
                size = fh.tell()
                if size < offset:
                    offset = 0
                fh.seek(offset)
                data = fh.read()
        except OSError:
            data, size = b"", offset
        complete = data.rsplit(b"\n", 1)[0] if b"\n" in data else b""
        consumed = len(complete) + 1 if complete else 0
        self._add(listener_id, complete.decode(errors="replace").splitlines())
        self._offsets[listener_id] = offset + consumed
        if size > MAX_LOG_BYTES and offset + consumed == size:
            path.rename(path.with_name(path.name + ".old"))
            self.nginx.reopen_logs()
            self._offsets[listener_id] = 0
            path.with_name(path.name + ".old").unlink(missing_ok=True)
        return dict(
            self.totals.get(listener_id, {"bytes_in": 0, "bytes_out": 0, "total_connections": 0})
        )


def _proc_address(field: str) -> str | None:
    """``/proc/net/udp``'s ``HEX:PORT`` (host byte order words) as ``ip:port``."""
    hexaddr, _, hexport = field.partition(":")
    try:
        raw, port = bytes.fromhex(hexaddr), int(hexport, 16)
    except ValueError:
        return None
    if sys.byteorder == "little":
        raw = b"".join(raw[i : i + 4][::-1] for i in range(0, len(raw), 4))
    if len(raw) == 16 and raw[:12] == b"\0" * 10 + b"\xff" * 2:
        raw = raw[12:]  # an IPv4-mapped peer of a dual-stack socket
    family = socket.AF_INET if len(raw) == 4 else socket.AF_INET6
    try:
        return f"{socket.inet_ntop(family, raw)}:{port}"
    except (OSError, ValueError):
        return None


def upstream_sessions(pids: set[int]) -> Counter[str]:
    """Connected UDP sockets the processes ``pids`` hold, counted by peer ``ip:port``.

    nginx opens one connected socket to the member for each live UDP session and
    closes it when the session ends, so this is the engine's session table, read
    from the kernel in the processes' own network namespace.
    """
    inodes: set[str] = set()
    for pid in pids:
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    found: Counter[str] = Counter()
    if not pids or not inodes:
        return found
    pid = min(pids)
    for table in ("udp", "udp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if len(parts) > 9 and parts[3] == "01" and parts[9] in inodes:  # ESTABLISHED
                peer = _proc_address(parts[2])
                if peer is not None:
                    found[peer] += 1
    return found


class UdpStore:
    """The held UDP configuration and the engine it names (nginx or nftables)."""

    def __init__(
        self, folder: Path, nginx: NginxProcess | None = None, *, nft: NftTable | None = None
    ) -> None:
        self.folder = folder
        self.nginx = nginx or NginxProcess(folder)
        self.nft = nft or NftTable(folder, own_network=False)
        self.lock = threading.Lock()
        self.prober = Prober(self.refresh)
        self.counters = SessionCounters(folder, self.nginx)
        self._doc: UdpConfig | None = None

    @property
    def doc_file(self) -> Path:
        return self.folder / "udp.json"

    @property
    def good_config(self) -> Path:
        return self.folder / "nginx.conf.good"

    def version(self) -> int | None:
        try:
            value = json.loads(self.doc_file.read_text())["version"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return value if isinstance(value, int) else None

    def _load(self) -> UdpConfig | None:
        if self._doc is None:
            try:
                self._doc = UdpConfig.from_dict(json.loads(self.doc_file.read_text())["config"])
            except (OSError, ValueError, KeyError, TypeError):
                return None
        return self._doc

    def has_config(self) -> bool:
        doc = self._load()
        return doc is not None and doc.text is not None

    def engines(self) -> list[str]:
        """The engines this amphora can run, preferred first."""
        found = [ENGINE_NFT] if self.nft.available else []
        return found + ([ENGINE_NGINX] if self.nginx.available else [])

    def can_run(self, doc: UdpConfig) -> bool:
        return doc.text is None or doc.engine in self.engines()

    def info(self) -> dict[str, Any]:
        engines = self.engines()
        return {
            "udp_engine": engines[0] if engines else None,
            "udp_engines": engines,
            "udp_dir": str(self.folder),
            "udp_stream_module": self.nginx.module,
            "udp_config_version": self.version(),
            "udp_running": self.running(),
        }

    def running(self) -> bool:
        """The engine of the held configuration runs it (nginx's master, or the table)."""
        doc = self._load()
        if doc is not None and doc.engine == ENGINE_NFT:
            return doc.nft is not None and self.nft.serving(doc.nft)
        return self.nginx.running()

    def watch_pid(self) -> int | None:
        """The process the supervisor waits on: nginx's master (nftables has none)."""
        doc = self._load()
        if doc is None or doc.text is None or doc.engine != ENGINE_NGINX:
            return None
        return self.nginx.master_pid()

    def apply(self, doc: UdpConfig, version: int) -> int:
        with self.lock:
            running = self.version()
            if running is not None and version < running:
                raise StaleUdpVersion(version, running)
            if running == version and (doc.text is None or self.running()):
                return version
            self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
            old = self._load()
            if doc.text is None:
                self.prober.stop()
                self.nginx.stop()
            else:
                self._run(doc)
            self._drop_table(old, doc)
            self._doc = doc
            _write(self.doc_file, json.dumps({"version": version, "config": doc.to_dict()}))
        if doc.text is not None:
            self.prober.set_probes(doc.probes)
        return version

    def _run(self, doc: UdpConfig) -> None:
        """Run ``doc`` on its engine without the members the probes found dead."""
        down = self.prober.down()
        if doc.engine == ENGINE_NFT:
            if doc.nft is None:
                raise ConfigInvalid("an nftables configuration without its plan")
            self.nft.apply(doc.nft, down)
            self.nginx.stop()
        elif doc.text is not None:
            self._swap(effective(doc.text, down))

    def _drop_table(self, old: UdpConfig | None, new: UdpConfig | None) -> None:
        """The old configuration's table, once nothing new is written to it."""
        if old is None or old.nft is None or old.engine != ENGINE_NFT:
            return
        if new is not None and new.text is not None and new.nft is not None:
            same = (new.nft.table, new.nft.family) == (old.nft.table, old.nft.family)
            if new.engine == ENGINE_NFT and same:
                return
        self.nft.delete(old.nft)

    def _swap(self, text: str) -> None:
        """Check, swap in and (re)load ``text``; the last good file back on failure."""
        candidate = self.folder / "nginx.conf.new"
        _write(candidate, text)
        try:
            self.nginx.check(candidate)
        except Exception:
            candidate.unlink(missing_ok=True)
            raise
        if self.nginx.config.exists() and self.nginx.running():
            shutil.copyfile(self.nginx.config, self.good_config)
        candidate.replace(self.nginx.config)
        try:
            self.nginx.reload()
        except Exception:
            if self.good_config.exists():
                shutil.copyfile(self.good_config, self.nginx.config)
                try:
                    self.nginx.reload()
                except Exception:
                    log.exception("event=udp_restore_failed")
            raise

    def refresh(self) -> None:
        """A probe flipped a member: run the held configuration without the dead ones."""
        with self.lock:
            doc = self._load()
            if doc is None or doc.text is None:
                return
            self._run(doc)
            log.info("event=udp_members_marked down=%s", ",".join(sorted(self.prober.down())))

    def resume(self) -> None:
        """At agent start, or when nginx died: run the configuration we hold."""
        with self.lock:
            doc = self._load()
            if doc is None or doc.text is None or self.running():
                return
            if doc.engine == ENGINE_NFT:
                self._run(doc)
            else:
                _write(self.nginx.config, effective(doc.text, self.prober.down()))
                self.nginx.start()
        self.prober.set_probes(doc.probes)

    def remove(self) -> None:
        with self.lock:
            self.prober.stop()
            self.nginx.stop()
            self._drop_table(self._load(), None)
            self._doc = None
            for path in (self.doc_file, self.nginx.config, self.good_config):
                path.unlink(missing_ok=True)

    def stop(self) -> None:
        """The agent stops: nginx goes with it; an nftables table stays and serves."""
        self.prober.stop()
        with self.lock:
            self.nginx.stop()

    def active_sessions(self, doc: UdpConfig) -> dict[str, int]:
        """Live sessions per listener: nginx's sockets to that listener's members.

        Old workers finishing their sessions after a reload are counted too. Two
        UDP listeners whose pools share a member ``ip:port`` both count its sessions.
        """
        master = self.nginx.master_pid()
        if master is None or not doc.upstreams:
            return {}
        peers = upstream_sessions(self.nginx.workers(master))
        return {
            lid: sum(peers.get(a, 0) for a in addresses) for lid, addresses in doc.upstreams.items()
        }

    def report(self) -> dict[str, Any]:
        """Heartbeat fields: ``listeners``, ``pools`` (HAProxy's words) and ``engine``."""
        doc = self._load()
        if doc is None or doc.text is None:
            return {"listeners": {}, "pools": {}, "engine": None}
        down = {"listeners": {}, "pools": {}, "engine": "DOWN"}
        if doc.engine == ENGINE_NFT and doc.nft is not None:
            # one `nft -j list` a heartbeat: whether the table serves, and its counters
            items = self.nft.listing(doc.nft.table, doc.nft.family)
            if not self.nft.serving(doc.nft, items):
                return down
            stats = self.nft.stats(doc.nft, items)
        elif not self.running():
            return down
        else:
            live = self.active_sessions(doc)
            stats = {
                lid: {"active_connections": live.get(lid, 0), **self.counters.read(lid)}
                for lid in doc.listeners
            }
        zero = {"active_connections": 0, "bytes_in": 0, "bytes_out": 0, "total_connections": 0}
        listeners = {
            lid: {
                "status": "OPEN" if enabled else "STOP",
                "request_errors": 0,
                **stats.get(lid, zero),
            }
            for lid, enabled in doc.listeners.items()
        }
        probed = self.prober.statuses()
        pools: dict[str, Any] = {}
        for pool_id, members in doc.pools.items():
            words = {mid: probed.get((pool_id, mid), word) for mid, word in members.items()}
            serving = [w for w in words.values() if w in ("UP", "no check")]
            pools[pool_id] = {"status": "UP" if serving or not words else "DOWN", "members": words}
        return {"listeners": listeners, "pools": pools, "engine": "UP"}
