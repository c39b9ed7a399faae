"""Start-up refusals: an API that would protect nothing does not start, and says which
setting to change; noauth beyond loopback starts only when asked, with a warning."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from hydria.api.auth.safety import UnsafeConfiguration, check
from hydria.cli.main import main
from hydria.config import Settings

KEYSTONE = {
    "HYDRIA_AUTH_STRATEGY": "keystone",
    "HYDRIA_KEYSTONE_URL": "http://127.0.0.1:1/v3",
    "HYDRIA_KEYSTONE_USERNAME": "hydria",
    "HYDRIA_KEYSTONE_PASSWORD": "secret",
}


@pytest.mark.parametrize("command", ["api", "up"])
@pytest.mark.parametrize(
    "env,args,names",
    [
        ({"HYDRIA_AUTH_STRATEGY": "keystnoe"}, [], "HYDRIA_AUTH_STRATEGY='keystnoe'"),
        ({"HYDRIA_AUTH_STRATEGY": "keystone"}, [], "HYDRIA_KEYSTONE_URL"),
        ({**KEYSTONE, "HYDRIA_KEYSTONE_URL": ""}, [], "HYDRIA_KEYSTONE_URL"),
        ({**KEYSTONE, "HYDRIA_KEYSTONE_USERNAME": ""}, [], "HYDRIA_KEYSTONE_USERNAME"),
        ({**KEYSTONE, "HYDRIA_KEYSTONE_PASSWORD": ""}, [], "HYDRIA_KEYSTONE_PASSWORD"),
        ({**KEYSTONE, "HYDRIA_POLICY_FILE": "/nonexistent/policy.yaml"}, [], "HYDRIA_POLICY_FILE"),
        ({}, ["--host", "0.0.0.0"], "--insecure-noauth-anywhere"),
        ({}, ["--host", "192.0.2.1"], "loopback only"),
        ({"HYDRIA_API_HOST": "::"}, [], "HYDRIA_AUTH_STRATEGY=keystone"),
        ({}, ["--host", "api.example.org"], "loopback only"),
    ],
)
def test_unsafe_settings_are_refused_before_anything_starts(
    tmp_path: Path, command: str, env: dict[str, str], args: list[str], names: str
):
    state = tmp_path / "state"
    res = CliRunner().invoke(main, [command, "--state-dir", str(state), *args], env=env)
    assert res.exit_code == 1, res.output
    assert names in res.output
    assert not state.exists()  # refused before the database or any key was made


@pytest.mark.parametrize("host", ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"])
def test_noauth_on_loopback_starts_quietly(host: str):
    assert check(Settings(api_host=host)) == []


def test_noauth_anywhere_starts_with_a_warning_every_time(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    served: list[str] = []
    monkeypatch.setattr("uvicorn.run", lambda app, host, **kw: served.append(host))
    for args, env in (
        (["--insecure-noauth-anywhere"], {}),
        ([], {"HYDRIA_INSECURE_NOAUTH_ANYWHERE": "true"}),
    ):
        res = CliRunner().invoke(
            main, ["api", "--state-dir", str(tmp_path), "--host", "0.0.0.0", *args], env=env
        )
        assert res.exit_code == 0, res.output
        assert "WARNING: noauth API on 0.0.0.0" in res.output
    assert served == ["0.0.0.0", "0.0.0.0"]


def test_keystone_with_everything_set_is_accepted():
    assert (
        check(
            Settings(
                **{k.removeprefix("HYDRIA_").lower(): v for k, v in KEYSTONE.items()},
                api_host="0.0.0.0",
            )
        )
        == []
    )
    with pytest.raises(UnsafeConfiguration, match="HYDRIA_AUTH_STRATEGY"):
        check(Settings(auth_strategy="none"))
