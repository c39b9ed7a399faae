"""The real ``openstack secret ...`` (python-barbicanclient) against ``hydria up``'s
embedded secret store: with ``--os-auth-type none --os-endpoint`` and with the
``hydria`` cloud that ``hydria up`` writes into clouds.yaml (the same function).

PEM as text, PKCS12 as a binary file, a ``certificate`` container, lists with
a name filter, deletes, a refusal the client reports, and another project
that sees none of it.
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from hydria.cli.clouds import write_cloud
from tests.api.test_secrets import cert_and_key
from tests.support.hydria_proc import BIN, HydriaUp, running

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def up(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HydriaUp]:
    with running(tmp_path_factory.mktemp("secrets") / "state", args=("--driver", "noop")) as h:
        yield h


def cli(up: HydriaUp, *args: str, cloud: Path | None = None, ok: bool = True) -> str:
    env = dict(os.environ)
    if cloud is not None:
        env["OS_CLIENT_CONFIG_FILE"] = str(cloud)
        cmd = [str(BIN / "openstack"), "--os-cloud", "hydria", *args]
    else:
        cmd = [
            str(BIN / "openstack"),
            "--os-auth-type",
            "none",
            "--os-endpoint",
            up.endpoint,
            *args,
        ]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    if ok and res.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed:\n{res.stderr}\n{up.log(tail=4000)}")
    if not ok:
        assert res.returncode != 0, res.stdout
        assert "Traceback" not in res.stderr, res.stderr
        return res.stderr
    return res.stdout


def value(up: HydriaUp, *args: str, column: str, cloud: Path | None = None) -> str:
    return cli(up, *args, "-f", "value", "-c", column, cloud=cloud).strip()


@pytest.mark.parametrize("how", ["endpoint", "cloud"])
def test_openstack_secret_commands(up: HydriaUp, tmp_path: Path, how: str) -> None:
    cloud = None
    if how == "cloud":
        cloud = tmp_path / "clouds.yaml"
        write_cloud(cloud, "hydria", up.endpoint)
        assert (
            yaml.safe_load(cloud.read_text())["clouds"]["hydria"]["key_manager_endpoint_override"]
            == up.endpoint + "/v1"
        )
    pem, key_pem, cert, key = cert_and_key()
    cert_ref = value(
        up,
        "secret",
        "store",
        "--name",
        f"cert-{how}",
        "--secret-type",
        "certificate",
        "--payload-content-type",
        "text/plain",
        "--payload",
        pem.decode(),
        column="Secret href",
        cloud=cloud,
    )
    assert cert_ref.startswith(up.endpoint + "/v1/secrets/")
    key_ref = value(
        up,
        "secret",
        "store",
        "--name",
        f"key-{how}",
        "--secret-type",
        "private",
        "--payload-content-type",
        "text/plain",
        "--payload",
        key_pem.decode(),
        column="Secret href",
        cloud=cloud,
    )
    bundle = pkcs12.serialize_key_and_certificates(
        b"tls", key, cert, None, serialization.BestAvailableEncryption(b"pw")
    )
    p12 = tmp_path / "bundle.p12"
    p12.write_bytes(bundle)
    p12_ref = value(
        up,
        "secret",
        "store",
        "--name",
        f"p12-{how}",
        "--file",
        str(p12),
        column="Secret href",
        cloud=cloud,
    )

    assert (
        value(up, "secret", "get", "--payload", cert_ref, column="Payload", cloud=cloud)
        == pem.decode().strip()
    )
    out = tmp_path / "out.p12"
    # as with Barbican, octets must be asked for as octets (the client asks for text)
    err = cli(up, "secret", "get", "--file", str(out), p12_ref, cloud=cloud, ok=False)
    assert "Not Acceptable" in err
    cli(
        up,
        "secret",
        "get",
        "--file",
        str(out),
        "-t",
        "application/octet-stream",
        p12_ref,
        cloud=cloud,
    )
    assert out.read_bytes() == bundle
    shown = value(up, "secret", "get", p12_ref, column="Content types", cloud=cloud)
    assert "application/octet-stream" in shown

    names = cli(up, "secret", "list", "-f", "value", "-c", "Name", cloud=cloud).split()
    assert {f"cert-{how}", f"key-{how}", f"p12-{how}"} <= set(names)
    assert cli(
        up,
        "secret",
        "list",
        "--name",
        f"key-{how}",
        "-f",
        "value",
        "-c",
        "Secret href",
        cloud=cloud,
    ).split() == [key_ref]

    container = value(
        up,
        "secret",
        "container",
        "create",
        "--name",
        f"tls-{how}",
        "--type",
        "certificate",
        "--secret",
        f"certificate={cert_ref}",
        "--secret",
        f"private_key={key_ref}",
        column="Container href",
        cloud=cloud,
    )
    assert container.startswith(up.endpoint + "/v1/containers/")
    # (the client cannot print a container's `get` as JSON: its datetime; YAML works)
    got: dict[str, Any] = yaml.safe_load(
        cli(up, "secret", "container", "get", container, "-f", "yaml", cloud=cloud)
    )
    assert got["Certificate"] == cert_ref and got["Private Key"] == key_ref
    assert container in cli(
        up, "secret", "container", "list", "-f", "value", "-c", "Container href", cloud=cloud
    )

    # another project (noauth: X-Project-Id) sees none of it
    with httpx.Client(base_url=up.endpoint, headers={"X-Project-Id": "someone-else"}) as c:
        assert c.get(cert_ref).status_code == 404
        assert c.get(container).status_code == 404
        assert c.get("/v1/secrets").json()["total"] == 0

    # a refusal reaches the user as Barbican's message, not a traceback
    err = cli(
        up,
        "secret",
        "container",
        "create",
        "--type",
        "certificate",
        "--secret",
        f"private_key={key_ref}",
        cloud=cloud,
        ok=False,
    )
    assert "certificate" in err
    err = cli(
        up,
        "secret",
        "get",
        "--payload",
        up.endpoint + "/v1/secrets/00000000-0000-0000-0000-000000000000",
        cloud=cloud,
        ok=False,
    )
    assert "Not Found" in err or "not found" in err

    cli(up, "secret", "container", "delete", container, cloud=cloud)
    for ref in (cert_ref, key_ref, p12_ref):
        cli(up, "secret", "delete", ref, cloud=cloud)
    left = json.loads(cli(up, "secret", "list", "-f", "json", cloud=cloud) or "[]")
    assert not {f"cert-{how}", f"key-{how}", f"p12-{how}"} & {s["Name"] for s in left}
