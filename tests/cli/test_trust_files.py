"""Safe by default on disk: no built-in heartbeat key, secrets 0600 in a 0700
folder, and a start-up refusal (naming the setting or the file) for a missing,
short or loose key."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner

from hydria.cli import wiring
from hydria.cli.main import main
from hydria.config import Settings
from hydria.db.engine import Database
from hydria.db.migrate import upgrade
from hydria.drivers.certs.local_ca import ControllerCA


@pytest.fixture(autouse=True)
def _no_key_in_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "HYDRIA_HEARTBEAT_KEY",
        "HYDRIA_HEARTBEAT_KEY_FILE",
        "HYDRIA_STATE_DIR",
        "HYDRIA_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_certs_init_generates_a_private_heartbeat_key_once(tmp_path: Path) -> None:
    state = tmp_path / "state"
    runner = CliRunner()
    first = runner.invoke(main, ["certs", "init", "--state-dir", str(state)])
    assert first.exit_code == 0, first.output
    key_file = state / "heartbeat.key"
    key = key_file.read_bytes()
    assert len(key.strip()) == 64 and _mode(key_file) == 0o600
    assert _mode(state) == 0o700 and _mode(state / "pki") == 0o700
    for name in ("ca.key", "ca.pem", "controller.key", "controller.pem"):
        assert _mode(state / "pki" / name) == 0o600, name
    assert runner.invoke(main, ["certs", "init", "--state-dir", str(state)]).exit_code == 0
    assert key_file.read_bytes() == key  # kept, never replaced
    other = tmp_path / "other"
    runner.invoke(main, ["certs", "init", "--state-dir", str(other)])
    assert (other / "heartbeat.key").read_bytes() != key  # nobody can guess it


@pytest.mark.parametrize("command", ["health", "controller"])
def test_a_split_service_without_a_key_refuses_to_start(tmp_path: Path, command: str) -> None:
    ControllerCA.load_or_create(tmp_path / "pki")  # the CA is there: the key is not
    res = CliRunner().invoke(main, [command, "--state-dir", str(tmp_path)])
    assert res.exit_code != 0
    assert "HYDRIA_HEARTBEAT_KEY" in str(res.exception) or "HYDRIA_HEARTBEAT_KEY" in res.output
    assert not (tmp_path / "heartbeat.key").exists()  # only up and certs init make one


@pytest.mark.parametrize("command", ["health", "controller", "housekeeping"])
def test_a_split_service_without_the_ca_refuses_to_start(
    tmp_path: Path, command: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A split service never makes a CA of its own (the amphorae would not trust it)."""
    monkeypatch.setenv("HYDRIA_HEARTBEAT_KEY", "k" * 64)
    res = CliRunner().invoke(main, [command, "--state-dir", str(tmp_path)])
    assert res.exit_code != 0
    message = str(res.exception) + res.output
    assert str(tmp_path / "pki") in message and "hydria certs init" in message, message
    assert not (tmp_path / "pki" / "ca.key").exists()
    assert not (tmp_path / "hydria.db").exists()  # refused before anything was made


def test_a_split_service_starts_with_the_shared_ca(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HYDRIA_HEARTBEAT_KEY", "k" * 64)
    runner = CliRunner()
    assert runner.invoke(main, ["certs", "init", "--state-dir", str(tmp_path)]).exit_code == 0
    ca_key = (tmp_path / "pki" / "ca.key").read_bytes()
    res = runner.invoke(main, ["housekeeping", "--once", "--state-dir", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "pki" / "ca.key").read_bytes() == ca_key


def test_a_loose_key_file_is_refused_with_its_name(tmp_path: Path) -> None:
    key_file = tmp_path / "hb.key"
    key_file.write_text("a deployment's own key, long enough\n")
    os.chmod(key_file, 0o644)
    settings = Settings(state_dir=tmp_path / "s", heartbeat_key_file=key_file)
    with pytest.raises(SystemExit, match=str(key_file)):
        wiring.heartbeat_key(settings)
    os.chmod(key_file, 0o600)
    assert wiring.heartbeat_key(settings) == b"a deployment's own key, long enough"


def test_a_missing_or_short_key_is_refused(tmp_path: Path) -> None:
    with pytest.raises(SystemExit, match="HYDRIA_HEARTBEAT_KEY_FILE"):
        wiring.heartbeat_key(
            Settings(state_dir=tmp_path, heartbeat_key_file=tmp_path / "no"), create=True
        )
    with pytest.raises(SystemExit, match="HYDRIA_HEARTBEAT_KEY"):
        wiring.heartbeat_key(Settings(state_dir=tmp_path, heartbeat_key="short"))
    assert wiring.heartbeat_key(Settings(state_dir=tmp_path, heartbeat_key="k" * 16)) == b"k" * 16


def test_a_loose_ca_key_is_refused_with_its_name(tmp_path: Path) -> None:
    settings = Settings(state_dir=tmp_path)
    wiring.controller_ca(settings)
    os.chmod(settings.pki_dir / "ca.key", 0o640)
    with pytest.raises(SystemExit, match=str(settings.pki_dir / "ca.key")):
        wiring.controller_ca(settings)


def test_state_dir_and_sqlite_files_are_private(tmp_path: Path) -> None:
    state = tmp_path / "state"
    state.mkdir(mode=0o755)
    os.chmod(state, 0o755)
    settings = Settings(state_dir=state)
    db = wiring.database(settings)
    try:
        with db.engine.begin() as conn:
            conn.exec_driver_sql("CREATE TABLE t (x)")
        assert _mode(state) == 0o700  # tightened
        files = sorted(p.name for p in state.iterdir() if p.name.startswith("hydria.db"))
        assert "hydria.db" in files and "hydria.db-wal" in files, files
        for name in files:
            assert _mode(state / name) == 0o600, name
    finally:
        db.dispose()


def test_a_loose_database_file_is_tightened(tmp_path: Path) -> None:
    path = tmp_path / "x.db"
    path.touch()
    os.chmod(path, 0o644)
    db = Database(f"sqlite:///{path}")
    upgrade(db)
    db.dispose()
    assert _mode(path) == 0o600


def test_a_host_without_the_secret_key_watches_no_certificates_and_makes_no_key(
    tmp_path: Path,
) -> None:
    """Housekeeping's certificate watch reads the embedded store only once its key
    exists on this host (the API makes it); a key of its own would read nothing."""
    settings = Settings(state_dir=tmp_path / "state")
    db = Database(f"sqlite:///{tmp_path / 'h.db'}")
    upgrade(db)
    watch = wiring.tls_expiry_watch(settings, db)
    assert watch.store() is None
    assert watch.check() == 0
    assert not settings.secret_key_path.exists()
    wiring.secret_store(settings, db)  # as the API does at its start
    assert settings.secret_key_path.exists()
    store = watch.store()
    assert store is not None and watch.store() is store
    db.dispose()
