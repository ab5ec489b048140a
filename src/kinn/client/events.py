"""Event recording (k8s.io/client-go/tools/record): what `kubectl describe` shows under Events.

Events are core/v1 Events named `<object>.<hex timestamp>`, as upstream names them. Before a write,
each event passes the EventCorrelator's three steps (events_cache.go), so a busy controller cannot
flood the API server:
- aggregation: once one source has recorded ten distinct messages of one (object, type, reason)
  within ten minutes, the next ones become a single event "(combined from similar events): …";
- de-duplication: a repeat of the same event within ten minutes increments `count` and
  `lastTimestamp` of the existing Event instead of creating another, so a pod that fails to
  schedule every few seconds shows `(x12 over 2m)` rather than twelve rows;
- spam filtering: one source may write 25 events about one object, then one more every five minutes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Generic, TypeVar

from kinn.api.errors import StatusError
from kinn.api.timestamps import rfc3339
from kinn.client.rest import REQUEST_ERRORS, Client, resource

log = logging.getLogger("kinn.client.events")
EVENTS = resource("v1", "events")
AGGREGATION_WINDOW = 600.0  # defaultAggregateIntervalInSeconds
AGGREGATE_MAX_EVENTS = 10  # defaultAggregateMaxEvents: distinct messages before they are combined
SPAM_BURST = 25  # defaultSpamBurst
SPAM_QPS = 1.0 / 300.0  # defaultSpamQPS: the bucket's refill rate
LRU_ENTRIES = 4096  # maxLruCacheEntries
QUEUE_LIMIT = 1000  # maxQueuedEvents: the broadcaster's channel

Obj = dict[str, Any]
V = TypeVar("V")


def object_reference(obj: Obj, field_path: str = "") -> Obj:
    """The event's involvedObject; `field_path` names a part of it, as a kubelet names the container
    an event is about (`spec.containers{app}`)."""
    meta = obj.get("metadata", {})
    ref = {"kind": obj.get("kind", ""), "apiVersion": obj.get("apiVersion", ""), "name": meta.get("name", ""),
           "uid": meta.get("uid", ""), "resourceVersion": meta.get("resourceVersion", "")}
    if meta.get("namespace"):
        ref["namespace"] = meta["namespace"]
    if field_path:
        ref["fieldPath"] = field_path
    return ref


class LRU(Generic[V]):
    """The bounded caches the correlator keeps (groupcache's lru.Cache): the oldest entry goes first."""

    def __init__(self, size: int = LRU_ENTRIES) -> None:
        self.size = size
        self._entries: OrderedDict[tuple, V] = OrderedDict()

    def get(self, key: tuple) -> V | None:
        value = self._entries.get(key)
        if value is not None:
            self._entries.move_to_end(key)
        return value

    def put(self, key: tuple, value: V) -> None:
        self._entries[key] = value
        self._entries.move_to_end(key)
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def pop(self, key: tuple) -> None:
        self._entries.pop(key, None)


@dataclass
class _Aggregate:
    """Distinct messages seen for one (source, object, type, reason) since `last`."""

    last: float
    messages: set[str] = field(default_factory=set)


@dataclass
class _Observed:
    """The Event last written for a key: where to PATCH the next repeat."""

    name: str
    namespace: str
    count: int
    first_timestamp: str


@dataclass(frozen=True)
class _Write:
    """One queued API write: the Event's CREATE, or the PATCH that counts a repeat."""

    key: tuple
    name: str
    namespace: str
    is_patch: bool
    body: Obj


@dataclass
class _TokenBucket:
    tokens: float
    updated: float

    def try_accept(self, now: float) -> bool:
        self.tokens = min(SPAM_BURST, self.tokens + (now - self.updated) * SPAM_QPS)
        self.updated = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


class EventRecorder:
    """Records events without making the caller wait for the API server, as client-go's broadcaster
    does: the correlator decides at once, and one sender task per recorder writes the Events in
    order (a repeat's PATCH never overtakes its CREATE). At most QUEUE_LIMIT wait; beyond that new
    events are dropped, as upstream drops them when its channel is full."""

    def __init__(self, client: Client, component: str, host: str = "") -> None:
        self.client = client
        self.component = component
        self.host = host
        self._aggregates: LRU[_Aggregate] = LRU()
        self._observed: LRU[_Observed] = LRU()
        self._spam: LRU[_TokenBucket] = LRU()
        self._queue: asyncio.Queue[_Write] = asyncio.Queue(QUEUE_LIMIT)
        self._sender: asyncio.Task[None] | None = None

    async def event(self, obj: Obj, type_: str, reason: str, message: str, field_path: str = "") -> None:
        """Record; never raises and never waits on the API server: events are best effort, as upstream.
        Events about different parts of one object (`field_path`) are counted apart."""
        ref = object_reference(obj, field_path)
        namespace = ref.get("namespace") or "default"
        now = datetime.now(timezone.utc)
        message, key = self._aggregate(ref, type_, reason, message)
        observed = self._observed.get(key)
        count = observed.count + 1 if observed else 1
        name = observed.name if observed else f"{ref['name']}.{time.time_ns():x}"
        first = observed.first_timestamp if observed else rfc3339(now)
        self._observed.put(key, _Observed(name, namespace, count, first))
        if not self._accept(ref):
            return
        if observed:
            write: Obj = {"count": count, "lastTimestamp": rfc3339(now), "message": message}
        else:
            source: Obj = {"component": self.component}
            if self.host:
                source["host"] = self.host
            write = {"apiVersion": "v1", "kind": "Event", "metadata": {"name": name, "namespace": namespace},
                     "involvedObject": ref, "reason": reason, "message": message, "type": type_,
                     "source": source, "firstTimestamp": first, "lastTimestamp": rfc3339(now), "count": 1,
                     "reportingComponent": self.component, "reportingInstance": self.host}
        try:
            self._queue.put_nowait(_Write(key, name, namespace, bool(observed), write))
        except asyncio.QueueFull:
            self._observed.pop(key)
            log.debug("event %s %s dropped: %d events are waiting to be written", reason, ref["name"], QUEUE_LIMIT)
            return
        if self._sender is None or self._sender.done():
            self._sender = asyncio.create_task(self._send_forever(), name=f"events-{self.component}")

    async def flush(self) -> None:
        """Wait until every recorded event has been written (or dropped): for tests and clean shutdowns."""
        await self._queue.join()

    async def _send_forever(self) -> None:
        while True:
            write = await self._queue.get()
            try:
                await self._send(write)
            finally:
                self._queue.task_done()

    async def _send(self, write: _Write) -> None:
        try:
            if write.is_patch:
                await self.client.patch(EVENTS, write.name, write.body, write.namespace)
            else:
                await self.client.create(EVENTS, write.body, write.namespace)
        except StatusError as e:
            self._observed.pop(write.key)
            log.debug("event %s dropped: %s", write.name, e.message)
        except REQUEST_ERRORS as e:
            self._observed.pop(write.key)
            log.debug("event %s dropped: %s", write.name, e)

    def _aggregate(self, ref: Obj, type_: str, reason: str, message: str) -> tuple[str, tuple]:
        """EventAggregate: the message to record and the key of the Event it counts towards."""
        group = (ref["kind"], ref.get("namespace", ""), ref["name"], ref["uid"], ref["apiVersion"], type_, reason)
        now = time.monotonic()
        record = self._aggregates.get(group)
        if record is None or now - record.last > AGGREGATION_WINDOW:
            record = _Aggregate(now)
        record.messages.add(message)
        record.last = now
        self._aggregates.put(group, record)
        field_path = ref.get("fieldPath", "")  # not part of the group, but of the event it counts towards
        if len(record.messages) < AGGREGATE_MAX_EVENTS:
            return message, (*group, field_path, message)
        record.messages.pop()  # do not grow the set beyond the threshold
        return f"(combined from similar events): {message}", (*group, field_path)

    def _accept(self, ref: Obj) -> bool:
        """EventSourceObjectSpamFilter: a token bucket per object (this recorder is one source)."""
        key = (ref["kind"], ref.get("namespace", ""), ref["name"], ref["uid"], ref["apiVersion"])
        now = time.monotonic()
        bucket = self._spam.get(key)
        if bucket is None:
            bucket = _TokenBucket(SPAM_BURST, now)
            self._spam.put(key, bucket)
        return bucket.try_accept(now)
