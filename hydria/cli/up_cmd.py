"""``hydria up``: the whole service in one process on the embedded defaults.

API, controller, health manager, housekeeping and local amphorae on SQLite in
the state folder. A clean stop (Ctrl-C, SIGTERM) stops the amphorae too; a
crash leaves them serving, as VMs outlive a crashed controller. Started again, it finds the same load balancers
and brings back any amphora that is not running.
"""

from __future__ import annotations

import logging
import signal
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from hydria.cli import wiring
from hydria.cli.options import api_options, common_options, settings_from
from hydria.core.errors import APIError

if TYPE_CHECKING:
    from hydria.config import Settings
    from hydria.db.engine import Database
    from hydria.db.notify import InProcessNotifier

log = logging.getLogger("hydria.up")


@click.command()
@common_options
@api_options
@click.option(
    "--clouds-yaml/--no-clouds-yaml",
    default=True,
    help="Add a 'hydria' cloud to ~/.config/openstack/clouds.yaml.",
)
@click.option(
    "--driver",
    type=click.Choice(wiring.AMPHORA_DRIVERS),
    default=None,
    help="Amphora compute and network driver: 'local' processes on this host, "
    "'netns' a network namespace each on bridges (root), 'noop' the control "
    "plane with no data plane [default: $HYDRIA_COMPUTE_DRIVER or local].",
)
def up(
    state_dir: Path | None,
    database_url: str | None,
    verbose: bool,
    api_overrides: dict[str, Any],
    clouds_yaml: bool,
    driver: str | None,
) -> None:
    """Run API, controller, health manager, housekeeping and local amphorae."""
    import uvicorn

    from hydria.cli.clouds import user_clouds_yaml, write_cloud
    from hydria.db.notify import InProcessNotifier
    from hydria.db.settle import SettleBoard
    from hydria.db.subnets import ensure_default_subnet

    settings = settings_from(
        state_dir, database_url, compute_driver=driver, network_driver=driver, **api_overrides
    )
    wiring.setup_logging(verbose)
    wiring.check_api_settings(settings)
    wiring.heartbeat_key(settings, create=True)  # generated on first start, 0600
    db = wiring.database(settings)
    try:
        subnet = ensure_default_subnet(
            db,
            settings.default_subnet_name,
            settings.default_subnet_cidr,
            mgmt_range=(settings.mgmt_range_start, settings.mgmt_range_end),
        )
    except APIError as exc:  # e.g. HYDRIA_DEFAULT_SUBNET_CIDR overlaps the management range
        raise click.ClickException(exc.message) from None
    notifier = InProcessNotifier()
    # the controller says when a change settled; a GET of a pending object waits for it
    settle = SettleBoard()
    compute = wiring.compute(settings)
    loop = wiring.controller_loop(
        settings, db, notifier=notifier, compute_driver=compute, settle=settle
    )
    app = wiring.api_app(settings, db, notifier, settle=settle)

    endpoint = f"http://{settings.api_host}:{settings.api_port}"
    server = uvicorn.Server(uvicorn.Config(app, **wiring.uvicorn_options(settings)))
    stop = threading.Event()
    controller = threading.Thread(target=loop.run, args=(stop,), name="controller")
    controller.start()
    health = _start_health(settings, db, stop, notifier)
    # spares booted by the controller's own reconciler: taking one asks its agent nothing
    keeper = wiring.housekeeper(
        settings, db, compute_driver=compute, booter=loop.reconciler, settle=settle
    )
    housekeeping = threading.Thread(
        target=keeper.run, args=(stop,), name="housekeeping", daemon=True
    )
    housekeeping.start()

    click.echo(f"Hydria is up: Octavia v2 API at {endpoint}")
    click.echo(f"  state:       {settings.state_dir}")
    click.echo(f"  VIP subnet:  {subnet.name} ({subnet.cidr})")
    click.echo(f"  protocols:   TCP HTTP HTTPS PROMETHEUS, {_l4_line(settings.compute_driver)}")
    click.echo(
        f"  amphorae:    {settings.compute_driver} driver, management network {settings.mgmt_cidr}"
    )
    if settings.amp_ssh_key is not None and settings.compute_driver == "netns":
        click.echo(f"  ssh key:     {settings.amp_ssh_key} (hydria amphora ssh ID)")
    if settings.compute_driver == "noop":
        click.echo("  amphorae:    noop (no data plane: nothing serves a VIP)")
    if settings.auth_strategy != "noauth":  # Keystone's catalog and users, not a noauth cloud
        click.echo(f"  identity:    {settings.keystone_url} ({settings.auth_strategy})")
    else:
        if clouds_yaml:
            path = user_clouds_yaml()
            write_cloud(path, "hydria", endpoint)
            click.echo(f"  clouds.yaml: cloud 'hydria' in {path}")
            click.echo("  try:         openstack --os-cloud hydria loadbalancer list")
        click.echo(
            f"  or:          openstack --os-auth-type none --os-endpoint {endpoint} "
            "loadbalancer list"
        )
    # uvicorn re-raises SIGINT/SIGTERM once it has stopped serving; with these
    # handlers that lands here instead of killing us before the amphorae stop.
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        server.run()
    finally:
        click.echo("Stopping: controller and amphorae")
        stop.set()
        if loop.notifier is not None:
            loop.notifier.notify("")
        controller.join(timeout=60)
        if health is not None:
            health.join(timeout=15)
        compute.stop_all()
        db.dispose()


def _start_health(
    settings: Settings, db: Database, stop: threading.Event, notifier: InProcessNotifier
) -> threading.Thread | None:
    """The health manager in a thread; without it (UDP port taken) the rest still runs."""
    try:
        service = wiring.health_service(settings, db, notifier=notifier)
    except OSError as exc:
        log.error(
            "event=health_bind_failed bind=%s reason=%s: no heartbeats, no failover",
            settings.health_bind,
            exc,
        )
        click.echo(f"  warning:     health manager not started: udp {settings.health_bind}: {exc}")
        return None
    thread = threading.Thread(target=service.run, args=(stop,), name="health")
    thread.start()
    return thread


def _l4_line(compute_driver: str) -> str:
    """What serves UDP and SCTP here (docs/udp.md): the engines found at start-up
    that ``compute_driver``'s amphorae can run."""
    from hydria.core import host

    found = host.detect().for_amphorae(compute_driver)
    udp = f"UDP on {found.udp_words('and')}" if found.udp_engine else found.no_udp_words()
    ipvs = "ip_vs present" if found.ip_vs else "no ip_vs"
    sctp = "SCTP" if found.sctp_served else "no SCTP (kernel)" if not found.sctp else "no SCTP"
    return f"{udp}, {sctp}, {ipvs}"
