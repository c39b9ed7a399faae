"""The ``hydria`` command. Subcommands live in their own modules and are
imported only when run, so ``hydria amphora-agent`` starts fast."""

from __future__ import annotations

import importlib

import click

# name -> "module:attribute" of a click command
COMMANDS = {
    "up": "hydria.cli.up_cmd:up",
    "api": "hydria.cli.services_cmd:api",
    "controller": "hydria.cli.services_cmd:controller",
    "health": "hydria.cli.health_cmd:health",
    "amphora-agent": "hydria.cli.agent_cmd:amphora_agent",
    "subnet": "hydria.cli.subnet_cmd:subnet",
    "housekeeping": "hydria.cli.housekeeping_cmd:housekeeping",
    "db": "hydria.cli.db_cmd:db",
    "certs": "hydria.cli.certs_cmd:certs",
    "amphora": "hydria.cli.amphora_cmd:amphora",
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        try:
            command: click.Command = getattr(importlib.import_module(module), attr)
            return command
        except ModuleNotFoundError as exc:
            if exc.name == module:
                return None
            raise


@click.group(cls=LazyGroup)
@click.version_option(package_name="hydria")
def main() -> None:
    """Hydria: load balancers behind the OpenStack Octavia v2 API."""
