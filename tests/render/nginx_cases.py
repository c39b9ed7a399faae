"""The graphs the nginx (UDP) golden files are rendered from, by name."""

from __future__ import annotations

from hydria.core import graph as g
from hydria.core.host import find_nginx
from hydria.render.nginx import NginxOptions

from .cases import hm, lb, listener, member, pool

_, MODULE = find_nginx()
OPTIONS = NginxOptions(
    run_dir="/tmp/hydria-golden-nginx", stream_module="/usr/lib/nginx/modules/ngx_stream_module.so"
)
VERSION = 7
UDP_HM = hm("UDP-CONNECT", delay=3, timeout=2)


def udp_listener(id="listener-udp", port=53, pool="pool-udp", **kw) -> g.Listener:
    return listener(id, "UDP", port, pool, **kw)


def udp_pool(id="pool-udp", algorithm="ROUND_ROBIN", members=None, **kw) -> g.Pool:
    if members is None:
        members = (member("member-a", "192.0.2.21", 5353), member("member-b", "192.0.2.22", 5353))
    return pool(id, "UDP", algorithm, members, **kw)


CASES: dict[str, g.LoadBalancer] = {
    "udp_roundrobin_monitor_weights_backup": lb(
        listeners=[udp_listener(), listener("listener-tcp", "TCP", 53, "pool-tcp")],
        pools=[
            udp_pool(
                health_monitor=UDP_HM,
                members=(
                    member("member-a", "192.0.2.21", 5353, weight=3),
                    member("member-b", "192.0.2.22", 5353, backup=True),
                    member("member-c", "192.0.2.23", 5353, weight=0),
                    member("member-d", "2001:db8::5", 5353, admin_state_up=False),
                ),
            ),
            pool("pool-tcp", "TCP"),
        ],
    ),
    "udp_least_connections_limit_cidrs": lb(
        listeners=[
            udp_listener(
                connection_limit=500,
                timeout_client_data=2000,
                allowed_cidrs=("10.0.0.0/8", "192.0.2.0/24"),
            )
        ],
        pools=[udp_pool(algorithm="LEAST_CONNECTIONS")],
    ),
    "udp_source_ip": lb(listeners=[udp_listener()], pools=[udp_pool(algorithm="SOURCE_IP")]),
    "udp_source_ip_port": lb(
        listeners=[udp_listener()], pools=[udp_pool(algorithm="SOURCE_IP_PORT")]
    ),
    "udp_persistence_granularity": lb(
        listeners=[udp_listener(), udp_listener("listener-udp2", 5060, "pool-udp2")],
        pools=[
            udp_pool(
                session_persistence=g.SessionPersistence(
                    "SOURCE_IP", persistence_timeout=120, persistence_granularity="255.255.255.0"
                )
            ),
            udp_pool(
                "pool-udp2",
                session_persistence=g.SessionPersistence(
                    "SOURCE_IP", persistence_granularity="255.255.240.0"
                ),
                members=(
                    member("member-x", "192.0.2.31", 5060),
                    member("member-y", "192.0.2.32", 5060, backup=True),
                ),
            ),
        ],
    ),
    "udp_disabled_listener_and_empty_pool": lb(
        listeners=[
            udp_listener(admin_state_up=False),
            udp_listener("listener-empty", 54, "pool-empty"),
        ],
        pools=[udp_pool(), udp_pool("pool-empty", members=())],
    ),
}
