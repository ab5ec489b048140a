"""A lister of one resource for admission plugins, as upstream's plugins read informer listers.

LimitRanger and ResourceQuota look at a namespace's LimitRanges and quotas on every create; listing
the store each time would cost a sort of all its keys after any new object. The lister lists once,
then a watch whose sink runs as each write commits keeps it: it is never behind the store.
"""

from __future__ import annotations

from kinn.api.resources import Resource
from kinn.storage.history import QueueWatcher
from kinn.storage.interface import Store, StoredObject, WatchEvent


class Lister:
    def __init__(self, store: Store, resource: Resource) -> None:
        self.store = store
        self.resource = resource
        self._watcher: QueueWatcher | None = None
        self._by_namespace: dict[str, dict[str, StoredObject]] = {}

    async def list(self, namespace: str) -> list[StoredObject]:
        """The namespace's objects by name, as a list of the store would give them."""
        if self._watcher is None or self._watcher.stopped:
            await self._fill()
        objects = self._by_namespace.get(namespace, {})
        return [objects[key] for key in sorted(objects)]

    async def _fill(self) -> None:
        """List, then watch from the revision the list started at (a closed store ends the watch, and
        the next read lists again)."""
        revision = self.store.revision
        self._by_namespace = {}
        for stored in await self.store.list(self.resource.key_prefix()):
            self._objects_of(stored.key)[stored.key] = stored
        watcher = self.store.watch(self.resource.key_prefix(), revision)
        assert isinstance(watcher, QueueWatcher)  # the store's watches take a sink (kinn.storage.history)
        for item in watcher.take_ready():
            if isinstance(item, WatchEvent):
                self._apply(item)
        watcher.sink = self._apply
        self._watcher = watcher

    def _apply(self, event: WatchEvent) -> None:
        """Runs inside the store's commit: plain dict work that cannot fail. An event no newer than
        what the list already showed is skipped."""
        objects = self._objects_of(event.object.key)
        known = objects.get(event.object.key)
        if known is not None and known.mod_revision >= event.revision:
            return
        if event.type == "DELETED":
            objects.pop(event.object.key, None)
        else:
            objects[event.object.key] = event.object

    def _objects_of(self, key: str) -> dict[str, StoredObject]:
        """The objects of the namespace a key (`/registry/<resource>/<namespace>/<name>`) is in."""
        namespace = key[len(self.resource.key_prefix()):].partition("/")[0]
        return self._by_namespace.setdefault(namespace, {})
