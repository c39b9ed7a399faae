"""Fixtures shared by the whole suite: real databases, SQLite and PostgreSQL.

Also the test tiers. A test that needs a component this machine may lack
carries its marker (``postgres``, ``haproxy``, ``nginx``, ``netns``, ``keystone``,
``barbican``); when
the component is missing the test is skipped and says why, except under
``CI=true``, where a missing component fails it: CI must run everything.
``scripts/test --fast`` deselects those markers and ``integration`` (tests
that start processes). A test that uses PostgreSQL or a real amphora through
the fixtures below without its marker is refused at collection, so the fast
tier cannot quietly grow a dependency.
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from hydria.core.host import find_nginx
from hydria.db.engine import Database
from hydria.db.migrate import upgrade

PG_ADMIN_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/test"


@functools.cache
def _pg_available() -> bool:
    try:
        eng = sa.create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 3})
        with eng.connect():
            pass
        eng.dispose()
        return True
    except Exception:
        return False


@functools.cache
def _haproxy_available() -> bool:
    return shutil.which("haproxy") is not None or os.access("/usr/sbin/haproxy", os.X_OK)


@functools.cache
def _nginx_available() -> bool:
    return find_nginx()[0] is not None


@functools.cache
def _netns_available() -> bool:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        return False
    return subprocess.run(["ip", "netns", "list"], capture_output=True).returncode == 0


@functools.cache
def _keystone_available() -> bool:
    # Keystone lives in a virtualenv of its own (scripts/install --test), not Hydria's
    from tests.support.keystone import available

    return available()


@functools.cache
def _barbican_available() -> bool:
    # Barbican too has a virtualenv of its own (scripts/install --test)
    from tests.support.barbican import available

    return available() and _keystone_available()


# marker -> (what it needs, is it here)
COMPONENTS: dict[str, tuple[str, Callable[[], bool]]] = {
    "postgres": ("PostgreSQL on 127.0.0.1:5432", _pg_available),
    "haproxy": ("the haproxy binary", _haproxy_available),
    "nginx": ("nginx with its stream module (UDP listeners)", _nginx_available),
    "netns": ("root and Linux network namespaces (ip netns)", _netns_available),
    "keystone": ("a Keystone server (.venv-keystone: scripts/install --test)", _keystone_available),
    "barbican": (
        "a Barbican server behind Keystone (.venv-barbican and .venv-keystone: "
        "scripts/install --test)",
        _barbican_available,
    ),
}

# fixtures that reach a component -> the marker a test using them must carry
_FIXTURE_NEEDS = {
    "pg_url": "postgres",
    "pg_db": "postgres",
    "amphora": "haproxy",
    "hydria": "haproxy",
}  # hydria: a real `hydria up` (tests/e2e)


_CONFIG_HOME = pytest.StashKey[Path]()


def pytest_configure(config: pytest.Config) -> None:
    """Keep the machine's OpenStack client settings out of the tests.

    A ``clouds.yaml`` in the user's home (``hydria up`` writes one) or ``OS_*``
    variables would otherwise reach every openstacksdk and CLI call the tests
    make: with a single cloud in that file, ``openstack.connect(...)`` merges it
    in, and its ``auth_type: none`` turned the Keystone tests' password logins
    into noauth ones. Each test process gets an empty client configuration and
    a config home of its own, so a test that runs ``hydria up`` cannot write to
    the user's either.
    """
    for name in [n for n in os.environ if n.startswith("OS_")]:
        del os.environ[name]
    home = Path(tempfile.mkdtemp(prefix="hydria-test-config-"))
    clouds = home / "clouds.yaml"
    clouds.write_text("clouds: {}\n")
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(clouds)
    os.environ["XDG_CONFIG_HOME"] = str(home)
    config.stash[_CONFIG_HOME] = home


def pytest_unconfigure(config: pytest.Config) -> None:
    home = config.stash.get(_CONFIG_HOME, None)
    if home is not None:
        shutil.rmtree(home, ignore_errors=True)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    unmarked = sorted(
        f"{item.nodeid} (uses {fixture}: mark it {marker})"
        for item in items
        for fixture, marker in _FIXTURE_NEEDS.items()
        if fixture in getattr(item, "fixturenames", ()) and item.get_closest_marker(marker) is None
    )
    if unmarked:
        raise pytest.UsageError(
            "tests that need a component without its marker:\n  " + "\n  ".join(unmarked)
        )


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for marker, (what, available) in COMPONENTS.items():
        if item.get_closest_marker(marker) is None or available():
            continue
        if os.environ.get("CI") == "true":
            pytest.fail(
                f"needs {what}, which is missing (CI=true: every component must be here)",
                pytrace=False,
            )
        pytest.skip(f"needs {what}, which is missing")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite file migrated to head per test process; each test gets a copy
    (migrating costs ~0.1 s of CPU, copying ~1 ms; tests/db/test_migrations.py
    runs the migrations themselves)."""
    path = tmp_path_factory.mktemp("template") / "hydria.db"
    template = Database(f"sqlite:///{path}")
    upgrade(template)
    template.dispose()
    return path


@pytest.fixture
def sqlite_db(migrated_template: Path, tmp_path: Path) -> Iterator[Database]:
    path = tmp_path / "hydria.db"
    shutil.copyfile(migrated_template, path)
    db = Database(f"sqlite:///{path}")
    yield db
    db.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database of its own, dropped afterwards."""
    name = f"hydria_t_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    try:
        yield f"postgresql://postgres@127.0.0.1:5432/{name}"
    finally:
        # a fresh engine: a test may have restarted the server under the old one
        admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    db = Database(pg_url)
    upgrade(db)
    yield db
    db.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_db(request: pytest.FixtureRequest) -> Database:
    """The same test on both databases."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_db")
    return request.getfixturevalue("pg_db")
