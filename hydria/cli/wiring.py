"""The one place where settings become objects: drivers chosen by name,
dependencies built once and handed down. Services never read settings."""

from __future__ import annotations

import logging
import os
import sys
from typing import TYPE_CHECKING, Any

from hydria.config import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

    from hydria.controller.loop import ControllerLoop
    from hydria.controller.reconciler import Reconciler
    from hydria.db.engine import Database
    from hydria.db.notify import InProcessNotifier, Notifier
    from hydria.db.settle import SettleSignal, SettleWait, SettleWatch
    from hydria.drivers.amphora.base import AmphoraAgent
    from hydria.drivers.certs.local_ca import ControllerCA
    from hydria.drivers.compute.base import ComputeDriver
    from hydria.drivers.network.base import NetworkDriver
    from hydria.drivers.network.netns import ManagementNet
    from hydria.drivers.secrets.base import SecretStore
    from hydria.health.service import HealthService
    from hydria.housekeeping.service import Housekeeper
    from hydria.housekeeping.tls_expiry import TlsExpiryWatch


def setup_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    for noisy in ("httpx", "httpcore", "uvicorn.access", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def state_dir(settings: Settings) -> None:
    """The state folder, 0700 (tightened if it was looser)."""
    from hydria.core.private_files import ensure_private_dir

    ensure_private_dir(settings.state_dir)


def heartbeat_key(settings: Settings, *, create: bool = False) -> bytes:
    """The deployment's heartbeat key: ``HYDRIA_HEARTBEAT_KEY``, else the file
    ``HYDRIA_HEARTBEAT_KEY_FILE``, else ``<state_dir>/heartbeat.key``; that one is
    generated (32 random bytes, hex, 0600) when ``create`` (``hydria up``,
    ``hydria certs init``). Anything missing, short or readable by others stops
    the process with a message that names the setting or the file."""
    import secrets

    from hydria.core.private_files import InsecureFile, read_private, write_private
    from hydria.wire.heartbeat_keys import MIN_DEPLOYMENT_KEY_BYTES

    log = logging.getLogger("hydria")
    if settings.heartbeat_key:
        key, source = settings.heartbeat_key.encode(), "HYDRIA_HEARTBEAT_KEY"
    else:
        path = settings.heartbeat_key_file or settings.default_heartbeat_key_file
        named = f"HYDRIA_HEARTBEAT_KEY_FILE ({path})" if settings.heartbeat_key_file else str(path)
        if not path.exists():
            if not create or settings.heartbeat_key_file:
                raise SystemExit(
                    f"no heartbeat key: {named} does not exist; set HYDRIA_HEARTBEAT_KEY or "
                    "HYDRIA_HEARTBEAT_KEY_FILE (the same key on every controller and health "
                    f"manager), or create {settings.default_heartbeat_key_file} with "
                    "`hydria certs init` and copy it to each host"
                )
            state_dir(settings)
            write_private(path, secrets.token_hex(32).encode() + b"\n")
            log.info("event=heartbeat_key_created path=%s", path)
        try:
            key, source = read_private(path).strip(), named
        except InsecureFile as exc:
            raise SystemExit(f"heartbeat key refused: {exc}") from None
    if len(key) < MIN_DEPLOYMENT_KEY_BYTES:
        raise SystemExit(
            f"heartbeat key from {source} is shorter than {MIN_DEPLOYMENT_KEY_BYTES} bytes"
        )
    return key


def database(settings: Settings, *, migrate: bool = True) -> Database:
    """The database, migrated; a service that starts while the database is away
    waits for it (up to ``db_wait_seconds``) instead of dying."""
    import time

    from sqlalchemy.exc import DBAPIError

    from hydria.db.availability import database_away
    from hydria.db.engine import Database
    from hydria.db.migrate import upgrade

    state_dir(settings)
    db = Database(settings.db_url)
    deadline = time.monotonic() + settings.db_wait_seconds
    delay = 0.5
    while True:
        try:
            if migrate:
                upgrade(db)
            else:
                with db.engine.connect():
                    pass
            return db
        except DBAPIError as exc:
            if not database_away(exc):  # a wrong name, role or path: say so and stop
                raise SystemExit(f"cannot use the database: {exc.orig}") from None
            if time.monotonic() + delay > deadline:
                raise SystemExit(
                    f"database unavailable for {settings.db_wait_seconds:.0f}s: {exc.orig}"
                ) from None
            logging.getLogger("hydria").warning(
                "event=waiting_for_database retry_in=%.1fs reason=%s", delay, exc.orig
            )
            time.sleep(delay)
            delay = min(delay * 2, 5.0)


def start_metrics(settings: Settings) -> None:
    """Serve Prometheus text on ``metrics_port`` (a daemon thread), if one is set."""
    if settings.metrics_port:
        from prometheus_client import start_http_server

        start_http_server(settings.metrics_port, addr=settings.metrics_host)


def management(settings: Settings) -> ManagementNet:
    """The netns management bridge, made (with the controllers' address) if missing."""
    from hydria.drivers.network.netns import ManagementNet

    if os.geteuid() != 0:
        raise SystemExit("the netns drivers need root (network namespaces and bridges)")
    mgmt = ManagementNet(settings.netns_mgmt_bridge, settings.mgmt_cidr, settings.mgmt_host_ip)
    mgmt.ensure()
    return mgmt


def controller_ca(settings: Settings) -> ControllerCA:
    """The controller CA from ``pki_dir`` (made on first use); a key there that
    others may read stops the process with a message naming the file."""
    from hydria.core.private_files import InsecureFile
    from hydria.drivers.certs.local_ca import ControllerCA

    try:
        return ControllerCA.load_or_create(settings.pki_dir)
    except InsecureFile as exc:
        raise SystemExit(f"controller CA refused: {exc}") from None


def require_pki(settings: Settings, service: str) -> None:
    """A split service (``hydria controller``, ``health``, ``housekeeping``) never makes
    its own controller CA: one made on one host would not be the one the amphorae of
    another trust, so pushes, certificate rotations and the health manager's sequence
    checks over mutual TLS would all fail, quietly. Without ``ca.key`` and ``ca.pem`` in
    ``pki_dir`` the process stops, naming the folder and what to do."""
    missing = [name for name in ("ca.key", "ca.pem") if not (settings.pki_dir / name).exists()]
    if missing:
        raise SystemExit(
            f"hydria {service}: no controller CA in {settings.pki_dir} (missing "
            f"{', '.join(missing)}): a split deployment shares one CA; create it once with "
            "`hydria certs init` and copy that folder (HYDRIA_STATE_DIR/pki, 0600 files) "
            "to every controller, health and housekeeping host"
        )


# ``hydria up --driver NAME``: one name that sets both the compute and the network driver
AMPHORA_DRIVERS = ("local", "netns", "noop")


def compute(settings: Settings) -> ComputeDriver:
    if settings.compute_driver == "local":
        from hydria.drivers.compute.local import LocalCompute

        return LocalCompute(settings.amphorae_dir)
    if settings.compute_driver == "netns":
        from hydria.drivers.compute.netns import NetnsCompute

        return NetnsCompute(
            settings.amphorae_dir,
            management(settings),
            known_hosts_dir=settings.state_dir / "ssh" / "known_hosts.d",
        )
    if settings.compute_driver == "noop":
        from hydria.drivers.compute.noop import NoopCompute

        return NoopCompute()
    raise SystemExit(f"unknown compute driver {settings.compute_driver!r}")


def network(settings: Settings) -> NetworkDriver:
    if settings.network_driver == "local":
        from hydria.drivers.network.local import LocalNetwork

        return LocalNetwork()
    if settings.network_driver == "netns":
        from hydria.drivers.network.netns import NetnsNetwork

        return NetnsNetwork(management(settings))
    if settings.network_driver == "noop":
        from hydria.drivers.network.noop import NoopNetwork

        return NoopNetwork()
    raise SystemExit(f"unknown network driver {settings.network_driver!r}")


def secret_store(settings: Settings, db: Database) -> SecretStore:
    """Where listeners' and pools' TLS references are read (``HYDRIA_SECRET_STORE``):
    the embedded store in Hydria's database (its key made 0600 on first use), or
    a real Barbican read as the ``keystone_*`` service user."""
    if settings.secret_store == "barbican":
        from hydria.drivers.secrets.barbican import BarbicanOptions, BarbicanStore

        if not (settings.keystone_url and settings.keystone_username):
            raise SystemExit(
                "HYDRIA_SECRET_STORE=barbican needs the service user: set "
                "HYDRIA_KEYSTONE_URL, HYDRIA_KEYSTONE_USERNAME and "
                "HYDRIA_KEYSTONE_PASSWORD"
            )
        return BarbicanStore(
            BarbicanOptions(
                settings.service_user,
                endpoint=settings.barbican_endpoint,
                interface=settings.barbican_interface,
                region=settings.barbican_region,
            )
        )
    from hydria.db.secret_box import SecretBox, SecretKeyError, load_or_create_key
    from hydria.db.secrets import EmbeddedSecretStore

    try:
        key = load_or_create_key(settings.secret_key_path)
    except SecretKeyError as exc:
        raise SystemExit(f"secret-store key refused: {exc}") from None
    return EmbeddedSecretStore(db, SecretBox(key))


def check_api_settings(settings: Settings) -> None:
    """Refuse an API that would protect nothing, naming the setting (before any work)."""
    import click

    from hydria.api.auth.safety import UnsafeConfiguration, check

    try:
        warnings = check(settings)
    except UnsafeConfiguration as exc:
        raise click.ClickException(str(exc)) from None
    for text in warnings:
        logging.getLogger("hydria.api").warning("event=insecure_configuration %s", text)
        click.echo(f"WARNING: {text}", err=True)


def amphora_ssh_public_key(settings: Settings) -> str:
    """The public key amphorae authorise ("" when operator access is off).

    Only amphorae that are instances of their own (netns) run sshd; the key
    pair is made on first use when it is named but missing.
    """
    from hydria.drivers.certs.ssh_keys import ensure_key_pair, public_key_of

    key = settings.amp_ssh_key
    if key is None or settings.compute_driver != "netns":
        return ""
    if settings.amp_ssh_key_path is not None:
        if not key.exists():
            raise SystemExit(f"amp_ssh_key_path {key} does not exist")
        return public_key_of(key)
    return ensure_key_pair(key)


def agent_client(settings: Settings, ca: ControllerCA, computer: ComputeDriver) -> AmphoraAgent:
    """Mutual TLS to real agents; with the no-op compute driver, its in-memory agents."""
    from hydria.drivers.compute.noop import NoopCompute

    if isinstance(computer, NoopCompute):
        from hydria.drivers.amphora.noop import NoopAgentClient

        return NoopAgentClient(computer)
    from hydria.drivers.amphora.agent_client import AgentClient

    return AgentClient(ca.ca_cert_path, *ca.client_cert_paths())


def uvicorn_options(settings: Settings) -> dict[str, Any]:
    """How uvicorn serves the API, for ``uvicorn.run`` and ``uvicorn.Config`` alike: where
    the settings say, its own logs at warnings only and no access log (the API counts
    and logs its requests itself, ``hydria.api.request_metrics``)."""
    return {
        "host": settings.api_host,
        "port": settings.api_port,
        "log_level": "warning",
        "access_log": False,
    }


def api_app(
    settings: Settings, db: Database, notifier: Notifier, *, settle: SettleWatch | None = None
) -> FastAPI:
    from hydria.api.app import create_app

    # the store's key is made now (0600), or refused at start
    return create_app(
        db, notifier, settings, secret_store=secret_store(settings, db), settle=settle
    )


def reconciler(
    settings: Settings, db: Database, *, compute_driver: ComputeDriver | None = None
) -> Reconciler:
    from hydria.controller.reconciler import Reconciler, ReconcilerOptions

    ca = controller_ca(settings)
    computer = compute_driver or compute(settings)
    return Reconciler(
        db,
        computer,
        network(settings),
        agent_client(settings, ca, computer),
        ca,
        ReconcilerOptions(
            mgmt_start=settings.mgmt_range_start,
            mgmt_end=settings.mgmt_range_end,
            agent_port=settings.agent_port,
            boot_timeout=settings.amphora_boot_timeout,
            heartbeat_key=heartbeat_key(settings),
            controller_addresses=(settings.health_bind,),
            heartbeat_interval=settings.heartbeat_interval,
            max_connections=settings.amphora_max_connections,
            cert_days=settings.amphora_cert_days,
            retire_drain_seconds=settings.retire_drain_seconds,
            logs=settings.log_offload,
            ssh_user=settings.amp_ssh_user,
            ssh_public_key=amphora_ssh_public_key(settings),
            vrrp_advert_int=settings.vrrp_advert_int,
        ),
        secrets=secret_store(settings, db),
    )


def controller_loop(
    settings: Settings,
    db: Database,
    *,
    notifier: InProcessNotifier | None,
    compute_driver: ComputeDriver | None = None,
    settle: SettleSignal | None = None,
) -> ControllerLoop:
    from hydria.controller.loop import ControllerLoop

    return ControllerLoop(
        db,
        reconciler(settings, db, compute_driver=compute_driver),
        notifier=notifier,
        settle=settle,
        workers=settings.controller_workers,
        lease_seconds=settings.lease_seconds,
        poll_interval=settings.poll_interval,
        max_attempts=settings.max_attempts,
    )


def health_service(
    settings: Settings, db: Database, *, notifier: Notifier | None = None
) -> HealthService:
    """The health manager; binds its UDP socket now (``OSError`` if it cannot).

    ``notifier`` wakes controllers when an amphora is marked for failover: the
    in-process one in ``hydria up``, else NOTIFY on PostgreSQL (else they poll).
    """
    from hydria.db.notify import notifier_for
    from hydria.drivers.amphora.agent_client import AgentClient
    from hydria.health.failure_detector import DetectorOptions
    from hydria.health.service import HealthOptions, HealthService

    key = heartbeat_key(settings)
    ca = controller_ca(settings)
    agent = AgentClient(ca.ca_cert_path, *ca.client_cert_paths())
    port = settings.agent_port

    def ask_agent(address: str, amphora_id: str) -> int | None:
        info = agent.info(address, port, timeout=3.0)
        seq = info.get("heartbeat_seq")
        if info.get("amphora_id") != amphora_id or not isinstance(seq, int):
            return None
        return seq

    return HealthService(
        db,
        HealthOptions(
            bind=settings.health_bind,
            heartbeat_key=key,
            failures=DetectorOptions(
                heartbeat_timeout=settings.heartbeat_timeout,
                check_interval=settings.health_check_interval,
                storm_threshold=settings.failover_storm_threshold,
                storm_min_fleet=settings.failover_storm_min_fleet,
                boot_timeout=settings.amphora_boot_timeout,
            ),
            # no-op amphorae send no heartbeats: judged by silence they would all be
            # failed over (and replaced by more silent ones) one timeout after boot
            detect_failures=settings.compute_driver != "noop",
        ),
        notify=(notifier or notifier_for(settings.db_url)).notify,
        ask_agent=ask_agent,
    )


def housekeeper(
    settings: Settings,
    db: Database,
    *,
    compute_driver: ComputeDriver | None = None,
    booter: Reconciler | None = None,
    settle: SettleWait | None = None,
) -> Housekeeper:
    """``booter``: the controller's reconciler in the same process (``hydria up``),
    so the spares it boots are amphorae the controller has heard from already;
    ``settle``: the settles a deferred spare refill waits on (None: it polls)."""
    import datetime as dt

    from hydria.housekeeping.certs import CertRotator
    from hydria.housekeeping.service import Housekeeper

    ca = controller_ca(settings)
    computer = compute_driver or compute(settings)
    rotator = CertRotator(
        db,
        ca,
        agent_client(settings, ca, computer),
        agent_port=settings.agent_port,
        cert_days=settings.amphora_cert_days,
        renew_before=dt.timedelta(days=settings.cert_renew_before_days),
    )
    spares = None
    if settings.spare_amphora_pool_size > 0:
        from hydria.housekeeping.spares import SparePool

        booter = booter or reconciler(settings, db, compute_driver=computer)
        spares = SparePool(
            db,
            computer,
            booter.boot_spare,
            size=settings.spare_amphora_pool_size,
            boot_timeout=settings.amphora_boot_timeout,
            settle=settle,
        )
    return Housekeeper(
        db,
        computer,
        interval=settings.housekeeping_interval,
        retention=dt.timedelta(days=settings.deleted_retention_days),
        certs=rotator,
        spares=spares,
        stray_grace=settings.netns_orphan_grace_seconds,
        tls_expiry=tls_expiry_watch(settings, db),
    )


def tls_expiry_watch(settings: Settings, db: Database) -> TlsExpiryWatch:
    """Housekeeping's watch on listener and pool certificates. It reads them from
    Barbican, or from the embedded store once its key exists on this host (the API
    makes it; a housekeeping host without the key must not make one of its own)."""
    import datetime as dt

    from hydria.housekeeping.tls_expiry import TlsExpiryWatch

    made: list[SecretStore] = []

    def store() -> SecretStore | None:
        if not made:
            if settings.secret_store != "barbican" and not settings.secret_key_path.exists():
                return None
            made.append(secret_store(settings, db))
        return made[0]

    return TlsExpiryWatch(
        db,
        store,
        warn_before=dt.timedelta(days=settings.tls_expiry_warning_days),
        interval=settings.tls_expiry_check_interval,
    )
