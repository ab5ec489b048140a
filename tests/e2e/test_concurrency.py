"""Optimistic concurrency under real contention: concurrent read-modify-write cycles with retries on
409 never lose an update, and a watch sees every revision in order with no gaps."""

from __future__ import annotations

import asyncio
import json
from typing import Any, AsyncIterator

import aiohttp
import pytest

from conftest import RunningAPIServer

WRITERS = 8
INCREMENTS = 25
CONFIGMAPS = "/api/v1/namespaces/default/configmaps"


@pytest.fixture
async def http(apiserver: RunningAPIServer) -> AsyncIterator[aiohttp.ClientSession]:
    connector = aiohttp.TCPConnector(ssl=apiserver.ssl_context(), limit=2 * WRITERS)
    async with aiohttp.ClientSession(apiserver.url, connector=connector) as session:
        yield session


async def increment(http: aiohttp.ClientSession, name: str) -> int:
    """One read-modify-write of the counter, retried on 409 as every controller does; returns the retries."""
    conflicts = 0
    while True:
        async with http.get(f"{CONFIGMAPS}/{name}") as response:
            assert response.status == 200
            obj = await response.json()
        obj["data"]["counter"] = str(int(obj["data"]["counter"]) + 1)
        async with http.put(f"{CONFIGMAPS}/{name}", json=obj) as response:
            if response.status == 200:
                return conflicts
            status = await response.json()
            assert (response.status, status["reason"]) == (409, "Conflict"), status
            assert status["message"] == (
                f'Operation cannot be fulfilled on configmaps "{name}": the object has been modified; '
                "please apply your changes to the latest version and try again")
            conflicts += 1


async def watch_until(http: aiohttp.ClientSession, name: str, resource_version: str, final: int) -> list[dict[str, Any]]:
    """Every event of one object after `resource_version`, until its counter reaches `final`."""
    events = []
    params = {"watch": "true", "resourceVersion": resource_version, "fieldSelector": f"metadata.name={name}",
              "timeoutSeconds": "60"}
    async with http.get(CONFIGMAPS, params=params) as response:
        assert response.status == 200
        async for line in response.content:
            event = json.loads(line)
            events.append(event)
            if int(event["object"]["data"]["counter"]) == final:
                return events
    raise AssertionError(f"watch ended after {len(events)} events")


async def test_concurrent_increments_lose_nothing_and_the_watch_sees_every_revision(http):
    async with http.post(CONFIGMAPS, json={"metadata": {"name": "counter"}, "data": {"counter": "0"}}) as response:
        assert response.status == 201
        created = await response.json()
    total = WRITERS * INCREMENTS
    watcher = asyncio.create_task(watch_until(http, "counter", created["metadata"]["resourceVersion"], total))

    async def writer() -> int:
        return sum([await increment(http, "counter") for _ in range(INCREMENTS)])

    conflicts = await asyncio.wait_for(asyncio.gather(*(writer() for _ in range(WRITERS))), 120)
    assert sum(conflicts) > 0, "the writers never collided: the test did not exercise concurrency"

    async with http.get(f"{CONFIGMAPS}/counter") as response:
        assert (await response.json())["data"]["counter"] == str(total)

    events = await asyncio.wait_for(watcher, 60)
    assert [e["type"] for e in events] == ["MODIFIED"] * total
    assert [int(e["object"]["data"]["counter"]) for e in events] == list(range(1, total + 1))
    versions = [int(e["object"]["metadata"]["resourceVersion"]) for e in events]
    assert all(a < b for a, b in zip([int(created["metadata"]["resourceVersion"])] + versions, versions))


async def test_concurrent_creates_of_one_name_admit_exactly_one(http):
    async def create() -> tuple[int, dict[str, Any]]:
        async with http.post(CONFIGMAPS, json={"metadata": {"name": "race"}}) as response:
            return response.status, await response.json()

    results = await asyncio.gather(*(create() for _ in range(WRITERS)))
    assert sorted(status for status, _ in results) == [201] + [409] * (WRITERS - 1)
    assert {body["message"] for status, body in results if status == 409} == {'configmaps "race" already exists'}


async def test_concurrent_creates_get_distinct_increasing_revisions(http):
    async def create(i: int) -> int:
        async with http.post(CONFIGMAPS, json={"metadata": {"name": f"many-{i}"}}) as response:
            assert response.status == 201
            return int((await response.json())["metadata"]["resourceVersion"])

    revisions = await asyncio.gather(*(create(i) for i in range(100)))
    assert len(set(revisions)) == 100
    async with http.get(CONFIGMAPS) as response:
        listing = await response.json()
    assert int(listing["metadata"]["resourceVersion"]) >= max(revisions)
    assert {f"many-{i}" for i in range(100)} <= {o["metadata"]["name"] for o in listing["items"]}
