"""Work queues for controllers (k8s.io/client-go/util/workqueue).

The guarantees controllers are written against:
- an item is queued at most once however often it is added (dirty set),
- an item is never processed by two workers at once: added while in flight, it is queued again
  only when `done` is called (processing set),
- failures retry with per-item exponential back-off, capped, plus an overall token bucket
  (the default controller rate limiter: 5 ms … 1000 s per item, 10 qps / 100 burst overall).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from typing import Generic, Hashable, TypeVar

T = TypeVar("T", bound=Hashable)


class ShutDown(Exception):
    """The queue is shutting down: workers should return."""


class ItemExponentialFailureRateLimiter(Generic[T]):
    def __init__(self, base_delay: float = 0.005, max_delay: float = 1000.0) -> None:
        self.base_delay, self.max_delay = base_delay, max_delay
        self._failures: dict[T, int] = {}

    def when(self, item: T) -> float:
        failures = self._failures.get(item, 0)
        self._failures[item] = failures + 1
        return min(self.base_delay * (2 ** failures), self.max_delay)

    def forget(self, item: T) -> None:
        self._failures.pop(item, None)

    def num_requeues(self, item: T) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter:
    """A token bucket: `when` returns how long to wait for the next token."""

    def __init__(self, qps: float = 10.0, burst: int = 100) -> None:
        self.qps, self.burst = qps, burst
        self._tokens = float(burst)
        self._last = time.monotonic()

    def when(self) -> float:
        now = time.monotonic()
        self._tokens = min(self.burst, self._tokens + (now - self._last) * self.qps)
        self._last = now
        self._tokens -= 1
        return 0.0 if self._tokens >= 0 else -self._tokens / self.qps


class RateLimitingQueue(Generic[T]):
    def __init__(self, name: str = "", base_delay: float = 0.005, max_delay: float = 1000.0,
                 qps: float = 10.0, burst: int = 100) -> None:
        self.name = name
        self._queue: deque[T] = deque()
        self._dirty: set[T] = set()
        self._processing: set[T] = set()
        # item → (when it is due, on the loop's clock; the timer). The due time is kept here rather
        # than read from the handle: uvloop turns sub-millisecond delays into plain handles.
        self._waiting: dict[T, tuple[float, asyncio.Handle]] = {}
        self._ready = asyncio.Event()
        self._shutting_down = False
        self._item_limiter: ItemExponentialFailureRateLimiter[T] = ItemExponentialFailureRateLimiter(
            base_delay, max_delay)
        self._bucket = BucketRateLimiter(qps, burst)

    def __len__(self) -> int:
        return len(self._queue)

    def add(self, item: T) -> None:
        if self._shutting_down or item in self._dirty:
            return
        self._dirty.add(item)
        if item in self._processing:
            return
        self._queue.append(item)
        self._ready.set()

    async def get(self) -> T:
        """The next item, which the caller must pass to `done` when finished with it."""
        while not self._queue:
            if self._shutting_down:
                raise ShutDown()
            self._ready.clear()
            await self._ready.wait()
        item = self._queue.popleft()
        self._processing.add(item)
        self._dirty.discard(item)
        return item

    def done(self, item: T) -> None:
        self._processing.discard(item)
        if item in self._dirty:
            self._queue.append(item)
            self._ready.set()

    def add_after(self, item: T, delay: float) -> None:
        """Add after `delay` seconds; an earlier pending add of the same item wins (as upstream)."""
        if self._shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        loop = asyncio.get_running_loop()
        due = loop.time() + delay
        existing = self._waiting.get(item)
        if existing is not None and existing[0] <= due:
            return
        if existing is not None:
            existing[1].cancel()
        self._waiting[item] = (due, loop.call_later(delay, self._fire, item))

    def _fire(self, item: T) -> None:
        self._waiting.pop(item, None)
        self.add(item)

    def add_rate_limited(self, item: T) -> None:
        self.add_after(item, max(self._item_limiter.when(item), self._bucket.when()))

    def forget(self, item: T) -> None:
        """Stop tracking the item's failures (after it was processed successfully)."""
        self._item_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        return self._item_limiter.num_requeues(item)

    def shut_down(self) -> None:
        self._shutting_down = True
        for _, handle in self._waiting.values():
            handle.cancel()
        self._waiting.clear()
        self._ready.set()

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down
