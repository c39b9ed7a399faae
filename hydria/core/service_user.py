"""Hydria's own Keystone user (``HYDRIA_KEYSTONE_*``), as keystoneauth takes it.

One user does two jobs: the API's ``auth_token`` middleware validates callers'
tokens as it, and the controller reads a real Barbican as it. Its fields are the
options of keystoneauth's ``password`` plugin, by the plugin's names, so both hand
them over as they are (``password_auth``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ServiceUser:
    auth_url: str
    username: str
    password: str = dataclasses.field(repr=False)
    project_name: str = "service"
    user_domain_name: str = "Default"
    project_domain_name: str = "Default"

    def password_auth(self) -> dict[str, Any]:
        """keystoneauth's ``password`` plugin options (``v3.Password``'s keywords)."""
        return dataclasses.asdict(self)
