"""The storage interface the API server is written against (k8s.io/apiserver/pkg/storage.Interface).

Keys follow the etcd layout `/registry/<resource>/<namespace>/<name>`. One global, monotonic
revision numbers every write; an object's `metadata.resourceVersion` is the revision that last
wrote it, exactly as etcd's `mod_revision` is used upstream (and by k3s's kine over SQL).
Stored objects are immutable snapshots: callers copy before they mutate.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, AsyncIterator, Literal

import orjson

Obj = dict[str, Any]
EventType = Literal["ADDED", "MODIFIED", "DELETED"]


class StoredObject:
    """One revision of one key: its JSON encoding (served as-is on GET) and the decoded object.

    The decoded form (metadata.resourceVersion == str(mod_revision); never mutate) is kept while
    the revision is current, since every read and write uses it. Once superseded, the revision
    lives on only in the watch history, where the store `release`s it: a decoded pod is five
    times its JSON and the history holds tens of thousands of revisions, so replaying an old
    event decodes it again instead.
    """

    __slots__ = ("key", "raw", "create_revision", "mod_revision", "_obj")

    def __init__(self, key: str, obj: Obj | None, raw: bytes, create_revision: int, mod_revision: int) -> None:
        self.key, self.raw = key, raw
        self.create_revision, self.mod_revision = create_revision, mod_revision
        self._obj = obj

    @property
    def obj(self) -> Obj:
        return self._obj if self._obj is not None else orjson.loads(self.raw)

    def release(self) -> None:
        """Drop the decoded object; `obj` decodes `raw` on each use from now on."""
        self._obj = None

    def __repr__(self) -> str:
        return f"StoredObject({self.key!r}, rev={self.mod_revision})"


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
    def watch(self, prefix: str, after_revision: int) -> Watcher:
        """Events under `prefix` with revision > `after_revision`, replayed from history first."""

    @abc.abstractmethod
    def compact(self) -> int:
        """Drop history beyond the retention window; returns the new oldest revision."""

    @abc.abstractmethod
    def close(self) -> None: ...
