"""``hydria subnet``: the VIP subnets load balancers take addresses from."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

from hydria.cli.options import settings_from, state_options
from hydria.core.errors import APIError

if TYPE_CHECKING:
    from hydria.db.engine import Database

F = TypeVar("F", bound=Callable[..., Any])


def _db(state_dir: Path | None, database_url: str | None) -> Database:
    from hydria.cli.wiring import database

    return database(settings_from(state_dir, database_url))


@click.group()
def subnet() -> None:
    """Manage VIP subnets."""


@subnet.command("create")
@click.argument("name")
@click.option("--cidr", required=True, help="e.g. 127.42.0.0/16")
@click.option("--gateway", default=None, help="Gateway address [default: first host].")
@click.option("--allocation-start", default=None, help="First address handed out to VIPs.")
@click.option("--allocation-end", default=None, help="Last address handed out to VIPs.")
@click.option(
    "--network",
    "network_name",
    default=None,
    help="Put the subnet in this network (created if missing) [default: NAME].",
)
@state_options
def create(
    name: str,
    cidr: str,
    gateway: str | None,
    allocation_start: str | None,
    allocation_end: str | None,
    network_name: str | None,
    state_dir: Path | None,
    database_url: str | None,
) -> None:
    """Create subnet NAME (and its network)."""
    from hydria.db.subnets import create_subnet

    settings = settings_from(state_dir, database_url)
    db = _db(state_dir, database_url)
    try:
        with db.session() as session:
            row = create_subnet(
                session,
                name,
                cidr,
                network_name=network_name,
                gateway=gateway,
                start=allocation_start,
                end=allocation_end,
                mgmt_range=(settings.mgmt_range_start, settings.mgmt_range_end),
                ipv6=settings.ipv6_subnets,
            )
            click.echo(
                f"{row.id}  {row.name}  {row.cidr}  "
                f"{row.allocation_start}-{row.allocation_end}  network {row.network_id}"
            )
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        db.dispose()


@subnet.command("list")
@state_options
def list_(state_dir: Path | None, database_url: str | None) -> None:
    """List subnets with how many addresses are allocated."""
    from hydria.db.subnets import allocated_count, list_subnets

    db = _db(state_dir, database_url)
    try:
        with db.session() as session:
            click.echo(f"{'ID':36}  {'NAME':16}  {'CIDR':18}  {'RANGE':33}  USED")
            for row in list_subnets(session):
                span = f"{row.allocation_start}-{row.allocation_end}"
                click.echo(
                    f"{row.id:36}  {row.name:16}  {row.cidr:18}  {span:33}  "
                    f"{allocated_count(session, row.id)}"
                )
    finally:
        db.dispose()


@subnet.command("delete")
@click.argument("name_or_id")
@state_options
def delete(name_or_id: str, state_dir: Path | None, database_url: str | None) -> None:
    """Delete a subnet that no VIP uses."""
    from hydria.db.subnets import delete_subnet

    db = _db(state_dir, database_url)
    try:
        with db.session() as session:
            row = delete_subnet(session, name_or_id)
            click.echo(f"deleted subnet {row.name or row.id}")
    except APIError as exc:
        raise click.ClickException(exc.message) from None
    finally:
        db.dispose()
