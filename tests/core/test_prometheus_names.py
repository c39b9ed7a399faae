"""HAProxy's exposition under Octavia's names: the pure rewrite the metrics proxy serves."""

from __future__ import annotations

from prometheus_client.parser import text_string_to_metric_families

from hydria.core.prometheus import octavia_metrics, rename, sockets

HAPROXY = """\
# HELP haproxy_process_pool_used_bytes Total amount of memory used in the memory pools.
# TYPE haproxy_process_pool_used_bytes gauge
haproxy_process_pool_used_bytes 2048
# HELP haproxy_process_current_connections Number of active sessions.
# TYPE haproxy_process_current_connections gauge
haproxy_process_current_connections 3
# HELP haproxy_frontend_bytes_in_total Total number of request bytes.
# TYPE haproxy_frontend_bytes_in_total counter
haproxy_frontend_bytes_in_total{proxy="li-1"} 10
haproxy_frontend_bytes_in_total{proxy="hydria-prom-in"} 99
# HELP haproxy_backend_active_servers Current number of active servers.
# TYPE haproxy_backend_active_servers gauge
haproxy_backend_active_servers{proxy="pool-1"} 2
haproxy_backend_active_servers{proxy="hydria-prom"} 1
# HELP haproxy_backend_server_aborts_total Total number of data transfers aborted by the server.
# TYPE haproxy_backend_server_aborts_total counter
haproxy_backend_server_aborts_total{proxy="pool-1"} 0
# HELP haproxy_server_status Current status of the server.
# TYPE haproxy_server_status gauge
haproxy_server_status{proxy="pool-1",server="m-1",state="UP"} 1
haproxy_server_status{proxy="hydria-prom",server="agent",state="UP"} 1
# HELP haproxy_sticktable_size Stick table size.
# TYPE haproxy_sticktable_size gauge
haproxy_sticktable_size{name="t"} 1
"""


def test_names_labels_and_plumbing() -> None:
    text = octavia_metrics(HAPROXY, cpu=12.34, memory=56.78)
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
    }
    assert samples == {
        ("octavia_loadbalancer_cpu", ()): 12.3,
        ("octavia_loadbalancer_memory", ()): 56.8,
        ("octavia_memory_pool_used_bytes", ()): 2048,
        ("octavia_loadbalancer_current_connections", ()): 3,
        ("octavia_listener_bytes_in_total", (("listener", "li-1"),)): 10,
        ("octavia_pool_active_members", (("pool", "pool-1"),)): 2,
        ("octavia_pool_member_aborts_total", (("pool", "pool-1"),)): 0,
        ("octavia_member_status", (("member", "m-1"), ("pool", "pool-1"), ("state", "UP"))): 1,
    }


def test_rename_rules() -> None:
    assert rename("haproxy_frontend_http_requests_total") == (
        "octavia_listener_http_requests_total",
        {"proxy": "listener"},
    )
    assert rename("haproxy_server_bytes_out_total") == (
        "octavia_member_bytes_out_total",
        {"proxy": "pool", "server": "member"},
    )
    assert rename("haproxy_backend_backup_servers") == (
        "octavia_pool_backup_members",
        {"proxy": "pool"},
    )
    assert rename("haproxy_sticktable_used") is None
    assert sockets("/run/x/stats.sock") == ("/run/x/prom-in.sock", "/run/x/prom.sock")
