"""The settle board: readers wait for a load balancer's outcome, from any thread."""

from __future__ import annotations

import asyncio
import threading

import pytest

from hydria.db.settle import (
    REMEMBERED,
    PostgresSettleFeed,
    PostgresSettleSignal,
    SettleBoard,
    settle_feed_for,
    settle_signal_for,
)
from tests.support.wait import wait_for


def test_a_settle_from_another_thread_wakes_the_reader_of_that_load_balancer() -> None:
    board = SettleBoard()

    async def reader() -> bool:
        return await board.wait("lb-1", after=board.mark(), timeout=60)

    def settle_when_waited() -> None:
        wait_for(lambda: board.waiting() == 1, what="the reader waits")
        board.settled("lb-2")  # another load balancer wakes nobody
        assert board.waiting() == 1
        board.settled("lb-1")

    helper = threading.Thread(target=settle_when_waited)
    helper.start()
    assert asyncio.run(reader()) is True
    helper.join()
    assert board.waiting() == 0


def test_a_settle_between_the_mark_and_the_wait_is_not_missed() -> None:
    board = SettleBoard()
    mark = board.mark()
    board.settled("lb-1")  # the read saw PENDING, then the controller finished
    assert asyncio.run(board.wait("lb-1", after=mark, timeout=60)) is True
    # a settle before the mark is history: that reader waits for the next one
    assert asyncio.run(board.wait("lb-1", after=board.mark(), timeout=0.01)) is False
    assert board.waiting() == 0


def test_the_board_remembers_a_bounded_number_of_load_balancers() -> None:
    board = SettleBoard()
    for i in range(REMEMBERED + 10):
        board.settled(f"lb-{i}")
    assert len(board._last) == REMEMBERED


@pytest.mark.postgres
def test_a_controller_process_settle_reaches_an_api_process_reader(pg_url: str) -> None:
    """``hydria controller`` NOTIFYs hydria_settled; ``hydria api`` LISTENs."""
    feed = PostgresSettleFeed(pg_url)
    signal = PostgresSettleSignal(pg_url)

    async def reader() -> bool:
        mark = feed.mark()
        stop = threading.Event()

        def keep_telling() -> None:  # until the listener has connected, notes are lost
            while not stop.wait(0.1):
                signal.settled("lb-1")

        teller = threading.Thread(target=keep_telling)
        teller.start()
        try:
            return await feed.wait("lb-1", after=mark, timeout=30)
        finally:
            stop.set()
            teller.join()

    try:
        assert asyncio.run(reader()) is True
    finally:
        feed.close()


def test_a_reconnected_feed_wakes_every_reader() -> None:
    """``""`` (a feed that was away may have missed settles): everyone reads again."""
    board = SettleBoard()

    async def readers() -> list[bool]:
        mark = board.mark()
        return list(
            await asyncio.gather(
                board.wait("lb-1", after=mark, timeout=60),
                board.wait("lb-2", after=mark, timeout=60),
                wake_when(2),
            )
        )[:2]

    async def wake_when(count: int) -> bool:
        while board.waiting() < count:
            await asyncio.sleep(0.01)
        board.settled("")
        return True

    assert asyncio.run(readers()) == [True, True]
    assert settle_feed_for("sqlite:///x.db") is None
    assert settle_signal_for("sqlite:///x.db") is None


def test_a_thread_waits_for_any_settle_after_its_mark() -> None:
    """``wait_any``: what the spare pool sleeps on while it defers a refill."""
    board = SettleBoard()
    mark = board.mark()
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(board.wait_any(after=mark, timeout=60)))
    waiter.start()
    board.settled("lb-7")  # any load balancer will do
    waiter.join()
    assert woke == [True]
    # a settle before the mark is history: nothing after it, so the wait times out
    assert board.wait_any(after=board.mark(), timeout=0.01) is False


def test_a_settle_between_the_mark_and_the_thread_wait_is_not_missed() -> None:
    board = SettleBoard()
    mark = board.mark()
    board.settled("lb-1")
    assert board.wait_any(after=mark, timeout=0) is True
    board.settled("")  # a reconnected feed wakes thread waiters too
    assert board.wait_any(after=mark + 1, timeout=0) is True


@pytest.mark.postgres
def test_a_controller_process_settle_wakes_a_thread_of_another_process(pg_url: str) -> None:
    """``hydria housekeeping`` on PostgreSQL: its spare pool waits on the feed."""
    feed = settle_feed_for(pg_url)
    assert isinstance(feed, PostgresSettleFeed)
    signal = PostgresSettleSignal(pg_url)
    mark = feed.mark()
    stop = threading.Event()

    def keep_telling() -> None:  # until the listener has connected, notes are lost
        while not stop.wait(0.1):
            signal.settled("lb-1")

    teller = threading.Thread(target=keep_telling)
    teller.start()
    try:
        assert feed.wait_any(after=mark, timeout=30) is True
    finally:
        stop.set()
        teller.join()
        feed.close()
