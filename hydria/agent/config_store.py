"""Applying a configuration safely, the way HAProxy's Data Plane API does.

The new text is written beside the running file, swapped in with an atomic
rename, and HAProxy reloads. The last file that ran is kept; if the reload
fails, it is put back and HAProxy reloads onto it, so a bad push never leaves
an amphora without a working configuration.

The start or reload is the check: a master-worker HAProxy that cannot load a
new file counts a failed reload and its old worker keeps serving, and a
first start that cannot load it exits before it daemonises; so a separate
``haproxy -c`` first would parse every good configuration twice (about a
third of a change's time in the amphora). Only after a failed start or
reload is the refused text checked, to tell a configuration HAProxy cannot
parse (``ConfigInvalid``: permanent) from one it parsed but could not bind.

A configuration that serves nothing (only ``global`` and ``defaults``: a new
load balancer before its first listener) does not start HAProxy: it is kept
and its version recorded, and the start that the first listener needs loads
it, checking it as any start does. A process with nothing to run would only be
re-executed a moment later; this takes a start off a new load balancer's path
to ACTIVE (a third of it) and costs nothing in safety, since nothing of it is
live before HAProxy has loaded it. While HAProxy runs (the last listener was
deleted), such a configuration is a reload as any other.

Every configuration carries a version (the load balancer's generation). An
older version than the one running is refused (``StaleVersion``), an equal one
is a no-op: two controllers can never make a configuration flap.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path

from hydria.agent import tls_files
from hydria.agent.counters import CounterStore
from hydria.agent.haproxy import (
    HAProxyError,
    HAProxyProcess,
    RuntimeRefused,
    diagnose_binds,
    serves_nothing,
)
from hydria.agent.runtime_servers import server_commands
from hydria.wire.amphora_layout import AmphoraLayout

log = logging.getLogger("hydria.agent")


class StaleVersion(Exception):
    def __init__(self, offered: int, running: int) -> None:
        super().__init__(f"configuration version {offered} is older than the running {running}")


def _atomic_write(path: Path, data: bytes, *, durable: bool = False) -> None:
    """Beside, then renamed over: a reader sees the old file or the new one.

    ``durable``: the data reaches the disk (fsync) before the rename. The
    configuration is written so, the version file after it is not: after a crash
    of the host, a version file never names a configuration that was lost (an
    empty haproxy.cfg under the current version would pass the controller's
    start-up resync, which only asks each amphora its version), while a lost
    version file only makes the agent report an older version, and the
    controller pushes the current one again. The fsync costs a push taken through
    the runtime API about 20 ms here (28 -> 48 ms p50 at load 40), a reload
    nothing measurable (``bench/push_fsync.py``); the version's would cost as
    much again for nothing.
    """
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as fh:
        fh.write(data)
        if durable:
            fh.flush()
            os.fsync(fh.fileno())
    tmp.replace(path)


class ConfigStore:
    def __init__(self, layout: AmphoraLayout, haproxy: HAProxyProcess) -> None:
        self.layout = layout
        self.haproxy = haproxy
        # one change at a time; a push that waited here and is now older is refused
        self.lock = threading.Lock()
        self.counters = CounterStore(layout.counters_file)
        # changes applied through the runtime API, without a reload (for /info and tests)
        self.runtime_changes = 0

    def listener_stats(self) -> list[dict[str, str]]:
        """``show stat`` rows whose frontend counters add up every HAProxy worker
        this amphora ran (see ``hydria.agent.counters``)."""
        return self.counters.observe(*self.haproxy.worker_stats())

    def version(self) -> int | None:
        try:
            value = json.loads(self.layout.version_file.read_text())["version"]
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return int(value) if isinstance(value, int) else None

    def _running_text(self) -> bytes | None:
        try:
            return self.layout.config.read_bytes()
        except OSError:
            return None

    def _idle(self) -> bool:
        """The held configuration serves nothing (``serves_nothing``)."""
        text = self._running_text()
        return text is not None and serves_nothing(text.decode(errors="replace"))

    def wants_haproxy(self) -> bool:
        """A configuration is held and it serves something: HAProxy should run."""
        return self.has_config() and not self._idle()

    def has_config(self) -> bool:
        return self.layout.config.exists() and self.version() is not None

    def apply(self, text: bytes, version: int) -> int:
        """Make ``text`` the running configuration; return the running version."""
        with self.lock:
            running = self.version()
            if running is not None and version < running:
                raise StaleVersion(version, running)
            # the same version twice is a no-op, unless its text differs: a
            # generation says what the tenant asked for, not who the pair's peers
            # are, and a failover re-renders the survivor at the same generation
            idle = serves_nothing(text.decode(errors="replace"))
            if (
                running == version
                and (idle or self.haproxy.running())
                and self._running_text() == text
            ):
                return version
            if idle and not self.haproxy.running():
                # nothing to serve and nothing serving: a start would only be undone
                # by the reload that adds the first listener (see the module's text)
                _atomic_write(self.layout.config, text, durable=True)
                self._record(version, text)
                log.info("event=config_idle version=%d", version)
                return version
            if self._apply_at_runtime(text):
                _atomic_write(self.layout.config, text, durable=True)
                self._record(version, text)
                return version
            candidate = self.layout.config.with_name("haproxy.cfg.new")
            _atomic_write(candidate, text, durable=True)
            old_text = ""
            if self.layout.config.exists():
                # what a failed start or reload puts back: the file this agent holds
                shutil.copyfile(self.layout.config, self.layout.good_config)
                if self.haproxy.running():  # its addresses are bound already
                    old_text = self.layout.good_config.read_text(errors="replace")
            else:
                self.layout.good_config.unlink(missing_ok=True)
            candidate.replace(self.layout.config)
            # the old worker's last counters, so its traffic is kept after the reload
            self.listener_stats()
            try:
                self.haproxy.reload()
            except HAProxyError as exc:
                self._restore()
                self._classify(text)  # raises ConfigInvalid if the text is at fault
                found = diagnose_binds(text.decode(errors="replace"), old_text)
                if found:
                    raise HAProxyError(str(exc), "; ".join([*found, exc.details])) from exc
                raise
            self._record(version, text)
            return version

    def _record(self, version: int, text: bytes) -> None:
        _atomic_write(self.layout.version_file, json.dumps({"version": version}).encode())
        # TLS material the new configuration no longer names (the last good one
        # is replaced by this one now, so nothing falls back onto those files)
        tls_files.prune(self.layout.certs_dir, keep_named_in=text.decode(errors="replace"))

    def _apply_at_runtime(self, text: bytes) -> bool:
        """Member changes through the stats socket, without a reload, when the new
        text differs from the running one only there (``runtime_servers``).
        False: reload. A command HAProxy refuses (a removed server that still has
        connections) is a reload too, which also undoes the commands before it."""
        if not self.haproxy.running():
            return False
        try:
            old = self.layout.config.read_text()
        except (OSError, UnicodeDecodeError):
            return False
        commands = server_commands(old, text.decode(errors="replace"))
        if commands is None:
            return False
        try:
            self.haproxy.runtime(commands)
        except RuntimeRefused as exc:
            log.info("event=runtime_refused reason=%s", exc)
            return False
        self.runtime_changes += 1
        log.info("event=config_runtime commands=%d", len(commands))
        return True

    def _classify(self, text: bytes) -> None:
        """After a failed start or reload: ``haproxy -c`` on the refused text, so a configuration
        HAProxy cannot parse is ``ConfigInvalid`` (permanent) as when it was checked
        first; anything else (a bind the kernel refused) is left to the caller."""
        refused = self.layout.config.with_name("haproxy.cfg.refused")
        _atomic_write(refused, text)
        try:
            self.haproxy.check(refused)
        finally:
            refused.unlink(missing_ok=True)

    def _restore(self) -> None:
        """Put the last good file back and reload onto it (best effort)."""
        if not self.layout.good_config.exists():
            self.layout.config.unlink(missing_ok=True)
            return
        shutil.copyfile(self.layout.good_config, self.layout.config)
        if self._idle() and not self.haproxy.running():
            return  # it served nothing: there is nothing to restart
        try:
            self.haproxy.reload()
        except HAProxyError:
            pass

    def resume(self) -> None:
        """At agent start: run the configuration we had, if HAProxy is not running."""
        with self.lock:
            if not self.haproxy.running() and self.wants_haproxy():
                self.haproxy.start()

    def remove(self, *, drain: float = 0.0) -> None:
        with self.lock:
            self.haproxy.stop(drain=drain)
            for path in (self.layout.config, self.layout.good_config, self.layout.version_file):
                path.unlink(missing_ok=True)
            tls_files.prune(self.layout.certs_dir)
