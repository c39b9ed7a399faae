"""``hydria amphora-agent``: the process at the heart of an amphora.

It reads its boot file (what Nova's config drive gives an Octavia amphora),
resumes the configuration it last ran, serves the agent API with mutual TLS on
its management address, and supervises HAProxy: if the master dies while a
configuration is in place, it is started again. SIGTERM stops HAProxy and the
agent, as shutting down a VM would.
"""

from __future__ import annotations

import dataclasses
import fcntl
import logging
import os
import select
import signal
import sys
import threading
import time
from pathlib import Path
from typing import IO

from hydria.agent.config_store import ConfigStore
from hydria.agent.haproxy import HAProxyError, HAProxyProcess, private_dir
from hydria.agent.heartbeat import SeqCounter, heartbeat_loop, seq_counter
from hydria.agent.keepalived import Keepalived
from hydria.agent.logs import LocalLogReceiver, admin_handlers
from hydria.agent.nft import NftTable, own_instance
from hydria.agent.prometheus import MetricsProxy
from hydria.agent.server import AgentServer, AgentState, server_tls_context
from hydria.agent.udp import UdpStore
from hydria.agent.wakeups import Waker
from hydria.core.prometheus import sockets as prometheus_sockets
from hydria.wire.agent_api import READY_FD_ENV, AmphoraBoot, boot_from_json, boot_to_json
from hydria.wire.amphora_layout import AmphoraLayout

log = logging.getLogger("hydria.agent")


def write_tls(layout: AmphoraLayout, boot: AmphoraBoot) -> tuple[Path, Path, Path]:
    layout.tls_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    paths = (layout.tls_dir / "agent.pem", layout.tls_dir / "agent.key", layout.tls_dir / "ca.pem")
    for path, text in zip(
        paths, (boot.server_cert_pem, boot.server_key_pem, boot.ca_cert_pem), strict=True
    ):
        fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        path.with_suffix(".tmp").replace(path)
    return paths


def install_ping_check(layout: AmphoraLayout) -> Path:
    """Put the PING monitor's script in the amphora folder (replaced at every start,
    so an upgraded agent brings its own), executable by this user only.

    HAProxy runs it as an external check; a configuration names it by the path
    the agent reports in ``/1.0/info``.
    """
    # beside this module in the installed package (importlib.resources would find it
    # in a zip too, but costs every agent of a fleet 0.6 MB of imports)
    script = Path(__file__).with_name("scripts") / "ping-check"
    tmp = layout.ping_check.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o700)
    with os.fdopen(fd, "wb") as fh:
        fh.write(script.read_bytes())
    os.chmod(tmp, 0o700)  # an older tmp may have had another mode
    tmp.replace(layout.ping_check)
    return layout.ping_check


def remember_cert(layout: AmphoraLayout, cert_pem: str, key_pem: str) -> None:
    """Keep a rotated certificate in the boot file, so a restart does not undo it."""
    boot = boot_from_json(layout.boot_file.read_text())
    boot = dataclasses.replace(boot, server_cert_pem=cert_pem, server_key_pem=key_pem)
    tmp = layout.boot_file.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(boot_to_json(boot))
    tmp.replace(layout.boot_file)


def wait_exit(pids: list[int], timeout: float, *, waker: Waker | None = None) -> None:
    """Return when one of ``pids`` exits, ``waker`` is woken or ``timeout`` passes,
    whichever is first.

    A pidfd (Linux 5.3+) becomes readable when the process exits, so an idle
    agent sleeps here instead of reading pidfiles every second: a fleet of
    idle amphorae costs no CPU for supervision. Without a pidfd (or a pid),
    this is a plain sleep, i.e. polling.
    """
    woken = [waker.fileno()] if waker is not None else []
    fds: list[int] = []
    if pids and hasattr(os, "pidfd_open"):
        try:
            for pid in pids:
                fds.append(os.pidfd_open(pid))
        except OSError:
            for fd in fds:
                os.close(fd)
            return  # gone already (or not ours to watch): look at once
    try:
        select.select(fds + woken, [], [], timeout)
    finally:
        for fd in fds:
            os.close(fd)


def supervise_vrrp(
    vrrp: Keepalived,
    store: ConfigStore,
    stop: threading.Event,
    interval: float = 1.0,
    *,
    idle_check: float = 30.0,
) -> None:
    """Bring keepalived back if it died while it has a configuration (ACTIVE_STANDBY).

    It sleeps on keepalived's pid while it runs, and on ``vrrp.started`` while it
    does not (an amphora without VRRP, the usual case, never wakes for it);
    ``idle_check`` is the fallback look, ``interval`` the look while it should run.
    """
    while not stop.is_set():
        pid = vrrp.pid()
        missing = pid is None and vrrp.configured()
        wait_exit(
            [] if pid is None else [pid], interval if missing else idle_check, waker=vrrp.started
        )
        if vrrp.started is not None:
            vrrp.started.clear()
        if stop.is_set():
            return
        if not vrrp.configured() or vrrp.running() or not store.lock.acquire(timeout=0):
            continue
        try:
            if not stop.is_set():
                log.warning("event=keepalived_restart")
                vrrp.start()
        except Exception:  # never let the supervisor die: try again next round
            log.exception("event=keepalived_restart_failed")
        finally:
            store.lock.release()


def supervise(
    store: ConfigStore,
    stop: threading.Event,
    interval: float = 1.0,
    *,
    idle_check: float = 30.0,
    udp: UdpStore | None = None,
) -> None:
    """Bring HAProxy (and nginx, for UDP) back if it died under a configuration we hold.

    While the masters run, the supervisor waits for one of them to exit (or
    ``idle_check`` seconds, a fallback look, which also finds an nginx started
    during the wait); while one that should run does not, it looks every
    ``interval``. An amphora with nothing to run (a spare, a load balancer
    without listeners) sleeps too, until ``store.haproxy.started`` wakes it.
    A reload keeps each master's pid (HAProxy re-executes itself, nginx takes SIGHUP).
    """
    while not stop.is_set():
        haproxy_pid = store.haproxy.master_pid()
        nginx_pid = udp.watch_pid() if udp is not None else None
        missing = (haproxy_pid is None and store.wants_haproxy()) or (
            udp is not None and udp.has_config() and not udp.running()
        )
        wait_exit(
            [p for p in (haproxy_pid, nginx_pid) if p is not None],
            interval if missing else idle_check,
            waker=store.haproxy.started,
        )
        if store.haproxy.started is not None:
            store.haproxy.started.clear()
        if stop.is_set():
            return
        if udp is not None and udp.has_config() and not udp.running():
            log.warning("event=udp_engine_restart reason=not_running")
            try:
                udp.resume()
            except Exception:  # never let the supervisor die: try again next round
                log.exception("event=udp_engine_restart_failed")
        if not store.lock.acquire(timeout=0):
            stop.wait(interval)
            continue  # a change is in progress; it starts HAProxy itself
        try:
            if stop.is_set():
                return
            if not store.haproxy.running() and store.wants_haproxy():  # cheap check first
                log.warning("event=haproxy_restart reason=master_gone")
                store.haproxy.start()
        except HAProxyError as exc:
            log.error("event=haproxy_restart_failed reason=%s details=%s", exc, exc.details)
        except Exception:  # never let the supervisor die: try again next round
            log.exception("event=haproxy_restart_failed")
        finally:
            store.lock.release()


def _start_metrics_proxy(layout: AmphoraLayout, state: AgentState) -> MetricsProxy | None:
    """PROMETHEUS listeners' scrapes under Octavia's names (HAProxy's backend points here).
    The agent's own counters are not in them: a tenant scrapes this, and the refused
    handshakes on the management port are the operator's (GET /1.0/metrics)."""
    exporter, proxy = prometheus_sockets(str(layout.stats_socket))
    try:
        private_dir(layout.socket_dir)
        return MetricsProxy(proxy, exporter).start()
    except OSError as exc:
        log.error("event=metrics_proxy_failed reason=%s", exc)
        return None


def run(folder: Path) -> int:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    layout = AmphoraLayout(folder.resolve())
    lock = hold_agent_lock(layout)
    if lock is None:
        log.info("event=agent_exit reason=another_agent_runs dir=%s", layout.root)
        return 0
    boot = boot_from_json(layout.boot_file.read_text())
    for handler in admin_handlers(boot, layout.root):
        logging.getLogger().addHandler(handler)
    flow_logs = None
    if not boot.disable_local_log_storage:
        try:
            private_dir(layout.socket_dir)
            flow_logs = LocalLogReceiver(
                layout.socket_dir / "log.sock", layout.root / "logs" / "haproxy.log"
            )
        except (OSError, HAProxyError) as exc:
            log.error("event=flow_log_receiver_failed reason=%s", exc)
    cert, key, ca = write_tls(layout, boot)
    install_ping_check(layout)
    haproxy = HAProxyProcess(layout, started=Waker())
    store = ConfigStore(layout, haproxy)
    # nftables only in an instance of its own (netns driver): docs/udp.md
    udp = UdpStore(
        layout.root / "udp", nft=NftTable(layout.root / "udp", own_network=own_instance())
    )
    try:
        store.resume()
        udp.resume()
    except HAProxyError as exc:
        log.error("event=resume_failed reason=%s details=%s", exc, exc.details)

    vrrp = Keepalived(layout, started=Waker())
    seqs = _heartbeat_seqs(boot, store)
    server = AgentServer(
        (boot.lb_network_ip, boot.agent_port),
        server_tls_context(cert, key, ca),
        AgentState(
            boot.amphora_id,
            store,
            tls_paths=(cert, key, ca),
            on_rotated=lambda c, k: remember_cert(layout, c, k),
            vrrp=vrrp,
            heartbeat_seq=None if seqs is None else seqs.last,
            udp=udp,
            log_socket=None if flow_logs is None else str(flow_logs.socket_path),
        ),
    )
    stop = threading.Event()

    def on_signal(signum: int, _frame: object) -> None:
        log.info("event=agent_stop signal=%s", signum)
        stop.set()
        threading.Thread(target=server.shutdown, daemon=True).start()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    threading.Thread(
        target=supervise, args=(store, stop), kwargs={"udp": udp}, daemon=True, name="supervisor"
    ).start()
    threading.Thread(
        target=supervise_vrrp, args=(vrrp, store, stop), daemon=True, name="vrrp-supervisor"
    ).start()
    extra = _start_extras(boot, store, stop, seqs, udp)
    metrics = _start_metrics_proxy(layout, server.state)
    log.info(
        "event=agent_start amphora=%s listen=%s:%s",
        boot.amphora_id,
        boot.lb_network_ip,
        boot.agent_port,
    )
    tell_ready()  # it listens: a connection now waits in the backlog for serve_forever
    try:
        server.serve_forever()
    finally:
        stop.set()
        for thread in extra:
            thread.join(timeout=2)
        server.server_close()
        if metrics is not None:
            metrics.stop()
        with store.lock:  # after any change or restart in progress, never before
            vrrp.stop()
            haproxy.stop()
        udp.stop()
        if flow_logs is not None:
            flow_logs.close()
        lock.close()
    return 0


def tell_ready() -> None:
    """Write one byte to the pipe the compute driver named (``READY_FD_ENV``), once."""
    fd = os.environ.pop(READY_FD_ENV, "")
    if not fd.isdigit():
        return
    try:
        os.write(int(fd), b"1")
    except OSError:  # the driver gave up waiting (or is gone): nothing to tell
        pass
    finally:
        try:
            os.close(int(fd))
        except OSError:
            pass


def hold_agent_lock(layout: AmphoraLayout) -> IO[str] | None:
    """One agent per amphora: hold ``agent.lock`` for life, or None if another does.

    A controller that died between spawning an agent and recording it may spawn a
    second one; the loser of this lock exits at once instead of fighting over the
    address and HAProxy.
    """
    fh = open(layout.agent_lock, "a+")  # noqa: SIM115 - held for the process's life
    for attempt in range(20):  # a compute driver's probe may hold it for an instant
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if attempt == 19:
                fh.close()
                return None
            time.sleep(0.025)
    tmp = layout.agent_pid.with_suffix(".tmp")
    tmp.write_text(str(os.getpid()))
    tmp.replace(layout.agent_pid)
    return fh


def _heartbeat_seqs(boot: AmphoraBoot, store: ConfigStore) -> SeqCounter | None:
    """The heartbeat sequence counter, if this amphora sends heartbeats."""
    if not (boot.controller_addresses and boot.heartbeat_key):
        return None
    return seq_counter(store)


def _start_extras(
    boot: AmphoraBoot,
    store: ConfigStore,
    stop: threading.Event,
    seqs: SeqCounter | None,
    udp: UdpStore | None = None,
) -> list[threading.Thread]:
    """Threads that only some amphorae run (heartbeats when controllers are known)."""
    threads: list[threading.Thread] = []
    if seqs is not None:
        t = threading.Thread(
            target=heartbeat_loop,
            args=(boot, store, stop, seqs),
            kwargs={"udp": udp},
            daemon=True,
            name="heartbeat",
        )
        t.start()
        threads.append(t)
    return threads
