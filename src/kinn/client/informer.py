"""Reflector, Indexer and SharedInformer (k8s.io/client-go/tools/cache).

A Reflector lists a resource and then watches it from the list's resourceVersion, re-listing when
the server says the version is too old (410) and resuming the watch from the last seen version
after a dropped connection. It keeps an Indexer — the local cache every controller reads instead
of asking the API server — and tells registered handlers about adds, updates and deletes. One
informer per resource is shared by all the controllers of a process (SharedInformerFactory).
"""

from __future__ import annotations

import asyncio
import logging
import random
import weakref
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Protocol

import orjson

from kinn.api.errors import StatusError
from kinn.api.resources import Resource
from kinn.client.rest import REQUEST_ERRORS, Client

Obj = dict[str, Any]
IndexFunc = Callable[[Obj], Iterable[str]]
log = logging.getLogger("kinn.client.informer")


def strip_managed_fields(obj: Obj) -> Obj:
    """A cache transform dropping metadata.managedFields, as kube-controller-manager and the
    scheduler install on their informers: no controller reads them, and they are half a pod."""
    obj.get("metadata", {}).pop("managedFields", None)
    return obj


class CachedObject(dict):  # type: ignore[type-arg]
    """An object as informers cache it: a dict that can be referenced weakly (see `shared`)."""

    __slots__ = ("__weakref__",)


# Every revision an informer of this process caches, by (resource, namespace, name,
# resourceVersion, transform); an entry goes when no informer holds its object any more.
_CACHED: dict[tuple[object, ...], weakref.ref[CachedObject]] = {}

# One copy of each string value cached objects hold (see `share_values`). Emptied when full, so
# values seen once (uids, resourceVersions, timestamps) do not pile up, even in an idle process
# whose lease and node updates bring new ones all day (at most ~0.5 MB); common values come
# straight back, and the objects cached before still share theirs.
_STRINGS: dict[str, str] = {}
_STRINGS_LIMIT = 4096

# The members whose whole value is often equal across the objects of a kind, each shared as one
# object (see `share_values`), with what each saves a pod of bench/controllers.py (9.4 KB):
SHARED_MEMBERS = frozenset({
    "projected",  # the service-account token volume every pod has: 2.0 KB
    "conditions",  # written in the same second: 1.0 KB
    "tolerations",  # the not-ready and unreachable ones admission adds: 0.5 KB
    "resources", "state",  # a template's requests; a container running since that second: 0.35 KB each
    "ownerReferences", "labels", "hostIPs", "securityContext",  # a ReplicaSet's; a node's: 0.7 KB
    "capacity", "allocatable", "nodeInfo", "daemonEndpoints",  # similar nodes' (a node: 4.8 → 2.7 KB)
})
# Those values by their JSON encoding, which makes them equal: emptied when full, as _STRINGS.
_MEMBERS: dict[bytes, Any] = {}
_MEMBERS_LIMIT = 1024


def shared(obj: Obj, resource: Resource, transform: Callable[[Obj], Obj] | None) -> Obj:
    """The one decoded copy of this revision of the object in the process.

    `kinn server` runs the scheduler and the controller manager in one process, each over informers
    of its own, as they would run apart; both cache every pod and node. Each decodes its own watch
    events, but the second to see a revision keeps the first one's copy (a pod is ~13 KB decoded):
    at 10,000 pods the process holds 360 MB instead of 505. Cached objects are read-only to
    everyone, as client-go's listers require, so sharing them — and, across objects, their equal
    values (`share_values`) — changes nothing a reader can see."""
    meta = obj.get("metadata") or {}
    version = meta.get("resourceVersion")
    if not version:
        return obj
    key = (resource.api_version, resource.plural, meta.get("namespace", ""), meta.get("name"), version, transform)
    ref = _CACHED.get(key)
    cached = ref() if ref is not None else None
    if cached is None:
        cached = CachedObject(share_values(obj))
        _CACHED[key] = weakref.ref(cached, lambda gone: _forget(key, gone))
    return cached


def share_values(obj: Obj) -> Obj:
    """Replace, in place, each string value, and the value of each of SHARED_MEMBERS, by the one
    equal value already cached.

    orjson already decodes every key to one shared string, but each object brings its own copy of
    its values, and most repeat: every pod of a ReplicaSet names the same image, namespace, owner,
    node, QoS class and condition types, and has the same tolerations, requests and token volume.
    A decoded pod takes 9.4 KB with its own strings shared and 4.6 KB with those members shared
    too; it costs less than sharing the strings alone (~50 µs a revision), as a member found is
    not walked. Members are equal when their JSON is, key order included, so a reader iterating
    one sees what the server sent."""
    strings, members = _STRINGS, _MEMBERS
    if len(strings) >= _STRINGS_LIMIT:
        strings.clear()
    if len(members) >= _MEMBERS_LIMIT:
        members.clear()
    pending: list[Any] = [obj]
    while pending:
        node = pending.pop()
        for slot, value in (node.items() if type(node) is dict else enumerate(node)):
            kind = type(value)
            if kind is str:
                node[slot] = strings.setdefault(value, value)
            elif kind is dict or kind is list:
                if slot in SHARED_MEMBERS:
                    same = members.setdefault(orjson.dumps(value), value)
                    if same is not value:
                        node[slot] = same
                        continue
                pending.append(value)
    return obj


def _forget(key: tuple[object, ...], gone: weakref.ref[CachedObject]) -> None:
    if _CACHED.get(key) is gone:
        del _CACHED[key]


def object_key(obj: Obj) -> str:
    """`namespace/name`, or `name` for cluster-scoped objects (cache.MetaNamespaceKeyFunc)."""
    meta = obj.get("metadata", {})
    namespace = meta.get("namespace")
    return f"{namespace}/{meta['name']}" if namespace else meta["name"]


def split_key(key: str) -> tuple[str, str]:
    namespace, _, name = key.rpartition("/")
    return namespace, name


def by_namespace(obj: Obj) -> list[str]:
    return [obj.get("metadata", {}).get("namespace", "")]


class Indexer:
    """Objects by key, plus secondary indexes (e.g. pods by node) kept up to date on every change."""

    def __init__(self, indexers: dict[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {"namespace": by_namespace, **(indexers or {})}
        self._indices: dict[str, dict[str, set[str]]] = {name: {} for name in self._indexers}

    def add_indexer(self, name: str, func: IndexFunc) -> None:
        if name in self._indexers:
            return
        self._indexers[name] = func
        index: dict[str, set[str]] = {}
        for key, obj in self._items.items():
            for value in func(obj):
                index.setdefault(value, set()).add(key)
        self._indices[name] = index

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def list(self) -> list[Obj]:
        return list(self._items.values())

    def keys(self) -> list[str]:
        return list(self._items)

    def by_index(self, name: str, value: str) -> list[Obj]:
        return [self._items[k] for k in self._indices[name].get(value, ())]

    def __len__(self) -> int:
        return len(self._items)

    def upsert(self, obj: Obj) -> Obj | None:
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key, old)
        self._items[key] = obj
        for name, func in self._indexers.items():
            for value in func(obj):
                self._indices[name].setdefault(value, set()).add(key)
        return old

    def remove(self, key: str) -> Obj | None:
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key, old)
        return old

    def _unindex(self, key: str, obj: Obj) -> None:
        for name, func in self._indexers.items():
            index = self._indices[name]
            for value in func(obj):
                keys = index.get(value)
                if keys is not None:
                    keys.discard(key)
                    if not keys:
                        del index[value]


@dataclass
class EventHandler:
    on_add: Callable[[Obj], None] | None = None
    on_update: Callable[[Obj, Obj], None] | None = None
    on_delete: Callable[[Obj], None] | None = None


@dataclass
class SharedInformer:
    client: Client
    resource: Resource
    namespace: str = ""
    label_selector: str = ""
    field_selector: str = ""
    indexer: Indexer = field(default_factory=Indexer)
    handlers: list[EventHandler] = field(default_factory=list)
    resource_version: str = ""
    synced: asyncio.Event = field(default_factory=asyncio.Event)
    # Applied to every listed or watched object before it is cached (SetTransform).
    transform: Callable[[Obj], Obj] | None = None

    def add_event_handler(self, handler: EventHandler) -> None:
        """Register; a handler added after the initial sync first gets an add for each cached object."""
        self.handlers.append(handler)
        if self.synced.is_set() and handler.on_add:
            for obj in self.indexer.list():
                handler.on_add(obj)

    @property
    def has_synced(self) -> bool:
        return self.synced.is_set()

    async def run(self) -> None:
        """List, then watch, forever; re-list on 410 and back off on errors (the Reflector loop)."""
        backoff = 0.2
        while True:
            try:
                if not self.resource_version:
                    await self._list()
                await self._watch()
                backoff = 0.2
            except StatusError as e:
                if e.code == 410:
                    self.resource_version = ""  # too old: start over with a fresh list
                    continue
                log.warning("%s: watch failed: %s", self.resource.plural, e.message)
            except REQUEST_ERRORS as e:
                log.info("%s: connection lost (%s), resuming", self.resource.plural, e)
            except Exception as e:  # a bad event or a handler's bug: the loop must survive all
                if isinstance(e, asyncio.CancelledError):
                    raise
                log.warning("%s: informer error: %r", self.resource.plural, e)
            await asyncio.sleep(backoff * (1 + random.random()))
            backoff = min(backoff * 2, 5.0)

    async def _list(self) -> None:
        listing = await self.client.list_all(self.resource, self.namespace, self.label_selector, self.field_selector)
        items = listing.get("items") or []
        fresh = {object_key(o): o for o in (map(self.transform, items) if self.transform else items)}
        for item in fresh.values():
            item.setdefault("kind", self.resource.kind)
            item.setdefault("apiVersion", self.resource.api_version)
        for key in [k for k in self.indexer.keys() if k not in fresh]:
            self._deleted(self.indexer.get(key))  # type: ignore[arg-type]
        for obj in fresh.values():
            self._upserted(obj)
        self.resource_version = listing["metadata"]["resourceVersion"]
        self.synced.set()

    async def _watch(self) -> None:
        timeout = random.randint(300, 600)  # as the Reflector, so watches re-balance across servers
        async for kind, obj in self.client.watch(
            self.resource, self.namespace, self.resource_version, self.label_selector, self.field_selector,
            timeout_seconds=timeout,
        ):
            self.resource_version = obj.get("metadata", {}).get("resourceVersion", self.resource_version)
            if kind == "BOOKMARK":
                continue
            if self.transform:
                obj = self.transform(obj)
            if kind == "DELETED":
                self._deleted(obj)
            else:
                self._upserted(obj)

    def _upserted(self, obj: Obj) -> None:
        obj = shared(obj, self.resource, self.transform)
        old = self.indexer.upsert(obj)
        if old is not None and old.get("metadata", {}).get("resourceVersion") == obj["metadata"].get("resourceVersion"):
            return
        for handler in self.handlers:
            if old is None:
                if handler.on_add:
                    handler.on_add(obj)
            elif handler.on_update:
                handler.on_update(old, obj)

    def _deleted(self, obj: Obj) -> None:
        old = self.indexer.remove(object_key(obj))
        if old is None:
            return
        for handler in self.handlers:
            if handler.on_delete:
                handler.on_delete(obj)


class SharedInformerFactory:
    """One informer per (resource, namespace, selectors), started together, shared by all users."""

    def __init__(self, client: Client, transform: Callable[[Obj], Obj] | None = None) -> None:
        self.client = client
        self.transform = transform
        self._informers: dict[tuple[str, str, str, str, str], SharedInformer] = {}
        self._tasks: dict[int, asyncio.Task[None]] = {}

    def informer(self, r: Resource, namespace: str = "", label_selector: str = "",
                 field_selector: str = "") -> SharedInformer:
        key = (r.api_version, r.plural, namespace, label_selector, field_selector)
        if key not in self._informers:
            self._informers[key] = SharedInformer(self.client, r, namespace, label_selector, field_selector,
                                                 transform=self.transform)
        return self._informers[key]

    def start(self) -> None:
        """Start every informer not yet running (informers may be requested after a first start)."""
        for informer in self._informers.values():
            if id(informer) not in self._tasks:
                self._tasks[id(informer)] = asyncio.create_task(
                    informer.run(), name=f"informer-{informer.resource.plural}")

    async def wait_for_cache_sync(self, timeout: float = 60.0) -> None:
        await asyncio.wait_for(asyncio.gather(*(i.synced.wait() for i in self._informers.values())), timeout)

    async def stop(self) -> None:
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
        self._tasks.clear()


class Component(Protocol):
    async def run(self) -> None: ...


async def run_over_informers(client: Client, build: Callable[[SharedInformerFactory], Component]) -> None:
    """Run a component over informers of its own: `build` makes it (asking the factory for the
    informers it needs), then they start, and they stop when it ends or is cancelled."""
    factory = SharedInformerFactory(client, strip_managed_fields)
    component = build(factory)
    factory.start()
    try:
        await component.run()
    finally:
        await factory.stop()
