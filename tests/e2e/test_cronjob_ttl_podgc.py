"""CronJob, TTL-after-finished and PodGC controllers against a real API server (clocks driven by the test)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.base import ControllerManagerOptions
from kinn.controllers.cronjob import CronJobController
from kinn.controllers.podgc import PodGCController
from kinn.controllers.podutil import parse_time
from kinn.controllers.ttlafterfinished import TTLAfterFinishedController
from workload_harness import PODS, bind, finished_status, make_namespace, make_node, running, set_pod_status

CRONJOBS = resource("batch/v1", "cronjobs")
JOBS = resource("batch/v1", "jobs")
EVENTS = resource("v1", "events")
NS = "cron-e2e"


@pytest.fixture
async def client(apiserver):
    async with Client.from_kubeconfig(str(apiserver.kubeconfig)) as c:
        await make_namespace(c, NS)
        yield c


class Clock:
    def __init__(self, start: datetime) -> None:
        self.at = start

    def __call__(self) -> datetime:
        return self.at


def cronjob(name: str, **spec) -> dict:
    template = {"spec": {"template": {"spec": {"restartPolicy": "Never",
                                                "containers": [{"name": "c", "image": "busybox"}]}}}}
    return {"apiVersion": "batch/v1", "kind": "CronJob", "metadata": {"name": name, "namespace": NS},
            "spec": {"schedule": "* * * * *", "jobTemplate": template, **spec}}


async def jobs_of(client: Client, prefix: str) -> list[dict]:
    return sorted((j for j in (await client.list(JOBS, NS))["items"] if j["metadata"]["name"].startswith(prefix)),
                  key=lambda j: j["metadata"]["name"])


async def finish(client: Client, job: dict, type_: str = "Complete") -> None:
    now = datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    condition = {"type": type_, "status": "True", "lastTransitionTime": now, "reason": "R", "message": "m"}
    status = {"conditions": [condition], "startTime": now}
    if type_ == "Complete":
        status.update(completionTime=now, succeeded=1)
        status["conditions"].insert(0, {**condition, "type": "SuccessCriteriaMet"})
    else:
        status["conditions"].insert(0, {**condition, "type": "FailureTarget"})
    await client.patch(JOBS, job["metadata"]["name"], {"status": status}, NS, subresource="status")


async def test_cronjob_creates_a_job_per_activation_and_forbids_overlap(client):
    created = await client.create(CRONJOBS, cronjob("tick", concurrencyPolicy="Forbid"))
    start = parse_time(created["metadata"]["creationTimestamp"])
    first = start.replace(second=0) + timedelta(minutes=1)
    async with running(client, CronJobController) as (controller,):
        clock = Clock(first + timedelta(seconds=5))
        controller.now = clock
        controller.queue.add(f"{NS}/tick")
        [job] = await wait_for(lambda: jobs_of(client, "tick-"), 10)
        assert job["metadata"]["name"] == f"tick-{int(first.timestamp()) // 60}"
        assert job["metadata"]["ownerReferences"][0]["kind"] == "CronJob"
        assert job["metadata"]["annotations"]["batch.kubernetes.io/cronjob-scheduled-timestamp"] == \
            first.strftime("%Y-%m-%dT%H:%M:%SZ")

        async def status_active() -> dict | None:
            status = (await client.get(CRONJOBS, "tick", NS)).get("status", {})
            return status if status.get("active") else None

        status = await wait_for(status_active, 10)
        assert status["active"][0]["name"] == job["metadata"]["name"]
        assert status["lastScheduleTime"] == first.strftime("%Y-%m-%dT%H:%M:%SZ")

        # The next minute: the first Job still runs, so Forbid skips this activation.
        clock.at = first + timedelta(minutes=1, seconds=5)
        controller.queue.add(f"{NS}/tick")
        await wait_for(lambda: _event(client, "tick", "JobAlreadyActive"), 10)
        assert len(await jobs_of(client, "tick-")) == 1

        # Once it completes, the next activation runs and the completion is recorded.
        await finish(client, job)
        clock.at = first + timedelta(minutes=2, seconds=5)
        controller.queue.add(f"{NS}/tick")
        await wait_for(lambda: _count(client, "tick-", 2), 10)
        await wait_for(lambda: _event(client, "tick", "SawCompletedJob"), 10)

        # The event is recorded during the sync, the status written at its end (as upstream).
        async def completion_recorded() -> bool:
            status = (await client.get(CRONJOBS, "tick", NS))["status"]
            return bool(status.get("lastSuccessfulTime")) and len(status.get("active") or []) == 1

        await wait_for(completion_recorded, 10)


async def _event(client: Client, name: str, reason: str) -> bool:
    return any(e["reason"] == reason and e["involvedObject"]["name"] == name
               for e in (await client.list(EVENTS, NS))["items"])


async def _count(client: Client, prefix: str, count: int) -> bool:
    return len(await jobs_of(client, prefix)) == count


async def test_replace_deletes_the_running_job(client):
    created = await client.create(CRONJOBS, cronjob("swap", concurrencyPolicy="Replace"))
    first = parse_time(created["metadata"]["creationTimestamp"]).replace(second=0) + timedelta(minutes=1)
    async with running(client, CronJobController) as (controller,):
        controller.now = Clock(first + timedelta(seconds=1))
        controller.queue.add(f"{NS}/swap")
        [old] = await wait_for(lambda: jobs_of(client, "swap-"), 10)
        controller.now = Clock(first + timedelta(minutes=1, seconds=1))
        controller.queue.add(f"{NS}/swap")

        async def replaced() -> bool:
            names = [j["metadata"]["name"] for j in await jobs_of(client, "swap-")
                     if not j["metadata"].get("deletionTimestamp")]
            return names == [f"swap-{int(first.timestamp()) // 60 + 1}"]

        await wait_for(replaced, 10)
        assert old["metadata"]["name"] == f"swap-{int(first.timestamp()) // 60}"


async def test_ttl_after_finished_deletes_the_job(client):
    job = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "short-lived", "namespace": NS},
           "spec": {"ttlSecondsAfterFinished": 0, "template": {"spec": {
               "restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
    kept = {**job, "metadata": {"name": "kept", "namespace": NS}, "spec": {**job["spec"], "ttlSecondsAfterFinished": 3600}}
    async with running(client, TTLAfterFinishedController):
        for obj in (job, kept):
            await finish(client, await client.create(JOBS, obj))

        async def deleted() -> bool:
            """Foreground deletion: the Job waits (deletionTimestamp set) until the GC has removed its pods."""
            jobs = {j["metadata"]["name"]: j for j in (await client.list(JOBS, NS))["items"]}
            return "short-lived" not in jobs or "foregroundDeletion" in jobs["short-lived"]["metadata"].get(
                "finalizers", [])
        await wait_for(deleted, 10)
        assert not (await client.get(JOBS, "kept", NS))["metadata"].get("deletionTimestamp")


class FastPodGC(PodGCController):
    gc_check_period = 0.2
    quarantine = 0.0


def pod(name: str) -> dict:
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": NS},
            "spec": {"containers": [{"name": "c", "image": "busybox"}]}}


async def test_podgc_removes_orphans_and_the_oldest_terminated_beyond_the_threshold(client):
    await make_node(client, "gc-live")
    for name, node in (("on-live", "gc-live"), ("on-gone", "gc-gone")):
        await bind(client, await client.create(PODS, pod(name)), node)
    for i in range(3):
        done = await client.create(PODS, pod(f"done-{i}"))
        await set_pod_status(client, done, finished_status("Succeeded"))
    options = ControllerManagerOptions(terminated_pod_gc_threshold=2)
    async with running(client, FastPodGC, options=options):
        async def collected() -> list[str] | None:
            names = sorted(p["metadata"]["name"] for p in (await client.list(PODS, NS))["items"])
            return names if names == ["done-1", "done-2", "on-live"] else None
        await wait_for(collected, 10)
