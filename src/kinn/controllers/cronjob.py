"""CronJobController: a Job per schedule activation (pkg/controller/cronjob, the v2 controller).

Each sync reconciles status.active with the Job cache, then looks for the most recent activation
between the last schedule time (or creation) and now. A missed start older than
startingDeadlineSeconds is skipped; Forbid skips while a Job runs, Replace deletes the running
ones. The Job is named `<cronjob>-<scheduled time in minutes since the epoch>`, so a restarted
controller finds, rather than duplicates, the Job of an activation. The key is requeued for the
next activation; `now` is an attribute so tests drive the clock.
"""

from __future__ import annotations

import copy
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from kinn.api.errors import StatusError
from kinn.api.timestamps import rfc3339
from kinn.api.validation.batch import ScheduleError
from kinn.client.informer import object_key
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.cron import Schedule, parse_schedule
from kinn.controllers.job_util import finished_condition
from kinn.controllers.podutil import controller_ref, controller_uid_index, is_terminating, owner_key, parse_time

Obj = dict[str, Any]
CRONJOBS = resource("batch/v1", "cronjobs")
JOBS = resource("batch/v1", "jobs")
SCHEDULED_TIMESTAMP_ANNOTATION = "batch.kubernetes.io/cronjob-scheduled-timestamp"
MAX_MISSED_TIMES = 100


def job_name(cronjob: Obj, scheduled: datetime) -> str:
    return f"{cronjob['metadata']['name']}-{int(scheduled.timestamp()) // 60}"


def most_recent_schedule_time(cronjob: Obj, schedule: Schedule, now: datetime) -> tuple[datetime | None, int]:
    """The latest activation in (earliest, now] and how many were missed (mostRecentScheduleTime).

    `earliest` is the last schedule time, else the creation time, but never before
    now - startingDeadlineSeconds: starts too old to be made up are not even counted.
    """
    status = cronjob.get("status") or {}
    earliest = parse_time(status.get("lastScheduleTime")) or parse_time(cronjob["metadata"]["creationTimestamp"])
    assert earliest is not None
    deadline = cronjob["spec"].get("startingDeadlineSeconds")
    if deadline is not None:
        earliest = max(earliest, now - timedelta(seconds=deadline))
    latest, missed = None, 0
    t = schedule.next(earliest)
    while t is not None and t <= now:
        latest, missed = t, missed + 1
        if missed == MAX_MISSED_TIMES + 1 and now - t > t - earliest:
            # Too many to walk: resume one such span before now, which still holds the latest one.
            t = schedule.next(now - (t - earliest))
            continue
        t = schedule.next(t)
    return latest, missed


def job_from_template(cronjob: Obj, scheduled: datetime, location: Any) -> Obj:
    template = cronjob["spec"]["jobTemplate"]
    meta = copy.deepcopy(template.get("metadata") or {})
    meta.update(name=job_name(cronjob, scheduled), namespace=cronjob["metadata"]["namespace"],
                ownerReferences=[controller_ref(cronjob)])
    meta.setdefault("annotations", {})[SCHEDULED_TIMESTAMP_ANNOTATION] = \
        scheduled.astimezone(location).isoformat().replace("+00:00", "Z")
    return {"apiVersion": "batch/v1", "kind": "Job", "metadata": meta, "spec": copy.deepcopy(template.get("spec") or {})}


def job_reference(job: Obj) -> Obj:
    meta = job["metadata"]
    return {"kind": "Job", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"],
            "apiVersion": "batch/v1", "resourceVersion": meta.get("resourceVersion", "")}


CACHE_WAIT = 0.05  # seconds between looks at a cache that has not caught up with our own write


class CronJobController(Controller):
    name = "cronjob"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        self.recorder = ctx.recorder("cronjob-controller")
        self.cronjobs = self.informer(CRONJOBS, self.enqueue_handler())
        self.jobs = self.informer(JOBS, self.enqueue_handler(lambda j: owner_key(j, "CronJob")))
        self.jobs.indexer.add_indexer("controller-uid", controller_uid_index)
        # The resourceVersion of each CronJob's last status this controller wrote. A sync that runs
        # before the informer has delivered that write would read an older status.active (Replace
        # then deletes nothing; Forbid lets a second Job start): it waits for the cache instead.
        self._status_written: dict[str, int] = {}

    async def sync(self, key: str) -> None:
        cronjob = self.cronjobs.indexer.get(key)
        if cronjob is None or is_terminating(cronjob):
            self._status_written.pop(key, None)
            return
        if int(cronjob["metadata"]["resourceVersion"]) < self._status_written.get(key, 0):
            self.queue.add_after(key, CACHE_WAIT)
            return
        jobs = self.jobs.indexer.by_index("controller-uid", cronjob["metadata"]["uid"])
        status = copy.deepcopy(cronjob.get("status") or {})
        await self._reconcile_active(cronjob, jobs, status)
        await self._cleanup_finished(cronjob, jobs)
        if not cronjob["spec"].get("suspend"):
            await self._maybe_start(cronjob, jobs, status)
        if status != (cronjob.get("status") or {}):
            updated = await self.client.update(CRONJOBS, {**cronjob, "status": status}, subresource="status")
            self._status_written[key] = int(updated["metadata"]["resourceVersion"])

    async def _reconcile_active(self, cronjob: Obj, jobs: list[Obj], status: Obj) -> None:
        """status.active = the unfinished Jobs; report finished and vanished ones as upstream does."""
        by_uid = {j["metadata"]["uid"]: j for j in jobs}
        active: list[Obj] = []
        for ref in status.get("active") or []:
            job = by_uid.get(ref.get("uid")) or await self._get_job(ref)
            if job is None:
                await self.recorder.event(cronjob, "Normal", "MissingJob", f"Active job went missing: {ref['name']}")
                continue
            condition = finished_condition(job)
            if condition is None:
                active.append(ref)
                continue
            await self.recorder.event(cronjob, "Normal", "SawCompletedJob",
                                      f"Saw completed job: {ref['name']}, condition: {condition['type']}")
            completed = (job.get("status") or {}).get("completionTime")
            if condition["type"] == "Complete" and completed and \
                    completed > (status.get("lastSuccessfulTime") or ""):
                status["lastSuccessfulTime"] = completed
        known = {ref["uid"] for ref in active}
        active.extend(job_reference(j) for j in jobs if finished_condition(j) is None
                      and j["metadata"]["uid"] not in known and not is_terminating(j))
        if active:
            status["active"] = active
        else:
            status.pop("active", None)

    async def _get_job(self, ref: Obj) -> Obj | None:
        """A Job the cache does not hold (yet), asked of the API server, as upstream does before it
        calls an active Job missing: a slow watch must not make a running Job look gone."""
        try:
            job = await self.client.get(JOBS, ref["name"], ref["namespace"])
        except StatusError as e:
            if e.code == 404:
                return None
            raise
        return job if job["metadata"]["uid"] == ref.get("uid") else None

    async def _maybe_start(self, cronjob: Obj, jobs: list[Obj], status: Obj) -> None:
        try:
            schedule = parse_schedule(cronjob["spec"]["schedule"], cronjob["spec"].get("timeZone"))
        except (ScheduleError, ValueError) as e:
            await self.recorder.event(cronjob, "Warning", "UnparseableSchedule",
                                      f"unparseable schedule: {cronjob['spec']['schedule']!r} : {e}")
            return
        now = self.now()
        scheduled, missed = most_recent_schedule_time(cronjob, schedule, now)
        self._requeue_at_next(cronjob, schedule, now)
        if scheduled is None:
            return
        if missed > MAX_MISSED_TIMES:
            await self.recorder.event(cronjob, "Warning", "TooManyMissedTimes",
                                      f"too many missed start times: {missed}. Set or decrease "
                                      ".spec.startingDeadlineSeconds or check clock skew")
        deadline = cronjob["spec"].get("startingDeadlineSeconds")
        if deadline is not None and scheduled + timedelta(seconds=deadline) < now:
            await self.recorder.event(cronjob, "Warning", "MissSchedule",
                                      f"Missed scheduled time to start a job: {rfc3339(scheduled)}")
            return
        name = job_name(cronjob, scheduled)
        if any(j["metadata"]["name"] == name for j in jobs):
            return  # this activation already has its Job
        policy = cronjob["spec"].get("concurrencyPolicy", "Allow")
        if policy == "Forbid" and status.get("active"):
            await self.recorder.event(cronjob, "Normal", "JobAlreadyActive",
                                      "Not starting job because prior execution is running and concurrency "
                                      "policy is Forbid")
            return
        if policy == "Replace":
            for ref in status.get("active") or []:
                await self._delete_job(cronjob, ref["name"])
            status.pop("active", None)
        await self._create_job(cronjob, scheduled, schedule, status)

    def _requeue_at_next(self, cronjob: Obj, schedule: Schedule, now: datetime) -> None:
        following = schedule.next(now)
        if following is not None:
            self.queue.add_after(object_key(cronjob), (following - now).total_seconds() + 0.1)

    async def _create_job(self, cronjob: Obj, scheduled: datetime, schedule: Schedule, status: Obj) -> None:
        job = job_from_template(cronjob, scheduled, schedule.location)
        try:
            created = await self.client.create(JOBS, job, cronjob["metadata"]["namespace"])
        except StatusError as e:
            if e.code == 409:
                return  # created by an earlier sync whose cache entry has not arrived yet
            await self.recorder.event(cronjob, "Warning", "FailedCreate", f"Error creating job: {e.message}")
            raise
        await self.recorder.event(cronjob, "Normal", "SuccessfulCreate", f"Created job {created['metadata']['name']}")
        status.setdefault("active", []).append(job_reference(created))
        status["lastScheduleTime"] = rfc3339(scheduled)

    async def _cleanup_finished(self, cronjob: Obj, jobs: list[Obj]) -> None:
        """Keep successfulJobsHistoryLimit Complete and failedJobsHistoryLimit Failed Jobs, newest first."""
        spec = cronjob["spec"]
        for type_, limit in (("Complete", spec.get("successfulJobsHistoryLimit", 3)),
                             ("Failed", spec.get("failedJobsHistoryLimit", 1))):
            finished = [j for j in jobs if (finished_condition(j) or {}).get("type") == type_ and not is_terminating(j)]
            finished.sort(key=lambda j: (j.get("status") or {}).get("startTime") or j["metadata"]["creationTimestamp"])
            for job in finished[:max(0, len(finished) - limit)]:
                await self._delete_job(cronjob, job["metadata"]["name"])

    async def _delete_job(self, cronjob: Obj, name: str) -> None:
        try:
            await self.client.delete(JOBS, name, cronjob["metadata"]["namespace"], propagation_policy="Background")
        except StatusError as e:
            if e.code == 404:
                return
            await self.recorder.event(cronjob, "Warning", "FailedDelete", f"Deleted job: {e.message}")
            raise
        await self.recorder.event(cronjob, "Normal", "SuccessfulDelete", f"Deleted job {name}")
