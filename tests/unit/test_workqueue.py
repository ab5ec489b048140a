"""The work queue guarantees controllers rely on (client-go workqueue semantics)."""

from __future__ import annotations

import asyncio

import pytest

from kinn.client.workqueue import ItemExponentialFailureRateLimiter, RateLimitingQueue, ShutDown


async def test_an_item_added_twice_is_queued_once():
    q: RateLimitingQueue[str] = RateLimitingQueue()
    q.add("a")
    q.add("a")
    q.add("b")
    assert len(q) == 2
    assert await q.get() == "a"
    assert await q.get() == "b"


async def test_an_item_added_while_processing_is_requeued_only_after_done():
    q: RateLimitingQueue[str] = RateLimitingQueue()
    q.add("a")
    item = await q.get()
    q.add("a")
    assert len(q) == 0  # never handed to a second worker while in flight
    q.done(item)
    assert len(q) == 1
    assert await q.get() == "a"


async def test_get_waits_for_an_add_and_shutdown_releases_waiters():
    q: RateLimitingQueue[str] = RateLimitingQueue()
    waiter = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.add("x")
    assert await asyncio.wait_for(waiter, 1) == "x"
    blocked = asyncio.create_task(q.get())
    await asyncio.sleep(0)
    q.shut_down()
    with pytest.raises(ShutDown):
        await asyncio.wait_for(blocked, 1)


def test_failure_backoff_doubles_and_is_capped_then_forgotten():
    limiter: ItemExponentialFailureRateLimiter[str] = ItemExponentialFailureRateLimiter(0.005, 0.04)
    assert [limiter.when("a") for _ in range(5)] == [0.005, 0.01, 0.02, 0.04, 0.04]
    assert limiter.num_requeues("a") == 5
    limiter.forget("a")
    assert limiter.when("a") == 0.005


async def test_add_rate_limited_delays_and_earliest_add_after_wins():
    q: RateLimitingQueue[str] = RateLimitingQueue(base_delay=0.05)
    q.add_rate_limited("a")
    assert len(q) == 0
    assert await asyncio.wait_for(q.get(), 1) == "a"
    q.done("a")
    q.add_after("b", 10)
    q.add_after("b", 0.01)  # the earlier time replaces the later one
    assert await asyncio.wait_for(q.get(), 1) == "b"


def test_sub_millisecond_delays_work_on_uvloop():
    """uvloop hands back a plain Handle for delays it rounds to zero; the queue must not depend on its timer."""
    import uvloop

    async def scenario() -> str:
        q: RateLimitingQueue[str] = RateLimitingQueue()
        q.add_after("a", 0.0001)
        q.add_after("a", 0.0002)
        return await asyncio.wait_for(q.get(), 1)

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(scenario()) == "a"
