"""Leader election on a coordination.k8s.io/v1 Lease (k8s.io/client-go/tools/leaderelection).

Several instances of a component may run; only the holder of the Lease acts (seed 002's high
availability). The holder renews `spec.renewTime` every `retry_period`; a candidate takes the
Lease over once it has seen the record unchanged for `leaseDurationSeconds` by its own clock (upstream's
observedTime: neither clock skew nor a holder that stamped renewTime and then stalled can make a live
Lease look expired). Every write is a
compare-and-swap on the Lease's resourceVersion, so two candidates can never both win. A leader
that cannot renew within `renew_deadline` stops leading (its work is cancelled) before anyone
else can have taken over.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from kinn.api.errors import StatusError
from kinn.api.timestamps import micro_time
from kinn.client.rest import REQUEST_ERRORS, Client, resource

log = logging.getLogger("kinn.client.leaderelection")
LEASES = resource("coordination.k8s.io/v1", "leases")


@dataclass(frozen=True)
class LeaderElectionTimings:
    """The `--leader-elect-*` durations of component-base's LeaderElectionConfiguration (upstream defaults).

    A successor waits up to `lease_duration` after a leader dies; tests shorten all three.
    """

    lease_duration: float = 15.0
    renew_deadline: float = 10.0
    retry_period: float = 2.0


class LeaderElector:
    def __init__(
        self, client: Client, name: str, identity: str, namespace: str = "kube-system",
        lease_duration: float = LeaderElectionTimings.lease_duration,
        renew_deadline: float = LeaderElectionTimings.renew_deadline,
        retry_period: float = LeaderElectionTimings.retry_period,
    ) -> None:
        self.client = client
        self.name, self.namespace, self.identity = name, namespace, identity
        self.lease_duration, self.renew_deadline, self.retry_period = lease_duration, renew_deadline, retry_period
        self.is_leader = False
        self._observed_spec: dict[str, Any] | None = None
        self._observed_at = 0.0  # loop time at which _observed_spec was first seen

    @classmethod
    def with_timings(cls, client: Client, name: str, identity: str,
                     timings: LeaderElectionTimings | None = None) -> "LeaderElector":
        """An elector on `kube-system/{name}` with the component's `--leader-elect-*` timings."""
        timings = timings or LeaderElectionTimings()
        return cls(client, name, identity, lease_duration=timings.lease_duration,
                   renew_deadline=timings.renew_deadline, retry_period=timings.retry_period)

    async def run(self, lead: Callable[[], Awaitable[None]]) -> None:
        """Wait to become leader, run `lead()` while leading; return when leadership is lost.

        If `lead()` fails, the failure propagates: a component whose work crashed must not keep
        holding (or re-taking) the lease while doing nothing, which is why upstream exits then.
        """
        while not await self._try_acquire_or_renew():
            await asyncio.sleep(self.retry_period)
        log.info("%s: %s became leader", self.name, self.identity)
        self.is_leader = True
        work = asyncio.create_task(lead())
        try:
            await self._renew_until_lost(work)
        finally:
            self.is_leader = False
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
        if not work.cancelled() and work.exception() is not None:
            raise work.exception()  # type: ignore[misc]

    async def _renew_until_lost(self, work: asyncio.Task[None]) -> None:
        loop = asyncio.get_running_loop()
        last_renew = loop.time()
        while not work.done():
            await asyncio.sleep(self.retry_period)
            attempt = loop.time()  # the renewal is stamped before its round trip: count from here
            if await self._try_acquire_or_renew():
                last_renew = attempt
            elif asyncio.get_running_loop().time() - last_renew > self.renew_deadline:
                log.warning("%s: %s lost the lease", self.name, self.identity)
                return

    async def release(self) -> None:
        """Give the lease up on a clean shutdown so a successor need not wait for expiry."""
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except (StatusError, *REQUEST_ERRORS):
            return
        if lease.get("spec", {}).get("holderIdentity") == self.identity:
            lease["spec"]["holderIdentity"] = None
            lease["spec"]["leaseDurationSeconds"] = 1
            try:
                await self.client.update(LEASES, lease)
            except (StatusError, *REQUEST_ERRORS):
                pass

    async def _try_acquire_or_renew(self) -> bool:
        now = datetime.now(timezone.utc)
        try:
            lease = await self.client.get(LEASES, self.name, self.namespace)
        except StatusError as e:
            if e.code != 404:
                return False
            return await self._create(now)
        except REQUEST_ERRORS:
            return False
        spec: dict[str, Any] = lease.setdefault("spec", {})
        holder = spec.get("holderIdentity")
        if holder and holder != self.identity and self._observed_valid(spec):
            return False  # someone else holds a live lease
        if holder != self.identity:
            spec["acquireTime"] = micro_time(now)
            spec["leaseTransitions"] = spec.get("leaseTransitions", 0) + 1  # any change of holder counts
        spec.update(holderIdentity=self.identity, leaseDurationSeconds=int(self.lease_duration),
                    renewTime=micro_time(now))
        try:
            await self.client.update(LEASES, lease)  # carries resourceVersion: a lost race is a 409
        except (StatusError, *REQUEST_ERRORS):
            return False
        return True

    def _observed_valid(self, spec: dict[str, Any]) -> bool:
        """Whether the record, as observed, is still within its lease duration (upstream isLeaseValid)."""
        loop_now = asyncio.get_running_loop().time()
        if spec != self._observed_spec:
            self._observed_spec, self._observed_at = dict(spec), loop_now
        duration = spec.get("leaseDurationSeconds") or self.lease_duration
        return self._observed_at + duration > loop_now

    async def _create(self, now: datetime) -> bool:
        lease = {
            "apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
            "metadata": {"name": self.name, "namespace": self.namespace},
            "spec": {"holderIdentity": self.identity, "leaseDurationSeconds": int(self.lease_duration),
                     "acquireTime": micro_time(now), "renewTime": micro_time(now), "leaseTransitions": 0},
        }
        try:
            await self.client.create(LEASES, lease)
        except (StatusError, *REQUEST_ERRORS):
            return False
        return True
