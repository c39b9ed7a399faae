"""A real Keystone for the tests: from PyPI, in .venv-keystone, on 127.0.0.1.

``running_keystone(folder, hydria_port)`` sets Keystone up as an operator
would (SQLite, fernet and credential keys, ``keystone-manage db_sync``,
``fernet_setup``, ``credential_setup``, ``bootstrap``), serves it with
gunicorn on a free loopback port, then through openstacksdk creates:

- the roles Octavia knows (Keystone's ``reader``/``member``/``admin`` come from
  bootstrap; ``load-balancer_*`` are added);
- two projects, ``project-a`` and ``project-b``, each with one user per role
  (``a-member``, ``b-load-balancer_observer``, ...);
- the service user Hydria validates tokens with (``hydria`` in ``service``);
- Hydria's ``load-balancer`` endpoint (and, for the VIP subnet look-ups of the
  CLI, a ``network`` endpoint on the same server) in the catalog.

It yields a ``Keystone`` and stops gunicorn when done, whatever happened.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import openstack

from tests.support.backends import free_port

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-keystone"
PROJECTS = ("project-a", "project-b")
ROLES = (
    "reader",
    "member",
    "admin",
    "load-balancer_observer",
    "load-balancer_global_observer",
    "load-balancer_member",
    "load-balancer_quota_admin",
    "load-balancer_admin",
)
START_DEADLINE = 120.0

CONF = """\
[DEFAULT]
log_file = {folder}/keystone.log
[database]
# two workers share the file: wait for the other's write lock (SQLite's 5 s default
# ran out on a loaded machine and a token request failed with "database is locked")
connection = sqlite:///{folder}/keystone.db?timeout=60
[fernet_tokens]
key_repository = {folder}/fernet-keys
[credential]
key_repository = {folder}/credential-keys
[cache]
enabled = false
[identity]
# bcrypt's fewest rounds: the test users' passwords are throwaway
password_hash_rounds = 4
"""


@dataclass
class Keystone:
    url: str  # identity v3
    hydria_url: str
    admin_password: str
    password: str  # every test user's
    project_ids: dict[str, str] = field(default_factory=dict)
    service_user: str = "hydria"
    service_password: str = ""

    def user(self, project: str, role: str) -> str:
        return f"{project[-1]}-{role}"

    def auth(self, project: str, role: str) -> dict[str, Any]:
        return {
            "auth_url": self.url,
            "username": self.user(project, role),
            "password": self.password,
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        }

    def connect(self, project: str, role: str) -> openstack.connection.Connection:
        return openstack.connect(
            **self.auth(project, role),
            region_name="RegionOne",
            identity_interface="public",
            **_ONLY_THESE,
        )

    def admin(self) -> openstack.connection.Connection:
        return openstack.connect(
            auth_url=self.url,
            username="admin",
            password=self.admin_password,
            project_name="admin",
            user_domain_name="Default",
            project_domain_name="Default",
            region_name="RegionOne",
            **_ONLY_THESE,
        )

    def token(self, project: str, role: str) -> str:
        return str(self.connect(project, role).auth_token)

    def hydria_env(self) -> dict[str, str]:
        return {
            "HYDRIA_AUTH_STRATEGY": "keystone",
            "HYDRIA_KEYSTONE_URL": self.url,
            "HYDRIA_KEYSTONE_USERNAME": self.service_user,
            "HYDRIA_KEYSTONE_PASSWORD": self.service_password,
            "HYDRIA_KEYSTONE_PROJECT": "service",
        }


# the connection is made of the arguments alone: no clouds.yaml, no OS_* variables
_ONLY_THESE: dict[str, bool] = {"load_yaml_config": False, "load_envvars": False}


def available() -> bool:
    return (VENV / "bin" / "keystone-manage").exists() and (VENV / "bin" / "gunicorn").exists()


def _manage(conf: Path, *args: str) -> None:
    user = os.environ.get("USER") or "root"
    extra = (
        ["--keystone-user", user, "--keystone-group", user]
        if args[0] in ("fernet_setup", "credential_setup")
        else []
    )
    subprocess.run(
        [str(VENV / "bin" / "keystone-manage"), "--config-file", str(conf), *args, *extra],
        check=True,
        capture_output=True,
        timeout=300,
    )


def _wait_up(url: str, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"keystone exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"keystone did not answer at {url}")


def _populate(ks: Keystone) -> None:
    admin = ks.admin()
    for role in ROLES:
        if admin.identity.find_role(role) is None:
            admin.identity.create_role(name=role)
    roles = {r: admin.identity.find_role(r) for r in (*ROLES, "service")}
    if roles["service"] is None:
        roles["service"] = admin.identity.create_role(name="service")
    for project in PROJECTS:
        p = admin.identity.create_project(name=project, domain_id="default")
        ks.project_ids[project] = p.id
        for role in ROLES:
            u = admin.identity.create_user(
                name=ks.user(project, role),
                password=ks.password,
                domain_id="default",
                default_project_id=p.id,
            )
            admin.identity.assign_project_role_to_user(p, u, roles[role])
    service = admin.identity.create_project(name="service", domain_id="default")
    hydria = admin.identity.create_user(
        name=ks.service_user, password=ks.service_password, domain_id="default"
    )
    admin.identity.assign_project_role_to_user(service, hydria, roles["service"])
    for kind, name in (("load-balancer", "octavia"), ("network", "hydria-subnets")):
        svc = admin.identity.create_service(type=kind, name=name)
        admin.identity.create_endpoint(
            service_id=svc.id, interface="public", url=ks.hydria_url, region_id="RegionOne"
        )


@contextmanager
def running_keystone(folder: Path, hydria_port: int, *, workers: int = 2) -> Iterator[Keystone]:
    """``workers`` gunicorn processes. Two share the SQLite file; when both write at
    once (Keystone writes a user's ``last_active_at`` at their first token of the
    day), SQLite may refuse one at once, whatever its timeout (two read
    transactions both upgrading to write), and that token request is a 500. One
    worker never meets another's lock."""
    folder.mkdir(parents=True, exist_ok=True)
    conf = folder / "keystone.conf"
    conf.write_text(CONF.format(folder=folder))
    for keys in ("fernet-keys", "credential-keys"):
        (folder / keys).mkdir(mode=0o700, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}/v3"
    ks = Keystone(
        url=url,
        hydria_url=f"http://127.0.0.1:{hydria_port}",
        admin_password=secrets.token_urlsafe(16),
        password=secrets.token_urlsafe(16),
        service_password=secrets.token_urlsafe(16),
    )
    _manage(conf, "db_sync")
    _manage(conf, "fernet_setup")
    _manage(conf, "credential_setup")
    _manage(
        conf,
        "bootstrap",
        # one argument: a password that starts with "-" (token_urlsafe makes one
        # about 1 time in 64) would otherwise be read as an option (exit status 2)
        f"--bootstrap-password={ks.admin_password}",
        "--bootstrap-admin-url",
        url,
        "--bootstrap-public-url",
        url,
        "--bootstrap-internal-url",
        url,
        "--bootstrap-region-id",
        "RegionOne",
    )
    env = {**os.environ, "OS_KEYSTONE_CONFIG_FILES": str(conf)}
    # Keystone parses the process's own arguments (gunicorn's) as its options: hide them.
    (folder / "keystone_app.py").write_text(
        "import sys\nsys.argv = sys.argv[:1]\nfrom keystone.wsgi.api import application\n"
    )
    log = (folder / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [
            str(VENV / "bin" / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            # one thread per worker: Keystone on SQLite deadlocked with threads here
            "--threads",
            "1",
            "--timeout",
            "120",
            "--chdir",
            str(folder),
            "keystone_app:application",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        _wait_up(url, proc)
        _populate(ks)
        yield ks
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        log.close()
        if proc.returncode not in (0, -15) and sys.exc_info()[0] is None:
            print(f"keystone exited with {proc.returncode}", file=sys.stderr)
