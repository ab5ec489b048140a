"""TTLAfterFinishedController: delete finished Jobs ttlSecondsAfterFinished after they finish
(pkg/controller/ttlafterfinished).

The finish time is the lastTransitionTime of the Complete or Failed condition. Before deleting, the
Job is read again from the API server, not the cache, so a TTL just extended by a user is honoured;
the deletion is Foreground with a UID precondition, so its pods go first and a same-named new Job
is never hit.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from kinn.api.errors import StatusError
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.job_util import finished_condition
from kinn.controllers.podutil import is_terminating, parse_time

Obj = dict[str, Any]
JOBS = resource("batch/v1", "jobs")


def expire_at(job: Obj) -> datetime | None:
    """When a finished Job with a TTL expires; None if it has no TTL or has not finished."""
    ttl = job.get("spec", {}).get("ttlSecondsAfterFinished")
    condition = finished_condition(job)
    if ttl is None or condition is None or is_terminating(job):
        return None
    finished = parse_time(condition.get("lastTransitionTime"))
    return finished + timedelta(seconds=ttl) if finished else None


class TTLAfterFinishedController(Controller):
    name = "ttl-after-finished"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.now: Callable[[], datetime] = lambda: datetime.now(timezone.utc)
        self.jobs = self.informer(JOBS, self.enqueue_handler())

    async def sync(self, key: str) -> None:
        job = self.jobs.indexer.get(key)
        if job is None or (expiry := expire_at(job)) is None:
            return
        remaining = (expiry - self.now()).total_seconds()
        if remaining > 0:
            self.queue.add_after(key, remaining)
            return
        namespace, name = job["metadata"]["namespace"], job["metadata"]["name"]
        try:
            fresh = await self.client.get(JOBS, name, namespace)
            fresh_expiry = expire_at(fresh)
            if fresh_expiry is None or fresh_expiry > self.now():
                self.queue.add(key)  # the TTL changed under us: judge the fresh object
                return
            self.log.info("cleaning up job %s", key)
            await self.client.delete(JOBS, name, namespace, propagation_policy="Foreground",
                                     preconditions={"uid": fresh["metadata"]["uid"]})
        except StatusError as e:
            if e.code not in (404, 409):
                raise
