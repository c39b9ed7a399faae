"""A ``clouds.yaml`` entry so ``openstack --os-cloud hydria ...`` just works."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml


def cloud_entry(endpoint: str) -> dict[str, Any]:
    # auth_type "none" is keystoneauth's noauth plugin; its endpoint serves
    # every service the clients ask for (load-balancer, the network API, and the
    # embedded secret store's Barbican API, which the `openstack secret` commands
    # reach at the root too). openstacksdk's key-manager proxy reads the named
    # endpoint, with Barbican's version path, as a catalogue would give it.
    return {
        "auth_type": "none",
        "auth": {"endpoint": endpoint},
        "key_manager_endpoint_override": endpoint.rstrip("/") + "/v1",
    }


def user_clouds_yaml() -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
    return base / "openstack" / "clouds.yaml"


def write_cloud(path: Path, name: str, endpoint: str) -> None:
    """Add or replace the ``name`` cloud in ``path``, keeping every other cloud."""
    data: dict[str, Any] = {}
    if path.exists():
        data = yaml.safe_load(path.read_text()) or {}
    data.setdefault("clouds", {})[name] = cloud_entry(endpoint)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".yaml.tmp")
    tmp.write_text(yaml.safe_dump(data, sort_keys=False))
    tmp.replace(path)
