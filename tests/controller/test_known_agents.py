"""The controller remembers what each agent told it (``hydria.controller.known_agents``).

A new load balancer's five changes used to open each convergence with ``GET
/1.0/info`` to its amphora; an amphora the controller talked to a moment ago
is now asked nothing before the push, and one whose step failed is asked
afresh. The real app, loop and reconciler on SQLite with the no-op agent,
which counts the calls.
"""

from __future__ import annotations

from typing import Any

import pytest

from hydria.core.errors import AmphoraUnreachable
from hydria.drivers.amphora.base import StaleConfig
from hydria.drivers.amphora.noop import NoopAgentClient
from tests.controller.test_write_convergence import BASE, World, _lb_with_pool, world  # noqa: F401


def count_info(monkeypatch: pytest.MonkeyPatch, agent: NoopAgentClient) -> list[str]:
    asked: list[str] = []
    real = agent.info

    def info(ip: str, port: int, *, timeout: float | None = None) -> dict[str, Any]:
        asked.append(ip)
        return real(ip, port, timeout=timeout)

    monkeypatch.setattr(agent, "info", info)
    return asked


def test_changes_to_an_amphora_heard_from_ask_it_nothing_before_the_push(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lb_id, pool_id = _lb_with_pool(world)
    asked = count_info(monkeypatch, world.agent)
    before = world.pushes()
    for port in (8001, 8002):
        world.post(
            f"/pools/{pool_id}/members", "member", {"address": "127.0.0.1", "protocol_port": port}
        )
        world.wait_active(lb_id)
    assert world.pushes() - before == 2
    assert asked == []


def test_a_failed_push_makes_the_retry_ask_the_agent_again(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    lb_id, pool_id = _lb_with_pool(world)
    asked = count_info(monkeypatch, world.agent)
    real = world.agent.put_config
    failures = [1]

    def flaky(ip: str, port: int, text: str, version: int) -> dict[str, Any]:
        if failures:
            failures.pop()
            raise AmphoraUnreachable("agent did not answer")
        return real(ip, port, text, version)

    monkeypatch.setattr(world.agent, "put_config", flaky)
    world.post(
        f"/pools/{pool_id}/members", "member", {"address": "127.0.0.1", "protocol_port": 8003}
    )
    world.wait_active(lb_id)
    assert not failures and len(asked) == 1  # the retry asked once, then pushed


def test_a_refused_stale_push_makes_the_retry_ask_the_agent_again(
    world: World,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The agent answered 409 (someone else's newer push): what we remembered of it
    is wrong, so the next attempt asks it before pushing."""
    lb_id, pool_id = _lb_with_pool(world)
    asked = count_info(monkeypatch, world.agent)
    real = world.agent.put_config
    refusals = [1]

    def refusing(ip: str, port: int, text: str, version: int) -> dict[str, Any]:
        if refusals:
            refusals.pop()
            raise StaleConfig("configuration version 9 is older than the running 10")
        return real(ip, port, text, version)

    monkeypatch.setattr(world.agent, "put_config", refusing)
    world.post(
        f"/pools/{pool_id}/members", "member", {"address": "127.0.0.1", "protocol_port": 8004}
    )
    world.wait_active(lb_id)
    assert not refusals and len(asked) == 1
