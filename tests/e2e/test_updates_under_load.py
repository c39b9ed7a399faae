"""Changes while traffic flows: pool and listener updates reload HAProxy, member
weights go through its runtime API (no reload); no request is lost either way."""

from __future__ import annotations

import threading

import httpx
import pytest

from tests.e2e.test_health_and_admin_state import _lb_with_pool

pytestmark = [pytest.mark.integration, pytest.mark.haproxy]

MAX_REQUESTS = 200_000  # bounded: the load stops by itself (it must outlast the updates)
UPDATES = 24


@pytest.mark.parametrize("keepalive", [False, True], ids=["new-connections", "keep-alive"])
def test_updates_under_load_lose_nothing(hydria, http_backends, keepalive):
    """Each client sends requests back to back, on a new connection each (every one
    must be accepted across reloads) or on keep-alive connections (a reload must
    not close one under a request in flight: HTTP frontends have
    ``option idle-close-on-response``, so the old worker answers the next request
    with ``Connection: close`` instead of dropping the idle connection)."""
    lb, pool, members = _lb_with_pool(hydria, http_backends, monitor=False)
    url = f"http://{lb['vip_address']}/"
    stop = threading.Event()
    results = {"ok": 0, "errors": []}
    lock = threading.Lock()

    def load() -> None:
        limits = httpx.Limits(max_keepalive_connections=1 if keepalive else 0)
        # httpx retries nothing here: a connection closed under a request is an error
        with httpx.Client(timeout=10, limits=limits) as c:
            for _ in range(MAX_REQUESTS // 4):
                if stop.is_set():
                    return
                try:
                    res = c.get(url)
                    ok = res.status_code == 200 and res.text in ("web-0", "web-1")
                    with lock:
                        if ok:
                            results["ok"] += 1
                        else:
                            results["errors"].append(f"{res.status_code} {res.text[:80]}")
                except httpx.HTTPError as exc:
                    with lock:
                        results["errors"].append(repr(exc))

    workers = [threading.Thread(target=load) for _ in range(4)]
    for w in workers:
        w.start()
    lb_path = f"/lbaas/loadbalancers/{lb['id']}"
    listener_id = lb_listener = None
    with hydria.api() as api:
        lb_listener = api.get(lb_path).json()["loadbalancer"]["listeners"][0]["id"]
        listener_id = lb_listener
        generation_changes = 0
        for i in range(UPDATES):
            kind = i % 3
            if kind == 0:
                algo = "LEAST_CONNECTIONS" if i % 2 else "ROUND_ROBIN"
                res = api.put(f"/lbaas/pools/{pool['id']}", json={"pool": {"lb_algorithm": algo}})
            elif kind == 1:
                res = api.put(
                    f"/lbaas/listeners/{listener_id}",
                    json={"listener": {"timeout_client_data": 30000 + i}},
                )
            else:
                res = api.put(
                    f"/lbaas/pools/{pool['id']}/members/{members[i % 2]['id']}",
                    json={"member": {"weight": 1 + i}},
                )
            assert res.status_code == 200, res.text
            hydria.wait_for(lb_path, "loadbalancer", "ACTIVE")
            generation_changes += 1
        alive = [w.is_alive() for w in workers]
    stop.set()
    for w in workers:
        w.join()
    assert generation_changes == UPDATES
    assert any(alive), "the load should still run when the last update lands"
    assert results["errors"] == [], results["errors"][:10]
    assert results["ok"] > 100
