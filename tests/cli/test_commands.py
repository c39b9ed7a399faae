"""The ``hydria`` command: every subcommand is found, and the small admin
commands work on a fresh state folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hydria.cli.main import COMMANDS, main


def test_every_command_is_listed_and_loads():
    res = CliRunner().invoke(main, ["--help"])
    assert res.exit_code == 0, res.output
    for name in COMMANDS:
        assert name in res.output
        sub = CliRunner().invoke(main, [name, "--help"])
        assert sub.exit_code == 0, (name, sub.output)


def test_certs_init_creates_once_and_keeps(tmp_path: Path):
    runner = CliRunner()
    first = runner.invoke(main, ["certs", "init", "--state-dir", str(tmp_path)])
    assert first.exit_code == 0, first.output
    ca = (tmp_path / "pki" / "ca.pem").read_text()
    again = runner.invoke(main, ["certs", "init", "--state-dir", str(tmp_path)])
    assert again.exit_code == 0
    assert (tmp_path / "pki" / "ca.pem").read_text() == ca
    assert oct((tmp_path / "pki" / "ca.key").stat().st_mode & 0o777) == "0o600"


def test_housekeeping_once_on_a_fresh_state(tmp_path: Path):
    # a split service takes the deployment's CA (and key): made once by certs init
    assert CliRunner().invoke(main, ["certs", "init", "--state-dir", str(tmp_path)]).exit_code == 0
    res = CliRunner().invoke(main, ["housekeeping", "--state-dir", str(tmp_path), "--once"])
    assert res.exit_code == 0, res.output
    assert "orphans=0" in res.output and "purged=0" in res.output


def test_subnet_create_list_delete(tmp_path: Path):
    runner = CliRunner()
    args = ["--state-dir", str(tmp_path)]
    res = runner.invoke(main, ["subnet", "create", "lab", "--cidr", "127.42.77.0/24", *args])
    assert res.exit_code == 0, res.output
    listed = runner.invoke(main, ["subnet", "list", *args])
    assert "lab" in listed.output and "127.42.77.0/24" in listed.output
    assert runner.invoke(main, ["subnet", "delete", "lab", *args]).exit_code == 0
    assert "lab" not in runner.invoke(main, ["subnet", "list", *args]).output


@pytest.mark.parametrize(
    ("cidr", "message"),
    [
        ("127.42.77.128/25", "overlaps subnet 'lab' (127.42.77.0/24)"),
        ("127.42.0.0/16", "overlaps subnet 'lab' (127.42.77.0/24)"),
        ("127.43.0.0/24", "overlaps the management range 127.43.0.10 - 127.43.255.250"),
        ("fd00:42::/64", "IPv6 subnets are not supported yet"),
    ],
)
def test_subnet_create_refuses_overlaps_and_ipv6(tmp_path: Path, cidr: str, message: str):
    runner = CliRunner()
    args = ["--state-dir", str(tmp_path)]
    assert (
        runner.invoke(
            main, ["subnet", "create", "lab", "--cidr", "127.42.77.0/24", *args]
        ).exit_code
        == 0
    )
    res = runner.invoke(main, ["subnet", "create", "other", "--cidr", cidr, *args])
    assert res.exit_code != 0 and message in res.output, res.output
    assert "other" not in runner.invoke(main, ["subnet", "list", *args]).output
    # a neighbour that touches nothing is fine
    assert (
        runner.invoke(
            main, ["subnet", "create", "next", "--cidr", "127.42.78.0/24", *args]
        ).exit_code
        == 0
    )


@pytest.mark.parametrize(("driver", "served"), [("noop", True), ("netns", True), ("local", False)])
def test_an_ipv6_subnet_is_made_where_the_network_driver_serves_one(
    tmp_path: Path, monkeypatch, driver: str, served: bool
):
    """noop plumbs nothing and netns plumbs IPv6, so both take an IPv6 subnet (in the
    network of an IPv4 one: dual stack, as bench/conformance makes it); local refuses."""
    monkeypatch.setenv("HYDRIA_NETWORK_DRIVER", driver)
    runner = CliRunner()
    args = ["--state-dir", str(tmp_path)]
    assert (
        runner.invoke(main, ["subnet", "create", "v4", "--cidr", "127.42.77.0/24", *args]).exit_code
        == 0
    )
    res = runner.invoke(
        main, ["subnet", "create", "v6", "--cidr", "fd00:42::/64", "--network", "v4", *args]
    )
    listed = runner.invoke(main, ["subnet", "list", *args]).output
    if served:
        assert res.exit_code == 0, res.output
        assert "fd00:42::/64" in listed
    else:
        assert res.exit_code != 0 and "IPv6 subnets are not supported yet" in res.output
        assert "fd00:42::/64" not in listed


@pytest.mark.postgres
def test_a_database_that_does_not_exist_stops_a_command_with_the_reason(
    tmp_path: Path, monkeypatch
):
    """A wrong name is not an outage: no waiting, one clear line."""
    monkeypatch.setenv(
        "HYDRIA_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/hydria_no_such_database"
    )
    monkeypatch.setenv("HYDRIA_DB_WAIT_SECONDS", "2")  # the old rule waited, then gave up
    res = CliRunner().invoke(main, ["db", "upgrade", "--state-dir", str(tmp_path)])
    assert res.exit_code == 1
    assert (
        "cannot use the database" in str(res.exception) or "cannot use the database" in res.output
    )
    assert "does not exist" in str(res.exception) + res.output
