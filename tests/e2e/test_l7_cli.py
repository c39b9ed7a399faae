"""L7 policies through the real ``openstack`` CLI and a real ``hydria up``: requests
to the VIP go to the pool, rejection or redirect their policies say, and positions
reorder as Octavia's do."""

from __future__ import annotations

import json
from collections.abc import Iterator

import httpx
import pytest

from tests.support.backends import HTTPBackend

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


@pytest.fixture
def backends() -> Iterator[dict[str, HTTPBackend]]:
    servers = {name: HTTPBackend(name) for name in ("web", "api", "host-b", "images")}
    yield servers
    for s in servers.values():
        s.stop()


def _get(vip: str, path: str, **headers: str) -> httpx.Response:
    with httpx.Client(timeout=5, follow_redirects=False) as client:
        return client.get(f"http://{vip}{path}", headers=headers)


def test_l7_policies_route_reject_redirect_and_reorder(hydria, backends):
    os_ = hydria.openstack
    lb = os_("loadbalancer", "create", "--name", "l7", "--vip-subnet-id", "public", "--wait")
    vip, lb_id = lb["vip_address"], lb["id"]
    listener = os_(
        "loadbalancer",
        "listener",
        "create",
        "--name",
        "http",
        "--protocol",
        "HTTP",
        "--protocol-port",
        "80",
        "--wait",
        lb_id,
    )
    pools = {}
    for name, backend in backends.items():
        args = ["--listener", listener["id"]] if name == "web" else ["--loadbalancer", lb_id]
        pools[name] = os_(
            "loadbalancer",
            "pool",
            "create",
            "--name",
            name,
            "--protocol",
            "HTTP",
            "--lb-algorithm",
            "ROUND_ROBIN",
            *args,
            "--wait",
        )["id"]
        os_(
            "loadbalancer",
            "member",
            "create",
            "--address",
            backend.host,
            "--protocol-port",
            str(backend.port),
            "--wait",
            pools[name],
        )

    def policy(*args: str) -> str:
        return str(os_("loadbalancer", "l7policy", "create", *args, "--wait", listener["id"])["id"])

    def rule(policy_id: str, *args: str) -> None:
        os_("loadbalancer", "l7rule", "create", *args, "--wait", policy_id)

    api = policy("--name", "api", "--action", "REDIRECT_TO_POOL", "--redirect-pool", "api")
    rule(api, "--type", "PATH", "--compare-type", "STARTS_WITH", "--value", "/api/")
    host = policy("--action", "REDIRECT_TO_POOL", "--redirect-pool", pools["host-b"])
    rule(host, "--type", "HOST_NAME", "--compare-type", "EQUAL_TO", "--value", "b.example")
    png = policy("--action", "REDIRECT_TO_POOL", "--redirect-pool", pools["images"])
    rule(png, "--type", "FILE_TYPE", "--compare-type", "EQUAL_TO", "--value", "png")
    reject = policy("--action", "REJECT")
    rule(
        reject,
        "--type",
        "HEADER",
        "--key",
        "X-Env",
        "--compare-type",
        "EQUAL_TO",
        "--value",
        "blocked",
    )
    https = policy(
        "--action",
        "REDIRECT_PREFIX",
        "--redirect-prefix",
        "https://secure.example",
        "--redirect-http-code",
        "301",
    )
    rule(https, "--type", "PATH", "--compare-type", "STARTS_WITH", "--value", "/login")

    assert _get(vip, "/").text == "web"
    assert _get(vip, "/api/users").text == "api"
    assert _get(vip, "/apiary").text == "web"
    assert _get(vip, "/", Host="b.example").text == "host-b"
    assert _get(vip, "/img/logo.png").text == "images"
    assert _get(vip, "/", **{"X-Env": "blocked"}).status_code == 403
    assert _get(vip, "/", **{"X-Env": "fine"}).text == "web"
    moved = _get(vip, "/login?next=/home")
    assert (moved.status_code, moved.headers["location"]) == (
        301,
        "https://secure.example/login?next=/home",
    )
    # the earlier policy wins: /api/ at position 1 before the host at 2
    assert _get(vip, "/api/x", Host="b.example").text == "api"

    # a new REJECT at position 1 pushes the others down and takes /api/private first
    private = policy("--action", "REJECT", "--position", "1")
    rule(private, "--type", "PATH", "--compare-type", "STARTS_WITH", "--value", "/api/private")
    listed = os_("loadbalancer", "l7policy", "list")
    order = [
        p["id"]
        for p in sorted(
            (p for p in listed if p["id"] in {api, host, png, reject, https, private}),
            key=lambda p: p["position"],
        )
    ]
    assert order == [private, api, host, png, reject, https]
    assert _get(vip, "/api/private/x").status_code == 403
    # moved last: the API pool policy now comes first
    os_("loadbalancer", "l7policy", "set", "--position", "6", "--wait", private, parse=False)
    assert os_("loadbalancer", "l7policy", "show", private)["position"] == 6
    assert os_("loadbalancer", "l7policy", "show", api)["position"] == 1
    assert _get(vip, "/api/private/x").text == "api"
    # a delete renumbers the rest
    os_("loadbalancer", "l7policy", "delete", "--wait", host, parse=False)
    positions = {
        p: os_("loadbalancer", "l7policy", "show", p)["position"]
        for p in (api, png, reject, https, private)
    }
    assert positions == {api: 1, png: 2, reject: 3, https: 4, private: 5}
    assert _get(vip, "/", Host="b.example").text == "web"

    status = json.loads(os_("loadbalancer", "status", "show", lb_id, parse=False))
    tree = status["loadbalancer"]["listeners"][0]
    assert len(tree["l7policies"]) == 5
    assert {p["name"] for p in tree["pools"]} == {"web", "api", "images"}
    assert os_("loadbalancer", "listener", "show", listener["id"])["l7policies"]

    os_("loadbalancer", "delete", "--cascade", "--wait", lb_id, parse=False)
    left = os_("loadbalancer", "l7policy", "list")
    assert not [p for p in left if p["id"] in positions]
