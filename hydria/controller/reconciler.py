"""Converge one load balancer to its desired generation.

``reconcile`` reads the desired state once, then makes idempotent ``ensure``
calls: the amphorae the topology needs exist and answer, each runs the
configuration rendered from the graph, retired amphorae are gone. Only then
does it write the outcome back, conditional on the generation it converged
(``hydria.db.convergence``). Any step may be interrupted; the next claim,
by this controller or another, repeats the steps and they find their work
done. Retries, backoff and leases live in the loop (``hydria.controller.loop``).
"""

from __future__ import annotations

import datetime as dt
import logging
import resource
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from hydria import __version__
from hydria.controller import tls
from hydria.controller.boot import boot_document, cert_expiry
from hydria.controller.known_agents import KnownAgents
from hydria.controller.plan import AmphoraPlan, AmphoraView, plan_amphorae
from hydria.controller.ports import plan_ports, vip_subnet_of
from hydria.controller.vrrp import push_vrrp
from hydria.core import constants as c
from hydria.core import graph
from hydria.core.errors import AmphoraUnreachable, PermanentError, TemporaryError
from hydria.core.ids import derived_id
from hydria.db import amphorae as amp_db
from hydria.db import convergence, ports
from hydria.db.engine import Database
from hydria.db.models import Amphora, AmphoraHealth, LoadBalancer, Subnet, utcnow
from hydria.db.snapshot import load_lb_row, to_graph
from hydria.drivers.amphora.base import AmphoraAgent, StaleConfig
from hydria.drivers.certs.base import CertificateAuthority
from hydria.drivers.compute.base import ComputeDriver, Fences, SignalsBoot
from hydria.drivers.network.base import NetworkDriver, SubnetPort
from hydria.drivers.network.names import inside_port
from hydria.drivers.secrets.base import SecretStore
from hydria.render import haproxy as haproxy_render
from hydria.render.haproxy import render
from hydria.render.limits import max_connections_for
from hydria.render.nft import render_nft, runs_on_nft
from hydria.render.nginx import NginxOptions, render_udp
from hydria.wire.agent_api import DEFAULT_AGENT_PORT, LogOffload

log = logging.getLogger("hydria.controller")


@dataclass(frozen=True)
class Outcome:
    kind: Literal["done", "retry", "failed", "superseded", "gone"]
    reason: str = ""
    retry_after: float = 0.0
    # the generation this attempt worked on: a "superseded" whose load balancer is
    # still at it made no progress, and the loop retries it with backoff
    generation: int | None = None


@dataclass(frozen=True)
class ReconcilerOptions:
    mgmt_start: str
    mgmt_end: str
    agent_port: int = DEFAULT_AGENT_PORT
    boot_timeout: float = 30.0
    cert_days: int = 365
    # the deployment's heartbeat key: each amphora gets a key derived from it
    # (``hydria.wire.heartbeat_keys``), never the key itself
    heartbeat_key: bytes = b""
    controller_addresses: tuple[str, ...] = ()
    heartbeat_interval: float = 10.0
    max_connections: int = 0  # 0: derive from this host's open-file limit
    # an amphora retired while it still serves (an operator's failover) lets its
    # requests in flight finish for up to this long; a dead one costs nothing
    retire_drain_seconds: float = 5.0
    logs: LogOffload = LogOffload()
    # operator access: the public key every amphora authorises ("" = no sshd)
    ssh_user: str = "ubuntu"
    ssh_public_key: str = ""
    # ACTIVE_STANDBY: keepalived's VRRP advertisement interval (VRRPv3: >= 0.01 s)
    vrrp_advert_int: float = 0.05
    # what the amphora API shows as the amphora's compute flavor and zone
    compute_flavor: str = "local"
    compute_zone: str = "local"


class Reconciler:
    def __init__(
        self,
        db: Database,
        compute: ComputeDriver,
        network: NetworkDriver,
        agent: AmphoraAgent,
        ca: CertificateAuthority,
        options: ReconcilerOptions,
        *,
        secrets: SecretStore | None = None,
    ) -> None:
        self.db = db
        self.secrets = secrets
        self.compute = compute
        self.network = network
        self.agent = agent
        self.ca = ca
        self.options = options
        # /1.0/info answers, kept current by our pushes: no round trip per change
        self.known = KnownAgents()
        if options.max_connections:
            self._maxconn = options.max_connections
        else:
            self._maxconn = max_connections_for(resource.getrlimit(resource.RLIMIT_NOFILE)[0])

    # -- entry point --------------------------------------------------------

    def warm_up(self) -> None:
        """What the first convergence after a start would otherwise pay for: the
        HAProxy template compiled, the snapshot's queries compiled and cached."""
        haproxy_render.warm()
        with self.db.read() as session:
            load_lb_row(session, "")
            amp_db.live_amphorae(session, "")

    def reconcile(
        self, lb_id: str, checkpoint: Callable[[], None] = lambda: None, *, owner: str | None = None
    ) -> Outcome:
        """Converge ``lb_id``; ``checkpoint`` raises if our lease was lost."""
        with self.db.read() as session:  # no write lock: API writes go on meanwhile
            row = load_lb_row(session, lb_id)
            if row is None or row.provisioning_status == c.DELETED:
                return Outcome("gone")
            generation = row.generation
            status = row.provisioning_status
            desired = to_graph(row)
            views = [
                AmphoraView(a.id, a.role, a.failover_requested)
                for a in amp_db.live_amphorae(session, lb_id)
            ]
            vip_subnet = vip_subnet_of(session, row.vip_subnet_id)
        deleting = status == c.PENDING_DELETE
        # TLS material first: a reference that no longer reads fails before any step
        desired, tls_files = (desired, {}) if deleting else tls.resolve(desired, self.secrets)
        plan = plan_amphorae(desired.topology, views, deleting=deleting)
        log.debug(
            "event=plan lb=%s gen=%s create=%s keep=%s retire=%s",
            lb_id,
            generation,
            plan.create_roles,
            plan.keep,
            plan.retire,
        )
        failing = failovers(plan, views, deleting=deleting)
        if failing:
            if desired.topology == c.TOPOLOGY_ACTIVE_STANDBY and isinstance(self.compute, Fences):
                # before anything else: a half-dead MASTER must not keep answering
                # ARP for the VIP beside the survivor that took it over
                for amp_id in failing:
                    self.compute.fence(amp_id)
                    log.warning("event=amphora_fenced lb=%s amphora=%s", lb_id, amp_id)
            with self.db.session() as session:
                convergence.begin_failover(session, lb_id)
            log.warning("event=failover_start lb=%s amphorae=%s", lb_id, ",".join(failing))

        serving: list[str] = list(plan.keep)
        for role in plan.create_roles:
            with self.db.session() as session:
                # a warm spare first (its agent already runs), else a new row
                amp = amp_db.claim_spare(session, lb_id, role)
                spare = amp is not None
                if amp is None:
                    amp = amp_db.new_amphora(
                        session,
                        lb_id,
                        role,
                        mgmt_start=self.options.mgmt_start,
                        mgmt_end=self.options.mgmt_end,
                    )
                serving.append(amp.id)
            log.info(
                "event=amphora_planned lb=%s amphora=%s role=%s spare=%s",
                lb_id,
                amp.id,
                role,
                spare,
            )
            checkpoint()

        try:
            infos = {}
            peers = (
                self._haproxy_peers(serving, vip_subnet)
                if desired.topology == c.TOPOLOGY_ACTIVE_STANDBY
                else ()
            )
            # a rebuilt peer has a new address: the survivor's ``peers`` section is
            # rendered again from the live pair, at the same generation
            repeer = set(plan.keep) if peers and (failing or plan.create_roles) else set()
            for amp_id in serving:
                infos[amp_id] = self._serve(
                    amp_id,
                    desired,
                    generation,
                    vip_subnet,
                    tls_files,
                    peers=peers,
                    rerender=amp_id in repeer,
                )
                checkpoint()
            if desired.topology == c.TOPOLOGY_ACTIVE_STANDBY:
                push_vrrp(
                    self.db,
                    self.agent,
                    desired,
                    vip_subnet,
                    infos,
                    agent_port=self.options.agent_port,
                    advert_int=self.options.vrrp_advert_int,
                    known=self.known,
                )
        except Superseded as exc:
            return Outcome("superseded", str(exc), generation=generation)

        for amp_id in plan.retire:
            self._retire(
                amp_id,
                desired.vip_address,
                drain=0.0 if deleting else self.options.retire_drain_seconds,
            )
            checkpoint()
        if failing:
            log.warning(
                "event=failover_done lb=%s replaced=%s by=%s",
                lb_id,
                ",".join(failing),
                ",".join(serving),
            )

        with self.db.session() as session:
            ok = convergence.mark_converged(session, lb_id, generation, owner=owner)
            if ok:  # a step that failed on them before is history now
                amp_db.clear_errors(session, serving)
        return Outcome("done") if ok else Outcome("superseded", generation=generation)

    # -- steps ---------------------------------------------------------------

    def _amphora(self, amp_id: str) -> Amphora:
        with self.db.read() as session:
            amp = session.get(Amphora, amp_id)
            assert amp is not None and amp.lb_network_ip is not None
            return amp

    def boot_spare(self) -> str:
        """Boot one spare amphora (no load balancer yet) and leave it READY."""
        with self.db.session() as session:
            amp = amp_db.new_spare(
                session, mgmt_start=self.options.mgmt_start, mgmt_end=self.options.mgmt_end
            )
        log.info("event=spare_planned amphora=%s", amp.id)
        self._ensure_running(amp, booted=c.AMPHORA_READY)
        return amp.id

    def _ensure_running(
        self, amp: Amphora, *, booted: str = c.AMPHORA_ALLOCATED
    ) -> dict[str, object]:
        """Start the amphora unless it runs; wait until its agent answers.

        A running amphora counts only once its row has its compute id: one
        without (a controller died between starting it and recording it) is
        booted again, so its row ends ALLOCATED with a compute id and a
        certificate this controller knows, not BOOTING forever."""
        ip = amp.lb_network_ip or ""
        if amp.compute_id is not None and self.compute.is_running(amp.id):
            known = self.known.get(amp.id)  # heard from a moment ago (known_agents.py)
            if known is not None:
                return known
            try:
                return self.known.heard(amp.id, self.agent.info(ip, self.options.agent_port))
            except AmphoraUnreachable:
                pass  # alive but not answering yet (or wedged): boot it again below
        self.known.forget(amp.id)
        boot, cert = boot_document(self.options, self.ca, amp.id, ip)
        compute_id = self.compute.create(boot)
        started = time.monotonic()
        if isinstance(self.compute, SignalsBoot):
            # asleep until the agent says it listens, then one ``info`` answers: polling
            # a booting agent cost a worker up to its last back-off step per create
            self.compute.wait_booted(amp.id, self.options.boot_timeout)
        left = max(self.options.boot_timeout - (time.monotonic() - started), 1.0)
        info = self.agent.wait_ready(ip, self.options.agent_port, timeout=left)
        self.known.heard(amp.id, info)
        with self.db.session() as session:
            row = session.get(Amphora, amp.id)
            if row is not None:
                row.compute_id = compute_id
                # what Nova and Glance would have said: the image is this Hydria's build
                row.image_id = derived_id("image", f"hydria-amphora-{__version__}")
                row.compute_flavor = self.options.compute_flavor
                row.cached_zone = self.options.compute_zone
                row.cert_expiration = cert_expiry(cert)
                if row.status == c.AMPHORA_BOOTING:
                    row.status = booted
                row.updated_at = utcnow()
        log.info("event=amphora_up amphora=%s ip=%s", amp.id, ip)
        return info

    def _haproxy_peers(self, serving: list[str], vip_subnet: SubnetPort) -> tuple[graph.Peer, ...]:
        """The pair's HAProxy peers: each amphora by role, at its VIP-subnet address
        (reserved here if its port is not plugged yet, as ``_plug_ports`` would)."""
        if not self.network.plugs_ports or not vip_subnet.subnet_id:
            return ()
        with self.db.session() as session:
            subnet = session.get(Subnet, vip_subnet.subnet_id)
            if subnet is None:
                return ()
            found = []
            for amp_id in serving:
                row = session.get(Amphora, amp_id)
                if row is not None:
                    found.append(
                        graph.Peer(
                            row.role or c.ROLE_BACKUP,
                            ports.port_address(session, amp_id, subnet),
                            amp_id,
                        )
                    )
        return tuple(found)

    def _serve(
        self,
        amp_id: str,
        desired: graph.LoadBalancer,
        generation: int,
        vip_subnet: SubnetPort,
        tls_files: dict[str, str] | None = None,
        *,
        peers: tuple[graph.Peer, ...] = (),
        rerender: bool = False,
    ) -> dict[str, object]:
        """``_ensure_serving``, and when it fails, why, on the amphora's row and in the log
        (an operator reads it in the amphora API), before the loop retries or gives up."""
        try:
            return self._ensure_serving(
                amp_id,
                desired,
                generation,
                vip_subnet,
                tls_files or {},
                peers=peers,
                rerender=rerender,
            )
        except (TemporaryError, PermanentError, Superseded) as exc:
            self.known.forget(amp_id)  # the retry asks the agent afresh
            if isinstance(exc, Superseded):
                raise
            reason = f"{type(exc).__name__}: {exc}"
            log.error(
                "event=amphora_step_failed amphora=%s lb=%s generation=%s reason=%r",
                amp_id,
                desired.id,
                generation,
                reason,
            )
            with self.db.session() as session:
                amp_db.record_error(session, amp_id, reason)
            raise

    def _ensure_serving(
        self,
        amp_id: str,
        desired: graph.LoadBalancer,
        generation: int,
        vip_subnet: SubnetPort,
        tls_files: dict[str, str],
        *,
        peers: tuple[graph.Peer, ...] = (),
        rerender: bool = False,
    ) -> dict[str, object]:
        """The amphora runs, is plugged, and runs ``generation``; ``rerender``: push
        it even if it runs that generation already (its peers changed, the agent
        reloads only if the text did)."""
        amp = self._amphora(amp_id)
        info = self._ensure_running(amp)
        if info.get("config_version") == generation and not rerender:
            self._plug_ports(amp.id, desired, vip_subnet)
            return info
        if self.network.plugs_ports and info.get("binds_any_address"):
            # HAProxy may bind the VIP before it is there: plug while it starts
            # (each is a few processes; on a busy host, the longer half of a create)
            plugged = _in_thread(lambda: self._plug_ports(amp.id, desired, vip_subnet))
            try:
                self._push(amp, desired, generation, info, tls_files, peers)
            finally:
                plugged()
            return info
        self._plug_ports(amp.id, desired, vip_subnet)
        self._push(amp, desired, generation, info, tls_files, peers)
        return info

    def _push(
        self,
        amp: Amphora,
        desired: graph.LoadBalancer,
        generation: int,
        info: dict[str, object],
        tls_files: dict[str, str],
        peers: tuple[graph.Peer, ...],
    ) -> None:
        """Render the amphora's configuration (HAProxy, UDP) and put it there."""
        logs = self.options.logs
        local = (
            ()
            if logs.disable_local_log_storage or not info.get("log_socket")
            else (str(info["log_socket"]),)
        )
        tcp = logs.log_protocol == "TCP"
        options = graph.RenderOptions(
            stats_socket=str(info.get("stats_socket") or "/var/run/hydria/haproxy.sock"),
            ping_check=str(info.get("ping_check") or graph.RenderOptions.ping_check),
            max_connections=self._maxconn,
            log_targets=(() if tcp else logs.tenant_log_targets) + local,
            log_tcp_targets=logs.tenant_log_targets if tcp else (),
            log_format=logs.user_log_format,
            connection_logging=logs.connection_logging,
            tls_dir=str(info.get("tls_material_dir") or graph.RenderOptions.tls_dir),
        )
        text = render(
            desired,
            graph.Amphora(
                id=amp.id,
                lb_network_ip=amp.lb_network_ip or "",
                role=amp.role or c.ROLE_STANDALONE,
                vrrp_priority=amp.vrrp_priority,
                peers=peers,
            ),
            options,
            version=generation,
        )
        if runs_on_nft(desired, info.get("udp_engines")):
            udp = render_nft(desired, version=generation)
        else:  # nginx: the local driver, LEAST_CONNECTIONS, IPv6 (docs/udp.md)
            udp = render_udp(
                desired,
                NginxOptions(
                    run_dir=str(info.get("udp_dir") or "/var/lib/hydria/udp"),
                    stream_module=str(info["udp_stream_module"])
                    if info.get("udp_stream_module")
                    else None,
                    max_sessions=self._maxconn,
                ),
                version=generation,
            )
        try:
            # UDP first: an agent at this generation in config_version has both parts
            if udp.text is not None or info.get("udp_config_version") is not None:
                self.agent.put_udp(
                    amp.lb_network_ip or "", self.options.agent_port, udp.to_dict(), generation
                )
                self.known.update(amp.id, udp_config_version=generation)
            if tls_files:  # the material before the configuration that names it
                self.agent.put_tls(amp.lb_network_ip or "", self.options.agent_port, tls_files)
            self.agent.put_config(
                amp.lb_network_ip or "", self.options.agent_port, text, generation
            )
            self.known.update(amp.id, config_version=generation)
        except StaleConfig:
            # Someone converged a newer generation already; ours is history.
            raise Superseded(f"amphora {amp.id} runs a newer configuration") from None
        log.info("event=config_pushed amphora=%s generation=%s", amp.id, generation)

    def _plug_ports(self, amp_id: str, desired: graph.LoadBalancer, vip_subnet: SubnetPort) -> None:
        """The VIP port and one port per member subnet (Octavia's plug network).

        Drivers that plug real ports get an address of the amphora's own on each
        subnet (reserved here, before the plug, so a retry finds the same one);
        ports on subnets no member uses any more are unplugged and their
        addresses freed.
        """
        if not self.network.plugs_ports:
            self.network.plug_vip(amp_id, desired.vip_address, vip_subnet)
            vip = desired.vip_address or None
            with self.db.read() as session:  # written once, read at every change
                lb_row = session.get(LoadBalancer, desired.id)
                port_id = lb_row.vip_port_id if lb_row else None
                if amp_db.vip_ports_recorded(session, amp_id, vip_address=vip, vip_port_id=port_id):
                    return
            with self.db.session() as session:
                amp_db.record_vip_ports(session, amp_id, vip_address=vip, vip_port_id=port_id)
            return
        with self.db.session() as session:
            lb_row = session.get(LoadBalancer, desired.id)
            plan = plan_ports(session, amp_id, lb_row, vip_subnet)
            amp_db.record_vip_ports(
                session,
                amp_id,
                vip_address=desired.vip_address or None,
                vip_port_id=lb_row.vip_port_id if lb_row else None,
                vrrp_ip=plan.vip.address or None,
            )
            row = session.get(Amphora, amp_id)
            if row is not None and plan.vip.address:
                row.vrrp_interface = inside_port(plan.vip.subnet_id)
        hold = desired.topology != c.TOPOLOGY_ACTIVE_STANDBY
        # the members' ports first: the VIP draws traffic, which must find its members
        # (HAProxy, which may run before the VIP is plugged, waits 1 s before it tries
        # a failed connection to a server again)
        self.network.plug_members(
            amp_id,
            [*plan.members, *(p for _ip, p in plan.extra)],
            vip_subnet_id=plan.vip.subnet_id,
        )
        self.network.plug_vip(amp_id, desired.vip_address, plan.vip, hold_vip=hold)
        for address, port in plan.extra:
            self.network.plug_vip(amp_id, address, port, hold_vip=hold)
        with self.db.session() as session:
            ports.release_other_ports(session, amp_id, plan.subnet_ids())

    def _retire(self, amp_id: str, vip_address: str, *, drain: float = 0.0) -> None:
        if drain > 0:
            self._drain(amp_id, drain)
        self.network.unplug_vip(amp_id, vip_address)
        self.compute.delete(amp_id)
        self.known.forget(amp_id)
        with self.db.session() as session:
            amp_db.mark_amphora_deleted(session, amp_id)
        log.info("event=amphora_deleted amphora=%s", amp_id)

    def _drain(self, amp_id: str, seconds: float) -> None:
        """Best effort: a live amphora stops accepting and finishes what it serves.

        Its replacement already serves the VIP, so new connections go there. An
        amphora whose heartbeats stopped (the usual failover: it died or froze) is
        not asked at all, so a failover never waits on it.
        """
        # three intervals, and never less than the health writer's batching needs
        silence = max(3 * self.options.heartbeat_interval, self.options.heartbeat_interval + 2)
        recent = utcnow() - dt.timedelta(seconds=silence)
        with self.db.session() as session:
            amp = session.get(Amphora, amp_id)
            ip = amp.lb_network_ip if amp is not None else None
            health = session.get(AmphoraHealth, amp_id)
            alive = health is not None and health.last_update >= recent
        if not ip or not alive:
            return
        log.info("event=amphora_draining amphora=%s up_to=%.0fs", amp_id, seconds)
        try:
            self.agent.delete_config(
                ip, self.options.agent_port, drain=seconds, connect_timeout=2.0
            )
            log.info("event=amphora_drained amphora=%s", amp_id)
        except AmphoraUnreachable as exc:
            log.info("event=amphora_not_drained amphora=%s reason=%s", amp_id, exc)


def _in_thread(work: Callable[[], None]) -> Callable[[], None]:
    """Start ``work`` in a thread of its own; the returned call waits for it and
    raises what it raised (a plug that failed fails the step, as it would alone)."""
    failed: list[BaseException] = []

    def run() -> None:
        try:
            work()
        except BaseException as exc:  # handed to the caller's thread
            failed.append(exc)

    thread = threading.Thread(target=run, name="plug", daemon=True)
    thread.start()

    def join() -> None:
        thread.join()
        if failed:
            raise failed[0]

    return join


def failovers(plan: AmphoraPlan, views: list[AmphoraView], *, deleting: bool) -> tuple[str, ...]:
    """Amphorae this plan replaces because a failover was asked for (none when deleting)."""
    if deleting:
        return ()
    marked = {v.id for v in views if v.failover_requested}
    return tuple(i for i in plan.retire if i in marked)


class Superseded(Exception):
    """A newer generation is already live; this attempt has nothing to add."""
