"""JobController against a real API server: completions with parallelism, backoffLimit, Indexed jobs, deadline."""

from __future__ import annotations

import pytest

from kinn.client.rest import Client, resource, wait_for
from kinn.controllers.job import JobController
from kinn.controllers.job_util import COMPLETION_INDEX_KEY, TRACKING_FINALIZER
from workload_harness import PODS, finished_status, make_namespace, running, set_pod_status

JOBS = resource("batch/v1", "jobs")
EVENTS = resource("v1", "events")
NS = "job-e2e"


class FastJobController(JobController):
    pod_failure_backoff = 0.05


@pytest.fixture
async def client(apiserver):
    async with Client.from_kubeconfig(str(apiserver.kubeconfig)) as c:
        await make_namespace(c, NS)
        yield c


def job(name: str, **spec) -> dict:
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": name, "namespace": NS},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "work", "image": "busybox"}]}}, **spec}}


async def live_pods(client: Client, name: str) -> list[dict]:
    pods = (await client.list(PODS, NS, label_selector=f"batch.kubernetes.io/job-name={name}"))["items"]
    return [p for p in pods if p.get("status", {}).get("phase") not in ("Succeeded", "Failed")
            and not p["metadata"].get("deletionTimestamp")]


async def wait_active(client: Client, name: str, count: int) -> list[dict]:
    async def enough() -> list[dict] | None:
        pods = await live_pods(client, name)
        return pods if len(pods) == count else None
    return await wait_for(enough, 10)


def condition(job: dict, type_: str) -> dict | None:
    return next((c for c in job.get("status", {}).get("conditions", []) if c["type"] == type_), None)


async def wait_condition(client: Client, name: str, type_: str) -> dict:
    async def done() -> dict | None:
        j = await client.get(JOBS, name, NS)
        return j if condition(j, type_) else None
    return await wait_for(done, 15)


async def test_completions_respect_parallelism_and_finish_complete(client):
    async with running(client, FastJobController):
        await client.create(JOBS, job("pi", completions=3, parallelism=2))
        finished = 0
        while finished < 3:
            pods = await wait_active(client, "pi", min(2, 3 - finished))
            assert all(TRACKING_FINALIZER in p["metadata"]["finalizers"] for p in pods)
            await set_pod_status(client, pods[0], finished_status("Succeeded"))
            finished += 1
        done = await wait_condition(client, "pi", "Complete")
        status = done["status"]
        assert (status["succeeded"], status.get("failed", 0), status.get("active", 0)) == (3, 0, 0)
        assert condition(done, "Complete")["reason"] == "CompletionsReached"
        assert condition(done, "SuccessCriteriaMet")["status"] == "True"
        assert status["completionTime"] and status["startTime"]
        pods = (await client.list(PODS, NS, label_selector="batch.kubernetes.io/job-name=pi"))["items"]
        assert len(pods) == 3 and not any(p["metadata"].get("finalizers") for p in pods)
        reasons = [e["reason"] for e in (await client.list(EVENTS, NS))["items"]
                   if e["involvedObject"]["name"] == "pi"]
        assert reasons.count("SuccessfulCreate") == 3 and "Completed" in reasons


async def test_backoff_limit_exceeded_fails_the_job(client):
    async with running(client, FastJobController):
        await client.create(JOBS, job("flaky", backoffLimit=1))
        for _ in range(2):
            [pod] = await wait_active(client, "flaky", 1)
            await set_pod_status(client, pod, finished_status("Failed"))
        failed = await wait_condition(client, "flaky", "Failed")
        assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"
        assert condition(failed, "Failed")["message"] == "Job has reached the specified backoff limit"
        assert condition(failed, "FailureTarget")["reason"] == "BackoffLimitExceeded"
        assert failed["status"]["failed"] == 2 and not condition(failed, "Complete")
        assert await live_pods(client, "flaky") == []


def exited(code: int) -> dict:
    """A failed pod's status whose container `work` exited with `code`."""
    return {**finished_status("Failed"), "containerStatuses": [
        {"name": "work", "image": "busybox", "imageID": "", "ready": False, "restartCount": 0,
         "state": {"terminated": {"exitCode": code, "reason": "Error"}}}]}


async def test_pod_failure_policy_fails_the_job_at_once_or_ignores_a_failure(client):
    """FailJob ends the job on the first matching failure, backoffLimit notwithstanding, with upstream's
    reason and message; an Ignore rule's failures are not counted (the pod is replaced, its finalizer
    dropped); a failure no rule matches counts."""
    policy = {"rules": [{"action": "FailJob", "onExitCodes": {"containerName": "work", "operator": "In",
                                                              "values": [42]}},
                        {"action": "Ignore", "onExitCodes": {"operator": "In", "values": [7]}}]}
    async with running(client, FastJobController):
        await client.create(JOBS, job("policy", backoffLimit=5, podFailurePolicy=policy))
        [ignored] = await wait_active(client, "policy", 1)
        await set_pod_status(client, ignored, exited(7))
        [counted] = await wait_for(lambda: _replacement(client, "policy", ignored), 10)
        await set_pod_status(client, counted, exited(1))
        [fatal] = await wait_for(lambda: _replacement(client, "policy", counted), 10)
        await set_pod_status(client, fatal, exited(42))
        failed = await wait_condition(client, "policy", "Failed")
        assert condition(failed, "Failed")["reason"] == "PodFailurePolicy"
        assert condition(failed, "Failed")["message"] == (
            f"Container work for pod {NS}/{fatal['metadata']['name']} failed with exit code 42 matching FailJob "
            "rule at index 0")
        assert failed["status"]["failed"] == 2  # the exit 7 was ignored
        ignored_now = await client.get(PODS, ignored["metadata"]["name"], NS)
        assert TRACKING_FINALIZER not in (ignored_now["metadata"].get("finalizers") or [])


async def _replacement(client: Client, name: str, old: dict) -> list[dict] | None:
    pods = [p for p in await live_pods(client, name) if p["metadata"]["uid"] != old["metadata"]["uid"]]
    return pods or None


async def test_restarts_count_towards_backoff_limit_with_restart_policy_on_failure(client):
    """With OnFailure a failing container restarts in its pod, which never fails: the job once ran forever
    in CrashLoopBackOff. Upstream counts the running pods' restarts against backoffLimit."""
    on_failure = job("crashy", backoffLimit=2)
    on_failure["spec"]["template"]["spec"]["restartPolicy"] = "OnFailure"
    async with running(client, FastJobController):
        await client.create(JOBS, on_failure)
        [pod] = await wait_active(client, "crashy", 1)
        for restarts in (1, 2):
            await set_pod_status(client, pod, {"phase": "Running", "containerStatuses": [
                {"name": "work", "image": "busybox", "imageID": "", "ready": False, "restartCount": restarts,
                 "state": {"waiting": {"reason": "CrashLoopBackOff"}}}]})
            if restarts == 1:
                assert not condition(await client.get(JOBS, "crashy", NS), "FailureTarget")
        failed = await wait_condition(client, "crashy", "Failed")
        assert condition(failed, "Failed")["reason"] == "BackoffLimitExceeded"
        assert await live_pods(client, "crashy") == []


async def test_indexed_job_completes_every_index(client):
    async with running(client, FastJobController):
        await client.create(JOBS, job("idx", completions=3, parallelism=3, completionMode="Indexed"))
        pods = await wait_active(client, "idx", 3)
        indexes = sorted(p["metadata"]["annotations"][COMPLETION_INDEX_KEY] for p in pods)
        assert indexes == ["0", "1", "2"]
        by_index = {p["metadata"]["labels"][COMPLETION_INDEX_KEY]: p for p in pods}
        assert by_index["1"]["spec"]["hostname"] == "idx-1"
        assert by_index["1"]["metadata"]["name"].startswith("idx-1-")
        # A failed index is retried; the others count once each.
        await set_pod_status(client, by_index["1"], finished_status("Failed"))
        await set_pod_status(client, by_index["0"], finished_status("Succeeded"))

        async def replaced() -> dict | None:
            pods = await live_pods(client, "idx")
            fresh = [p for p in pods if p["metadata"]["annotations"][COMPLETION_INDEX_KEY] == "1"]
            return fresh[0] if len(pods) == 2 and fresh else None

        retry = await wait_for(replaced, 10)
        await set_pod_status(client, retry, finished_status("Succeeded"))
        await set_pod_status(client, by_index["2"], finished_status("Succeeded"))
        done = await wait_condition(client, "idx", "Complete")
        assert done["status"]["completedIndexes"] == "0-2"
        assert (done["status"]["succeeded"], done["status"]["failed"]) == (3, 1)


async def test_active_deadline_fails_and_deletes_running_pods(client):
    async with running(client, FastJobController, kubelet_namespace=NS):
        await client.create(JOBS, job("slow", activeDeadlineSeconds=1, parallelism=2, completions=2))
        failed = await wait_condition(client, "slow", "Failed")
        assert condition(failed, "Failed")["reason"] == "DeadlineExceeded"
        assert condition(failed, "Failed")["message"] == "Job was active longer than specified deadline"
        assert await live_pods(client, "slow") == []
