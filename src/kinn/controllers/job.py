"""JobController: run pods to completion, count outcomes exactly once, finish Complete or Failed (pkg/controller/job).

Every pod carries the `batch.kubernetes.io/job-tracking` finalizer, so a finished pod cannot
vanish before it is counted. As upstream's trackJobStatusAndRemoveFinalizers, a finished pod's UID
goes first into status.uncountedTerminatedPods, then its finalizer is removed, then it moves into
the succeeded/failed counters — a crash between steps never loses or double-counts a pod. When the
job meets its completions (or exceeds backoffLimit / activeDeadlineSeconds) it gets the interim
SuccessCriteriaMet (FailureTarget) condition, its remaining pods are deleted, and Complete (Failed)
follows once none is left running or terminating, as 1.32 does.
"""

from __future__ import annotations

import asyncio
import copy
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kinn.api.errors import StatusError
from kinn.client.informer import EventHandler, object_key
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.expectations import ControllerExpectations
from kinn.controllers.job_util import (
    BACKOFF_LIMIT_EXCEEDED, COMPLETION_INDEX_KEY, COMPLETIONS_REACHED, DEADLINE_EXCEEDED, POD_FAILURE_POLICY,
    TRACKING_FINALIZER, completion_index, find_condition, finished_condition, format_indexes, has_tracking_finalizer,
    is_pod_failed, is_pod_succeeded, match_pod_failure_policy, parse_indexes, restarts_of_active_pods, set_condition,
)
from kinn.api.timestamps import now_rfc3339
from kinn.controllers.podutil import (
    PODS, PodControl, controller_uid_index, is_pod_active, is_pod_ready, is_pod_terminal, is_terminating,
    owner_key, parse_time, pod_from_template, pods_prefix,
)

Obj = dict[str, Any]
JOBS = resource("batch/v1", "jobs")
MAX_POD_FAILURE_BACKOFF = 600.0


@dataclass
class JobState:
    """What one sync learned about a job: its pods by outcome and the status being built."""

    job: Obj
    pods: list[Obj]
    status: Obj
    active: list[Obj] = field(default_factory=list)
    terminating: int = 0
    new_failures: bool = False
    fail_job: str | None = None  # the message of the first FailJob rule of podFailurePolicy a pod matched
    ignored: list[Obj] = field(default_factory=list)  # failed pods an Ignore rule leaves uncounted

    @property
    def uncounted(self) -> Obj:
        return self.status.setdefault("uncountedTerminatedPods", {})

    @property
    def succeeded(self) -> int:
        return self.status.get("succeeded", 0) + len(self.uncounted.get("succeeded") or [])

    @property
    def failed(self) -> int:
        return self.status.get("failed", 0) + len(self.uncounted.get("failed") or [])

    @property
    def indexed(self) -> bool:
        return self.job["spec"].get("completionMode") == "Indexed"

    def completed_indexes(self) -> set[int]:
        done = parse_indexes(self.status.get("completedIndexes"))
        uids = set(self.uncounted.get("succeeded") or [])
        done.update(i for p in self.pods if p["metadata"]["uid"] in uids and (i := completion_index(p)) is not None)
        return {i for i in done if i < (self.job["spec"].get("completions") or 0)}


class JobController(Controller):
    name = "job"
    # DefaultJobPodFailureBackOff: replacements of failed pods wait 10s, doubling per failure.
    pod_failure_backoff = 10.0

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = ControllerExpectations()
        self.pod_control = PodControl(self.client, ctx.recorder("job-controller"))
        self.recorder = self.pod_control.recorder
        self._finalizers_removed: dict[str, set[str]] = {}
        self._backoff_until: dict[str, float] = {}
        self.jobs = self.informer(JOBS, self.enqueue_handler())
        self.pods = self.informer(PODS, EventHandler(self._pod_added, self._pod_updated, self._pod_deleted))
        self.pods.indexer.add_indexer("controller-uid", controller_uid_index)

    # -- event handlers ----------------------------------------------------------------------

    def _pod_added(self, pod: Obj) -> None:
        if key := owner_key(pod, "Job"):
            self.expectations.creation_observed(key)
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if key := owner_key(new, "Job"):
            if not has_tracking_finalizer(new):
                self._finalizers_removed.get(key, set()).discard(new["metadata"]["uid"])
            self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        if key := owner_key(pod, "Job"):
            self._finalizers_removed.get(key, set()).discard(pod["metadata"]["uid"])
            self.queue.add(key)

    # -- sync --------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        job = self.jobs.indexer.get(key)
        if job is None:
            for store in (self._finalizers_removed, self._backoff_until):
                store.pop(key, None)
            self.expectations.delete(key)
            return
        pods = self.pods.indexer.by_index("controller-uid", job["metadata"]["uid"])
        if finished_condition(job) or is_terminating(job):
            await self._remove_finalizers(key, [p for p in pods if has_tracking_finalizer(p)])
            return
        state = self._observe(key, job, pods)
        outcome = self._outcome(state)
        if outcome is not None:
            await self._delete_active(key, job, state.active)
        elif job["spec"].get("suspend"):
            await self._suspend(key, state)
        elif self.expectations.satisfied(key):
            await self._manage(key, state)
        await self._track_status(key, state, outcome)

    def _observe(self, key: str, job: Obj, pods: list[Obj]) -> JobState:
        """Sort pods into active / terminating, and add newly finished ones to uncountedTerminatedPods."""
        state = JobState(job, pods, copy.deepcopy(job.get("status") or {}))
        if not state.status.get("startTime") and not job["spec"].get("suspend"):
            state.status["startTime"] = now_rfc3339()
        uncounted = state.uncounted
        seen = set(uncounted.get("succeeded") or []) | set(uncounted.get("failed") or [])
        seen |= self._finalizers_removed.get(key, set())
        for pod in pods:
            if is_pod_active(pod):
                state.active.append(pod)
            elif not is_pod_terminal(pod):
                state.terminating += 1
            uid = pod["metadata"]["uid"]
            if not has_tracking_finalizer(pod) or uid in seen:
                continue
            if is_pod_succeeded(pod):
                uncounted.setdefault("succeeded", []).append(uid)
            elif is_pod_failed(pod):
                self._failed(state, pod)
        return state

    @staticmethod
    def _failed(state: JobState, pod: Obj) -> None:
        """A newly failed pod, as the job's podFailurePolicy says: counted (and FailJob's message kept) or ignored."""
        action, message = match_pod_failure_policy(state.job["spec"].get("podFailurePolicy"), pod) or ("Count", "")
        if action == "Ignore":
            state.ignored.append(pod)
            return
        if action == "FailJob" and state.fail_job is None:
            state.fail_job = message
        state.uncounted.setdefault("failed", []).append(pod["metadata"]["uid"])
        state.new_failures = True

    def _outcome(self, state: JobState) -> tuple[str, str, str] | None:
        """("SuccessCriteriaMet"|"FailureTarget", reason, message) once the job's fate is decided."""
        for type_ in ("SuccessCriteriaMet", "FailureTarget"):
            if condition := find_condition(state.job, type_):
                return type_, condition.get("reason", ""), condition.get("message", "")
        if state.fail_job is not None:
            return "FailureTarget", POD_FAILURE_POLICY, state.fail_job
        if state.failed > state.job["spec"].get("backoffLimit", 6) or self._past_backoff_limit_on_failure(state):
            return ("FailureTarget", *BACKOFF_LIMIT_EXCEEDED)
        if self._past_deadline(state):
            return ("FailureTarget", *DEADLINE_EXCEEDED)
        if self._complete(state):
            return ("SuccessCriteriaMet", *COMPLETIONS_REACHED)
        return None

    @staticmethod
    def _past_backoff_limit_on_failure(state: JobState) -> bool:
        """restartPolicy OnFailure: the running pods' restarts have reached backoffLimit (any restart at 0)."""
        if state.job["spec"]["template"]["spec"].get("restartPolicy") != "OnFailure":
            return False
        limit, restarts = state.job["spec"].get("backoffLimit", 6), restarts_of_active_pods(state.pods)
        return restarts > 0 if limit == 0 else restarts >= limit

    def _past_deadline(self, state: JobState) -> bool:
        deadline = state.job["spec"].get("activeDeadlineSeconds")
        started = parse_time(state.status.get("startTime"))
        if deadline is None or started is None or state.job["spec"].get("suspend"):
            return False
        remaining = deadline - (datetime.now(timezone.utc) - started).total_seconds()
        if remaining > 0:
            self.queue.add_after(object_key(state.job), remaining)
        return remaining <= 0

    def _complete(self, state: JobState) -> bool:
        completions = state.job["spec"].get("completions")
        if completions is None:  # a work queue: done when one pod succeeded and the rest have stopped
            return state.succeeded > 0 and not state.active
        if state.indexed:
            return len(state.completed_indexes()) >= completions
        return state.succeeded >= completions

    # -- acting on pods ----------------------------------------------------------------------

    async def _manage(self, key: str, state: JobState) -> None:
        """Create or delete pods so that the wanted number run (manageJob)."""
        if state.new_failures:
            failures = max(1, state.failed)
            delay = min(self.pod_failure_backoff * 2 ** (failures - 1), MAX_POD_FAILURE_BACKOFF)
            self._backoff_until[key] = time.monotonic() + delay
        wait = self._backoff_until.get(key, 0.0) - time.monotonic()
        want = self._want_active(state)
        excess = len(state.active) - want
        if excess > 0:
            await self._delete_active(key, state.job, self._deletion_order(state.active)[:excess])
        elif excess < 0 and wait > 0:
            self.queue.add_after(key, wait)
        elif excess < 0:
            await self._create(key, state, -excess)

    def _want_active(self, state: JobState) -> int:
        spec = state.job["spec"]
        parallelism = spec.get("parallelism", 1)
        completions = spec.get("completions")
        if completions is None:
            return len(state.active) if state.succeeded > 0 else parallelism
        done = len(state.completed_indexes()) if state.indexed else state.succeeded
        return max(0, min(parallelism, completions - done))

    @staticmethod
    def _deletion_order(pods: list[Obj]) -> list[Obj]:
        """Unready and youngest first, so the pods closest to finishing survive (ActivePods ordering)."""
        youngest_first = sorted(pods, key=lambda p: p["metadata"].get("creationTimestamp", ""), reverse=True)
        return sorted(youngest_first, key=is_pod_ready)

    def _free_indexes(self, state: JobState, count: int) -> list[int]:
        taken = state.completed_indexes() | {completion_index(p) for p in state.active}
        free = (i for i in range(state.job["spec"]["completions"]) if i not in taken)
        return [i for _, i in zip(range(count), free)]

    async def _create(self, key: str, state: JobState, count: int) -> None:
        pods = ([self._indexed_pod(state.job, i) for i in self._free_indexes(state, count)] if state.indexed
                else [self._pod(state.job) for _ in range(count)])
        self.expectations.expect_creations(key, len(pods))
        results = await asyncio.gather(*(self.pod_control.create(state.job, p) for p in pods), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                self.expectations.creation_observed(key)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    def _pod(self, job: Obj, generate_name: str = "") -> Obj:
        pod = pod_from_template(job["spec"]["template"], job, generate_name=generate_name)
        finalizers = pod["metadata"].setdefault("finalizers", [])
        if TRACKING_FINALIZER not in finalizers:
            finalizers.append(TRACKING_FINALIZER)
        return pod

    def _indexed_pod(self, job: Obj, index: int) -> Obj:
        """An Indexed job's pod: index annotation and label, hostname `<job>-<index>`, JOB_COMPLETION_INDEX env."""
        name = job["metadata"]["name"]
        pod = self._pod(job, pods_prefix(f"{name}-{index}"))
        pod["metadata"].setdefault("annotations", {})[COMPLETION_INDEX_KEY] = str(index)
        pod["metadata"].setdefault("labels", {})[COMPLETION_INDEX_KEY] = str(index)
        pod["spec"]["hostname"] = f"{name}-{index}"
        env = {"name": "JOB_COMPLETION_INDEX", "valueFrom": {"fieldRef": {
            "fieldPath": f"metadata.annotations['{COMPLETION_INDEX_KEY}']"}}}
        for container in pod["spec"].get("initContainers", []) + pod["spec"].get("containers", []):
            if all(e.get("name") != "JOB_COMPLETION_INDEX" for e in container.get("env") or []):
                container.setdefault("env", []).append(env)
        return pod

    async def _delete_active(self, key: str, job: Obj, pods: list[Obj]) -> None:
        """Delete pods the job no longer wants; their finalizer goes first so they are not counted failed."""
        if not pods:
            return
        await self._remove_finalizers(key, [p for p in pods if has_tracking_finalizer(p)])
        await asyncio.gather(*(self.pod_control.delete(job, p) for p in pods))

    async def _remove_finalizers(self, key: str, pods: list[Obj]) -> None:
        removed = self._finalizers_removed.setdefault(key, set())
        patch = {"metadata": {"$deleteFromPrimitiveList/finalizers": [TRACKING_FINALIZER]}}
        for pod in pods:
            removed.add(pod["metadata"]["uid"])
        await asyncio.gather(*(self._patch_pod(p, patch) for p in pods))

    async def _patch_pod(self, pod: Obj, patch: Obj) -> None:
        try:
            await self.client.patch(PODS, pod["metadata"]["name"], patch, pod["metadata"]["namespace"], "strategic")
        except StatusError as e:
            if e.code != 404:
                raise

    async def _suspend(self, key: str, state: JobState) -> None:
        await self._delete_active(key, state.job, state.active)
        state.active = []
        if set_condition(state.status, "Suspended", "True", "JobSuspended", "Job suspended"):
            await self.recorder.event(state.job, "Normal", "Suspended", "Job suspended")

    # -- status ------------------------------------------------------------------------------

    async def _track_status(self, key: str, state: JobState, outcome: tuple[str, str, str] | None) -> None:
        """Record uncounted pods, drop their finalizers, then count them and write conditions."""
        job = state.job
        if self._resumed(state):
            await self.recorder.event(job, "Normal", "Resumed", "Job resumed")
        if any(state.uncounted.values()):
            job = await self._write_status(job, state.status)
        uids = set(state.uncounted.get("succeeded") or []) | set(state.uncounted.get("failed") or [])
        await self._remove_finalizers(key, [p for p in state.pods if p["metadata"]["uid"] in uids
                                            and has_tracking_finalizer(p)] + state.ignored)
        self._count_uncounted(state)
        state.status.update(active=len(state.active), terminating=state.terminating,
                            ready=sum(1 for p in state.active if is_pod_ready(p)))
        for omitempty in ("active", "succeeded", "failed"):  # plain int32s Go omits at zero; ready is a pointer
            if not state.status[omitempty]:
                del state.status[omitempty]
        if outcome is not None:
            await self._conclude(state, outcome)
        if state.status != (job.get("status") or {}):
            await self._write_status(job, state.status)

    def _resumed(self, state: JobState) -> bool:
        suspended = find_condition(state.job, "Suspended")
        if suspended is None or state.job["spec"].get("suspend"):
            return False
        set_condition(state.status, "Suspended", "False", "JobResumed", "Job resumed")
        state.status["startTime"] = now_rfc3339()  # activeDeadlineSeconds counts from the resume
        return True

    def _count_uncounted(self, state: JobState) -> None:
        if state.indexed:
            completed = state.completed_indexes()
            if completed:
                state.status["completedIndexes"] = format_indexes(completed)
        state.status["succeeded"] = state.succeeded
        state.status["failed"] = state.failed
        state.status["uncountedTerminatedPods"] = {}

    async def _conclude(self, state: JobState, outcome: tuple[str, str, str]) -> None:
        """The interim condition now; the terminal one once no pod is running or terminating."""
        interim, reason, message = outcome
        set_condition(state.status, interim, "True", reason, message)
        if state.active or state.terminating:
            return
        job = state.job
        if interim == "SuccessCriteriaMet":
            set_condition(state.status, "Complete", "True", reason, message)
            state.status["completionTime"] = now_rfc3339()
            await self.recorder.event(job, "Normal", "Completed", "Job completed")
        else:
            set_condition(state.status, "Failed", "True", reason, message)
            await self.recorder.event(job, "Warning", reason, message)

    async def _write_status(self, job: Obj, status: Obj) -> Obj:
        return await self.client.update(JOBS, {**job, "status": status}, subresource="status")
