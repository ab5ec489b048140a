"""Container probes (upstream pkg/kubelet/prober): liveness, readiness and startup.

Every probe of every container gets a worker, an asyncio task that wakes each periodSeconds and
probes the container's current run. Only successThreshold successes or failureThreshold failures
in a row change the result the kubelet acts on, and each new run starts over from the initial
results: readiness Failure (not ready until its first success), liveness Success, startup Unknown.
Until a startup probe succeeded neither liveness nor readiness runs. Any change of a result wakes
the pod worker: a liveness or startup Failure makes it kill and restart the container (the worker
then holds until it sees the next run), a readiness change makes it write the container's `ready`
and the pod's Ready and ContainersReady conditions.
"""

from __future__ import annotations

import asyncio
import logging
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Protocol

from kinn.api.sidecars import is_sidecar
from kinn.client.events import EventRecorder
from kinn.kubelet import envvars
from kinn.kubelet.actions import (ActionError, ActionResult, Outcome, exec_probe, format_pod, http_get_request,
                                  http_probe, resolve_container_port, tcp_probe)
from kinn.kubelet.runtime import ContainerProcess
from kinn.kubelet.status import ContainerRecord, pod_phase

log = logging.getLogger("kinn.kubelet.prober")
MAX_PROBE_RETRIES = 3  # attempts of a probe that errors (not of one that fails)

Obj = dict[str, Any]


class ProbeType(Enum):
    LIVENESS = "Liveness"
    READINESS = "Readiness"
    STARTUP = "Startup"

    @property
    def field(self) -> str:
        """The container field that declares it: livenessProbe, readinessProbe, startupProbe."""
        return f"{self.value.lower()}Probe"


class Result(Enum):
    """results.Result: what the kubelet acts on, after the thresholds."""

    SUCCESS = "Success"
    FAILURE = "Failure"
    UNKNOWN = "Unknown"


INITIAL_RESULT = {ProbeType.LIVENESS: Result.SUCCESS, ProbeType.READINESS: Result.FAILURE,
                  ProbeType.STARTUP: Result.UNKNOWN}


@dataclass(frozen=True)
class ProbeSpec:
    """A v1.Probe with the API's defaults for what a manifest left out."""

    handler: Obj
    initial_delay: int = 0
    period: int = 10
    timeout: int = 1
    success_threshold: int = 1
    failure_threshold: int = 3
    termination_grace_period: int | None = None

    @classmethod
    def from_api(cls, probe: Obj) -> ProbeSpec:
        return cls(handler=probe, initial_delay=probe.get("initialDelaySeconds", 0),
                   period=probe.get("periodSeconds", 10), timeout=probe.get("timeoutSeconds", 1),
                   success_threshold=probe.get("successThreshold", 1),
                   failure_threshold=probe.get("failureThreshold", 3),
                   termination_grace_period=probe.get("terminationGracePeriodSeconds"))


@dataclass
class ResultRun:
    """A worker's count of equal results in a row (worker.go's lastResult, resultRun and onHold)."""

    probe_type: ProbeType
    spec: ProbeSpec
    last: Result = Result.UNKNOWN
    run: int = 0
    on_hold: bool = False

    def observe(self, result: Result) -> bool:
        """Count `result`; True once it has held for its threshold and becomes the container's result.

        A liveness or startup Failure puts the worker on hold: the container is about to be killed,
        and probing it meanwhile could only repeat the verdict.
        """
        if result is self.last:
            self.run += 1
        else:
            self.last, self.run = result, 1
        if (result is Result.FAILURE and self.run < self.spec.failure_threshold) or \
                (result is Result.SUCCESS and self.run < self.spec.success_threshold):
            return False
        if result is Result.FAILURE and self.probe_type is not ProbeType.READINESS:
            self.on_hold, self.run = True, 0
        return True


def static_environment(container: Obj) -> dict[str, str]:
    """ExpandContainerCommandOnlyStatic's variables: only `value`s, so an exec probe sees no downward API."""
    return {var["name"]: var.get("value", "") for var in container.get("env") or []}


async def run_probe(spec: ProbeSpec, pod: Obj, container: Obj, process: ContainerProcess, pod_ip: str) -> ActionResult:
    """runProbe: the probe's one action, with its timeoutSeconds; raises ActionError if it cannot run."""
    action, timeout = spec.handler, float(spec.timeout)
    if action.get("exec") is not None:
        env = static_environment(container)
        command = [envvars.expand(arg, env) for arg in action["exec"].get("command") or []]
        return await exec_probe(process, command, timeout)
    if action.get("httpGet") is not None:
        return await http_probe(http_get_request(action["httpGet"], container, pod_ip, "probe"), timeout)
    if action.get("tcpSocket") is not None:
        socket_action = action["tcpSocket"]
        port = resolve_container_port(socket_action.get("port"), container)
        return await tcp_probe(socket_action.get("host") or pod_ip, port, timeout)
    if action.get("grpc") is not None:
        raise ActionError("grpc probes are not supported by kinn (no gRPC health client in the kubelet)")
    raise ActionError(f"missing probe handler for {format_pod(pod)}:{container['name']}")


class Prober:
    """prober.go: runs one probe and reports what it found as events (Unhealthy, ProbeWarning)."""

    def __init__(self, recorder: EventRecorder) -> None:
        self.recorder = recorder

    async def probe(self, probe_type: ProbeType, spec: ProbeSpec, pod: Obj, container: Obj,
                    process: ContainerProcess, pod_ip: str, field_path: str = "") -> Result | None:
        """The probe's verdict, or None when it errored (the worker throws such a run away); its
        events are about the container at `field_path`."""
        error: ActionError | None = None
        for _ in range(MAX_PROBE_RETRIES):
            try:
                found = await run_probe(spec, pod, container, process, pod_ip)
                break
            except ActionError as caught:
                error = caught
        else:
            await self.recorder.event(pod, "Warning", "Unhealthy", f"{probe_type.value} probe errored and resulted "
                                      f"in {Outcome.UNKNOWN.value} state: {error}", field_path)
            return None
        if found.outcome is Outcome.SUCCESS:
            return Result.SUCCESS
        if found.outcome is Outcome.WARNING:
            await self.recorder.event(pod, "Warning", "ProbeWarning",
                                      f"{probe_type.value} probe warning: {found.output}", field_path)
            return Result.SUCCESS
        if found.outcome is Outcome.FAILURE:
            log.info("%s: %s probe of %s failed: %s", format_pod(pod), probe_type.value, container["name"],
                     found.output)
            await self.recorder.event(pod, "Warning", "Unhealthy", f"{probe_type.value} probe failed: {found.output}",
                                      field_path)
        return Result.FAILURE


class ProbeTarget(Protocol):
    """What a worker reads of its pod; the PodWorker is one."""

    pod: Obj
    pod_ips: list[str]
    init: list[ContainerRecord]
    containers: list[ContainerRecord]

    def wake(self) -> None: ...


class PodProbes:
    """One pod's probe workers and the results they publish (prober_manager and results_manager).

    Results are kept per container ID, i.e. per run, so a restarted container starts from the
    initial results while its previous run's verdicts are forgotten.
    """

    def __init__(self, target: ProbeTarget, prober: Prober) -> None:
        self.target = target
        self.prober = prober
        self._workers: dict[tuple[str, ProbeType], ProbeWorker] = {}
        self._results: dict[tuple[ProbeType, str], Result] = {}

    def start(self) -> None:
        """AddPod: a worker for every probe the pod's containers and sidecars declare."""
        spec = self.target.pod["spec"]
        for container in [*(c for c in spec.get("initContainers") or [] if is_sidecar(c)), *spec["containers"]]:
            for probe_type in ProbeType:
                if container.get(probe_type.field) is not None:
                    self._workers[(container["name"], probe_type)] = ProbeWorker(self, container, probe_type)

    def stop(self, *probe_types: ProbeType) -> None:
        """StopLivenessAndStartup / RemovePod: the workers of these kinds end at their next wait."""
        for (_, probe_type), worker in list(self._workers.items()):
            if probe_type in probe_types:
                worker.stop()

    def set_result(self, probe_type: ProbeType, container_id: str, result: Result) -> None:
        """results_manager.Set: a change wakes the pod worker, which acts on it."""
        key = (probe_type, container_id)
        if self._results.get(key) is not result:
            self._results[key] = result
            self.target.wake()

    def worker_done(self, worker: ProbeWorker) -> None:
        key = (worker.container["name"], worker.probe_type)
        if self._workers.get(key) is worker:
            del self._workers[key]
        self._results.pop((worker.probe_type, worker.container_id), None)

    def started(self, record: ContainerRecord) -> bool:
        """isContainerStarted: running, and its startup probe (if any) has succeeded."""
        if not record.running:
            return False
        assert record.process is not None
        result = self._results.get((ProbeType.STARTUP, record.process.id))
        if result is not None:
            return result is Result.SUCCESS
        return (record.name, ProbeType.STARTUP) not in self._workers

    def ready(self, record: ContainerRecord) -> bool:
        """A started container is ready without a readiness probe, else once the probe succeeded; until
        then its worker is asked to probe now rather than at its next period (UpdatePodStatus)."""
        if not self.started(record):
            return False
        assert record.process is not None
        if self._results.get((ProbeType.READINESS, record.process.id)) is Result.SUCCESS:
            return True
        worker = self._workers.get((record.name, ProbeType.READINESS))
        if worker is None:
            return True
        worker.trigger()
        return False

    def failed(self, record: ContainerRecord) -> ProbeType | None:
        """The liveness or startup probe whose Failure means this run must be killed (computePodActions)."""
        if not record.running:
            return None
        assert record.process is not None
        return next((probe_type for probe_type in (ProbeType.LIVENESS, ProbeType.STARTUP)
                     if self._results.get((probe_type, record.process.id)) is Result.FAILURE), None)


def kill_message(container: str, probe_type: ProbeType, restart: bool) -> str:
    """The Killing event's text for a container that failed its liveness or startup probe."""
    message = f"Container {container} failed {probe_type.value.lower()} probe"
    return f"{message}, will be restarted" if restart else message


@dataclass
class Ticker:
    """Go's time.Ticker as worker.go reads it: a tick every period from the worker's start, which a
    manual trigger does not move (a probe run early by a trigger is followed by the tick on the beat,
    not a whole period later); ticks that came while a probe was running are dropped but one, the
    channel's buffer, which is taken at once."""

    period: float
    due: float  # the next tick not yet taken

    def delay(self, now: float) -> float:
        """Seconds until the next tick; 0 if one is already due (it is taken now)."""
        if self.due > now:
            return self.due - now
        self.due += (math.floor((now - self.due) / self.period) + 1) * self.period
        return 0.0

    def ticked(self) -> None:
        """The wait ran until the tick: it is taken."""
        self.due += self.period


class ProbeWorker:
    """worker.go: probes one container with one probe every period until stopped or the pod is done."""

    def __init__(self, probes: PodProbes, container: Obj, probe_type: ProbeType) -> None:
        self.probes = probes
        self.container = container
        self.probe_type = probe_type
        self.spec = ProbeSpec.from_api(container[probe_type.field])
        self.run = ResultRun(probe_type, self.spec)
        self.container_id = ""
        self._stopped = False
        self._wakeup = asyncio.Event()
        self.task = asyncio.create_task(self._run(), name=f"probe-{probe_type.value.lower()}-{container['name']}")

    def trigger(self) -> None:
        """A manual run: the next wait ends at once (upstream's manualTriggerCh, one buffered)."""
        self._wakeup.set()

    def stop(self) -> None:
        self._stopped = True
        self._wakeup.set()

    async def _run(self) -> None:
        """Probe at each tick of a periodSeconds ticker, or at once on a manual trigger."""
        loop = asyncio.get_running_loop()
        ticker = Ticker(self.spec.period, loop.time() + self.spec.period)
        try:
            while not self._stopped and await self.do_probe():
                delay = ticker.delay(loop.time())
                if delay and not await self._wait(delay):
                    ticker.ticked()
        except Exception:  # a worker must not die silently: it would freeze its container's result
            log.exception("%s probe worker for %s failed", self.probe_type.value, self.container["name"])
        finally:
            self.probes.worker_done(self)

    async def _wait(self, delay: float) -> bool:
        """Wait `delay` seconds; True if a trigger (or stop) ended the wait early."""
        try:
            await asyncio.wait_for(self._wakeup.wait(), delay)
            woken = True
        except asyncio.TimeoutError:
            woken = False
        self._wakeup.clear()
        return woken

    def _record(self) -> ContainerRecord | None:
        target = self.probes.target
        return next((r for r in [*target.init, *target.containers] if r.name == self.container["name"]), None)

    async def do_probe(self) -> bool:
        """One tick (worker.doProbe); False ends the worker."""
        target = self.probes.target
        pod = target.pod
        if pod_phase(pod, target.init, target.containers) in ("Succeeded", "Failed"):
            return False
        record = self._record()
        if record is None or record.process is None:
            return True  # not created yet: wait for more information
        if record.process.id != self.container_id:
            self.container_id = record.process.id
            self.probes.set_result(self.probe_type, self.container_id, INITIAL_RESULT[self.probe_type])
            self.run.on_hold = False  # a new run: probe again
        if self.run.on_hold:
            return True
        if not record.running:
            self.probes.set_result(self.probe_type, self.container_id, Result.FAILURE)
            return record.sidecar or pod["spec"].get("restartPolicy", "Always") != "Never"  # or it will not run again
        if pod["metadata"].get("deletionTimestamp") and self.probe_type is not ProbeType.READINESS:
            self.probes.set_result(self.probe_type, self.container_id, Result.SUCCESS)  # a quiet shutdown
            return False
        if int((datetime.now(timezone.utc) - record.process.started_at).total_seconds()) < self.spec.initial_delay:
            return True
        started = self.probes.started(record)
        if started == (self.probe_type is ProbeType.STARTUP):
            return True  # the startup probe runs until the container started, the others only after
        result = await self.probes.prober.probe(self.probe_type, self.spec, pod, self.container, record.process,
                                                target.pod_ips[0] if target.pod_ips else "", record.field_path)
        if result is not None and self.run.observe(result):
            self.probes.set_result(self.probe_type, self.container_id, result)
        return True
