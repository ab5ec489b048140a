"""The scheduling queue: priority order, back-off, moves on cluster events, moveRequestCycle."""

from __future__ import annotations

import asyncio

import pytest

from kinn.scheduler.framework.interface import NODE_ADD, ClusterEvent
from kinn.scheduler.queue import SchedulingQueue
from scheduler_util import pod


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def make_queue() -> tuple[SchedulingQueue, Clock]:
    clock = Clock()
    events = {NODE_ADD: {"NodeResourcesFit"}, ClusterEvent("PersistentVolumeClaim", "Add"): {"VolumeBinding"}}
    return SchedulingQueue(events, clock=clock), clock


async def pop_names(queue: SchedulingQueue, count: int) -> list[str]:
    return [(await asyncio.wait_for(queue.pop(), 1)).pod_info.name for _ in range(count)]


async def test_active_queue_orders_by_priority_then_age() -> None:
    queue, clock = make_queue()
    for name, priority in (("old-low", 0), ("high", 100), ("new-low", 0)):
        queue.add(pod(name, priority=priority))
        clock.now += 1
    assert await pop_names(queue, 3) == ["high", "old-low", "new-low"]


@pytest.mark.parametrize("attempts, backoff", [(1, 1.0), (2, 2.0), (3, 4.0), (4, 8.0), (5, 10.0), (9, 10.0)])
def test_backoff_doubles_up_to_ten_seconds(attempts: int, backoff: float) -> None:
    queue, _ = make_queue()
    queue.add(pod("p"))
    queued = queue._active_keys["default/p"]
    queued.attempts = attempts
    assert queue.backoff_duration(queued) == backoff


async def test_unschedulable_pod_moves_only_on_a_relevant_event() -> None:
    queue, clock = make_queue()
    queue.add(pod("p"))
    queued = await queue.pop()
    queued.unschedulable_plugins = {"VolumeBinding"}
    queue.add_unschedulable_if_not_present(queued, queue.scheduling_cycle)
    assert queue.pending() == {"active": 0, "backoff": 0, "unschedulable": 1}
    queue.move_all_to_active_or_backoff(NODE_ADD)
    assert queue.pending()["unschedulable"] == 1
    queue.move_all_to_active_or_backoff(ClusterEvent("PersistentVolumeClaim", "Add"))
    assert queue.pending() == {"active": 0, "backoff": 1, "unschedulable": 0}  # still backing off
    clock.now += 1.5
    queue.flush_backoff_completed()
    assert await pop_names(queue, 1) == ["p"]


async def test_event_during_the_attempt_sends_the_pod_to_backoff() -> None:
    queue, _ = make_queue()
    queue.add(pod("p"))
    queued = await queue.pop()
    cycle = queue.scheduling_cycle
    queue.move_all_to_active_or_backoff(NODE_ADD)  # arrives while "p" is being scheduled
    queued.unschedulable_plugins = {"NodeResourcesFit"}
    queue.add_unschedulable_if_not_present(queued, cycle)
    assert queue.pending() == {"active": 0, "backoff": 1, "unschedulable": 0}


async def test_spec_update_retries_an_unschedulable_pod_and_delete_drops_it() -> None:
    queue, clock = make_queue()
    old = pod("p")
    queue.add(old)
    queued = await queue.pop()
    queued.unschedulable_plugins = {"NodeAffinity"}
    queue.add_unschedulable_if_not_present(queued, queue.scheduling_cycle)
    status_only = {**old, "status": {"phase": "Pending", "conditions": []}}
    queue.update(old, status_only)
    assert queue.pending()["unschedulable"] == 1
    clock.now += 5
    queue.update(status_only, {**old, "metadata": {**old["metadata"], "labels": {"x": "y"}}})
    assert queue.pending() == {"active": 1, "backoff": 0, "unschedulable": 0}
    queue.delete(old)
    assert queue.pending() == {"active": 0, "backoff": 0, "unschedulable": 0}


async def test_pods_left_unschedulable_for_five_minutes_are_retried() -> None:
    queue, clock = make_queue()
    queue.add(pod("p"))
    queued = await queue.pop()
    queued.unschedulable_plugins = {"NodeAffinity"}
    queue.add_unschedulable_if_not_present(queued, queue.scheduling_cycle)
    clock.now += 301
    queue.flush_unschedulable_left_over()
    assert await pop_names(queue, 1) == ["p"]
