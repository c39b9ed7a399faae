"""Providers and their flavor / availability zone capabilities."""

from __future__ import annotations

from pathlib import Path

import pytest

from hydria.api.app import create_app
from hydria.core import host
from hydria.services import provider
from tests.api.conftest import ADMIN, BASE, TestClient, assert_fault, assert_routing_fault
from tests.support.identity import HeaderIdentity, keystone_settings

PROVIDERS = f"{BASE}/providers"


def test_providers_list_amphora_and_its_alias(client):
    r = client.get(PROVIDERS)
    assert r.status_code == 200
    body = r.json()
    assert set(body) == {"providers"}
    assert [p["name"] for p in body["providers"]] == ["amphora", "octavia"]
    assert all(set(p) == {"name", "description"} and p["description"] for p in body["providers"])
    description = body["providers"][0]["description"]
    assert (
        "UDP through" in description and "nginx-stream" in description
    )  # nftables first where root has nft
    assert client.get(PROVIDERS, params={"fields": "name"}).json() == {
        "providers": [{"name": "amphora"}, {"name": "octavia"}]
    }
    assert client.get("/v2.0/lbaas/providers").json() == body


@pytest.mark.parametrize("name", ["amphora", "octavia"])
def test_flavor_capabilities_are_what_hydria_applies(client, name):
    """Octavia's amphora provider's keys and descriptions."""
    r = client.get(f"{PROVIDERS}/{name}/flavor_capabilities")
    assert r.status_code == 200
    caps = {c["name"]: c["description"] for c in r.json()["flavor_capabilities"]}
    assert set(caps) == {
        "loadbalancer_topology",
        "compute_flavor",
        "amp_image_tag",
        "sriov_vip",
        "allow_member_sriov",
    }
    assert caps["loadbalancer_topology"] == (
        "The load balancer topology. One of: SINGLE - One amphora per load balancer. "
        "ACTIVE_STANDBY - Two amphora per load balancer."
    )
    assert caps["compute_flavor"] == "The compute driver flavor ID."
    # what this host serves beyond HAProxy is in the provider's description instead
    # (no kernel SCTP here)
    amphora = {p["name"]: p["description"] for p in client.get(PROVIDERS).json()["providers"]}[
        "amphora"
    ]
    assert "UDP through" in amphora and "nginx-stream" in amphora
    assert "no SCTP (no kernel support)" in amphora
    assert client.get(
        f"{PROVIDERS}/{name}/flavor_capabilities", params={"name": "nothing"}
    ).json() == {"flavor_capabilities": []}
    assert client.get(
        f"{PROVIDERS}/{name}/flavor_capabilities", params={"fields": "name", "name": "sriov_vip"}
    ).json() == {"flavor_capabilities": [{"name": "sriov_vip"}]}


def test_availability_zone_capabilities_are_octavias(client):
    r = client.get(f"{PROVIDERS}/amphora/availability_zone_capabilities")
    assert r.status_code == 200
    caps = {c["name"]: c["description"] for c in r.json()["availability_zone_capabilities"]}
    assert set(caps) == {"compute_zone", "volume_zone", "management_network", "valid_vip_networks"}
    assert caps["compute_zone"] == "The compute availability zone."
    assert caps["management_network"] == "The management network ID for the amphora."


@pytest.mark.parametrize("tail", ["flavor_capabilities", "availability_zone_capabilities"])
def test_unknown_provider_is_400(client, tail):
    assert_fault(
        client.get(f"{PROVIDERS}/noop_driver/{tail}"), 400, "Provider 'noop_driver' is not enabled."
    )


def test_unknown_provider_path_is_404(client):
    """No controller serves these paths: pecan's 404, as Octavia answers."""
    assert_routing_fault(client.get(f"{PROVIDERS}/amphora"), 404, "Not Found")
    assert_routing_fault(client.get(f"{PROVIDERS}/amphora/colours"), 404, "Not Found")


def test_capabilities_need_an_admin_outside_noauth(db, notifier, tmp_path: Path):
    settings = keystone_settings(tmp_path)
    with TestClient(create_app(db, notifier, settings, authenticator=HeaderIdentity)) as client:
        assert client.get(PROVIDERS).status_code == 200
        for tail in ("flavor_capabilities", "availability_zone_capabilities"):
            assert_fault(client.get(f"{PROVIDERS}/amphora/{tail}"), 403)
            assert client.get(f"{PROVIDERS}/amphora/{tail}", headers=ADMIN).status_code == 200


def test_version_roots_answer_v2(client):
    for path in ("/v2", "/v2.0", "/v2/lbaas", "/v2.0/lbaas", "/v2/octavia"):
        r = client.get(path)
        assert r.status_code == 200, path
        assert r.json() == "v2"


def test_keystone_project_lookups_are_forbidden(client):
    """The CLI's project look-up (auth_type none) gets Keystone's 403 and uses the name."""
    assert_fault(client.get("/projects/some-project"), 403)
    assert_fault(client.get("/projects", params={"name": "some-project"}), 403)


@pytest.mark.parametrize(
    ("kernel_sctp", "words"),
    [(False, "no SCTP (no kernel support)"), (True, "no SCTP (no IPVS engine)")],
)
def test_provider_says_which_part_sctp_lacks(monkeypatch, kernel_sctp, words):
    """SCTP needs the kernel's stack and the IPVS engine (not built): a host with
    the first still cannot serve it, and the description must not blame its kernel."""
    found = host.HostSupport(sctp=kernel_sctp, nginx="/usr/sbin/nginx")
    monkeypatch.setattr(host, "detect", lambda: found)
    assert words in provider.provider_description("local")
