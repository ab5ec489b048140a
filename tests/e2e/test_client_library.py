"""kinn's own client library against a real API server: informers, leader election, events."""

from __future__ import annotations

import asyncio

import pytest

from kinn.api.errors import StatusError
from kinn.client.events import EventRecorder
from kinn.client.informer import EventHandler, SharedInformerFactory, strip_managed_fields
from kinn.client.leaderelection import LEASES, LeaderElector
from kinn.client.rest import Client, resource, wait_for
from kinn.client.transport import ConnectionClosed

from workload_harness import make_namespace

CONFIGMAPS = resource("v1", "configmaps")
NAMESPACES = resource("v1", "namespaces")


async def test_rest_errors_are_the_server_status(client):
    with pytest.raises(StatusError) as err:
        await client.get(CONFIGMAPS, "missing", "default")
    assert (err.value.code, err.value.reason, err.value.message) == (404, "NotFound", 'configmaps "missing" not found')


async def test_informer_cache_matches_the_server_after_churn(client):
    await make_namespace(client, "informer")
    factory = SharedInformerFactory(client)
    informer = factory.informer(CONFIGMAPS, namespace="informer")
    seen: list[tuple[str, str]] = []
    informer.add_event_handler(EventHandler(
        on_add=lambda o: seen.append(("add", o["metadata"]["name"])),
        on_update=lambda old, new: seen.append(("update", new["metadata"]["name"])),
        on_delete=lambda o: seen.append(("delete", o["metadata"]["name"])),
    ))
    await client.create(CONFIGMAPS, {"metadata": {"name": "before", "namespace": "informer"}, "data": {"n": "0"}})
    factory.start()
    await factory.wait_for_cache_sync(10)
    try:
        for i in range(30):
            await client.create(CONFIGMAPS, {"metadata": {"name": f"cm-{i}", "namespace": "informer"},
                                             "data": {"n": "0"}})
        for i in range(0, 30, 2):
            await client.patch(CONFIGMAPS, f"cm-{i}", {"data": {"n": "1"}}, "informer")
        for i in range(0, 30, 3):
            await client.delete(CONFIGMAPS, f"cm-{i}", "informer")

        async def converged() -> bool:
            live = await client.list(CONFIGMAPS, "informer")
            want = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in live["items"]}
            have = {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in informer.indexer.list()}
            return want == have

        await wait_for(converged, 10)
        assert ("add", "before") in seen and ("update", "cm-2") in seen and ("delete", "cm-3") in seen
    finally:
        await factory.stop()


async def test_two_components_in_one_process_cache_one_copy_of_each_object(client):
    """As the scheduler and the controller manager in `kinn server`: each has its own client and
    informers, and each revision they both cache is decoded into one object they share."""
    await make_namespace(client, "sharing")
    for i in range(5):
        await client.create(CONFIGMAPS, {"metadata": {"name": f"cm-{i}", "namespace": "sharing"}, "data": {"n": "0"}})
    async with Client(client.config, "second-component") as other:
        factories = [SharedInformerFactory(c, strip_managed_fields) for c in (client, other)]
        first, second = (f.informer(CONFIGMAPS, namespace="sharing") for f in factories)
        for factory in factories:
            factory.start()
        try:
            for factory in factories:
                await factory.wait_for_cache_sync(10)
            await client.patch(CONFIGMAPS, "cm-0", {"data": {"n": "1"}}, "sharing")

            async def both_saw_the_patch() -> bool:
                return all((i.indexer.get("sharing/cm-0") or {}).get("data", {}).get("n") == "1" for i in (first, second))

            await wait_for(both_saw_the_patch, 10)
            for i in range(5):
                key = f"sharing/cm-{i}"
                assert first.indexer.get(key) is second.indexer.get(key)
                assert "managedFields" not in first.indexer.get(key)["metadata"]
        finally:
            for factory in factories:
                await factory.stop()


async def test_only_one_of_two_candidates_leads_and_the_other_takes_over(client):
    leading: list[str] = []
    stop = {"a": asyncio.Event(), "b": asyncio.Event()}

    def lead_as(name: str):
        async def lead() -> None:
            leading.append(name)
            await stop[name].wait()
        return lead

    a = LeaderElector(client, "test-lock", "a", lease_duration=2, renew_deadline=1.5, retry_period=0.2)
    b = LeaderElector(client, "test-lock", "b", lease_duration=2, renew_deadline=1.5, retry_period=0.2)
    run_a = asyncio.create_task(a.run(lead_as("a")))
    await wait_for(lambda: a.is_leader, 5)
    run_b = asyncio.create_task(b.run(lead_as("b")))
    await asyncio.sleep(1.0)  # several of b's retry periods: it must not lead while a renews
    assert leading == ["a"] and not b.is_leader
    lease = await client.get(LEASES, "test-lock", "kube-system")
    assert lease["spec"]["holderIdentity"] == "a"
    stop["a"].set()  # a finishes its work and releases
    await run_a
    await a.release()
    await wait_for(lambda: leading == ["a", "b"], 5)  # b's work starts a loop turn after is_leader is set
    assert b.is_leader
    lease = await client.get(LEASES, "test-lock", "kube-system")
    assert lease["spec"]["holderIdentity"] == "b" and lease["spec"]["leaseTransitions"] == 1
    stop["b"].set()
    await run_b


class DroppingClient(Client):
    """A client whose first `drops` requests lose their connection as a closed keep-alive one does."""

    def __init__(self, client: Client, drops: int) -> None:
        super().__init__(client.config)
        self.drops = drops

    async def request(self, *args, **kwargs):
        if self.drops:
            self.drops -= 1
            raise ConnectionClosed("connection closed in the response's body")
        return await super().request(*args, **kwargs)


async def test_a_candidate_survives_dropped_connections(client):
    """A connection lost mid-answer must count as a failed attempt, not end the campaign."""
    async with DroppingClient(client, drops=3) as flaky:
        candidate = LeaderElector(flaky, "flaky-lock", "f", lease_duration=2, renew_deadline=1.5, retry_period=0.1)
        done = asyncio.Event()
        run = asyncio.create_task(candidate.run(done.wait))
        await wait_for(lambda: candidate.is_leader or run.done(), 5)
        assert not run.done(), run.exception()
        done.set()
        await run
        await candidate.release()


async def test_a_candidate_times_a_lease_by_its_own_observation(client):
    """A holder's stale renewTime (skewed clock, or stalled after stamping) does not make its Lease look
    expired: the candidate must see the record unchanged for leaseDurationSeconds (upstream observedTime)."""
    await client.create(LEASES, {"metadata": {"name": "skewed-lock", "namespace": "kube-system"},
                                 "spec": {"holderIdentity": "skewed", "leaseDurationSeconds": 1,
                                          "renewTime": "2000-01-01T00:00:00.000000Z"}})
    candidate = LeaderElector(client, "skewed-lock", "c", lease_duration=1, renew_deadline=0.8, retry_period=0.1)
    loop = asyncio.get_running_loop()
    started, done = loop.time(), asyncio.Event()
    run = asyncio.create_task(candidate.run(done.wait))
    await wait_for(lambda: candidate.is_leader, 5)
    assert loop.time() - started >= 1.0
    done.set()
    await run


async def test_repeated_events_are_aggregated(client):
    recorder = EventRecorder(client, "test-component")
    cm = await client.create(CONFIGMAPS, {"metadata": {"name": "evented", "namespace": "default"}})
    cm.update(kind="ConfigMap", apiVersion="v1")
    for _ in range(3):
        await recorder.event(cm, "Warning", "Flapping", "it happened again")
    await recorder.flush()  # events are written in the background, as client-go's broadcaster does
    events = await client.list(resource("v1", "events"), "default",
                               field_selector="involvedObject.name=evented,reason=Flapping")
    assert len(events["items"]) == 1
    assert events["items"][0]["count"] == 3
    assert events["items"][0]["source"] == {"component": "test-component"}
