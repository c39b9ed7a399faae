"""``hydria certs``: the controller CA, for deployments split over several hosts.

``hydria up`` creates the CA on first use in its state folder. The split
services (``hydria controller``, ``health``, ``housekeeping``) never do: they
refuse to start without one (``wiring.require_pki``). Create it once with
``hydria certs init`` and copy the folder to each host, so every controller
presents a client certificate every amphora trusts.
"""

from __future__ import annotations

from pathlib import Path

import click

from hydria.cli.options import settings_from


@click.group()
def certs() -> None:
    """The controller CA that secures the agent API."""


@certs.command()
@click.option(
    "--state-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="State folder; the CA goes in its pki/ [default: $HYDRIA_STATE_DIR or ~/.hydria].",
)
def init(state_dir: Path | None) -> None:
    """Create the controller CA, client certificate, heartbeat key and amphora ssh key
    (kept if they exist)."""
    from cryptography import x509

    from hydria.cli.wiring import heartbeat_key
    from hydria.drivers.certs.local_ca import ControllerCA

    settings = settings_from(state_dir, None)
    heartbeat_key(settings, create=True)
    ca = ControllerCA.load_or_create(settings.pki_dir)
    cert_path, key_path = ca.client_cert_paths()
    expires = x509.load_pem_x509_certificate(ca.ca_cert_pem.encode()).not_valid_after_utc
    click.echo(f"CA certificate:     {ca.ca_cert_path} (expires {expires:%Y-%m-%d})")
    click.echo(f"controller cert:    {cert_path}")
    click.echo(f"controller key:     {key_path}")
    key = settings.amp_ssh_key
    if key is not None and settings.amp_ssh_key_path is None:
        from hydria.drivers.certs.ssh_keys import ensure_key_pair

        ensure_key_pair(key)
        click.echo(f"amphora ssh key:    {key} (public half in every netns amphora)")
    if not settings.heartbeat_key:
        click.echo(
            "heartbeat key:      "
            f"{settings.heartbeat_key_file or settings.default_heartbeat_key_file}"
        )
    click.echo(
        f"copy {settings.pki_dir} and the heartbeat key to every controller, health and "
        "housekeeping host (keep both 0600)"
    )
