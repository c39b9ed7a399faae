"""The OpenAPI document at /openapi.json, and schemathesis over every operation in it.

Schemathesis (property-based, on hypothesis) sends requests made from the
document, valid and not, to the real app on a real SQLite file; none may be
answered with a 5xx other than Octavia's 501 (a valid option the provider does
not serve). The number of examples per operation is bounded
(``HYDRIA_SCHEMATHESIS_EXAMPLES``, 10 by default); there is no time limit.
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from tests.api.conftest import ADMIN

EXAMPLES = int(os.environ.get("HYDRIA_SCHEMATHESIS_EXAMPLES", "10"))


def test_the_document_describes_octavias_paths_and_bodies(client):
    doc = client.get("/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for path in (
        "/v2/lbaas/loadbalancers",
        "/v2/lbaas/listeners/{listener_id}",
        "/v2/lbaas/pools/{pool_id}/members",
        "/v2/lbaas/healthmonitors",
        "/v2/octavia/amphorae",
        "/v2/lbaas/quotas/{project_id}",
    ):
        assert path in paths, path
    body = paths["/v2/lbaas/listeners"]["post"]["requestBody"]["content"]["application/json"]
    listener = body["schema"]["properties"]["listener"]
    assert {"loadbalancer_id", "protocol", "protocol_port"} <= set(listener["required"])
    assert listener["additionalProperties"] is False


# The operations are checked in shards, one test each, so that pytest-xdist can
# spread them over its workers instead of one test running every operation.
SHARDS = 6


@pytest.mark.parametrize("shard", range(SHARDS))
def test_no_operation_answers_a_server_error(app, shard):
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 40
    for operation in operations[shard::SHARDS]:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            database=None,
            suppress_health_check=list(HealthCheck),
        )
        def no_server_error(case):
            response = case.call(headers={**ADMIN})
            assert response.status_code < 500 or response.status_code == 501, (
                f"{case.method} {case.formatted_path} -> {response.status_code} {response.text}"
            )

        no_server_error()
