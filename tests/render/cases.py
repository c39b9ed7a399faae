"""The graphs the golden files are rendered from: one entry per case, by name.

Each case is (load balancer, render options). Ids are short and readable on
purpose; the renderer only requires that they look like ids.
"""

from __future__ import annotations

from dataclasses import replace

from hydria.core import graph as g
from hydria.render.limits import max_connections_for

AMPHORA = g.Amphora(id="amp-1", lb_network_ip="192.0.2.10")
# haproxy -c does not bind the stats socket, but keep it somewhere harmless.
OPTIONS = g.RenderOptions(
    stats_socket="/tmp/hydria-golden/haproxy.sock", ping_check="/tmp/hydria-golden/ping-check"
)
VERSION = 7


def lb(*, listeners=(), pools=(), vip="203.0.113.10", **kw) -> g.LoadBalancer:
    return g.LoadBalancer(
        id="lb-1", vip_address=vip, listeners=tuple(listeners), pools=tuple(pools), **kw
    )


def listener(id="listener-http", protocol="HTTP", port=80, pool="pool-1", **kw) -> g.Listener:
    return g.Listener(id=id, protocol=protocol, protocol_port=port, default_pool_id=pool, **kw)


def pool(id="pool-1", protocol="HTTP", algorithm="ROUND_ROBIN", members=None, **kw) -> g.Pool:
    if members is None:
        members = (member("member-a", "192.0.2.21"), member("member-b", "192.0.2.22"))
    return g.Pool(id=id, protocol=protocol, lb_algorithm=algorithm, members=tuple(members), **kw)


def member(id, address, port=8080, **kw) -> g.Member:
    return g.Member(id=id, address=address, protocol_port=port, **kw)


def hm(type="HTTP", **kw) -> g.HealthMonitor:
    base: dict = {
        "id": "hm-1",
        "type": type,
        "delay": 5,
        "timeout": 3,
        "max_retries": 2,
        "max_retries_down": 3,
    }
    return g.HealthMonitor(**(base | kw))


HTTP_HM = hm(
    http_method="GET",
    url_path="/healthz",
    expected_codes="200-204",
    http_version=1.1,
    domain_name="app.example.com",
)

# Octavia's default [haproxy_amphora] user_log_format
OCTAVIA_LOG_FORMAT = (
    "{{ project_id }} {{ lb_id }} %f %ci %cp %t %{+Q}r %ST %B %U "
    "%[ssl_c_verify] %{+Q}[ssl_c_s_dn] %b %s %Tt %tsc"
)

CASES: dict[str, tuple[g.LoadBalancer, g.RenderOptions]] = {
    "tenant_flow_logs_udp_tcp_local": (
        lb(
            listeners=[listener(), listener("listener-tcp", "TCP", 3306, "pool-tcp")],
            pools=[pool(), pool("pool-tcp", "TCP")],
            project_id="project-1",
        ),
        replace(
            OPTIONS,
            log_targets=("192.0.2.5:514", "/tmp/hydria-golden/log.sock"),
            log_tcp_targets=("192.0.2.6:6514",),
            log_format=OCTAVIA_LOG_FORMAT,
        ),
    ),
    "connection_logging_off": (
        lb(listeners=[listener()], pools=[pool()]),
        replace(OPTIONS, log_targets=("192.0.2.5:514",), connection_logging=False),
    ),
    "prometheus_listener_allowed_cidrs": (
        lb(
            listeners=[
                listener(
                    "listener-prom", "PROMETHEUS", 9100, None, allowed_cidrs=("192.0.2.0/24",)
                ),
                listener(),
            ],
            pools=[pool()],
        ),
        OPTIONS,
    ),
    "http_roundrobin_http_monitor": (
        lb(listeners=[listener()], pools=[pool(health_monitor=HTTP_HM)]),
        OPTIONS,
    ),
    "http_monitor_defaults_http10": (
        lb(
            listeners=[listener()],
            pools=[pool(health_monitor=hm(http_version=1.0, expected_codes="200,202"))],
        ),
        OPTIONS,
    ),
    "tcp_leastconn_tcp_monitor_backup_disabled": (
        lb(
            listeners=[listener("listener-tcp", "TCP", 3306)],
            pools=[
                pool(
                    protocol="TCP",
                    algorithm="LEAST_CONNECTIONS",
                    health_monitor=hm("TCP"),
                    members=[
                        member("member-a", "192.0.2.21", 3306),
                        member("member-b", "192.0.2.22", 3306, backup=True),
                        member("member-c", "192.0.2.23", 3306, admin_state_up=False),
                        member(
                            "member-d",
                            "192.0.2.24",
                            3306,
                            weight=0,
                            monitor_address="192.0.2.124",
                            monitor_port=9000,
                        ),
                        member("member-e", "192.0.2.25", 3306, weight=256, monitor_port=9001),
                    ],
                )
            ],
        ),
        OPTIONS,
    ),
    "https_passthrough_source_ip_ping": (
        lb(
            listeners=[listener("listener-https", "HTTPS", 443)],
            pools=[
                pool(
                    protocol="HTTPS",
                    algorithm="SOURCE_IP",
                    members=[
                        member("member-a", "192.0.2.21", 443),
                        member("member-b", "192.0.2.22", 443),
                    ],
                    health_monitor=hm("PING", delay=10, timeout=5, max_retries=3),
                )
            ],
        ),
        OPTIONS,
    ),
    "https_monitor_and_tls_hello": (
        lb(
            listeners=[
                listener("listener-https", "HTTPS", 443),
                listener("listener-tcp", "TCP", 8443, pool="pool-2"),
            ],
            pools=[
                pool(
                    protocol="HTTPS",
                    health_monitor=hm("HTTPS", url_path="/status", expected_codes="200"),
                ),
                pool("pool-2", protocol="TCP", health_monitor=hm("TLS-HELLO")),
            ],
        ),
        OPTIONS,
    ),
    "disabled_health_monitor": (
        lb(
            listeners=[listener()],
            pools=[pool(health_monitor=replace(HTTP_HM, admin_state_up=False))],
        ),
        OPTIONS,
    ),
    "listener_without_default_pool": (
        lb(
            listeners=[
                listener("listener-http", pool=None),
                listener("listener-tcp", "TCP", 9000, pool=None),
                listener("listener-pool-down", "HTTP", 8080, pool="pool-down"),
            ],
            pools=[
                pool("pool-unused"),
                pool("pool-down", admin_state_up=False),
            ],
        ),
        OPTIONS,
    ),
    "connection_limit_and_timeouts": (
        lb(
            listeners=[
                listener(
                    connection_limit=500,
                    timeout_client_data=1000,
                    timeout_member_connect=2000,
                    timeout_member_data=3000,
                ),
                listener(
                    "listener-tcp",
                    "TCP",
                    5432,
                    pool="pool-2",
                    connection_limit=0,
                    timeout_client_data=0,
                    timeout_tcp_inspect=3000,
                ),
            ],
            pools=[pool(), pool("pool-2", protocol="TCP")],
        ),
        OPTIONS,
    ),
    "persistence_source_ip": (
        lb(
            listeners=[listener()],
            pools=[pool(session_persistence=g.SessionPersistence("SOURCE_IP"))],
        ),
        OPTIONS,
    ),
    "persistence_http_cookie": (
        lb(
            listeners=[listener()],
            pools=[
                pool(
                    session_persistence=g.SessionPersistence("HTTP_COOKIE"), health_monitor=HTTP_HM
                )
            ],
        ),
        OPTIONS,
    ),
    "persistence_app_cookie": (
        lb(
            listeners=[listener()],
            pools=[
                pool(
                    session_persistence=g.SessionPersistence(
                        "APP_COOKIE", cookie_name="JSESSIONID", persistence_timeout=1800
                    )
                )
            ],
        ),
        OPTIONS,
    ),
    "persistence_cookie_in_tcp_mode": (
        lb(
            listeners=[listener("listener-tcp", "TCP", 9000)],
            pools=[pool(protocol="TCP", session_persistence=g.SessionPersistence("HTTP_COOKIE"))],
        ),
        OPTIONS,
    ),
    "disabled_load_balancer": (
        lb(
            admin_state_up=False,
            listeners=[listener(), listener("listener-tcp", "TCP", 9000, pool="pool-2")],
            pools=[pool(), pool("pool-2", protocol="TCP")],
        ),
        OPTIONS,
    ),
    "disabled_listener": (
        lb(
            listeners=[
                listener(admin_state_up=False),
                listener("listener-tcp", "TCP", 9000, pool="pool-2"),
            ],
            pools=[pool(), pool("pool-2", protocol="TCP")],
        ),
        OPTIONS,
    ),
    "ipv6_vip_and_members": (
        lb(
            vip="2001:db8::10",
            listeners=[listener(), listener("listener-tcp", "TCP", 9000, pool="pool-2")],
            pools=[
                pool(
                    members=[
                        member("member-a", "2001:db8::21"),
                        member(
                            "member-b",
                            "2001:db8:0:0::22",
                            monitor_address="2001:db8::122",
                            monitor_port=9000,
                        ),
                    ],
                    health_monitor=HTTP_HM,
                ),
                pool(
                    "pool-2",
                    protocol="TCP",
                    members=[
                        member("member-c", "192.0.2.23"),
                        member("member-d", "::ffff:192.0.2.24"),
                    ],
                ),
            ],
        ),
        OPTIONS,
    ),
    "shared_pools": (
        lb(
            listeners=[
                listener("listener-http", timeout_member_data=10000),
                listener("listener-tcp", "TCP", 8080, timeout_member_data=90000),
                listener(
                    "listener-proxy-http",
                    "HTTP",
                    81,
                    pool="pool-proxy",
                    timeout_member_connect=1000,
                ),
                listener("listener-proxy-tcp", "TCP", 82, pool="pool-proxy"),
                listener(
                    "listener-proxy-https",
                    "HTTPS",
                    443,
                    pool="pool-proxy",
                    timeout_member_connect=7000,
                ),
            ],
            pools=[
                pool(health_monitor=HTTP_HM),
                pool("pool-proxy", protocol="PROXY", health_monitor=hm("TCP")),
            ],
        ),
        OPTIONS,
    ),
    "proxy_protocol_pools": (
        lb(
            listeners=[
                listener("listener-tcp", "TCP", 9000, pool="pool-v1"),
                listener("listener-tcp-2", "TCP", 9001, pool="pool-v2"),
            ],
            pools=[pool("pool-v1", protocol="PROXY"), pool("pool-v2", protocol="PROXYV2")],
        ),
        OPTIONS,
    ),
    "allowed_cidrs": (
        lb(
            listeners=[
                listener(allowed_cidrs=("192.0.2.0/24", "10.1.2.3/8", "2001:db8::/32")),
                listener("listener-tcp", "TCP", 9000, allowed_cidrs=("198.51.100.7/32",)),
            ],
            pools=[pool()],
        ),
        OPTIONS,
    ),
    "insert_headers": (
        lb(
            listeners=[
                listener(
                    insert_headers=(
                        ("X-Forwarded-For", "true"),
                        ("X-Forwarded-Port", "True"),
                        ("X-Forwarded-Proto", "TRUE"),
                    )
                ),
                listener(
                    "listener-http-2",
                    "HTTP",
                    8080,
                    insert_headers=(("X-Forwarded-For", "false"), ("X-Forwarded-Port", "true")),
                ),
                listener(
                    "listener-http-3",
                    "HTTP",
                    8081,
                    insert_headers=(
                        ("X-Client-IP", "true"),
                        ("X-Forwarded-IP", "false"),
                        ("X-Real-IP", "True"),
                    ),
                ),
                # Headers mean nothing to a TCP listener: ignored.
                listener(
                    "listener-tcp",
                    "TCP",
                    9000,
                    pool="pool-2",
                    insert_headers=(("X-Forwarded-For", "true"),),
                ),
            ],
            pools=[pool(), pool("pool-2", protocol="TCP")],
        ),
        OPTIONS,
    ),
    "logging_user_group_maxconn": (
        lb(listeners=[listener()], pools=[pool()]),
        replace(
            OPTIONS,
            log_target="127.0.0.1:514",
            user_group="nobody:nogroup",
            max_connections=max_connections_for(20000),
        ),
    ),
    "no_listeners": (lb(pools=[pool()]), OPTIONS),
    "stats_socket_path_with_space": (
        lb(listeners=[listener()], pools=[pool()]),
        replace(OPTIONS, stats_socket="/tmp/hydria golden/haproxy.sock"),
    ),
    "tcp_inspect_delay_every_mode": (
        lb(
            listeners=[
                listener(timeout_tcp_inspect=2500),
                listener("listener-tcp", "TCP", 9000, timeout_tcp_inspect=1),
                listener("listener-https", "HTTPS", 443, pool=None, timeout_tcp_inspect=0),
            ],
            pools=[pool()],
        ),
        OPTIONS,
    ),
    "source_ip_port_tcp_and_http": (
        lb(
            listeners=[listener(), listener("listener-tcp", "TCP", 9000, pool="pool-2")],
            pools=[
                pool(algorithm="SOURCE_IP_PORT", health_monitor=HTTP_HM),
                pool("pool-2", protocol="TCP", algorithm="SOURCE_IP_PORT"),
            ],
        ),
        OPTIONS,
    ),
    "ping_monitor_only_where_enabled": (
        lb(
            listeners=[listener(), listener("listener-tcp", "TCP", 9000, pool="pool-2")],
            pools=[
                pool(health_monitor=hm("PING", admin_state_up=False)),
                pool(
                    "pool-2",
                    protocol="TCP",
                    members=[member("member-c", "2001:db8::23", monitor_port=9100)],
                    health_monitor=hm("PING", delay=2, timeout=1),
                ),
            ],
        ),
        OPTIONS,
    ),
    "disabled_ping_monitor_no_fork": (
        lb(listeners=[listener()], pools=[pool(health_monitor=hm("PING", admin_state_up=False))]),
        OPTIONS,
    ),
    "empty_pool": (lb(listeners=[listener()], pools=[pool(members=[])]), OPTIONS),
    "l7_policies_in_position_order": (
        lb(
            listeners=[
                listener(
                    l7policies=(
                        g.L7Policy(
                            "pol-api",
                            "REDIRECT_TO_POOL",
                            1,
                            redirect_pool_id="pool-api",
                            rules=(g.L7Rule("rule-api", "PATH", "STARTS_WITH", "/api"),),
                        ),
                        g.L7Policy(
                            "pol-host",
                            "REDIRECT_TO_POOL",
                            2,
                            redirect_pool_id="pool-b",
                            rules=(g.L7Rule("rule-host", "HOST_NAME", "EQUAL_TO", "b.example"),),
                        ),
                        g.L7Policy(
                            "pol-png",
                            "REDIRECT_TO_POOL",
                            3,
                            redirect_pool_id="pool-api",
                            rules=(
                                g.L7Rule("rule-png", "FILE_TYPE", "EQUAL_TO", "png"),
                                g.L7Rule(
                                    "rule-not-admin",
                                    "COOKIE",
                                    "REGEX",
                                    "^a d\\d#'\"$",
                                    key="role",
                                    invert=True,
                                ),
                            ),
                        ),
                        g.L7Policy(
                            "pol-reject",
                            "REJECT",
                            4,
                            rules=(
                                g.L7Rule(
                                    "rule-header", "HEADER", "CONTAINS", '"bad value"', key="X-Env"
                                ),
                            ),
                        ),
                        g.L7Policy(
                            "pol-https",
                            "REDIRECT_PREFIX",
                            5,
                            redirect_prefix="https://b.example",
                            redirect_http_code=301,
                            rules=(g.L7Rule("rule-secure", "PATH", "EQUAL_TO", "/secure"),),
                        ),
                        g.L7Policy(
                            "pol-url",
                            "REDIRECT_TO_URL",
                            6,
                            redirect_url="https://c.example/a%20b?x=1#top",
                            rules=(g.L7Rule("rule-old", "PATH", "ENDS_WITH", "/old"),),
                        ),
                        # left out: disabled, no rules, disabled pool
                        g.L7Policy(
                            "pol-off",
                            "REJECT",
                            7,
                            admin_state_up=False,
                            rules=(g.L7Rule("rule-off", "PATH", "EQUAL_TO", "/off"),),
                        ),
                        g.L7Policy("pol-empty", "REJECT", 8),
                        g.L7Policy(
                            "pol-dead-pool",
                            "REDIRECT_TO_POOL",
                            9,
                            redirect_pool_id="pool-off",
                            rules=(g.L7Rule("rule-dead", "PATH", "EQUAL_TO", "/dead"),),
                        ),
                    )
                )
            ],
            pools=[
                pool(),
                pool("pool-api", members=[member("member-api", "192.0.2.31")]),
                pool("pool-b", members=[member("member-b2", "192.0.2.32")]),
                pool("pool-off", admin_state_up=False),
            ],
        ),
        OPTIONS,
    ),
    "l7_ssl_rules_and_tcp_listener_ignored": (
        lb(
            listeners=[
                listener(
                    l7policies=(
                        g.L7Policy(
                            "pol-ssl",
                            "REJECT",
                            1,
                            rules=(
                                g.L7Rule("rule-cert", "SSL_CONN_HAS_CERT", "EQUAL_TO", "True"),
                                g.L7Rule(
                                    "rule-verify", "SSL_VERIFY_RESULT", "EQUAL_TO", "0", invert=True
                                ),
                                g.L7Rule(
                                    "rule-dn", "SSL_DN_FIELD", "STARTS_WITH", "admin", key="CN"
                                ),
                            ),
                        ),
                    )
                ),
                listener(
                    "listener-tcp",
                    "TCP",
                    3306,
                    "pool-tcp",
                    l7policies=(
                        g.L7Policy(
                            "pol-tcp",
                            "REJECT",
                            1,
                            rules=(g.L7Rule("rule-tcp", "PATH", "EQUAL_TO", "/x"),),
                        ),
                    ),
                ),
            ],
            pools=[pool(), pool("pool-tcp", "TCP")],
        ),
        OPTIONS,
    ),
}
