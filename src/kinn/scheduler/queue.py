"""The scheduling queue (internal/queue/scheduling_queue.go): activeQ, backoffQ, unschedulablePods.

activeQ pops the highest priority first, then the longest waiting. A pod that fits nowhere waits
in unschedulablePods until a cluster event that could help it — one registered by a plugin that
rejected it (coarse queueing hints) — moves it to activeQ, or to backoffQ while its back-off
(1 s doubling per attempt up to 10 s) runs. If such an event arrived while the pod was being
scheduled, it goes straight to backoffQ (moveRequestCycle), so the event is not lost. Pods left
unschedulable for 5 minutes are retried anyway. The queue is also the nominator: it remembers
which node preemptors were nominated to, so filters keep that room for them.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from kinn.scheduler.framework.interface import ClusterEvent
from kinn.scheduler.nodeinfo import PodInfo

Obj = dict[str, Any]
BACKOFF_FLUSH_PERIOD = 1.0
UNSCHEDULABLE_FLUSH_PERIOD = 30.0
POD_MAX_IN_UNSCHEDULABLE_PODS_DURATION = 300.0


@dataclass(eq=False)
class QueuedPodInfo:
    pod_info: PodInfo
    timestamp: float
    attempts: int = 0
    unschedulable_plugins: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        return self.pod_info.key


def pod_key(pod: Obj) -> str:
    return f"{pod['metadata'].get('namespace', '')}/{pod['metadata']['name']}"


class SchedulingQueue:
    def __init__(self, event_plugins: dict[ClusterEvent, set[str]], initial_backoff: float = 1.0,
                 max_backoff: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        self.event_plugins = event_plugins
        self.initial_backoff, self.max_backoff = initial_backoff, max_backoff
        self.clock = clock
        self._seq = itertools.count()
        self._active: list[tuple[int, float, int, QueuedPodInfo]] = []
        self._active_keys: dict[str, QueuedPodInfo] = {}
        self._backoff: list[tuple[float, int, QueuedPodInfo]] = []
        self._backoff_keys: dict[str, QueuedPodInfo] = {}
        self.unschedulable: dict[str, QueuedPodInfo] = {}
        self._in_flight: set[str] = set()
        self.scheduling_cycle = 0
        self._move_request_cycle = -1
        self._ready = asyncio.Event()
        self._nominated: dict[str, dict[str, PodInfo]] = {}
        self._nominated_node_of: dict[str, str] = {}

    # -- informer events ---------------------------------------------------------------------------

    def add(self, pod: Obj) -> None:
        info = PodInfo(pod)
        self._discard(info.key)
        self._push_active(QueuedPodInfo(info, self.clock()))
        self._update_nomination(info)

    def update(self, old: Obj, new: Obj) -> None:
        info = PodInfo(new)
        key = info.key
        self._update_nomination(info)
        for queued in (self._active_keys.get(key), self._backoff_keys.get(key)):
            if queued is not None:
                queued.pod_info = info
                return
        queued = self.unschedulable.get(key)
        if queued is not None:
            queued.pod_info = info
            if _scheduling_relevant_change(old, new):  # the pod itself changed: worth another try
                del self.unschedulable[key]
                self._requeue(queued)
            return
        if key not in self._in_flight:
            self._push_active(QueuedPodInfo(info, self.clock()))

    def delete(self, pod: Obj) -> None:
        key = pod_key(pod)
        self._discard(key)
        self.delete_nominated_pod(key)

    def move_all_to_active_or_backoff(self, event: ClusterEvent) -> None:
        """Move the unschedulable pods a plugin interested in `event` had rejected."""
        interested = self.event_plugins.get(event, set())
        moved = [q for q in self.unschedulable.values()
                 if not q.unschedulable_plugins or q.unschedulable_plugins & interested]
        for queued in moved:
            del self.unschedulable[queued.key]
            self._requeue(queued)
        self._move_request_cycle = self.scheduling_cycle

    # -- the scheduling loop -----------------------------------------------------------------------

    async def pop(self) -> QueuedPodInfo:
        while True:
            while self._active:
                _, _, _, queued = heapq.heappop(self._active)
                if self._active_keys.get(queued.key) is queued:
                    del self._active_keys[queued.key]
                    queued.attempts += 1
                    self.scheduling_cycle += 1
                    self._in_flight.add(queued.key)
                    return queued
            self._ready.clear()
            await self._ready.wait()

    def done(self, key: str) -> None:
        self._in_flight.discard(key)

    def add_unschedulable_if_not_present(self, queued: QueuedPodInfo, pod_scheduling_cycle: int) -> None:
        """Back into the queue after a failed attempt; to backoffQ if a move request came meanwhile or the
        failure was an error (no plugin to wait on), else to unschedulablePods."""
        key = queued.key
        self._in_flight.discard(key)
        if key in self._active_keys or key in self._backoff_keys or key in self.unschedulable:
            return
        queued.timestamp = self.clock()
        if self._move_request_cycle >= pod_scheduling_cycle or not queued.unschedulable_plugins:
            self._push_backoff(queued)
        else:
            self.unschedulable[key] = queued

    def flush_backoff_completed(self) -> None:
        now = self.clock()
        while self._backoff and self._backoff[0][0] <= now:
            _, _, queued = heapq.heappop(self._backoff)
            if self._backoff_keys.get(queued.key) is queued:
                del self._backoff_keys[queued.key]
                self._push_active(queued)

    def flush_unschedulable_left_over(self) -> None:
        now = self.clock()
        stale = [q for q in self.unschedulable.values() if now - q.timestamp > POD_MAX_IN_UNSCHEDULABLE_PODS_DURATION]
        for queued in stale:
            del self.unschedulable[queued.key]
            self._requeue(queued)

    async def run(self) -> None:
        """The periodic flushes upstream runs beside the scheduling loop."""
        last_leftover = self.clock()
        while True:
            await asyncio.sleep(BACKOFF_FLUSH_PERIOD)
            self.flush_backoff_completed()
            if self.clock() - last_leftover >= UNSCHEDULABLE_FLUSH_PERIOD:
                self.flush_unschedulable_left_over()
                last_leftover = self.clock()

    def backoff_duration(self, queued: QueuedPodInfo) -> float:
        duration = self.initial_backoff
        for _ in range(1, queued.attempts):
            duration *= 2
            if duration > self.max_backoff:
                return self.max_backoff
        return duration

    def pending(self) -> dict[str, int]:
        return {"active": len(self._active_keys), "backoff": len(self._backoff_keys),
                "unschedulable": len(self.unschedulable)}

    # -- nominator -----------------------------------------------------------------------------------

    def add_nominated_pod(self, info: PodInfo, node_name: str) -> None:
        self.delete_nominated_pod(info.key)
        if node_name:
            self._nominated.setdefault(node_name, {})[info.key] = info
            self._nominated_node_of[info.key] = node_name

    def delete_nominated_pod(self, key: str) -> None:
        node = self._nominated_node_of.pop(key, None)
        if node is not None:
            pods = self._nominated[node]
            pods.pop(key, None)
            if not pods:
                del self._nominated[node]

    def nominated_pods_for_node(self, node_name: str) -> list[PodInfo]:
        return list(self._nominated.get(node_name, {}).values())

    def nominated_nodes(self) -> Iterable[str]:
        return self._nominated.keys()

    def _update_nomination(self, info: PodInfo) -> None:
        node = info.pod.get("status", {}).get("nominatedNodeName")
        if node:
            self.add_nominated_pod(info, node)
        elif info.key in self._nominated_node_of:
            # A nomination made by this scheduler but not yet written to the pod stays in memory.
            self._nominated[self._nominated_node_of[info.key]][info.key] = info

    # -- internals -----------------------------------------------------------------------------------

    def _push_active(self, queued: QueuedPodInfo) -> None:
        self._active_keys[queued.key] = queued
        heapq.heappush(self._active, (-queued.pod_info.priority, queued.timestamp, next(self._seq), queued))
        self._ready.set()

    def _push_backoff(self, queued: QueuedPodInfo) -> None:
        self._backoff_keys[queued.key] = queued
        expiry = queued.timestamp + self.backoff_duration(queued)
        heapq.heappush(self._backoff, (expiry, next(self._seq), queued))

    def _requeue(self, queued: QueuedPodInfo) -> None:
        if queued.timestamp + self.backoff_duration(queued) > self.clock():
            self._push_backoff(queued)
        else:
            self._push_active(queued)

    def _discard(self, key: str) -> None:
        self._active_keys.pop(key, None)
        self._backoff_keys.pop(key, None)
        self.unschedulable.pop(key, None)


def _scheduling_relevant_change(old: Obj, new: Obj) -> bool:
    """Did anything but status and bookkeeping metadata change? (isPodUpdated)"""
    def strip(pod: Obj) -> tuple[Any, Any, Any]:
        meta = pod.get("metadata", {})
        return pod.get("spec"), meta.get("labels"), meta.get("annotations")
    return strip(old) != strip(new)
