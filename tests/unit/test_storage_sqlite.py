"""The SQLite store: revisioned writes, consistent past lists, watch replay, compaction, restart."""

from __future__ import annotations

import asyncio
import gc
import sqlite3
import weakref
from pathlib import Path

import orjson
import pytest

from kinn.storage import interface
from kinn.storage.interface import (
    RECENTLY_DECODED, CompactedError, KeyExistsError, KeyNotFoundError, RevisionConflictError, StoredObject, Trigger,
    WatchEvent,
)
from kinn.storage.sqlite import SQLiteStore


def cm(name: str, value: str = "") -> dict:
    return {"kind": "ConfigMap", "metadata": {"name": name, "namespace": "default"}, "data": {"v": value}}


def key(name: str, namespace: str = "default") -> str:
    return f"/registry/configmaps/{namespace}/{name}"


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "state.db", history=100)
    yield s
    s.close()


async def drain(watcher, count: int) -> list[WatchEvent]:
    """The next `count` events of a watcher; fails instead of hanging when fewer arrive."""
    events: list[WatchEvent] = []

    async def collect() -> None:
        async for event in watcher:
            events.append(event)
            if len(events) == count:
                return

    await asyncio.wait_for(collect(), 2)
    return events


async def test_writes_advance_one_global_revision(store):
    a = await store.create(key("a"), cm("a"))
    b = await store.create(key("b"), cm("b"))
    a2 = await store.update(key("a"), cm("a", "1"))
    assert (a.mod_revision, b.mod_revision, a2.mod_revision) == (1, 2, 3)
    assert a2.create_revision == 1
    assert a2.obj["metadata"]["resourceVersion"] == "3"
    assert store.revision == 3
    assert (await store.get(key("a"))).obj["data"] == {"v": "1"}


async def test_objects_are_decoded_on_demand_and_only_the_recent_ones_kept(store):
    written = [await store.create(key(f"cm-{i}"), cm(f"cm-{i}", str(i))) for i in range(RECENTLY_DECODED + 50)]
    assert [o.obj["data"]["v"] for o in written] == [str(i) for i in range(len(written))]
    assert sum(o._obj is not None for o in written) == RECENTLY_DECODED
    assert sum(o._raw is not None for o in written) == RECENTLY_DECODED  # the JSON goes with it
    assert written[0].obj is written[0].obj  # a decoding is reused while it is recent


async def test_a_recent_object_is_not_inflated_again(store):
    """A write's JSON is read back to persist it and to send its event: while the object is
    recent, that is the same bytes, not a new inflation; once dropped, the packed form serves."""
    written = [await store.create(key(f"cm-{i}"), cm(f"cm-{i}", "the same long value " * 40))
               for i in range(RECENTLY_DECODED + 1)]
    newest, oldest = written[-1], written[0]
    assert len(newest._packed) < len(newest.raw) and newest.raw is newest.raw
    assert oldest._raw is None and oldest.raw is not oldest.raw and oldest.raw == orjson.dumps(oldest.obj)


async def test_objects_are_kept_deflated_against_a_sibling_and_read_back_exactly(store):
    """Two ConfigMaps of one namespace that differ in a name and a value: the second costs a
    fraction of its JSON. Each reads back byte for byte, and after a restart too."""
    filler = "the same long value in every object of this kind " * 20
    first = await store.create(key("a"), cm("a", filler + "1"))
    second = await store.create(key("b"), cm("b", filler + "2"))
    for stored, value in ((first, "1"), (second, "2")):
        assert orjson.loads(stored.raw) == stored.obj and stored.obj["data"]["v"] == filler + value
    assert len(second.raw) > 1000 and len(second._packed) < len(second.raw) / 10
    small = await store.create(key("c"), cm("c", "x"))
    assert small._packed is small.raw  # too small to be worth it
    raw_before = second.raw
    store.close()
    reopened = SQLiteStore(store.path, history=100)
    assert (await reopened.get(key("b"))).raw == raw_before
    reopened.close()


def test_a_preset_dictionary_goes_with_the_last_object_packed_against_it():
    stored = [StoredObject(f"/registry/configmaps/gone/{i}", orjson.dumps(cm(str(i), "v" * 600)), 1, 1)
              for i in range(3)]
    dictionary = weakref.ref(stored[0]._dictionary)
    assert all(s._dictionary is dictionary() for s in stored)
    del stored
    gc.collect()
    assert dictionary() is None
    assert "/registry/configmaps/gone" not in interface._packer._dictionaries


async def test_create_of_an_existing_key_fails_and_writes_nothing(store):
    await store.create(key("a"), cm("a"))
    with pytest.raises(KeyExistsError):
        await store.create(key("a"), cm("a", "other"))
    assert store.revision == 1
    assert (await store.get(key("a"))).obj["data"] == {"v": ""}


async def test_update_and_delete_honour_the_revision_precondition(store):
    created = await store.create(key("a"), cm("a"))
    updated = await store.update(key("a"), cm("a", "1"), expected_revision=created.mod_revision)
    with pytest.raises(RevisionConflictError):
        await store.update(key("a"), cm("a", "stale"), expected_revision=created.mod_revision)
    with pytest.raises(RevisionConflictError):
        await store.delete(key("a"), expected_revision=created.mod_revision)
    assert store.revision == updated.mod_revision
    deleted = await store.delete(key("a"), expected_revision=updated.mod_revision)
    assert deleted.mod_revision == updated.mod_revision + 1
    assert deleted.obj["data"] == {"v": "1"}  # the last state, stamped with the deleting revision
    assert deleted.obj["metadata"]["resourceVersion"] == str(deleted.mod_revision)
    assert updated.obj["metadata"]["resourceVersion"] == str(updated.mod_revision)  # the original is untouched
    assert await store.get(key("a")) is None


async def test_writes_of_one_loop_turn_share_one_transaction(store):
    """Group commit: fifty concurrent creates cost one COMMIT, and come out numbered in order."""
    statements: list[str] = []
    store._db.set_trace_callback(statements.append)
    written = await asyncio.gather(*(store.create(key(f"cm-{i}"), cm(f"cm-{i}")) for i in range(50)))
    store._db.set_trace_callback(None)
    assert [o.mod_revision for o in written] == list(range(1, 51))
    assert statements.count("COMMIT") == 1
    assert store.revision == 50 and len(await store.list("/registry/configmaps/")) == 50


async def test_pending_writes_are_invisible_until_committed(store):
    """Reads see committed state only; a get of a key with a pending write waits for its commit."""
    await store.create(key("a"), cm("a"))
    seen: dict[str, object] = {}

    async def reader() -> None:  # runs while the update below waits for its commit
        seen["list"] = [o.obj["data"]["v"] for o in await store.list("/registry/configmaps/")]
        seen["revision"] = store.revision
        seen["get"] = (await store.get(key("a"))).obj["data"]["v"]

    watcher = store.watch("/registry/configmaps/", 1)
    await asyncio.gather(store.update(key("a"), cm("a", "new")), reader())
    assert seen == {"list": [""], "revision": 1, "get": "new"}
    assert [e.object.obj["data"]["v"] for e in await drain(watcher, 1)] == ["new"]


async def test_writes_in_one_batch_see_each_other(store):
    """Preconditions and existence are checked against pending writes too: a second update from
    the same revision conflicts, a create of a key created in the same turn exists already."""
    created = await store.create(key("a"), cm("a"))
    results = await asyncio.gather(
        store.update(key("a"), cm("a", "1"), expected_revision=created.mod_revision),
        store.update(key("a"), cm("a", "2"), expected_revision=created.mod_revision),
        store.create(key("b"), cm("b")), store.create(key("b"), cm("b", "again")),
        store.delete(key("b")),
        return_exceptions=True)
    assert [type(r).__name__ for r in results] == [
        "StoredObject", "RevisionConflictError", "StoredObject", "KeyExistsError", "StoredObject"]
    assert (await store.get(key("a"))).obj["data"] == {"v": "1"} and await store.get(key("b")) is None
    assert store.revision == created.mod_revision + 3


class FailingCommit:
    """The store's connection, except that COMMIT fails once (a full disk, say)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db, self.failed = db, False

    def execute(self, sql: str, *args):
        if sql == "COMMIT" and not self.failed:
            self.failed = True
            raise sqlite3.OperationalError("database or disk is full")
        return self.db.execute(sql, *args)

    def __getattr__(self, name: str):
        return getattr(self.db, name)


async def test_a_failed_commit_fails_its_whole_batch_and_leaves_nothing_behind(store, tmp_path):
    await store.create(key("a"), cm("a"))
    watcher = store.watch("/registry/configmaps/", 1)
    store._db = FailingCommit(store._db)
    results = await asyncio.gather(store.update(key("a"), cm("a", "lost")), store.create(key("b"), cm("b")),
                                   return_exceptions=True)
    assert all(isinstance(r, sqlite3.OperationalError) for r in results)
    assert store.revision == 1 and await store.get(key("b")) is None
    assert (await store.get(key("a"))).obj["data"] == {"v": ""}
    after = await store.create(key("c"), cm("c"))  # the next batch numbers on from what was committed
    assert after.mod_revision == 2
    assert [e.object.key for e in await drain(watcher, 1)] == [key("c")]
    store.close()
    reopened = SQLiteStore(tmp_path / "state.db", history=100)
    assert [o.key for o in await reopened.list("/registry/")] == [key("a"), key("c")] and reopened.revision == 2
    reopened.close()


async def test_update_and_delete_of_a_missing_key_fail(store):
    with pytest.raises(KeyNotFoundError):
        await store.update(key("nope"), cm("nope"))
    with pytest.raises(KeyNotFoundError):
        await store.delete(key("nope"))
    assert store.revision == 0


async def test_list_is_ordered_by_key_and_bounded_by_prefix(store):
    for namespace, name in [("default", "b"), ("kube-system", "a"), ("default", "a"), ("default-x", "c")]:
        await store.create(key(name, namespace), cm(name))
    await store.create("/registry/secrets/default/a", {"metadata": {"name": "a"}})
    assert [o.key for o in await store.list("/registry/configmaps/default/")] == [key("a"), key("b")]
    # Byte order of the whole key, as etcd ranges are: "default-x/" sorts before "default/".
    assert [o.key for o in await store.list("/registry/configmaps/")] == [
        key("c", "default-x"), key("a"), key("b"), key("a", "kube-system")]
    await store.delete(key("a"))
    await store.create(key("0"), cm("0"))
    assert [o.key for o in await store.list("/registry/configmaps/default/")] == [key("0"), key("b")]


async def test_list_at_returns_past_snapshots(store):
    await store.create(key("a"), cm("a", "1"))           # rev 1
    await store.create(key("b"), cm("b", "1"))           # rev 2
    await store.update(key("a"), cm("a", "2"))           # rev 3
    await store.delete(key("b"))                         # rev 4
    await store.create(key("c"), cm("c", "1"))           # rev 5
    prefix = "/registry/configmaps/default/"

    def snapshot(objects) -> dict[str, tuple[str, int]]:
        return {o.obj["metadata"]["name"]: (o.obj["data"]["v"], o.mod_revision) for o in objects}

    assert snapshot(await store.list_at(prefix, 0)) == {}
    assert snapshot(await store.list_at(prefix, 2)) == {"a": ("1", 1), "b": ("1", 2)}
    assert snapshot(await store.list_at(prefix, 3)) == {"a": ("2", 3), "b": ("1", 2)}
    assert snapshot(await store.list_at(prefix, 4)) == {"a": ("2", 3)}
    assert snapshot(await store.list_at(prefix, 5)) == {"a": ("2", 3), "c": ("1", 5)}
    assert [o.key for o in await store.list_at(prefix, 3)] == [key("a"), key("b")]


async def test_watch_replays_history_from_a_revision_then_follows_live(store):
    await store.create(key("a"), cm("a"))                # rev 1
    await store.create("/registry/secrets/default/s", {"metadata": {"name": "s"}})  # rev 2: other prefix
    await store.update(key("a"), cm("a", "1"))           # rev 3
    watcher = store.watch("/registry/configmaps/", 1)
    await store.delete(key("a"))                         # rev 4
    await store.create(key("b"), cm("b"))                # rev 5
    events = await drain(watcher, 3)
    watcher.stop()
    assert [(e.type, e.revision) for e in events] == [("MODIFIED", 3), ("DELETED", 4), ("ADDED", 5)]
    assert events[0].prev.obj["data"] == {"v": ""}
    assert events[1].object.obj["data"] == {"v": "1"}
    assert store.watcher_count == 0


async def test_a_triggered_watch_is_offered_only_its_values_events(store):
    """As upstream's cacher with pods' spec.nodeName trigger: a kubelet's watch is offered its own
    node's pods, and a pod leaving the node (its previous state matches) too; others see all."""
    def pod(name: str, node: str) -> dict:
        return {"metadata": {"name": name, "namespace": "default"}, "spec": {"nodeName": node}}

    def node_of(stored) -> str:
        return stored.obj["spec"]["nodeName"]

    pods = "/registry/pods/"
    n1 = store.watch(pods, store.revision, Trigger(pods, "n1", node_of))
    unscheduled = store.watch(pods, store.revision, Trigger(pods, "", node_of))
    everything = store.watch(pods, store.revision)
    await store.create(pods + "default/a", pod("a", "n1"))   # rev 1
    await store.create(pods + "default/b", pod("b", "n2"))   # rev 2: not n1's
    await store.create(pods + "default/c", pod("c", ""))     # rev 3
    await store.update(pods + "default/c", pod("c", "n1"))   # rev 4: bound to n1
    await store.update(pods + "default/a", pod("a", "n2"))   # rev 5: a leaves n1
    await store.create(key("cm"), cm("cm"))                  # rev 6: not a pod: the index never reads it (node_of would fail)
    assert [e.revision for e in await drain(n1, 3)] == [1, 4, 5]
    assert [e.revision for e in await drain(unscheduled, 2)] == [3, 4]
    assert [e.revision for e in await drain(everything, 5)] == [1, 2, 3, 4, 5]
    assert store.watcher_count == 3
    for watcher in (n1, unscheduled, everything):
        watcher.stop()
    assert store.watcher_count == 0


async def test_a_watch_index_that_cannot_read_an_event_ends_its_watches_not_the_write(store):
    """Publishing runs inside the commit: an index failing on one object must neither fail nor hang
    the writes of the batch, and watchers outside that index still get the event."""
    def node_of(stored) -> str:
        return stored.obj["spec"]["nodeName"]   # a pod without spec cannot be placed

    pods = "/registry/pods/"
    placed = store.watch(pods, store.revision, Trigger(pods, "n1", node_of))
    everything = store.watch(pods, store.revision)
    writes = [store.create(pods + "default/odd", {"metadata": {"name": "odd", "namespace": "default"}}),
              store.create(pods + "default/b", {"metadata": {"name": "b", "namespace": "default"},
                                                "spec": {"nodeName": "n1"}})]
    created = await asyncio.wait_for(asyncio.gather(*writes), 2)
    assert [c.mod_revision for c in created] == [1, 2]
    assert [e.revision for e in await drain(everything, 2)] == [1, 2]
    assert placed.stopped and [e async for e in placed] == []
    assert (await store.get(pods + "default/b")).mod_revision == 2
    everything.stop()


async def test_watch_and_list_at_beyond_history_are_compacted(tmp_path):
    store = SQLiteStore(tmp_path / "state.db", history=5)
    try:
        await store.create(key("a"), cm("a"))
        for i in range(9):
            await store.update(key("a"), cm("a", str(i)))      # revisions 2..10; 6..10 retained
        assert store.oldest_revision == 6
        with pytest.raises(CompactedError) as e:
            store.watch("/registry/configmaps/", 4)
        assert (e.value.requested, e.value.oldest) == (4, 6)
        with pytest.raises(CompactedError):
            await store.list_at("/registry/configmaps/", 4)
        watcher = store.watch("/registry/configmaps/", 5)  # the oldest replayable start
        assert [e.revision for e in await drain(watcher, 5)] == [6, 7, 8, 9, 10]
        watcher.stop()
    finally:
        store.close()


def log_rows(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("SELECT count(*) FROM log").fetchone()[0]


def page_count(path: Path) -> int:
    with sqlite3.connect(path) as db:
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        return db.execute("PRAGMA page_count").fetchone()[0]


async def test_compaction_keeps_the_database_bounded_under_churn(tmp_path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path, history=50)
    big = "x" * 2000

    async def churn() -> None:
        for i in range(300):
            await store.create(key(f"o{i % 20}"), cm(f"o{i % 20}", big))
            await store.delete(key(f"o{i % 20}"))
        store.compact()

    try:
        await churn()
        pages = page_count(path)
        for _ in range(3):
            await churn()
        assert log_rows(path) == 50
        assert store.oldest_revision == store.revision - 49
        assert page_count(path) <= pages * 1.2  # freed pages are reused, the file does not keep growing
    finally:
        store.close()


async def test_reopen_restores_objects_revision_and_history(tmp_path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path, history=100)
    await store.create(key("a"), cm("a"))
    await store.create(key("b"), cm("b"))
    await store.update(key("a"), cm("a", "1"))
    await store.delete(key("b"))
    store.close()

    store = SQLiteStore(path, history=100)
    try:
        assert store.revision == 4
        assert [(o.key, o.mod_revision, o.create_revision) for o in await store.list("/registry/")] == [
            (key("a"), 3, 1)]
        watcher = store.watch("/registry/configmaps/", 0)
        events = await drain(watcher, 4)
        watcher.stop()
        assert [(e.type, e.revision) for e in events] == [("ADDED", 1), ("ADDED", 2), ("MODIFIED", 3),
                                                          ("DELETED", 4)]
        assert events[2].prev.mod_revision == 1
        # One object per revision, as before the restart: the current state is the event's object.
        assert events[2].object is await store.get(key("a")) and events[3].prev is events[1].object
        assert [o.key for o in await store.list_at("/registry/configmaps/", 2)] == [key("a"), key("b")]
        created = await store.create(key("c"), cm("c"))
        assert created.mod_revision == 5
    finally:
        store.close()


async def test_compaction_to_a_revision_drops_the_history_up_to_it(tmp_path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path, history=100)
    try:
        await store.create(key("a"), cm("a"))
        for i in range(4):
            await store.update(key("a"), cm("a", str(i)))        # revisions 2..5
        assert store.compact(3) == 4 and store.oldest_revision == 4
        assert log_rows(path) == 2
        with pytest.raises(CompactedError):
            store.watch("/registry/", 2)
        watcher = store.watch("/registry/", 3)
        assert [e.revision for e in await drain(watcher, 2)] == [4, 5]
        watcher.stop()
        assert store.compact(2) == 4  # an older revision changes nothing
        assert store.compact(store.revision) == 6 and log_rows(path) == 0
        watcher = store.watch("/registry/", 5)  # from the newest revision on: nothing missed
        await store.update(key("a"), cm("a", "new"))
        assert [e.revision for e in await drain(watcher, 1)] == [6]
        watcher.stop()
    finally:
        store.close()


async def test_reopen_after_compaction_keeps_the_floor(tmp_path):
    path = tmp_path / "state.db"
    store = SQLiteStore(path, history=3)
    await store.create(key("a"), cm("a"))
    for i in range(5):
        await store.update(key("a"), cm("a", str(i)))           # revisions 2..6; 4..6 retained
    store.compact()
    store.close()

    store = SQLiteStore(path, history=3)
    try:
        assert store.oldest_revision == 4
        with pytest.raises(CompactedError):
            store.watch("/registry/", 2)
        watcher = store.watch("/registry/", 3)
        assert [e.revision for e in await drain(watcher, 3)] == [4, 5, 6]
        watcher.stop()
    finally:
        store.close()
