"""Quotas, flavors and zones through the API on PostgreSQL (the API tests run on SQLite):
the dialect-specific pieces are the quota row's upsert and the FOR SHARE reads."""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from hydria.api.app import create_app
from hydria.config import Settings
from hydria.db.engine import Database
from hydria.db.subnets import ensure_default_subnet

pytestmark = pytest.mark.postgres

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient

BASE = "/v2/lbaas"


class _Quiet:
    def notify(self, lb_id: str) -> None:
        pass


def test_catalogue_and_quota_on_postgres(pg_db: Database, tmp_path: Path):
    subnet = ensure_default_subnet(pg_db, "public", "127.42.0.0/16").id
    app = create_app(pg_db, _Quiet(), Settings(state_dir=tmp_path))  # type: ignore[arg-type]
    with TestClient(app) as client:
        fp = client.post(
            f"{BASE}/flavorprofiles",
            json={"flavorprofile": {"name": "fp", "provider_name": "amphora", "flavor_data": "{}"}},
        ).json()
        fl = client.post(
            f"{BASE}/flavors",
            json={"flavor": {"name": "small", "flavor_profile_id": fp["flavorprofile"]["id"]}},
        ).json()["flavor"]
        azp = client.post(
            f"{BASE}/availabilityzoneprofiles",
            json={
                "availability_zone_profile": {
                    "name": "p",
                    "provider_name": "amphora",
                    "availability_zone_data": "{}",
                }
            },
        ).json()
        r = client.post(
            f"{BASE}/availabilityzones",
            json={
                "availability_zone": {
                    "name": "az1",
                    "availability_zone_profile_id": azp["availability_zone_profile"]["id"],
                }
            },
        )
        assert r.status_code == 201, r.text
        r = client.put(f"{BASE}/quotas/p1", json={"quota": {"loadbalancer": 1}})
        assert r.status_code == 202 and r.json()["quota"]["load_balancer"] == 1

        body = {
            "loadbalancer": {
                "vip_subnet_id": subnet,
                "flavor_id": fl["id"],
                "availability_zone": "az1",
            }
        }
        r = client.post(f"{BASE}/loadbalancers", json=body, headers={"X-Project-Id": "p1"})
        assert r.status_code == 201, r.text
        assert r.json()["loadbalancer"]["flavor_id"] == fl["id"]
        r = client.post(f"{BASE}/loadbalancers", json=body, headers={"X-Project-Id": "p1"})
        assert r.status_code == 403 and "Quota has been met" in r.json()["faultstring"]
        assert client.delete(f"{BASE}/flavors/{fl['id']}").status_code == 409
        assert client.delete(f"{BASE}/availabilityzones/az1").status_code == 409
        assert client.get(f"{BASE}/flavors/{fl['id']}").status_code == 200
        assert client.delete(f"{BASE}/quotas/p1").status_code == 202
        assert client.get(f"{BASE}/quotas").json()["quotas"] == []
