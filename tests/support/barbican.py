"""A real Barbican (from ``.venv-barbican``) behind the real Keystone, for the tests
marked ``barbican``.

``running_barbican(folder, keystone)`` writes its configuration (SQLite, the
``store_crypto`` secret store with the ``simple_crypto`` plugin and a random
key-encryption key, keystonemiddleware validating tokens as Keystone's admin),
serves its v1 API with gunicorn on a free loopback port (versions at ``/``,
the API under ``/v1``, as Barbican's own paste pipeline does, without CORS and
the audit filter) and adds a ``key-manager`` endpoint to Keystone's catalogue.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.support.backends import free_port
from tests.support.keystone import Keystone

REPO = Path(__file__).resolve().parents[2]
VENV = REPO / ".venv-barbican"
START_DEADLINE = 120.0

CONF = """\
[DEFAULT]
log_file = {folder}/barbican.log
host_href = {url}
db_auto_create = True
[database]
connection = sqlite:///{folder}/barbican.sqlite
[secretstore]
enabled_secretstore_plugins = store_crypto
[crypto]
enabled_crypto_plugins = simple_crypto
[simple_crypto_plugin]
kek = {kek}
[keystone_authtoken]
www_authenticate_uri = {keystone}
auth_url = {keystone}
auth_type = password
username = admin
password = {admin_password}
project_name = admin
user_domain_name = Default
project_domain_name = Default
"""

PASTE = """\
[composite:main]
use = egg:Paste#urlmap
/: barbican_version
/v1: barbican_api

[pipeline:barbican_version]
pipeline = request_id microversion versionapp

[pipeline:barbican_api]
pipeline = request_id authtoken context microversion apiapp

[app:apiapp]
paste.app_factory = barbican.api.app:create_main_app

[app:versionapp]
paste.app_factory = barbican.api.app:create_version_app

[filter:context]
paste.filter_factory = barbican.api.middleware.context:ContextMiddleware.factory

[filter:microversion]
paste.filter_factory = barbican.api.middleware.microversion:MicroversionMiddleware.factory

[filter:authtoken]
paste.filter_factory = keystonemiddleware.auth_token:filter_factory

[filter:request_id]
paste.filter_factory = oslo_middleware.request_id:RequestId.factory
"""

APP = """\
import sys
sys.argv = sys.argv[:1]
from paste import deploy
application = deploy.loadapp("config:{paste}")
"""


def available() -> bool:
    return (VENV / "bin" / "gunicorn").exists() and (VENV / "bin" / "barbican-manage").exists()


@contextmanager
def running_barbican(folder: Path, keystone: Keystone) -> Iterator[str]:
    """Barbican's endpoint (``http://127.0.0.1:<port>``), registered in the catalogue."""
    folder.mkdir(parents=True, exist_ok=True)
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # Barbican reads its configuration from oslo.config's default places only
    # (no --config-file reaches it under gunicorn): ~/.barbican/ of a HOME of its own
    (folder / ".barbican").mkdir(exist_ok=True)
    conf = folder / ".barbican" / "barbican.conf"
    conf.write_text(
        CONF.format(
            folder=folder,
            url=url,
            keystone=keystone.url,
            admin_password=keystone.admin_password,
            kek=base64.b64encode(secrets.token_bytes(32)).decode(),
        )
    )
    paste = folder / "barbican-api-paste.ini"
    paste.write_text(PASTE)
    (folder / "barbican_app.py").write_text(APP.format(paste=paste))
    env = {**os.environ, "HOME": str(folder)}
    log = (folder / "gunicorn.log").open("wb")
    proc = subprocess.Popen(
        [
            str(VENV / "bin" / "gunicorn"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "--threads",
            "1",
            "--timeout",
            "120",
            "--chdir",
            str(folder),
            "barbican_app:application",
        ],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + START_DEADLINE
        while True:
            if proc.poll() is not None:
                raise RuntimeError(
                    f"barbican exited with {proc.returncode}:\n"
                    + (folder / "gunicorn.log").read_text()[-4000:]
                )
            try:
                if httpx.get(url + "/", timeout=2).status_code in (200, 300):
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"barbican did not answer at {url}")
            time.sleep(0.2)
        admin = keystone.admin()
        svc = admin.identity.create_service(type="key-manager", name="barbican")
        admin.identity.create_endpoint(
            service_id=svc.id, interface="public", url=url, region_id="RegionOne"
        )
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=20)
        log.close()
