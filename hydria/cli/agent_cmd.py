"""``hydria amphora-agent``: started by a compute driver inside an amphora."""

from __future__ import annotations

from pathlib import Path

import click


@click.command("amphora-agent")
@click.option(
    "--dir",
    "folder",
    required=True,
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    help="The amphora's folder (boot.json, TLS material, HAProxy files).",
)
def amphora_agent(folder: Path) -> None:
    """Run the amphora agent (HTTPS API, HAProxy supervision, heartbeats)."""
    from hydria.agent.main import run

    raise SystemExit(run(folder))
