"""The admission lister: one list of the store, then every committed write applied, per namespace."""

from __future__ import annotations

from pathlib import Path

import pytest

from kinn.api.resources import TABLE
from kinn.apiserver.admission.lister import Lister
from kinn.storage.sqlite import SQLiteStore

QUOTAS = TABLE.lookup("", "v1", "resourcequotas")


def quota(name: str, namespace: str, pods: str = "1") -> dict:
    return {"metadata": {"name": name, "namespace": namespace}, "spec": {"hard": {"pods": pods}}}


@pytest.fixture
def store(tmp_path: Path):
    s = SQLiteStore(tmp_path / "state.db")
    yield s
    s.close()


def names(listed) -> list[str]:
    return [stored.obj["metadata"]["name"] for stored in listed]


async def test_lists_once_then_follows_every_write(store, monkeypatch):
    await store.create(QUOTAS.key("a", "b-quota"), quota("b-quota", "a"))
    await store.create(QUOTAS.key("other", "q"), quota("q", "other"))
    lister = Lister(store, QUOTAS)
    assert names(await lister.list("a")) == ["b-quota"]

    lists = []
    monkeypatch.setattr(store, "list", lambda prefix: lists.append(prefix))
    await store.create(QUOTAS.key("a", "a-quota"), quota("a-quota", "a"))
    updated = await store.update(QUOTAS.key("a", "b-quota"), quota("b-quota", "a", pods="5"))
    await store.delete(QUOTAS.key("other", "q"))
    listed = await lister.list("a")
    assert names(listed) == ["a-quota", "b-quota"]
    assert listed[1].mod_revision == updated.mod_revision
    assert await lister.list("other") == [] and await lister.list("none") == []
    assert lists == []


async def test_an_ended_watch_lists_again(store):
    lister = Lister(store, QUOTAS)
    assert await lister.list("a") == []
    lister._watcher.stop()  # as a closed store ends it
    await store.create(QUOTAS.key("a", "q"), quota("q", "a"))
    assert names(await lister.list("a")) == ["q"]
