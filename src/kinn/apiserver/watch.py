"""Watch: a chunked stream of newline-delimited `{"type","object"}` events.

Semantics as upstream's watch handler and cacher:
- no resourceVersion or "0": synthetic ADDED events for what exists now, then changes;
- a resourceVersion N: every change after N, replayed from history; older than history → one
  ERROR event carrying a 410 Expired Status, then the stream ends;
- selectors filter, and an object that stops (starts) matching is sent as DELETED (ADDED);
- BOOKMARK events (only with allowWatchBookmarks=true) carry just the current resourceVersion;
- timeoutSeconds ends the stream.
"""

from __future__ import annotations

import asyncio
import logging
import random
from typing import Any, Callable

import orjson
from aiohttp import web

from kinn.api import errors
from kinn.apiserver import encoding
from kinn.apiserver.negotiation import ResponseFormat
from kinn.apiserver.registry.generic import Registry, RequestContext
from kinn.apiserver.requestinfo import int_parameter
from kinn.apiserver.selection import Selection
from kinn.storage.history import QueueWatcher, Tick
from kinn.storage.interface import CompactedError, StoredObject, WatchEvent

Obj = dict[str, Any]

log = logging.getLogger("kinn.apiserver.watch")

BOOKMARK_INTERVAL = 1.0  # seconds; upstream sends them about once a minute, clients only gain from more
# A watcher whose unsent output exceeds this is too slow to follow and is ended (it re-lists).
SLOW_CLIENT_BUFFER = 16 * 1024 * 1024
# Without timeoutSeconds upstream ends a watch after a random 30–60 minutes.
MIN_REQUEST_TIMEOUT = 1800


class WatchStream:
    def __init__(
        self, registry: Registry, ctx: RequestContext, selection: Selection, fmt: ResponseFormat, query: Any
    ) -> None:
        self.registry = registry
        self.ctx = ctx
        self.selection = selection
        self.fmt = fmt
        self.bookmarks = query.get("allowWatchBookmarks") in ("true", "1")
        self.send_initial = query.get("sendInitialEvents") in ("true", "1")
        timeout = int_parameter(query, "timeoutSeconds")
        self.timeout = float(timeout) if timeout else MIN_REQUEST_TIMEOUT * (1 + random.random())
        self.resource_version = query.get("resourceVersion", "")
        self.encode_object = self._encoder()
        # Watchers with equal keys receive byte-identical frames for an event.
        self._format_key = (registry.resource.api_version, registry.resource.plural, fmt)

    def _encoder(self) -> Callable[[StoredObject], bytes]:
        registry, fmt = self.registry, self.fmt

        def encode(stored: StoredObject) -> bytes:
            return encoding.object_body(registry.resource, registry.external(stored), fmt)

        return encode

    async def serve(self, request: web.BaseRequest) -> web.StreamResponse:
        store = self.registry.store
        prefix = self.registry.prefix(self.ctx.namespace)
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        rv = self.resource_version
        initial: list[StoredObject] = []
        try:
            if rv in ("", "0") or self.send_initial:
                start = store.revision
                initial = [o for o in await store.list_at(prefix, start) if self._matches(o)]
            else:
                start = int(rv)
            trigger = self.selection.trigger(self.registry.resource, self.registry.prefix(""),
                                             self.registry.decode_external)
            watcher = store.watch(prefix, start, trigger)
        except CompactedError as e:
            await response.prepare(request)
            # Upstream's watch cache names the revision just before its oldest event.
            await self._send_error(response, errors.resource_version_too_old(e.requested, e.oldest - 1))
            return response
        except ValueError:
            raise errors.bad_request(f'invalid resource version "{rv}"') from None
        await response.prepare(request)
        try:
            for stored in initial:
                await response.write(self._frame("ADDED", self.encode_object(stored)))
            if self.send_initial and self.bookmarks:
                await response.write(self._bookmark(start, initial_events_end=True))
            await self._pump(request, watcher, start)
            await response.write_eof()
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            watcher.stop()
        return response

    async def _pump(self, request: web.BaseRequest, watcher: QueueWatcher, start: int) -> None:
        """Deliver events as they are published, straight onto the connection.

        Events queued while the initial state was being sent are flushed first; then the watcher
        gets a sink that frames each event and hands it to the transport synchronously, inside
        the store's publish — no task wakes per event, which is what makes a write reach a
        thousand watchers in a few tens of milliseconds. This task only wakes for ticks: a
        bookmark every BOOKMARK_INTERVAL (if asked for) and the end of the watch.
        """
        transport = request.transport
        assert transport is not None
        self._last_rv = start
        loop = asyncio.get_running_loop()
        timers = [loop.call_later(self.timeout, watcher.tick, True)]
        if self.bookmarks:
            timers.append(loop.call_later(BOOKMARK_INTERVAL, self._tick_periodically, watcher, timers))

        def deliver(event: WatchEvent) -> None:
            # Runs inside the store's publish: it must never raise into the writer's request.
            self._last_rv = event.revision
            try:
                frame = self._event_frame(event)
            except Exception:
                log.exception("watch of %s: cannot encode event at %d", self.registry.resource.plural, event.revision)
                watcher.stop()
                return
            if frame is None:
                return
            if transport.is_closing() or transport.get_write_buffer_size() > SLOW_CLIENT_BUFFER:
                watcher.stop()  # gone, or too slow to keep up: it will re-list, as upstream forces
                return
            transport.write(frame)

        try:
            for item in watcher.take_ready():
                if isinstance(item, WatchEvent):
                    deliver(item)
            watcher.sink = deliver
            while True:
                for item in await watcher.next_batch():
                    if item is None or (isinstance(item, Tick) and item.final):
                        return
                    if self.bookmarks and not transport.is_closing():
                        # Every event up to the store's revision was delivered when published.
                        transport.write(_chunk(self._bookmark(max(self._last_rv, self.registry.store.revision))))
        finally:
            watcher.sink = None
            for timer in timers:
                timer.cancel()

    def _tick_periodically(self, watcher: QueueWatcher, timers: list[asyncio.TimerHandle]) -> None:
        """Tick now and re-arm: the newest timer replaces the spent one (timers[1])."""
        watcher.tick()
        timers[1] = asyncio.get_running_loop().call_later(BOOKMARK_INTERVAL, self._tick_periodically, watcher, timers)

    def _matches(self, stored: StoredObject | None) -> bool:
        return stored is not None and (self.selection.empty or self.selection.matches(stored, self.registry.decode_external))

    def _event_frame(self, event: WatchEvent) -> bytes | None:
        now = self._matches(event.object)
        before = self._matches(event.prev) if event.type != "ADDED" else False
        if event.type == "MODIFIED" and now != before:
            kind = "ADDED" if now else "DELETED"
        elif event.type == "DELETED":
            kind = "DELETED" if before or now else ""
        else:
            kind = event.type if now else ""
        if not kind:
            return None
        return _SHARED_FRAMES.get(event, kind, self._format_key, lambda: _chunk(
            self._frame(kind, self.encode_object(event.object))))

    @staticmethod
    def _frame(kind: str, body: bytes) -> bytes:
        return b'{"type":"' + kind.encode() + b'","object":' + body + b"}\n"

    def _bookmark(self, revision: int, initial_events_end: bool = False) -> bytes:
        resource = self.registry.resource
        meta: Obj = {"resourceVersion": str(revision)}
        if initial_events_end:
            meta["annotations"] = {"k8s.io/initial-events-end": "true"}
        obj = {"kind": resource.kind, "apiVersion": resource.api_version, "metadata": meta}
        return self._frame("BOOKMARK", orjson.dumps(obj))

    async def _send_error(self, response: web.StreamResponse, error: errors.StatusError) -> None:
        await response.write(self._frame("ERROR", orjson.dumps(error.status())))


class _FrameCache:
    """The framed event being published, shared by every watcher of one format.

    A publish runs all sinks for one event before the next event exists, so keeping only the
    current event's frames is enough, and costs nothing to invalidate.
    """

    def __init__(self) -> None:
        self._event: WatchEvent | None = None
        self._frames: dict[tuple[Any, ...], bytes] = {}

    def get(self, event: WatchEvent, kind: str, format_key: tuple[Any, ...], build: Callable[[], bytes]) -> bytes:
        if event is not self._event:
            self._event, self._frames = event, {}
        key = (kind, format_key)
        frame = self._frames.get(key)
        if frame is None:
            frame = self._frames[key] = build()
        return frame


_SHARED_FRAMES = _FrameCache()


def _chunk(data: bytes) -> bytes:
    """One HTTP/1.1 chunk: the stream's transfer coding, written here because frames bypass aiohttp."""
    return b"%x\r\n%b\r\n" % (len(data), data)
