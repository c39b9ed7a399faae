"""The version document, the health check, and the unknown-path answers."""

from __future__ import annotations

from tests.api.conftest import assert_routing_fault


def test_version_document_lists_v2_0_to_current(client):
    body = client.get("/").json()
    versions = body["versions"]
    assert [v["id"] for v in versions][:2] == ["v2.0", "v2.1"]
    assert versions[-1]["id"] == "v2.30" and versions[-1]["status"] == "CURRENT"
    assert all(v["status"] == "SUPPORTED" for v in versions[:-1])
    for v in versions:
        assert set(v) == {"id", "status", "updated", "links"}
        assert v["links"] == [{"href": "http://testserver/v2", "rel": "self"}]
        assert v["updated"].endswith("Z")


def test_healthcheck(client):
    assert client.get("/healthcheck").status_code == 200


def test_both_prefixes_serve_the_same_collections(client, api):
    lb = api.lb()
    for prefix in ("/v2", "/v2.0"):
        body = client.get(f"{prefix}/lbaas/loadbalancers").json()
        assert [x["id"] for x in body["loadbalancers"]] == [lb["id"]]
        assert client.get(f"{prefix}/lbaas/loadbalancers/{lb['id']}").status_code == 200


def test_unknown_path_and_method_have_octavia_bodies(client):
    assert_routing_fault(client.get("/v2/lbaas/nothing"), 404, "Not Found")
    assert_routing_fault(client.patch("/v2/lbaas/loadbalancers"), 405, "Method Not Allowed")


def test_metrics_are_prometheus_text(client):
    import hydria.controller.metrics  # noqa: F401 - registers the controller's metrics

    res = client.get("/metrics")
    assert res.status_code == 200
    assert res.headers["content-type"].startswith("text/plain")
    assert "hydria_reconcile_seconds_bucket" in res.text
