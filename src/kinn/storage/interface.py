"""The storage interface the API server is written against (k8s.io/apiserver/pkg/storage.Interface).

Keys follow the etcd layout `/registry/<resource>/<namespace>/<name>`. One global, monotonic
revision numbers every write; an object's `metadata.resourceVersion` is the revision that last
wrote it, exactly as etcd's `mod_revision` is used upstream (and by k3s's kine over SQL).
Stored objects are immutable snapshots: callers copy before they mutate.
"""

from __future__ import annotations

import abc
import dataclasses
import weakref
import zlib
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any, AsyncIterator, Callable, Literal

import orjson

Obj = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


class StoredObject:
    """One revision of one key: its JSON encoding (served as-is on GET and LIST), decoded on demand.

    Only the encoding is kept, deflated (see `_Packer`): a decoded pod is four to five times its
    JSON, and the API server holds every current object plus the watch history. `raw` inflates
    it; `obj` decodes (metadata.resourceVersion == str(mod_revision); never mutate) and the last
    `RECENTLY_DECODED` objects keep both their decoding and their JSON, so the write that follows
    a read, or the write's own persisting and event, neither decodes nor inflates again. What
    label and field selectors read is cached apart, in `selectable`, by the API server (see
    kinn.apiserver.selection): filtering a list or a watch never decodes twice.
    """

    __slots__ = ("key", "_packed", "_dictionary", "create_revision", "mod_revision", "selectable", "_obj", "_raw")

    def __init__(
        self, key: str, raw: bytes, create_revision: int, mod_revision: int, obj: Obj | None = None
    ) -> None:
        self.key = key
        self._packed, self._dictionary = _packer.pack(key, raw)
        self.create_revision, self.mod_revision = create_revision, mod_revision
        self.selectable: Any = None
        self._obj: Obj | None = None
        self._raw: bytes | None = None
        if obj is not None:
            _recent.keep(self, obj, raw)

    @property
    def raw(self) -> bytes:
        """The JSON encoding, as written."""
        if self._raw is not None:
            return self._raw
        dictionary = self._dictionary
        if dictionary is None:
            return self._packed
        return zlib.decompressobj(-PACK_WINDOW_BITS, zdict=dictionary.data).decompress(self._packed)

    @property
    def obj(self) -> Obj:
        obj = self._obj
        if obj is None:
            raw = self.raw
            obj = orjson.loads(raw)
            _recent.keep(self, obj, raw)
        else:
            _recent.touch(self)
        return obj

    def decode(self) -> Obj:
        """`obj` for a one-off read, as a scan of a whole list makes: a cached decoding is used,
        but a new one is not cached, so a scan does not evict what the next writes will read."""
        return self._obj if self._obj is not None else orjson.loads(self.raw)

    def __repr__(self) -> str:
        return f"StoredObject({self.key!r}, rev={self.mod_revision})"


# Decoded objects kept at once, across all stores of the process (a pod decodes to ~16 KB, and
# keeps its ~4.5 KB of JSON beside).
RECENTLY_DECODED = 256


class _RecentlyDecoded:
    """The least-recently-used bound on decoded (and inflated) objects: the oldest is dropped as a
    new one comes."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._order: OrderedDict[StoredObject, None] = OrderedDict()

    def keep(self, stored: StoredObject, obj: Obj, raw: bytes) -> None:
        stored._obj, stored._raw = obj, raw
        self._order[stored] = None
        if len(self._order) > self.capacity:
            oldest, _ = self._order.popitem(last=False)
            oldest._obj = oldest._raw = None

    def touch(self, stored: StoredObject) -> None:
        self._order.move_to_end(stored)


_recent = _RecentlyDecoded(RECENTLY_DECODED)

# Encodings shorter than this are kept as they are: a Lease or an Endpoints gains little.
PACK_MIN_BYTES = 512
# Deflate's window, 8 KB: a dictionary object and the object to pack both fit in it.
PACK_WINDOW_BITS = 13


class _Dictionary:
    """A preset dictionary for deflate, dropped once no object packed against it is left."""

    __slots__ = ("data", "__weakref__")

    def __init__(self, data: bytes) -> None:
        self.data = data


class _Packer:
    """Deflates stored JSON against a preset dictionary: the first object stored under the same
    parent key (one resource in one namespace) that is still alive.

    Objects of one kind repeat each other: every pod of a ReplicaSet has the same keys, spec,
    owner and conditions, and differs in a name, a uid, timestamps and an IP. Against one of its
    siblings, a 4.5 KB pod (managedFields included) deflates to ~150–400 bytes, alone to 1.5 KB;
    at 10,000 pods the API server holds ~60 MB less (the current objects and the watch history's
    previous revisions). Packing costs ~40 µs a write, inflating ~5 µs a read."""

    def __init__(self) -> None:
        self._dictionaries: weakref.WeakValueDictionary[str, _Dictionary] = weakref.WeakValueDictionary()

    def pack(self, key: str, raw: bytes) -> tuple[bytes, _Dictionary | None]:
        if len(raw) < PACK_MIN_BYTES:
            return raw, None
        parent = key.rpartition("/")[0]
        dictionary = self._dictionaries.get(parent)
        if dictionary is None:
            dictionary = self._dictionaries[parent] = _Dictionary(raw)
        deflate = zlib.compressobj(6, zlib.DEFLATED, -PACK_WINDOW_BITS, 1, zdict=dictionary.data)
        return deflate.compress(raw) + deflate.flush(), dictionary


_packer = _Packer()


@dataclass(frozen=True, slots=True)
class WatchEvent:
    type: EventType
    object: StoredObject  # for DELETED: the last state, stamped with the deleting revision
    prev: StoredObject | None  # the state before this event (None for ADDED)

    @property
    def revision(self) -> int:
        return self.object.mod_revision


class StorageError(Exception):
    """Base of the typed storage errors; the API server maps each to a Status."""


class KeyExistsError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key exists: {key}")
        self.key = key


class KeyNotFoundError(StorageError):
    def __init__(self, key: str) -> None:
        super().__init__(f"key not found: {key}")
        self.key = key


class RevisionConflictError(StorageError):
    """A precondition on the object's revision failed: someone else wrote it first."""

    def __init__(self, key: str, expected: int, actual: int) -> None:
        super().__init__(f"revision conflict on {key}: expected {expected}, have {actual}")
        self.key = key


class CompactedError(StorageError):
    """The requested revision is older than the retained history (etcd's ErrCompacted)."""

    def __init__(self, requested: int, oldest: int) -> None:
        super().__init__(f"required revision {requested} has been compacted (oldest {oldest})")
        self.requested = requested
        self.oldest = oldest


@dataclass(frozen=True)
class Trigger:
    """What a watcher wants, as an index key: the watcher is offered only the events whose object
    (or its previous state) has `value` under the index `name` (upstream's cacher triggers: a
    kubelet's pod watch, `fieldSelector=spec.nodeName=<node>`, is not offered every other node's
    pods). The index covers the keys under `scope` (`/registry/pods/`), the only objects `value_of`
    is asked to read; watchers of one index share buckets by `scope`."""

    scope: str
    value: str
    value_of: Callable[["StoredObject"], str] = dataclasses.field(compare=False, repr=False)


class Watcher(abc.ABC):
    """A stream of events after a revision; `stop()` ends it (e.g. when the client goes away)."""

    @abc.abstractmethod
    def __aiter__(self) -> AsyncIterator[WatchEvent]: ...

    @abc.abstractmethod
    def stop(self) -> None: ...


class Store(abc.ABC):
    """What the API server needs from a key-value store with revisions and watch.

    Reads and writes are coroutines so that a networked backend (etcd) fits the same interface;
    read-modify-write cycles use `expected_revision` preconditions and retry, as upstream's
    GuaranteedUpdate does, instead of relying on the single-threadedness of one backend.
    """

    @property
    @abc.abstractmethod
    def revision(self) -> int:
        """The revision of the last write."""

    @property
    @abc.abstractmethod
    def oldest_revision(self) -> int:
        """The oldest revision still replayable by `watch` and `list_at`."""

    @abc.abstractmethod
    async def get(self, key: str) -> StoredObject | None: ...

    @abc.abstractmethod
    async def list(self, prefix: str) -> list[StoredObject]:
        """The current objects under `prefix`, ordered by key."""

    @abc.abstractmethod
    async def list_at(self, prefix: str, revision: int) -> list[StoredObject]:
        """The objects under `prefix` as they were at `revision` (consistent pagination)."""

    @abc.abstractmethod
    async def create(self, key: str, obj: Obj) -> StoredObject: ...

    @abc.abstractmethod
    async def update(self, key: str, obj: Obj, expected_revision: int | None = None) -> StoredObject: ...

    @abc.abstractmethod
    async def delete(self, key: str, expected_revision: int | None = None) -> StoredObject: ...

    @abc.abstractmethod
    def watch(self, prefix: str, after_revision: int, trigger: Trigger | None = None) -> Watcher:
        """Events under `prefix` with revision > `after_revision`, replayed from history first; with
        a trigger, live events only if they concern its value (the caller still filters)."""

    @abc.abstractmethod
    def compact(self, revision: int = 0) -> int:
        """Drop the history at and before `revision`, and in any case beyond the retention window;
        returns the new oldest revision."""

    @abc.abstractmethod
    def close(self) -> None: ...
