"""Refusing, at start, an API that would protect nothing.

``check(settings)`` raises ``UnsafeConfiguration`` with a message that names
the setting to fix, and returns the warnings to print at every start:

- ``HYDRIA_AUTH_STRATEGY`` must be ``noauth`` or ``keystone``: any other word
  used to be accepted and protected nothing.
- ``keystone`` needs ``HYDRIA_KEYSTONE_URL`` and the service user that
  validates tokens (``HYDRIA_KEYSTONE_USERNAME``, ``..._PASSWORD``), and a
  ``HYDRIA_POLICY_FILE``, if set, must exist.
- ``noauth`` lets any caller name its project and roles, so it only listens on
  loopback, unless ``HYDRIA_INSECURE_NOAUTH_ANYWHERE`` (``--insecure-noauth-anywhere``)
  says the operator means it; then every start warns.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path

from hydria.config import Settings

STRATEGIES = ("noauth", "keystone")


class UnsafeConfiguration(Exception):
    """A configuration the API refuses to start with."""


def is_loopback(host: str) -> bool:
    name = host.strip().strip("[]")
    if name.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a name: whatever it resolves to, it is not provably loopback


def check(settings: Settings) -> list[str]:
    strategy = settings.auth_strategy
    if strategy not in STRATEGIES:
        raise UnsafeConfiguration(
            f"HYDRIA_AUTH_STRATEGY={strategy!r} is not a strategy Hydria knows: use "
            f"{' or '.join(STRATEGIES)}."
        )
    if strategy == "keystone":
        missing = [
            name
            for name, value in (
                ("HYDRIA_KEYSTONE_URL", settings.keystone_url),
                ("HYDRIA_KEYSTONE_USERNAME", settings.keystone_username),
                ("HYDRIA_KEYSTONE_PASSWORD", settings.keystone_password),
                ("HYDRIA_KEYSTONE_PROJECT", settings.keystone_project),
            )
            if not value
        ]
        if missing:
            raise UnsafeConfiguration(
                f"HYDRIA_AUTH_STRATEGY=keystone needs {', '.join(missing)} (the identity "
                "v3 URL and the service user that validates tokens)."
            )
        if settings.policy_file and not Path(settings.policy_file).is_file():
            raise UnsafeConfiguration(
                f"HYDRIA_POLICY_FILE={settings.policy_file!r} does not exist."
            )
        return []
    if is_loopback(settings.api_host):
        return []
    if not settings.insecure_noauth_anywhere:
        raise UnsafeConfiguration(
            f"HYDRIA_AUTH_STRATEGY=noauth trusts whatever project and roles a caller "
            f"names, so the API listens on loopback only, not on {settings.api_host!r}: "
            "use HYDRIA_AUTH_STRATEGY=keystone, or --insecure-noauth-anywhere "
            "(HYDRIA_INSECURE_NOAUTH_ANYWHERE=true) if you mean it."
        )
    return [
        f"noauth API on {settings.api_host} (HYDRIA_INSECURE_NOAUTH_ANYWHERE): anyone "
        "who reaches it can act as any project, or as an admin."
    ]
