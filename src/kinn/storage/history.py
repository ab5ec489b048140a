"""Watch history and fan-out, shared by storage backends.

The history is a bounded, revision-ordered window of events (etcd keeps the same window until it
compacts). A watch registers atomically with its backlog — events after the requested revision
are copied from the window and live events follow, with no await in between — so a watcher sees
every revision in order with no gaps and no duplicates.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
from collections import deque
from dataclasses import dataclass
from typing import AsyncIterator, Callable, Iterable

from kinn.storage.interface import CompactedError, StoredObject, Trigger, WatchEvent, Watcher

# A watcher that falls this far behind is ended, as the API server's cacher ends slow watchers;
# the client then re-lists, which is cheaper than buffering without bound.
WATCHER_QUEUE_LIMIT = 100_000

_CLOSED = None

log = logging.getLogger("kinn.storage")


@dataclass(frozen=True)
class Tick:
    """A wake-up a consumer scheduled for itself (time for a bookmark, or the end of its watch).

    Timers feed the same queue as events, so a watch stream waits on one plain queue read: no
    task or timeout future per event, which is what fan-out to a thousand watchers costs most.
    """

    final: bool = False


class QueueWatcher(Watcher):
    def __init__(self, hub: "WatchHub", prefix: str, trigger: Trigger | None = None) -> None:
        self._hub = hub
        self.prefix = prefix
        self.trigger = trigger
        self._queue: asyncio.Queue[WatchEvent | Tick | None] = asyncio.Queue()
        self.stopped = False
        # A consumer that can take events synchronously (a watch stream writing straight to its
        # socket) installs a sink: publishing then costs no task wake-up per watcher.
        self.sink: Callable[[WatchEvent], None] | None = None

    def offer(self, event: WatchEvent) -> None:
        if self.stopped:
            return
        if self.sink is not None:
            self.sink(event)
            return
        if self._queue.qsize() >= WATCHER_QUEUE_LIMIT:
            self.stop()
            return
        self._queue.put_nowait(event)

    @property
    def backlog(self) -> int:
        """Items offered but not yet taken by the reader."""
        return self._queue.qsize()

    def tick(self, final: bool = False) -> None:
        if not self.stopped:
            self._queue.put_nowait(Tick(final))

    async def next_batch(self) -> list[WatchEvent | Tick | None]:
        """Wait for at least one item, then take everything already queued (in order)."""
        batch = [await self._queue.get()]
        return batch + self.take_ready()

    def take_ready(self) -> list[WatchEvent | Tick | None]:
        """Everything queued right now, without waiting."""
        batch: list[WatchEvent | Tick | None] = []
        while not self._queue.empty() and (not batch or batch[-1] is not _CLOSED):
            batch.append(self._queue.get_nowait())
        return batch

    def stop(self) -> None:
        if not self.stopped:
            self.stopped = True
            self._hub.unregister(self)
            self._queue.put_nowait(_CLOSED)

    async def __aiter__(self) -> AsyncIterator[WatchEvent]:  # type: ignore[override]
        while True:
            event = await self._queue.get()
            if event is _CLOSED:
                return
            if isinstance(event, WatchEvent):
                yield event


class WatchHub:
    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._events: deque[WatchEvent] = deque()
        self._revisions: deque[int] = deque()
        self._watchers: set[QueueWatcher] = set()  # without a trigger: offered every event under their prefix
        # Watchers with a trigger, by index scope, then by value: offered only their value's events.
        self._triggered: dict[str, tuple[Trigger, dict[str, set[QueueWatcher]]]] = {}
        # The revision just before the oldest event we can replay.
        self.floor = 0

    def load(self, events: Iterable[WatchEvent], floor: int) -> None:
        """Seed the window from a backend's persisted log (after a restart)."""
        self.floor = floor
        for event in events:
            self._events.append(event)
            self._revisions.append(event.revision)
        self._trim()

    def publish(self, event: WatchEvent) -> None:
        self._events.append(event)
        self._revisions.append(event.revision)
        self._trim()
        key = event.object.key
        for watcher in list(self._watchers):
            if key.startswith(watcher.prefix):
                watcher.offer(event)
        for scope, (index, buckets) in list(self._triggered.items()):
            if not key.startswith(scope):
                continue  # another resource: nothing this index reads
            try:
                values = {index.value_of(event.object)}
                if event.prev is not None:
                    values.add(index.value_of(event.prev))  # a pod moving off a node still concerns it
            except Exception:
                # Publishing runs inside the writers' commit and must not fail it: the watches this
                # index cannot place the event for are ended instead, and re-list, as the cacher
                # ends a watcher it cannot serve.
                log.exception("watch index of %s cannot read %s at %d: ending its watches",
                              scope, key, event.revision)
                for watcher in [w for bucket in buckets.values() for w in bucket]:
                    watcher.stop()
                continue
            for value in values:
                for watcher in list(buckets.get(value, ())):
                    if key.startswith(watcher.prefix):
                        watcher.offer(event)

    def compact(self, revision: int) -> None:
        """Forget the events at and before `revision`, as etcd's compaction does."""
        while self._revisions and self._revisions[0] <= revision:
            self._drop_oldest()

    def _trim(self) -> None:
        while len(self._events) > self.capacity:
            self._drop_oldest()

    def _drop_oldest(self) -> None:
        self._events.popleft()
        self.floor = self._revisions.popleft()

    def since(self, after_revision: int) -> list[WatchEvent]:
        """Events with revision > after_revision; CompactedError if some were already dropped."""
        if after_revision < self.floor:
            raise CompactedError(after_revision, self.floor + 1)
        start = bisect.bisect_right(self._revisions, after_revision)
        return [self._events[i] for i in range(start, len(self._events))]

    def watch(self, prefix: str, after_revision: int, trigger: Trigger | None = None) -> QueueWatcher:
        backlog = self.since(after_revision)
        watcher = QueueWatcher(self, prefix, trigger)
        for event in backlog:
            if event.object.key.startswith(prefix):
                watcher.offer(event)
        if trigger is None:
            self._watchers.add(watcher)
        else:
            _, buckets = self._triggered.setdefault(trigger.scope, (trigger, {}))
            buckets.setdefault(trigger.value, set()).add(watcher)
        return watcher

    def unregister(self, watcher: QueueWatcher) -> None:
        trigger = watcher.trigger
        if trigger is None:
            self._watchers.discard(watcher)
            return
        _, buckets = self._triggered[trigger.scope]
        bucket = buckets[trigger.value]
        bucket.discard(watcher)
        if not bucket:
            del buckets[trigger.value]

    def _all(self) -> list[QueueWatcher]:
        triggered = (w for _, buckets in self._triggered.values() for bucket in buckets.values() for w in bucket)
        return [*self._watchers, *triggered]

    def stop_all(self) -> None:
        for watcher in self._all():
            watcher.stop()

    @property
    def watcher_count(self) -> int:
        return len(self._all())


def rewind(current: dict[str, StoredObject], events: list[WatchEvent]) -> dict[str, StoredObject]:
    """Undo `events` (newest last) on a copy of `current`: the state before the first of them.

    This is how a list at an older revision is served without MVCC in the backend: the current
    state minus the changes the history says happened since.
    """
    state = dict(current)
    for event in reversed(events):
        key = event.object.key
        if event.prev is None:
            state.pop(key, None)
        else:
            state[key] = event.prev
    return state
