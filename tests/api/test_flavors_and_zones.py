"""Flavor profiles, flavors, availability zone profiles and zones; load balancers using them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from hydria.api.app import create_app
from tests.api.conftest import ADMIN, BASE, Api, TestClient, assert_fault, snapshot
from tests.support.identity import HeaderIdentity, keystone_settings

FP = f"{BASE}/flavorprofiles"
FLAVORS = f"{BASE}/flavors"
AZP = f"{BASE}/availabilityzoneprofiles"
AZS = f"{BASE}/availabilityzones"
NIL = "00000000-0000-0000-0000-000000000000"
SINGLE = json.dumps({"loadbalancer_topology": "SINGLE"})


def created(client: TestClient, path: str, root: str, **fields: Any) -> dict[str, Any]:
    r = client.post(path, json={root: fields})
    assert r.status_code == 201, r.text
    return dict(r.json()[root])


def profile(client: TestClient, data: str = "{}", **fields: Any) -> dict[str, Any]:
    fields.setdefault("name", "fp")
    fields.setdefault("provider_name", "amphora")
    return created(client, FP, "flavorprofile", flavor_data=data, **fields)


def flavor(client: TestClient, profile_id: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("name", "small")
    return created(client, FLAVORS, "flavor", flavor_profile_id=profile_id, **fields)


def zone_profile(client: TestClient, **fields: Any) -> dict[str, Any]:
    fields.setdefault("name", "azp")
    fields.setdefault("provider_name", "amphora")
    fields.setdefault("availability_zone_data", "{}")
    return created(client, AZP, "availability_zone_profile", **fields)


def zone(client: TestClient, profile_id: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("name", "az1")
    return created(
        client, AZS, "availability_zone", availability_zone_profile_id=profile_id, **fields
    )


def refused(
    api_or_client: Any, db: Any, method: str, path: str, status: int, *fragments: str, **kwargs: Any
) -> None:
    before = snapshot(db)
    r = getattr(api_or_client, method)(path, **kwargs)
    assert_fault(r, status, *fragments)
    assert snapshot(db) == before


# -- flavor profiles ---------------------------------------------------------------


def test_flavor_profile_crud(client):
    fp = profile(client, SINGLE, name="single")
    assert set(fp) == {"id", "name", "provider_name", "flavor_data"}
    assert fp["flavor_data"] == SINGLE and fp["provider_name"] == "amphora"
    assert client.get(f"{FP}/{fp['id']}").json() == {"flavorprofile": fp}
    assert client.get(f"{FP}/{fp['id']}", params={"fields": "id,name"}).json() == {
        "flavorprofile": {"id": fp["id"], "name": "single"}
    }
    other = profile(client, name="empty", provider_name="octavia")
    listed = client.get(FP).json()
    assert set(listed) == {"flavorprofiles", "flavorprofile_links"}
    assert [p["id"] for p in listed["flavorprofiles"]] == sorted([fp["id"], other["id"]])
    assert [
        p["name"]
        for p in client.get(FP, params={"provider_name": "octavia"}).json()["flavorprofiles"]
    ] == ["empty"]

    r = client.put(f"{FP}/{fp['id']}", json={"flavorprofile": {"name": "renamed"}})
    assert r.status_code == 200 and r.json()["flavorprofile"]["name"] == "renamed"
    r = client.put(f"{FP}/{fp['id']}", json={"flavorprofile": {"flavor_data": "{}"}})
    assert r.json()["flavorprofile"]["flavor_data"] == "{}"

    assert client.delete(f"{FP}/{fp['id']}").status_code == 204
    assert_fault(client.get(f"{FP}/{fp['id']}"), 404, f"Flavor Profile {fp['id']} not found.")
    assert_fault(client.delete(f"{FP}/{fp['id']}"), 404)


@pytest.mark.parametrize(
    ("fields", "fragment"),
    [
        ({"flavor_data": "{not json"}, "is not a valid option for flavor_data"),
        ({"flavor_data": "[1, 2]"}, "is not a valid option for flavor_data"),
        ({"flavor_data": "[" * 4000}, "is not a valid option for flavor_data"),  # too deep
        ({"flavor_data": '{"loadbalancer_topology": NaN}'}, "is not a valid option"),
        ({"provider_name": "noop_driver"}, "Provider 'noop_driver' is not enabled."),
        ({"name": None}, "name"),
        ({"flavor_data": "x" * 4097}, "flavor_data"),
        ({"flavor_data": {"loadbalancer_topology": "SINGLE"}}, "flavor_data"),
        ({"colour": "red"}, "Unknown attribute"),
    ],
)
def test_bad_flavor_profiles_are_400(client, db, fields, fragment):
    body = {"name": "fp", "provider_name": "amphora", "flavor_data": "{}", **fields}
    refused(client, db, "post", FP, 400, fragment, json={"flavorprofile": body})


@pytest.mark.parametrize(
    ("data", "fragment"),
    [
        ({"colour": "red"}, "Additional properties are not allowed ('colour' was unexpected)"),
        (
            {"loadbalancer_topology": "TRIPLE"},
            "loadbalancer_topology 'TRIPLE' is not one of ['SINGLE', 'ACTIVE_STANDBY']",
        ),
        ({"sriov_vip": "yes"}, "sriov_vip 'yes' is not of type 'boolean'"),
        ({"compute_flavor": 7}, "compute_flavor 7 is not of type 'string'"),
        ({"amp_image_tag": True}, "amp_image_tag True is not of type 'string'"),
        # listed among the capabilities for information (the protocols served here), not a setting
        (
            {"listener_protocols": "UDP"},
            "Additional properties are not allowed ('listener_protocols' was unexpected)",
        ),
    ],
)
def test_flavor_profiles_checked_as_octavias_amphora_provider(client, db, data, fragment):
    """A profile Octavia's amphora provider refuses is its 501, and nothing is written."""
    body = {"name": "fp", "provider_name": "amphora", "flavor_data": json.dumps(data)}
    refused(
        client,
        db,
        "post",
        FP,
        501,
        f"Provider 'amphora' does not support a requested option: {fragment}",
        json={"flavorprofile": body},
    )


def test_octavias_flavor_profiles_are_accepted(client):
    data = {
        "loadbalancer_topology": "ACTIVE_STANDBY",
        "compute_flavor": "m1.amphora",
        "amp_image_tag": "amphora",
        "sriov_vip": False,
        "allow_member_sriov": True,
    }
    r = client.post(
        FP,
        json={
            "flavorprofile": {
                "name": "ha",
                "provider_name": "amphora",
                "flavor_data": json.dumps(data),
            }
        },
    )
    assert r.status_code == 201, r.text


def test_a_load_balancer_of_an_active_standby_flavor_is_501(api: Api, client, db):
    fp = client.post(
        FP,
        json={
            "flavorprofile": {
                "name": "ha",
                "provider_name": "amphora",
                "flavor_data": json.dumps({"loadbalancer_topology": "ACTIVE_STANDBY"}),
            }
        },
    ).json()
    fl = flavor(client, fp["flavorprofile"]["id"])
    refused(
        client,
        db,
        "post",
        f"{BASE}/loadbalancers",
        501,
        "Provider 'amphora' does not support a requested option: loadbalancer_topology "
        "ACTIVE_STANDBY",
        json={"loadbalancer": {"vip_subnet_id": api.subnet_id, "flavor_id": fl["id"]}},
    )


def test_flavor_profile_update_rules(client, db):
    fp = profile(client)
    flavor(client, fp["id"])
    path = f"{FP}/{fp['id']}"
    for body, status, fragment in [
        ({"name": None}, 400, "None is not a valid option for name"),
        ({"flavor_data": None}, 400, "None is not a valid option for flavor_data"),
        ({"flavor_data": '{"x": 1}'}, 501, "('x' was unexpected)"),
        ({"flavor_data": SINGLE}, 409, f"Flavor profile {fp['id']} is in use"),
        ({"provider_name": "octavia"}, 409, "is in use"),
        ({"provider_name": "nope"}, 400, "Provider 'nope' is not enabled."),
    ]:
        refused(client, db, "put", path, status, fragment, json={"flavorprofile": body})
    refused(
        client, db, "put", f"{FP}/{NIL}", 404, "not found", json={"flavorprofile": {"name": "x"}}
    )
    refused(client, db, "delete", path, 409, "is in use and cannot be modified.")


# -- flavors -------------------------------------------------------------------------


def test_flavor_crud(client):
    fp = profile(client, SINGLE)
    fl = flavor(client, fp["id"], description="one amphora")
    assert set(fl) == {"id", "name", "description", "enabled", "flavor_profile_id"}
    assert fl["enabled"] is True and fl["description"] == "one amphora"
    assert client.get(f"{FLAVORS}/{fl['id']}").json() == {"flavor": fl}
    bare = flavor(client, fp["id"], name="bare", enabled=False)
    assert bare["description"] is None and bare["enabled"] is False
    listed = client.get(FLAVORS).json()
    assert set(listed) == {"flavors", "flavors_links"}
    assert [f["id"] for f in listed["flavors"]] == sorted([fl["id"], bare["id"]])
    assert [
        f["name"] for f in client.get(FLAVORS, params={"enabled": "false"}).json()["flavors"]
    ] == ["bare"]
    r = client.put(
        f"{FLAVORS}/{fl['id']}",
        json={"flavor": {"name": "tiny", "description": None, "enabled": False}},
    )
    assert r.status_code == 200
    assert r.json()["flavor"] == {**fl, "name": "tiny", "description": None, "enabled": False}
    assert client.delete(f"{FLAVORS}/{fl['id']}").status_code == 204
    assert_fault(client.get(f"{FLAVORS}/{fl['id']}"), 404, f"Flavor {fl['id']} not found.")
    assert_fault(client.get(f"{FLAVORS}/{NIL}"), 404)


def test_bad_flavors(client, db):
    fp = profile(client)
    flavor(client, fp["id"])
    for body, status, fragment in [
        (
            {"name": "small", "flavor_profile_id": fp["id"]},
            409,
            "A flavor of small already exists.",
        ),
        ({"name": "x", "flavor_profile_id": NIL}, 400, f"Flavor Profile {NIL} not found."),
        ({"name": "x", "flavor_profile_id": "nope"}, 400, "flavor_profile_id"),
        ({"name": "x"}, 400, "flavor_profile_id"),
        ({"flavor_profile_id": fp["id"]}, 400, "name"),
        ({"name": "x", "flavor_profile_id": fp["id"], "enabled": "sure"}, 400, "enabled"),
        ({"name": "x" * 256, "flavor_profile_id": fp["id"]}, 400, "name"),
    ]:
        refused(client, db, "post", FLAVORS, status, fragment, json={"flavor": body})
    other = flavor(client, fp["id"], name="other")
    for body, status, fragment in [
        ({"name": "small"}, 409, "A flavor of small already exists."),
        ({"name": None}, 400, "None is not a valid option for name"),
        ({"enabled": None}, 400, "None is not a valid option for enabled"),
        ({"flavor_profile_id": fp["id"]}, 400, "Unknown attribute"),
    ]:
        refused(
            client, db, "put", f"{FLAVORS}/{other['id']}", status, fragment, json={"flavor": body}
        )


def test_flavor_policy_outside_noauth(db, notifier, tmp_path: Path):
    settings = keystone_settings(tmp_path)
    with TestClient(create_app(db, notifier, settings, authenticator=HeaderIdentity)) as client:
        r = client.post(
            FP,
            headers=ADMIN,
            json={"flavorprofile": {"name": "fp", "provider_name": "amphora", "flavor_data": "{}"}},
        )
        fp_id = r.json()["flavorprofile"]["id"]
        r = client.post(
            FLAVORS, headers=ADMIN, json={"flavor": {"name": "small", "flavor_profile_id": fp_id}}
        )
        fl_id = r.json()["flavor"]["id"]
        # every project reads flavors; only admins see profiles or write anything
        assert client.get(FLAVORS).status_code == 200
        assert client.get(f"{FLAVORS}/{fl_id}").status_code == 200
        refused(client, db, "get", FP, 403)
        refused(client, db, "get", f"{FP}/{fp_id}", 403)
        refused(
            client,
            db,
            "post",
            FLAVORS,
            403,
            json={"flavor": {"name": "x", "flavor_profile_id": fp_id}},
        )
        refused(client, db, "put", f"{FLAVORS}/{fl_id}", 403, json={"flavor": {"name": "y"}})
        refused(client, db, "delete", f"{FLAVORS}/{fl_id}", 403)
        refused(
            client,
            db,
            "post",
            FP,
            403,
            json={"flavorprofile": {"name": "fp", "provider_name": "amphora", "flavor_data": "{}"}},
        )
        refused(client, db, "delete", f"{FP}/{fp_id}", 403)
        assert client.delete(f"{FLAVORS}/{fl_id}", headers=ADMIN).status_code == 204


# -- load balancers with a flavor ---------------------------------------------------


def test_load_balancer_with_a_flavor(api, client, db):
    fp = profile(client, SINGLE)
    fl = flavor(client, fp["id"])
    lb = api.lb(flavor_id=fl["id"])
    assert lb["flavor_id"] == fl["id"] and lb["provider"] == "amphora"
    assert (
        client.get(f"{BASE}/loadbalancers", params={"flavor_id": fl["id"]}).json()["loadbalancers"][
            0
        ]["id"]
        == lb["id"]
    )
    api.lb(flavor_id=fl["id"], provider="amphora")
    # a flavor in use cannot go, nor can its profile
    refused(
        client,
        db,
        "delete",
        f"{FLAVORS}/{fl['id']}",
        409,
        f"Flavor {fl['id']} is in use and cannot be modified.",
    )
    refused(client, db, "delete", f"{FP}/{fp['id']}", 409, "is in use")
    # once its load balancers are DELETED it can
    for item in client.get(f"{BASE}/loadbalancers").json()["loadbalancers"]:
        assert client.delete(f"{BASE}/loadbalancers/{item['id']}").status_code == 204
    api.settle()
    assert client.delete(f"{FLAVORS}/{fl['id']}").status_code == 204
    assert client.delete(f"{FP}/{fp['id']}").status_code == 204


def test_load_balancer_refuses_unknown_disabled_or_mismatched_flavors(api, client, db):
    fp = profile(client, provider_name="octavia")
    off = flavor(client, fp["id"], name="off", enabled=False)
    on = flavor(client, fp["id"], name="on")
    base = {"vip_subnet_id": api.subnet_id}
    for extra, fragment in [
        ({"flavor_id": NIL}, "Validation failure: Invalid flavor_id."),
        (
            {"flavor_id": off["id"]},
            f"The selected flavor is not allowed in this deployment: {off['id']}",
        ),
        (
            {"flavor_id": on["id"], "provider": "amphora"},
            f"Flavor '{on['id']}' is not compatible with provider 'amphora'",
        ),
        ({"flavor_id": "not-a-uuid"}, "flavor_id"),
    ]:
        refused(
            client,
            db,
            "post",
            f"{BASE}/loadbalancers",
            400,
            fragment,
            json={"loadbalancer": {**base, **extra}},
        )
    # the profile's own provider name is fine, and so is enabling the flavor
    api.lb(flavor_id=on["id"], provider="octavia")
    client.put(f"{FLAVORS}/{off['id']}", json={"flavor": {"enabled": True}})
    api.lb(flavor_id=off["id"])


# -- availability zones ---------------------------------------------------------------


def test_zone_profile_and_zone_crud(client):
    azp = zone_profile(client)
    assert set(azp) == {"id", "name", "provider_name", "availability_zone_data"}
    assert client.get(f"{AZP}/{azp['id']}").json() == {"availability_zone_profile": azp}
    listed = client.get(AZP).json()
    assert set(listed) == {"availability_zone_profiles", "availability_zone_profile_links"}
    r = client.put(f"{AZP}/{azp['id']}", json={"availability_zone_profile": {"name": "z"}})
    assert r.status_code == 200 and r.json()["availability_zone_profile"]["name"] == "z"

    az = zone(client, azp["id"], description="rack 1")
    assert az == {
        "name": "az1",
        "description": "rack 1",
        "enabled": True,
        "availability_zone_profile_id": azp["id"],
    }
    assert client.get(f"{AZS}/az1").json() == {"availability_zone": az}
    listed = client.get(AZS).json()
    assert listed == {"availability_zones": [az], "availability_zones_links": []}
    r = client.put(
        f"{AZS}/az1", json={"availability_zone": {"enabled": False, "description": None}}
    )
    assert r.json()["availability_zone"] == {**az, "enabled": False, "description": None}
    assert client.delete(f"{AZS}/az1").status_code == 204
    assert_fault(client.get(f"{AZS}/az1"), 404, "Availability Zone az1 not found.")
    assert client.delete(f"{AZP}/{azp['id']}").status_code == 204
    assert_fault(
        client.get(f"{AZP}/{azp['id']}"), 404, f"Availability Zone Profile {azp['id']} not found."
    )


def test_bad_zones(client, db):
    for data in ({"management_network": NIL}, {"valid_vip_networks": [NIL]}):
        body = {"name": "p", "provider_name": "amphora", "availability_zone_data": json.dumps(data)}
        refused(
            client,
            db,
            "post",
            AZP,
            501,
            f"Network {NIL} could not be found.",
            json={"availability_zone_profile": body},
        )
    for fields, fragment in [
        ({"availability_zone_data": "nope"}, "is not a valid option for availability_zone_data"),
        (
            {"availability_zone_data": "{" * 4000},
            "is not a valid option for availability_zone_data",
        ),
        ({"provider_name": "x"}, "Provider 'x' is not enabled."),
    ]:
        body = {"name": "p", "provider_name": "amphora", "availability_zone_data": "{}", **fields}
        refused(client, db, "post", AZP, 400, fragment, json={"availability_zone_profile": body})
    for data, fragment in [
        ({"compute_zone": 1}, "compute_zone 1 is not of type 'string'"),
        ({"valid_vip_networks": "net"}, "valid_vip_networks 'net' is not of type 'array'"),
        ({"region": "x"}, "('region' was unexpected)"),
    ]:
        body = {"name": "p", "provider_name": "amphora", "availability_zone_data": json.dumps(data)}
        refused(client, db, "post", AZP, 501, fragment, json={"availability_zone_profile": body})
    azp = zone_profile(client)
    zone(client, azp["id"])
    for body, status, fragment in [
        (
            {"name": "az1", "availability_zone_profile_id": azp["id"]},
            409,
            "A availability zone of az1 already exists.",
        ),
        (
            {"name": "az2", "availability_zone_profile_id": NIL},
            400,
            f"Availability Zone Profile {NIL} not found.",
        ),
        ({"name": "az2"}, 400, "availability_zone_profile_id"),
    ]:
        refused(client, db, "post", AZS, status, fragment, json={"availability_zone": body})
    refused(
        client,
        db,
        "put",
        f"{AZS}/az1",
        400,
        "Unknown attribute",
        json={"availability_zone": {"name": "az9"}},
    )
    refused(
        client,
        db,
        "put",
        f"{AZS}/az1",
        400,
        "None is not a valid option for enabled",
        json={"availability_zone": {"enabled": None}},
    )
    refused(
        client,
        db,
        "put",
        f"{AZP}/{azp['id']}",
        409,
        "is in use",
        json={"availability_zone_profile": {"availability_zone_data": "{}"}},
    )
    refused(client, db, "delete", f"{AZP}/{azp['id']}", 409, "is in use")
    refused(client, db, "delete", f"{AZS}/nowhere", 404, "Availability Zone nowhere not found.")


def test_load_balancer_in_a_zone(api: Api, client, db):
    azp = zone_profile(client)
    zone(client, azp["id"])
    zone(client, azp["id"], name="off", enabled=False)
    lb = api.lb(availability_zone="az1")
    assert lb["availability_zone"] == "az1"
    base = {"vip_subnet_id": api.subnet_id}
    refused(
        client,
        db,
        "post",
        f"{BASE}/loadbalancers",
        400,
        "Validation failure: Invalid availability zone.",
        json={"loadbalancer": {**base, "availability_zone": "nowhere"}},
    )
    refused(
        client,
        db,
        "post",
        f"{BASE}/loadbalancers",
        400,
        "The selected availability_zone is not allowed in this deployment: off",
        json={"loadbalancer": {**base, "availability_zone": "off"}},
    )
    refused(
        client,
        db,
        "delete",
        f"{AZS}/az1",
        409,
        "Availability Zone az1 is in use and cannot be modified.",
    )
    assert client.delete(f"{BASE}/loadbalancers/{lb['id']}").status_code == 204
    api.settle()
    assert client.delete(f"{AZS}/az1").status_code == 204


def test_zone_policy_outside_noauth(db, notifier, tmp_path: Path):
    settings = keystone_settings(tmp_path)
    with TestClient(create_app(db, notifier, settings, authenticator=HeaderIdentity)) as client:
        r = client.post(
            AZP,
            headers=ADMIN,
            json={
                "availability_zone_profile": {
                    "name": "p",
                    "provider_name": "amphora",
                    "availability_zone_data": "{}",
                }
            },
        )
        azp_id = r.json()["availability_zone_profile"]["id"]
        assert (
            client.post(
                AZS,
                headers=ADMIN,
                json={"availability_zone": {"name": "az1", "availability_zone_profile_id": azp_id}},
            ).status_code
            == 201
        )
        assert client.get(AZS).status_code == 200
        assert client.get(f"{AZS}/az1").status_code == 200
        refused(client, db, "get", AZP, 403)
        refused(
            client, db, "put", f"{AZS}/az1", 403, json={"availability_zone": {"enabled": False}}
        )
        refused(client, db, "delete", f"{AZS}/az1", 403)
        refused(
            client,
            db,
            "post",
            AZS,
            403,
            json={"availability_zone": {"name": "az2", "availability_zone_profile_id": azp_id}},
        )


def test_with_the_noop_network_driver_every_network_exists(db, notifier, tmp_path: Path):
    """As Octavia's noop network driver: the API conformance tests name random networks."""
    from hydria.config import Settings

    settings = Settings(state_dir=tmp_path, network_driver="noop", compute_driver="noop")
    with TestClient(create_app(db, notifier, settings)) as tc:
        data = json.dumps({"compute_zone": "az", "management_network": NIL})
        r = tc.post(
            AZP,
            json={
                "availability_zone_profile": {
                    "name": "p",
                    "provider_name": "amphora",
                    "availability_zone_data": data,
                }
            },
        )
        assert r.status_code == 201, r.text


def test_catalogue_lists_default_to_id_order_as_octavias(client):
    """Octavia's flavor and profile tables have no created_at: its lists come in id
    order, and its conformance tests check that order."""
    profiles = [profile(client, name=f"p{i}") for i in range(4)]
    flavors = [flavor(client, profiles[0]["id"], name=f"f{i}") for i in range(4)]
    listed = [p["id"] for p in client.get(FP).json()["flavorprofiles"]]
    assert listed == sorted(p["id"] for p in profiles)
    listed = [f["id"] for f in client.get(FLAVORS).json()["flavors"]]
    assert listed == sorted(f["id"] for f in flavors)
