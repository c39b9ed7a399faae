"""Options every long-running command shares, turned into Settings."""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from pydantic import ValidationError

from hydria.config import Settings

F = TypeVar("F", bound=Callable[..., Any])


def state_options(func: F) -> F:
    """Where a command finds Hydria's state: ``--state-dir`` and ``--database-url``."""
    func = click.option(
        "--state-dir",
        type=click.Path(path_type=Path),
        default=None,
        help="Where SQLite, certificates and amphorae live "
        "[default: $HYDRIA_STATE_DIR or ~/.hydria].",
    )(func)
    func = click.option(
        "--database-url",
        default=None,
        help="SQLAlchemy URL [default: SQLite in the state dir; env HYDRIA_DATABASE_URL].",
    )(func)
    return func


def common_options(func: Callable[..., Any]) -> Callable[..., Any]:
    func = state_options(func)
    func = click.option("-v", "--verbose", is_flag=True, help="Debug logging.")(func)
    return func


def api_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """What ``hydria up`` and ``hydria api`` share: where the API listens, and how openly.

    The command is given them as one ``api_overrides`` argument, the settings they
    name, for ``settings_from``; an option left out overrides nothing.
    """

    @functools.wraps(func)
    def with_api_overrides(
        *args: Any,
        host: str | None,
        port: int | None,
        insecure_noauth_anywhere: bool | None,
        **kwargs: Any,
    ) -> Any:
        overrides = {
            "api_host": host,
            "api_port": port,
            "insecure_noauth_anywhere": insecure_noauth_anywhere,
        }
        return func(*args, api_overrides=overrides, **kwargs)

    command: Callable[..., Any] = with_api_overrides
    command = click.option(
        "--insecure-noauth-anywhere",
        is_flag=True,
        default=None,
        help="Let noauth listen beyond loopback, where anyone who reaches "
        "it acts as any project [env HYDRIA_INSECURE_NOAUTH_ANYWHERE].",
    )(command)
    command = click.option("--port", type=int, default=None, help="API port [default: 9876].")(
        command
    )
    command = click.option(
        "--host", default=None, help="API address [default: 127.0.0.1; noauth: loopback only]."
    )(command)
    return command


def settings_from(state_dir: Path | None, database_url: str | None, **extra: Any) -> Settings:
    overrides: dict[str, Any] = {k: v for k, v in extra.items() if v is not None}
    if state_dir is not None:
        overrides["state_dir"] = state_dir.expanduser().resolve()
    if database_url:
        overrides["database_url"] = database_url
    try:
        return Settings(**overrides)
    except ValidationError as exc:  # a setting an operator gave: say which, no traceback
        raise click.UsageError(
            "; ".join(
                f"{'.'.join(map(str, e['loc'])) or 'settings'}: {str(e['msg']).removeprefix('Value error, ')}"
                for e in exc.errors()
            )
        ) from None
