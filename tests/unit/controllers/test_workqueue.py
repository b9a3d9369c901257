"""The controllers' work queue: de-duplication, per-key serialisation, delays and back-off."""

from __future__ import annotations

import asyncio

import pytest

from miniplane.controllers.workqueue import ShutDown, WorkQueue


async def test_a_waiting_key_is_queued_once() -> None:
    queue: WorkQueue[str] = WorkQueue()
    for key in ("a", "b", "a", "a"):
        queue.add(key)
    assert len(queue) == 2
    assert [await queue.get(), await queue.get()] == ["a", "b"]
    assert queue.statistics().adds == 2


async def test_a_key_added_while_processing_comes_back_after_done() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add("a")
    key = await queue.get()
    queue.add("a")
    queue.add("a")
    assert len(queue) == 0  # never handed to a second worker while the first holds it
    queue.done(key)
    assert len(queue) == 1 and await queue.get() == "a"
    queue.done("a")
    assert len(queue) == 0


async def test_two_workers_never_hold_the_same_key() -> None:
    queue: WorkQueue[int] = WorkQueue()
    holding: set[int] = set()
    seen: list[int] = []

    async def worker() -> None:
        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            assert key not in holding
            holding.add(key)
            seen.append(key)
            await asyncio.sleep(0.001)
            holding.discard(key)
            queue.done(key)

    workers = [asyncio.create_task(worker()) for _ in range(4)]
    for round_ in range(20):
        for key in range(3):
            queue.add(key)
        await asyncio.sleep(0.0005 * (round_ % 3))
    await asyncio.sleep(0.05)
    queue.shut_down()
    await asyncio.gather(*workers)
    assert set(seen) == {0, 1, 2}


async def test_add_after_waits_and_the_earliest_time_wins() -> None:
    queue: WorkQueue[str] = WorkQueue()
    queue.add_after("late", 0.2)
    queue.add_after("late", 0.02)  # earlier: replaces
    queue.add_after("late", 1.0)  # later: ignored
    queue.add_after("now", 0)
    assert await queue.get() == "now"
    assert len(queue) == 0
    assert await asyncio.wait_for(queue.get(), 0.15) == "late"


async def test_rate_limited_requeue_backs_off_until_forgotten() -> None:
    queue: WorkQueue[str] = WorkQueue(base_delay=0.01, max_delay=0.04)
    loop = asyncio.get_running_loop()
    delays = []
    for _ in range(4):
        start = loop.time()
        queue.add_rate_limited("k")
        key = await queue.get()
        delays.append(loop.time() - start)
        queue.done(key)
    assert queue.num_requeues("k") == 4
    assert delays[0] >= 0.009 and delays[1] >= 0.019 and delays[3] < 0.1  # 10, 20, 40, 40 (capped) ms
    assert queue.statistics().retries == 4
    queue.forget("k")
    assert queue.num_requeues("k") == 0


async def test_shut_down_wakes_waiting_workers() -> None:
    queue: WorkQueue[str] = WorkQueue()
    waiter = asyncio.create_task(queue.get())
    await asyncio.sleep(0)
    queue.add_after("never", 10)
    queue.shut_down()
    with pytest.raises(ShutDown):
        await waiter
    queue.add("ignored")
    assert queue.statistics().depth == 0
