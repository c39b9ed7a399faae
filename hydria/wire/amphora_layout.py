"""Where an amphora keeps its files: the folder the compute driver makes and
the agent lives in. Both sides read it from here so they never disagree.

    <amphora dir>/
        boot.json        what the amphora was given (written by the compute driver)
        agent.lock       held (flock) by the one running agent: a second one exits
        agent.pid        the agent process (written by the agent once it holds the lock)
        agent.log        the agent's and HAProxy's start-up output
        tls/             the agent's certificate, key and the controller CA
        certs/           listener and pool TLS material (0700; files 0600, named by
                         their SHA-256), pushed over the agent API, pruned when no
                         running configuration names them
        haproxy.cfg      the running configuration
        haproxy.cfg.good the last configuration that ran
        version.json     {"version": N}: the generation haproxy.cfg came from
        haproxy.pid      HAProxy's master process
        counters.json    listener counters of earlier HAProxy workers (agent.counters)
        ping-check       the PING health monitor's script (HAProxy's external check),
                         installed by the agent at start
        run/             HAProxy's master and stats sockets (see ``socket_dir``)
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

# A Unix socket path must fit in 108 bytes (sun_path); leave room for the name.
_MAX_SOCKET_DIR = 90


@dataclass(frozen=True)
class AmphoraLayout:
    root: Path

    @property
    def boot_file(self) -> Path:
        return self.root / "boot.json"

    @property
    def agent_lock(self) -> Path:
        return self.root / "agent.lock"

    @property
    def agent_pid(self) -> Path:
        return self.root / "agent.pid"

    @property
    def agent_log(self) -> Path:
        return self.root / "agent.log"

    @property
    def tls_dir(self) -> Path:
        return self.root / "tls"

    @property
    def certs_dir(self) -> Path:
        return self.root / "certs"

    @property
    def config(self) -> Path:
        return self.root / "haproxy.cfg"

    @property
    def good_config(self) -> Path:
        return self.root / "haproxy.cfg.good"

    @property
    def version_file(self) -> Path:
        return self.root / "version.json"

    @property
    def haproxy_pid(self) -> Path:
        return self.root / "haproxy.pid"

    @property
    def counters_file(self) -> Path:
        return self.root / "counters.json"

    @property
    def ping_check(self) -> Path:
        return self.root / "ping-check"

    @property
    def socket_dir(self) -> Path:
        """``run/`` beside the rest, or a short folder under /tmp if that path
        would be too long for a Unix socket (deep test or home folders)."""
        here = self.root / "run"
        if len(str(here)) <= _MAX_SOCKET_DIR:
            return here
        import tempfile  # only here: it (and random) would cost every agent 0.2 MB

        digest = hashlib.sha256(str(self.root).encode()).hexdigest()[:16]
        return Path(tempfile.gettempdir()) / "hydria-sock" / digest

    @property
    def master_socket(self) -> Path:
        return self.socket_dir / "master.sock"

    @property
    def stats_socket(self) -> Path:
        return self.socket_dir / "stats.sock"
