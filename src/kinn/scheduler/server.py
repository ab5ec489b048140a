"""Running the scheduler (cmd/kube-scheduler/app/server.go): informers, the loop, leader election.

Only the holder of the `kube-system/kube-scheduler` Lease schedules, so two instances can run and
only one binds (seed 002's high availability); the other takes over when the Lease expires.
"""

from __future__ import annotations

import logging
import socket
import uuid

from kinn.client.informer import run_over_informers
from kinn.client.leaderelection import LeaderElectionTimings, LeaderElector
from kinn.client.rest import Client
from kinn.scheduler.scheduler import Scheduler, SchedulerOptions

log = logging.getLogger("kinn.scheduler")
LEASE_NAME = "kube-scheduler"

__all__ = ["LEASE_NAME", "SchedulerOptions", "run_scheduler", "schedule"]


async def schedule(client: Client, options: SchedulerOptions) -> None:
    """Schedule until cancelled, over fresh informers (a new leader starts from a fresh list, as upstream)."""
    await run_over_informers(client, lambda factory: Scheduler(client, factory, options))


async def run_scheduler(client: Client, options: SchedulerOptions | None = None, leader_elect: bool = True,
                        identity: str = "", timings: LeaderElectionTimings | None = None) -> None:
    options = options or SchedulerOptions()
    if not leader_elect:
        await schedule(client, options)
        return
    identity = identity or f"{socket.gethostname()}_{uuid.uuid4()}"
    elector = LeaderElector.with_timings(client, LEASE_NAME, identity, timings)
    while True:
        await elector.run(lambda: schedule(client, options))
        log.warning("leader election lost; waiting to lead again")
