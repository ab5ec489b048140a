"""What every controller shares: informers to read from, a work queue of keys, and workers.

As upstream controllers: event handlers only enqueue keys (`namespace/name`); workers take a
key, read the current state from the informer caches and reconcile it — level-triggered, so a
missed event or a restart loses nothing. A failed sync is retried with per-key exponential
back-off; a successful one forgets the key's failures.
"""

from __future__ import annotations

import abc
import asyncio
import logging
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any, Callable

from kinn.api.errors import StatusError
from kinn.api.resources import Resource
from kinn.client.events import EventRecorder
from kinn.client.informer import EventHandler, SharedInformer, SharedInformerFactory, object_key
from kinn.client.rest import Client
from kinn.client.workqueue import RateLimitingQueue, ShutDown
from kinn.loadbalancer.pool import AddressPool

Obj = dict[str, Any]


@dataclass
class ControllerManagerOptions:
    """Flags of kube-controller-manager that kinn's controllers honour (same names, same defaults)."""

    cluster_cidr: str = "10.244.0.0/16"
    allocate_node_cidrs: bool = False
    node_cidr_mask_size: int = 24
    node_monitor_grace_period: timedelta = timedelta(seconds=40)
    node_monitor_period: timedelta = timedelta(seconds=5)
    terminated_pod_gc_threshold: int = 12500
    concurrent_syncs: int = 5
    controllers: list[str] = field(default_factory=lambda: ["*"])
    load_balancer_pool: AddressPool | None = None  # kinn's LoadBalancer provider; None: Services stay pending


@dataclass
class ControllerContext:
    client: Client
    informers: SharedInformerFactory
    options: ControllerManagerOptions = field(default_factory=ControllerManagerOptions)

    def recorder(self, component: str) -> EventRecorder:
        return EventRecorder(self.client, component)


class Controller(abc.ABC):
    """A reconcile loop over keys of one primary resource."""

    name: str = ""

    def __init__(self, ctx: ControllerContext) -> None:
        self.ctx = ctx
        self.client = ctx.client
        self.queue: RateLimitingQueue[str] = RateLimitingQueue(self.name)
        self.log = logging.getLogger(f"kinn.controller.{self.name}")
        self._informers: list[SharedInformer] = []

    # -- wiring ----------------------------------------------------------------------------

    def informer(self, r: Resource, handler: EventHandler | None = None) -> SharedInformer:
        """The shared informer for `r`, registering `handler` and waiting on it before workers start."""
        informer = self.ctx.informers.informer(r)
        if handler is not None:
            informer.add_event_handler(handler)
        self._informers.append(informer)
        return informer

    def enqueue(self, obj: Obj) -> None:
        self.queue.add(object_key(obj))

    def enqueue_handler(self, key_of: Callable[[Obj], str | None] | None = None) -> EventHandler:
        """A handler that enqueues the object's own key (or `key_of(obj)`) on every change."""
        def add(obj: Obj) -> None:
            key = key_of(obj) if key_of else object_key(obj)
            if key:
                self.queue.add(key)

        return EventHandler(on_add=add, on_update=lambda old, new: add(new), on_delete=add)

    # -- running ---------------------------------------------------------------------------

    async def run(self, workers: int) -> None:
        await asyncio.gather(*(i.synced.wait() for i in self._informers))
        self.log.info("caches synced, starting %d workers", workers)
        tasks = [asyncio.create_task(self._worker()) for _ in range(workers)]
        tasks.extend(asyncio.create_task(t) for t in self.background())
        try:
            await asyncio.gather(*tasks)
        finally:
            self.queue.shut_down()
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)

    def background(self) -> list[Any]:
        """Coroutines to run beside the workers (periodic resyncs, monitors)."""
        return []

    async def _worker(self) -> None:
        while True:
            try:
                key = await self.queue.get()
            except ShutDown:
                return
            try:
                await self.sync(key)
                self.queue.forget(key)
            except asyncio.CancelledError:
                raise
            except StatusError as e:
                level = logging.DEBUG if e.code == 409 else logging.WARNING
                self.log.log(level, "sync %s failed: %s", key, e.message)
                self.queue.add_rate_limited(key)
            except Exception:
                self.log.exception("sync %s failed", key)
                self.queue.add_rate_limited(key)
            finally:
                self.queue.done(key)

    @abc.abstractmethod
    async def sync(self, key: str) -> None:
        """Make the world match the desired state of `key`; raise to be retried with back-off."""
