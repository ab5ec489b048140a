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
import random
import time
from typing import Any, Callable

import orjson
from aiohttp import web

from kinn.api import errors
from kinn.apiserver import encoding
from kinn.apiserver.negotiation import ResponseFormat
from kinn.apiserver.registry.generic import Registry, RequestContext
from kinn.apiserver.selection import Selection
from kinn.storage.interface import CompactedError, StoredObject, WatchEvent

Obj = dict[str, Any]

BOOKMARK_INTERVAL = 1.0  # seconds; upstream sends them about once a minute, clients only gain from more
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
        timeout = query.get("timeoutSeconds")
        self.timeout = float(timeout) if timeout else MIN_REQUEST_TIMEOUT * (1 + random.random())
        self.resource_version = query.get("resourceVersion", "")
        self.encode_object = self._encoder()

    def _encoder(self) -> Callable[[StoredObject], bytes]:
        registry, fmt = self.registry, self.fmt

        def encode(stored: StoredObject) -> bytes:
            obj, raw = registry.external(stored)
            return encoding.object_body(registry.resource, obj, raw, fmt)

        return encode

    async def serve(self, request: web.Request) -> web.StreamResponse:
        store = self.registry.store
        prefix = self.registry.prefix(self.ctx.namespace)
        response = web.StreamResponse(headers={"Content-Type": "application/json", "Transfer-Encoding": "chunked"})
        rv = self.resource_version
        initial: list[StoredObject] = []
        try:
            if rv in ("", "0") or self.send_initial:
                start = store.revision
                initial = [o for o in await store.list_at(prefix, start) if self._matches(o)]
            else:
                start = int(rv)
            watcher = store.watch(prefix, start)
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
            await self._pump(response, watcher, start)
        except (ConnectionResetError, asyncio.CancelledError):
            pass
        finally:
            watcher.stop()
        return response

    async def _pump(self, response: web.StreamResponse, watcher: Any, start: int) -> None:
        deadline = time.monotonic() + self.timeout
        events = watcher.__aiter__()
        last_rv = start
        # One pending read outlives bookmark timeouts: cancelling it (as wait_for does) would close
        # the watcher's async generator and end the stream after the first bookmark.
        pending: asyncio.Future[WatchEvent] | None = None
        try:
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return
                wait = min(remaining, BOOKMARK_INTERVAL) if self.bookmarks else remaining
                pending = pending or asyncio.ensure_future(events.__anext__())
                done, _ = await asyncio.wait({pending}, timeout=wait)
                if not done:
                    # The store's revision is a safe bookmark only while nothing is queued for this
                    # watcher: a queued event older than it would otherwise arrive after its bookmark.
                    if self.bookmarks and time.monotonic() < deadline and not watcher.backlog:
                        await response.write(self._bookmark(max(last_rv, self.registry.store.revision)))
                    continue
                pending, finished = None, pending
                try:
                    event = finished.result()
                except StopAsyncIteration:
                    return
                last_rv = event.revision
                frame = self._event_frame(event)
                if frame:
                    await response.write(frame)
        finally:
            if pending:
                pending.cancel()

    def _matches(self, stored: StoredObject | None) -> bool:
        return stored is not None and (self.selection.empty or self.selection.matches(self.registry.external(stored)[0]))

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
        return self._frame(kind, self.encode_object(event.object))

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
