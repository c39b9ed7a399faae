"""``server_commands``: which configuration changes HAProxy's runtime API can take
(member add, remove, weight, admin state) and which need a reload. The texts are
the renderer's own output, so a change in how servers are written shows here."""

from __future__ import annotations

from dataclasses import replace

from hydria.agent.runtime_servers import server_commands
from hydria.core import graph as g
from hydria.render.haproxy import render
from tests.render.cases import AMPHORA, OPTIONS, hm, listener, member, pool
from tests.render.cases import lb as make_lb

A = member("member-a", "192.0.2.21")
B = member("member-b", "192.0.2.22")


def text(version: int = 1, **pool_kw: object) -> str:
    lb = make_lb(listeners=[listener()], pools=[pool(**pool_kw)])  # type: ignore[arg-type]
    return render(lb, AMPHORA, OPTIONS, version=version)


def test_adding_a_member_is_add_and_enable() -> None:
    cmds = server_commands(text(1, members=[A]), text(2, members=[A, B]))
    assert cmds == [
        "add server pool-1/member-b 192.0.2.22:8080 weight 1",
        "enable server pool-1/member-b",
    ]


def test_removing_a_member_is_maintenance_then_delete() -> None:
    cmds = server_commands(text(1, members=[A, B]), text(2, members=[A]))
    assert cmds == ["disable server pool-1/member-b", "del server pool-1/member-b"]


def test_the_first_and_the_last_member() -> None:
    assert server_commands(text(1, members=[]), text(2, members=[A])) == [
        "add server pool-1/member-a 192.0.2.21:8080 weight 1",
        "enable server pool-1/member-a",
    ]
    assert server_commands(text(1, members=[A]), text(2, members=[])) == [
        "disable server pool-1/member-a",
        "del server pool-1/member-a",
    ]


def test_weight_and_admin_state_are_set_in_place() -> None:
    old = text(1, members=[A, B])
    assert server_commands(old, text(2, members=[A, replace(B, weight=7)])) == [
        "set server pool-1/member-b weight 7"
    ]
    assert server_commands(old, text(2, members=[A, replace(B, admin_state_up=False)])) == [
        "disable server pool-1/member-b"
    ]
    assert server_commands(
        text(1, members=[replace(A, admin_state_up=False)]), text(2, members=[A])
    ) == ["enable server pool-1/member-a"]


def test_a_new_address_or_backup_flag_is_delete_and_add() -> None:
    cmds = server_commands(text(1, members=[A]), text(2, members=[replace(A, protocol_port=81)]))
    assert cmds == [
        "disable server pool-1/member-a",
        "del server pool-1/member-a",
        "add server pool-1/member-a 192.0.2.21:81 weight 1",
        "enable server pool-1/member-a",
    ]
    cmds = server_commands(text(1, members=[A]), text(2, members=[replace(A, backup=True)]))
    assert cmds is not None and "add server pool-1/member-a 192.0.2.21:8080 weight 1 backup" in cmds


def test_health_checked_members_get_their_check_enabled() -> None:
    monitor = hm("TCP")
    cmds = server_commands(
        text(1, members=[A], health_monitor=monitor),
        text(2, members=[A, B], health_monitor=monitor),
    )
    assert cmds is not None
    assert cmds[0].startswith("add server pool-1/member-b 192.0.2.22:8080 weight 1 check")
    assert cmds[1:] == ["enable health pool-1/member-b", "enable server pool-1/member-b"]


def test_only_the_version_changed_is_nothing_to_do() -> None:
    assert server_commands(text(1), text(2)) == []


def test_anything_besides_servers_needs_a_reload() -> None:
    old = text(1, members=[A])
    # a monitor added with the member: backend directives changed
    assert server_commands(old, text(2, members=[A, B], health_monitor=hm("TCP"))) is None
    # a listener added
    two = make_lb(
        listeners=[listener(), listener("listener-2", port=81)], pools=[pool(members=[A])]
    )
    assert server_commands(old, render(two, AMPHORA, OPTIONS, version=2)) is None
    # the pool's algorithm changed with its members
    assert server_commands(old, text(2, members=[A, B], algorithm="LEAST_CONNECTIONS")) is None
    # a pool no listener uses is not rendered: nothing changes
    pools = make_lb(listeners=[listener()], pools=[pool(members=[A]), pool("pool-2")])
    assert server_commands(old, render(pools, AMPHORA, OPTIONS, version=2)) == []


def test_static_algorithms_and_persistence_need_a_reload() -> None:
    for kw in (
        {"algorithm": "SOURCE_IP"},
        {"algorithm": "SOURCE_IP_PORT"},
        {"session_persistence": g.SessionPersistence(type="HTTP_COOKIE")},
        {"session_persistence": g.SessionPersistence(type="APP_COOKIE", cookie_name="sid")},
        {"session_persistence": g.SessionPersistence(type="SOURCE_IP")},
    ):
        assert server_commands(text(1, members=[A], **kw), text(2, members=[A, B], **kw)) is None, (
            kw
        )
    # LEAST_CONNECTIONS is dynamic
    kw = {"algorithm": "LEAST_CONNECTIONS"}
    assert server_commands(text(1, members=[A], **kw), text(2, members=[A, B], **kw))


def test_words_the_cli_would_split_otherwise_are_never_sent() -> None:
    old = "backend b\n    balance roundrobin\n"
    assert server_commands(old, old + '    server s 192.0.2.1:80 sni str("x")\n') is None
    assert server_commands(old, old + "    server s 192.0.2.1:80 weight 1;shutdown\n") is None
    assert server_commands(old, old + "    server s 192.0.2.1:80\n") == [
        "add server b/s 192.0.2.1:80",
        "enable server b/s",
    ]


def test_default_server_or_duplicate_names_need_a_reload() -> None:
    old = "backend b\n    balance roundrobin\n    default-server inter 2s\n"
    assert server_commands(old, old + "    server s 192.0.2.1:80\n") is None
    dup = (
        "backend b\n    balance roundrobin\n    server s 192.0.2.1:80\n    server s 192.0.2.2:80\n"
    )
    assert server_commands("backend b\n    balance roundrobin\n", dup) is None
