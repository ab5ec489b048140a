"""The EventRecorder's correlator (client-go events_cache.go): aggregation, counting, spam filtering."""

from __future__ import annotations

import asyncio

from typing import Any

from kinn.client.events import EventRecorder

RS = {"kind": "ReplicaSet", "apiVersion": "apps/v1", "metadata": {"name": "web-1", "namespace": "ns", "uid": "u1"}}


class FakeClient:
    """Records the writes the recorder makes."""

    def __init__(self) -> None:
        self.writes: list[tuple[str, str, Any]] = []

    async def create(self, r: Any, obj: dict, namespace: str = "") -> dict:
        self.writes.append(("create", obj["metadata"]["name"], obj))
        return obj

    async def patch(self, r: Any, name: str, patch: Any, namespace: str = "", **_: Any) -> dict:
        self.writes.append(("patch", name, patch))
        return patch


async def test_distinct_messages_are_combined_after_ten_and_spam_stops_at_25():
    client = FakeClient()
    recorder = EventRecorder(client, "replicaset-controller")  # type: ignore[arg-type]
    for i in range(100):
        await recorder.event(RS, "Normal", "SuccessfulCreate", f"Created pod: web-1-{i}")
    await recorder.flush()
    creates = [w for w in client.writes if w[0] == "create"]
    patches = [w for w in client.writes if w[0] == "patch"]
    assert len(client.writes) == 25  # the burst; the refill is one every five minutes
    assert [w[2]["message"] for w in creates[:9]] == [f"Created pod: web-1-{i}" for i in range(9)]
    assert len(creates) == 10
    assert creates[9][2]["message"] == "(combined from similar events): Created pod: web-1-9"
    assert {w[1] for w in patches} == {creates[9][1]}
    assert patches[-1][2]["count"] == 16
    assert patches[-1][2]["message"] == "(combined from similar events): Created pod: web-1-24"


async def test_repeats_count_and_other_objects_have_their_own_budget():
    client = FakeClient()
    recorder = EventRecorder(client, "default-scheduler")  # type: ignore[arg-type]
    for _ in range(3):
        await recorder.event(RS, "Warning", "FailedCreate", "quota exceeded")
    await recorder.flush()
    assert [w[0] for w in client.writes] == ["create", "patch", "patch"]
    assert client.writes[-1][2]["count"] == 3
    for i in range(30):
        pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": f"p{i}", "namespace": "ns", "uid": f"p{i}"}}
        await recorder.event(pod, "Normal", "Scheduled", f"Successfully assigned ns/p{i} to n1")
    await recorder.flush()
    assert len(client.writes) == 33


async def test_recording_does_not_wait_for_the_api_server_and_keeps_order():
    client = FakeClient()
    gate = asyncio.Event()
    create = client.create

    async def slow_create(*args, **kwargs):
        await gate.wait()
        return await create(*args, **kwargs)

    client.create = slow_create  # type: ignore[method-assign]
    recorder = EventRecorder(client, "kubelet")  # type: ignore[arg-type]
    for _ in range(3):
        await asyncio.wait_for(recorder.event(RS, "Normal", "Pulled", "already present"), 0.1)
    assert client.writes == []  # nothing written yet, and nobody waited
    gate.set()
    await recorder.flush()
    assert [w[0] for w in client.writes] == ["create", "patch", "patch"]  # a repeat never overtakes its create


async def test_the_same_message_about_two_containers_is_two_events():
    """A kubelet's "Pulled" for two containers of one pod: the field paths keep them apart."""
    client = FakeClient()
    recorder = EventRecorder(client, "kubelet", "worker-1")  # type: ignore[arg-type]
    pod = {"kind": "Pod", "apiVersion": "v1", "metadata": {"name": "p", "namespace": "ns", "uid": "p"}}
    message = 'Container image "busybox" already present on machine'
    for container in ("spec.initContainers{init}", "spec.containers{app}", "spec.containers{app}"):
        await recorder.event(pod, "Normal", "Pulled", message, container)
    await recorder.flush()
    assert [(w[0], w[2].get("count")) for w in client.writes] == [("create", 1), ("create", 1), ("patch", 2)]
    assert [w[2]["involvedObject"]["fieldPath"] for w in client.writes[:2]] == \
        ["spec.initContainers{init}", "spec.containers{app}"]
