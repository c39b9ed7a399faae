"""The real ``openstack`` CLI against a real ``hydria up``: providers, a quota that
refuses a second load balancer, its reset, and a load balancer built with a flavor."""

from __future__ import annotations

import json

import pytest

from hydria.core.constants import DEFAULT_PROJECT_ID

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]


def test_cli_providers_quotas_and_flavors(hydria):
    os_ = hydria.openstack

    providers = os_("loadbalancer", "provider", "list")
    assert {p["name"] for p in providers} == {"amphora", "octavia"}
    caps = os_("loadbalancer", "provider", "capability", "list", "amphora")
    # Octavia's amphora provider's flavor and zone capabilities (docs/compatibility.md)
    assert {c["name"] for c in caps} == {
        "loadbalancer_topology",
        "compute_flavor",
        "amp_image_tag",
        "sriov_vip",
        "allow_member_sriov",
        "compute_zone",
        "volume_zone",
        "management_network",
        "valid_vip_networks",
    }

    quota = os_("loadbalancer", "quota", "set", "--loadbalancer", "1", DEFAULT_PROJECT_ID)
    assert quota["load_balancer"] == 1
    assert os_("loadbalancer", "quota", "show", DEFAULT_PROJECT_ID)["load_balancer"] == 1
    listed = os_("loadbalancer", "quota", "list")
    assert [q["project_id"] for q in listed] == [DEFAULT_PROJECT_ID]

    first = os_("loadbalancer", "create", "--name", "first", "--vip-subnet-id", "public", "--wait")
    assert first["provisioning_status"] == "ACTIVE"
    with pytest.raises(AssertionError) as refused:
        os_("loadbalancer", "create", "--name", "second", "--vip-subnet-id", "public")
    assert "Quota has been met for resources: Load Balancer" in str(refused.value)
    assert [lb["name"] for lb in os_("loadbalancer", "list")] == ["first"]

    os_("loadbalancer", "quota", "reset", DEFAULT_PROJECT_ID, parse=False)
    assert os_("loadbalancer", "quota", "show", DEFAULT_PROJECT_ID)["load_balancer"] == -1
    assert os_("loadbalancer", "quota", "list") == []

    profile = os_(
        "loadbalancer",
        "flavorprofile",
        "create",
        "--name",
        "single",
        "--provider",
        "amphora",
        "--flavor-data",
        json.dumps({"loadbalancer_topology": "SINGLE"}),
    )
    flavor = os_(
        "loadbalancer",
        "flavor",
        "create",
        "--name",
        "small",
        "--flavorprofile",
        "single",
        "--description",
        "one amphora",
        "--enable",
    )
    assert flavor["flavor_profile_id"] == profile["id"]
    second = os_(
        "loadbalancer",
        "create",
        "--name",
        "second",
        "--vip-subnet-id",
        "public",
        "--flavor",
        "small",
        "--wait",
    )
    assert second["provisioning_status"] == "ACTIVE"
    assert second["flavor_id"] == flavor["id"]
    with pytest.raises(AssertionError) as in_use:
        os_("loadbalancer", "flavor", "delete", "small", parse=False)
    assert "is in use" in str(in_use.value)

    for lb in (first, second):
        os_("loadbalancer", "delete", "--wait", lb["id"], parse=False)
    os_("loadbalancer", "flavor", "delete", "small", parse=False)
    os_("loadbalancer", "flavorprofile", "delete", "single", parse=False)
    assert os_("loadbalancer", "flavor", "list") == []
