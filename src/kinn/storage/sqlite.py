"""The SQLite storage backend (the default; k3s's kine plays the same role over SQL).

Two tables: `kv` holds the current value of every key, `log` holds one row per revision (the new
value and the previous one) for watch replay and consistent paginated lists. Each write is one
transaction that advances the global revision, so an acknowledged write is on disk before the
client hears of it; WAL mode makes that survive `kill -9` (the process, not power loss — the same
trade k3s makes by default). The whole current state is also kept in memory: the API server owns
the database, so reads never touch SQLite, which is what makes GET and LIST fast.

The log is compacted to the watch-history window (`history` revisions), and further to the
revision the API server's periodic compaction names, so neither the database nor the memory
holding the history grows without bound, under churn or over an idle day.

Group commit: the writes made in one turn of the event loop share one transaction (as etcd's
backend batches its bbolt transactions). Each write is numbered and checked against the latest
state, pending writes included, at once; the transaction commits when the turn ends, and only
then does anyone see the writes: they reach memory, the watchers and their writers together.
Reads see committed state only; a `get` of a key with a pending write waits for that commit.
Under load many requests are ready in one turn, and one COMMIT (the costly step: the log pages
written out) serves them all.
"""

from __future__ import annotations

import asyncio
import bisect
import sqlite3
from pathlib import Path

import orjson

from kinn.storage.history import QueueWatcher, WatchHub, rewind
from kinn.storage.interface import (
    KeyExistsError,
    KeyNotFoundError,
    Obj,
    RevisionConflictError,
    Store,
    StoredObject,
    Trigger,
    WatchEvent,
)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS kv (
    key TEXT PRIMARY KEY,
    create_revision INTEGER NOT NULL,
    mod_revision INTEGER NOT NULL,
    value BLOB NOT NULL
);
CREATE TABLE IF NOT EXISTS log (
    revision INTEGER PRIMARY KEY,
    key TEXT NOT NULL,
    type TEXT NOT NULL,
    create_revision INTEGER NOT NULL,
    value BLOB NOT NULL,
    prev_revision INTEGER,
    prev_create_revision INTEGER,
    prev_value BLOB
);
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""

# Revisions kept for watch resumption and paginated lists. A superseded revision lives only
# here, as its JSON (~3 KB for a running pod): 10,000 is ~30 MB, where 50,000 took most of the
# control plane's memory budget at 10,000 pods. kine keeps 1,000; etcd what the API server's
# compaction every five minutes leaves, as here (APIServer._compact_periodically).
DEFAULT_HISTORY = 10_000


def stamp(obj: Obj, revision: int) -> tuple[Obj, bytes]:
    """Set metadata.resourceVersion to the revision and encode: the versioner and codec in one.

    orjson returns its whole output buffer, often two to five times the JSON it holds; copying
    trims it to size, which matters for bytes kept as long as the revision is current or in the
    watch history.
    """
    obj.setdefault("metadata", {})["resourceVersion"] = str(revision)
    return obj, bytes(memoryview(orjson.dumps(obj)))


class SQLiteStore(Store):
    def __init__(self, path: Path | str, history: int = DEFAULT_HISTORY) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._objects: dict[str, StoredObject] = {}
        self._sorted_keys: list[str] | None = None
        self._hub = WatchHub(history)
        self._revision = 0  # the last committed revision
        # The batch being written (see the module docstring): its events in revision order, each
        # key's latest pending state (None once deleted), and what its writers wait on.
        self._pending: list[WatchEvent] = []
        self._pending_keys: dict[str, StoredObject | None] = {}
        self._committed: asyncio.Future[None] | None = None
        self._load()

    # -- loading ---------------------------------------------------------------------------

    def _load(self) -> None:
        for key, create_rev, mod_rev, value in self._db.execute(
            "SELECT key, create_revision, mod_revision, value FROM kv"
        ):
            self._objects[key] = StoredObject(key, bytes(value), create_rev, mod_rev)
        row = self._db.execute("SELECT value FROM meta WHERE name='revision'").fetchone()
        self._revision = row[0] if row else 0
        compacted = self._db.execute("SELECT value FROM meta WHERE name='compacted'").fetchone()
        # Each revision is one StoredObject, shared by the current state and by the events that
        # carry it (as `object`, then as the next event's `prev`), as it was before the restart.
        loaded = {o.mod_revision: o for o in self._objects.values()}
        events = []
        for revision, key, type_, create_rev, value, prev_rev, prev_create_rev, prev_value in self._db.execute(
            "SELECT revision, key, type, create_revision, value, prev_revision, prev_create_revision, prev_value"
            " FROM log ORDER BY revision"
        ):
            obj = loaded.get(revision) or StoredObject(key, bytes(value), create_rev, revision)
            loaded[revision] = obj
            prev = None
            if prev_value is not None:
                prev = loaded.get(prev_rev) or StoredObject(key, bytes(prev_value), prev_create_rev, prev_rev)
            events.append(WatchEvent(type_, obj, prev))
        self._hub.load(events, compacted[0] if compacted else 0)

    # -- reads -----------------------------------------------------------------------------

    @property
    def revision(self) -> int:
        return self._revision

    @property
    def oldest_revision(self) -> int:
        return self._hub.floor + 1

    async def get(self, key: str) -> StoredObject | None:
        """The committed state; a pending write of `key` is waited for, so that a read-modify-write
        cycle starting now sees it (and does not lose the race to it again and again)."""
        if key in self._pending_keys:
            await self._commit_of_pending()
        return self._objects.get(key)

    def _keys(self) -> list[str]:
        if self._sorted_keys is None:
            self._sorted_keys = sorted(self._objects)
        return self._sorted_keys

    async def list(self, prefix: str) -> list[StoredObject]:
        keys = self._keys()
        start = bisect.bisect_left(keys, prefix)
        end = bisect.bisect_left(keys, prefix + "\U0010ffff", lo=start)
        objects = self._objects
        return [objects[k] for k in keys[start:end]]

    async def list_at(self, prefix: str, revision: int) -> list[StoredObject]:
        if revision >= self._revision:
            return await self.list(prefix)
        changes = [e for e in self._hub.since(revision) if e.object.key.startswith(prefix)]
        current = {o.key: o for o in await self.list(prefix)}
        past = rewind(current, changes)
        return [past[k] for k in sorted(past)]

    # -- writes ----------------------------------------------------------------------------

    async def create(self, key: str, obj: Obj) -> StoredObject:
        if self._latest(key) is not None:
            raise KeyExistsError(key)
        revision = self._next_revision()
        obj, raw = stamp(obj, revision)
        stored = StoredObject(key, raw, revision, revision, obj)
        return await self._write(WatchEvent("ADDED", stored, None))

    async def update(self, key: str, obj: Obj, expected_revision: int | None = None) -> StoredObject:
        current = self._current(key, expected_revision)
        revision = self._next_revision()
        obj, raw = stamp(obj, revision)
        stored = StoredObject(key, raw, current.create_revision, revision, obj)
        return await self._write(WatchEvent("MODIFIED", stored, current))

    async def delete(self, key: str, expected_revision: int | None = None) -> StoredObject:
        current = self._current(key, expected_revision)
        revision = self._next_revision()
        # The DELETED event carries the last state at the deleting revision, as etcd watch does.
        obj, raw = stamp(_shallow_meta_copy(current.obj), revision)
        stored = StoredObject(key, raw, current.create_revision, revision, obj)
        return await self._write(WatchEvent("DELETED", stored, current))

    def _latest(self, key: str) -> StoredObject | None:
        """What the next write of `key` builds on: its pending state, else its committed one."""
        return self._pending_keys[key] if key in self._pending_keys else self._objects.get(key)

    def _next_revision(self) -> int:
        return (self._pending[-1].revision if self._pending else self._revision) + 1

    def _current(self, key: str, expected_revision: int | None) -> StoredObject:
        current = self._latest(key)
        if current is None:
            raise KeyNotFoundError(key)
        if expected_revision is not None and current.mod_revision != expected_revision:
            raise RevisionConflictError(key, expected_revision, current.mod_revision)
        return current

    async def _write(self, event: WatchEvent) -> StoredObject:
        """Add `event` to the batch and return once the batch is committed (or raise why not)."""
        self._pending.append(event)
        self._pending_keys[event.object.key] = None if event.type == "DELETED" else event.object
        await self._commit_of_pending()
        return event.object

    async def _commit_of_pending(self) -> None:
        if self._committed is None:
            loop = asyncio.get_running_loop()
            self._committed = loop.create_future()
            loop.call_soon(self._flush)
        # Shielded: a writer whose client went away must not cancel the others' commit.
        await asyncio.shield(self._committed)

    def _flush(self) -> None:
        """Commit the batch, then apply it: memory, revision, watchers, and its writers resume.
        If the commit fails, nothing of the batch happened; every writer in it gets the error."""
        if not self._pending:
            return  # flushed already: close() does not wait for the loop
        batch, committed = self._pending, self._committed
        assert committed is not None  # a pending write always has its batch's future
        self._pending, self._pending_keys, self._committed = [], {}, None
        try:
            self._persist(batch)
        except Exception as e:
            committed.set_exception(e)
            return
        try:
            for event in batch:
                self._apply(event)
        finally:
            committed.set_result(None)  # durable now: no writer may wait forever on what follows

    def _persist(self, batch: list[WatchEvent]) -> None:
        """One transaction: each revision's kv change and log row, and the revision counter."""
        db = self._db
        db.execute("BEGIN IMMEDIATE")
        try:
            for event in batch:
                obj, prev = event.object, event.prev
                if event.type == "DELETED":
                    db.execute("DELETE FROM kv WHERE key=?", (obj.key,))
                else:
                    db.execute(
                        "INSERT OR REPLACE INTO kv (key, create_revision, mod_revision, value) VALUES (?,?,?,?)",
                        (obj.key, obj.create_revision, obj.mod_revision, obj.raw),
                    )
                db.execute(
                    "INSERT INTO log VALUES (?,?,?,?,?,?,?,?)",
                    (
                        obj.mod_revision, obj.key, event.type, obj.create_revision, obj.raw,
                        prev.mod_revision if prev else None,
                        prev.create_revision if prev else None,
                        prev.raw if prev else None,
                    ),
                )
            db.execute("INSERT OR REPLACE INTO meta VALUES ('revision', ?)", (batch[-1].revision,))
            db.execute("COMMIT")
        except BaseException:
            db.execute("ROLLBACK")
            raise

    def _apply(self, event: WatchEvent) -> None:
        obj = event.object
        self._revision = obj.mod_revision
        if event.type == "DELETED":
            del self._objects[obj.key]
            self._sorted_keys = None
        else:
            if obj.key not in self._objects:
                self._sorted_keys = None
            self._objects[obj.key] = obj
        self._hub.publish(event)

    # -- watch and maintenance -------------------------------------------------------------

    def watch(self, prefix: str, after_revision: int, trigger: Trigger | None = None) -> QueueWatcher:
        return self._hub.watch(prefix, after_revision, trigger)

    def compact(self, revision: int = 0) -> int:
        self._hub.compact(revision)
        floor = self._hub.floor
        self._db.execute("BEGIN IMMEDIATE")
        self._db.execute("DELETE FROM log WHERE revision <= ?", (floor,))
        self._db.execute("INSERT OR REPLACE INTO meta VALUES ('compacted', ?)", (floor,))
        self._db.execute("COMMIT")
        return floor + 1

    @property
    def watcher_count(self) -> int:
        return self._hub.watcher_count

    def close(self) -> None:
        if self._pending:
            self._flush()  # what was written before the end is committed, not dropped
        self._hub.stop_all()
        self._db.close()


def _shallow_meta_copy(obj: Obj) -> Obj:
    """A copy of `obj` whose metadata may be re-stamped without touching the stored original."""
    copy = dict(obj)
    copy["metadata"] = dict(obj.get("metadata", {}))
    return copy
