"""The namespace controller (pkg/controller/namespace): Terminating namespaces are emptied, then go.

Only deleted namespaces are queued, each after a short delay (namespaceDeletionGracePeriod) so
that creations racing the deletion land first and are swept too. While content remains the
namespace is looked at again after half the deleter's estimate; failures back off up to a minute.
"""

from __future__ import annotations

from typing import Any

from kinn.client.informer import EventHandler, object_key
from kinn.client.workqueue import RateLimitingQueue
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.namespace_deleter import NAMESPACES, NamespacedResourcesDeleter

Obj = dict[str, Any]


class NamespaceController(Controller):
    name = "namespace"
    deletion_grace_period = 5.0  # seconds, as upstream's namespaceDeletionGracePeriod

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.queue = RateLimitingQueue(self.name, base_delay=0.005, max_delay=60.0)
        self.informer(NAMESPACES, EventHandler(on_add=self._enqueue, on_update=lambda old, new: self._enqueue(new)))
        self.deleter = NamespacedResourcesDeleter(self.client)

    def _enqueue(self, namespace: Obj) -> None:
        if namespace["metadata"].get("deletionTimestamp"):
            self.queue.add_after(object_key(namespace), self.deletion_grace_period)

    async def sync(self, key: str) -> None:
        estimate = await self.deleter.delete(key)
        if estimate > 0:
            self.queue.add_after(key, estimate / 2 + 1)
