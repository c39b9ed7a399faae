"""``hydria amphora``: what an operator of Octavia does with ``openstack server
list --project octavia`` and ``ssh`` into an amphora.

- ``list``: each amphora's instance name and addresses on every network.
- ``ssh ID [-- CMD]``: log into the amphora as the amphora user with the
  controller's amphora key (``amp_ssh_key_name``), trusting only the host key
  the controller gave that amphora.
- ``shell ID [-- CMD]``: enter the amphora's namespaces without ssh (root on
  the host that runs it, ``netns`` driver).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import click

from hydria.cli.options import settings_from, state_options
from hydria.config import Settings


@click.group()
def amphora() -> None:
    """Amphorae as instances: list them, log into them."""


def _find(settings: Settings, prefix: str) -> tuple[str, str]:
    """(id, management address) of the live amphora whose id starts with ``prefix``."""
    from sqlalchemy import select

    from hydria.core import constants as c
    from hydria.db.engine import Database
    from hydria.db.models import Amphora

    db = Database(settings.db_url)
    try:
        with db.session() as session:
            rows = (
                session.execute(
                    select(Amphora.id, Amphora.lb_network_ip).where(
                        Amphora.id.startswith(prefix), Amphora.status != c.DELETED
                    )
                )
                .tuples()
                .all()
            )
    finally:
        db.dispose()
    if len(rows) != 1:
        raise click.ClickException(
            f"{'no' if not rows else 'more than one'} live amphora matches {prefix!r}"
        )
    amp_id, ip = rows[0]
    return amp_id, ip or ""


@amphora.command("list")
@state_options
def list_(state_dir: Path | None, database_url: str | None) -> None:
    """Instances by name, with their addresses on each network."""
    from sqlalchemy import select

    from hydria.core import constants as c
    from hydria.db import amphorae as amp_db
    from hydria.db.engine import Database
    from hydria.db.models import Amphora

    settings = settings_from(state_dir, database_url)
    db = Database(settings.db_url)
    try:
        with db.session() as session:
            amps = list(
                session.scalars(
                    select(Amphora).where(Amphora.status != c.DELETED).order_by(Amphora.created_at)
                )
            )
            nets = amp_db.instance_addresses(session, amps)
            click.echo(f"{'NAME':44}  {'STATUS':10}  {'ROLE':10}  {'PROJECT':10}  NETWORKS")
            for amp in amps:
                shown = "; ".join(f"{n}={a}" for n, a in nets[amp.id])
                click.echo(
                    f"amphora-{amp.id:36}  {amp.status:10}  {amp.role or '-':10}  "
                    f"{settings.service_project:10}  {shown}"
                )
    finally:
        db.dispose()


@amphora.command("ssh", context_settings={"ignore_unknown_options": True})
@click.argument("amphora_id")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@state_options
def ssh(
    amphora_id: str, command: tuple[str, ...], state_dir: Path | None, database_url: str | None
) -> None:
    """Log into amphora ID (or run COMMAND there) with the amphora ssh key."""
    settings = settings_from(state_dir, database_url, compute_driver="netns")
    key = settings.amp_ssh_key
    if key is None or not key.exists():
        raise click.ClickException(
            "operator access is off: no amphora ssh key (amp_ssh_key_name / amp_ssh_key_path)"
        )
    amp_id, ip = _find(settings, amphora_id)
    known = settings.state_dir / "ssh" / "known_hosts.d" / amp_id
    binary = shutil.which("ssh")
    if binary is None:
        raise click.ClickException("ssh is not installed (openssh-client)")
    args = [
        binary,
        "-i",
        str(key),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={known}",
        "-o",
        "StrictHostKeyChecking=yes",
        f"{settings.amp_ssh_user}@{ip}",
        *command,
    ]
    os.execv(binary, args)


@amphora.command("shell", context_settings={"ignore_unknown_options": True})
@click.argument("amphora_id")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@state_options
def shell(
    amphora_id: str, command: tuple[str, ...], state_dir: Path | None, database_url: str | None
) -> None:
    """Enter amphora ID's namespaces (network, mount, PID, UTS) as root, without ssh."""
    from hydria.drivers.compute.netns import init_pid
    from hydria.drivers.network.names import namespace

    settings = settings_from(state_dir, database_url, compute_driver="netns")
    amp_id, _ip = _find(settings, amphora_id)
    pid = init_pid(namespace(amp_id))
    if pid is None:
        raise click.ClickException(f"amphora {amp_id} is not running on this host")
    binary = shutil.which("nsenter") or "/usr/bin/nsenter"
    os.execv(
        binary,
        [binary, "-t", str(pid), "-n", "-m", "-u", "-p", "--", *(command or ("/bin/bash", "-l"))],
    )
