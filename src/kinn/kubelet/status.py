"""Pod status as the kubelet reports it: phase, conditions, container statuses, IPs (status_manager.go).

The pod worker keeps one ContainerRecord per container; `pod_status` turns those records into the
API's PodStatus, and `StatusManager` writes it through the status subresource only when it
differs from what was last written, keeping each condition's lastTransitionTime while its status
stays the same.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable, Protocol, Sequence

from kinn.api.errors import StatusError
from kinn.api.timestamps import now_rfc3339, rfc3339
from kinn.client.rest import Client, resource
from kinn.kubelet.runtime import ContainerExit, ContainerProcess

log = logging.getLogger("kinn.kubelet.status")
PODS = resource("v1", "pods")
CONTAINER_ID_SCHEME = "kinn://"
NEVER_STARTED = "1970-01-01T00:00:00Z"  # a zero start time, as the CRI's 0 reads in the API
INIT_CONTAINERS, CONTAINERS, EPHEMERAL_CONTAINERS = "initContainers", "containers", "ephemeralContainers"

Obj = dict[str, Any]


class ContainerProbes(Protocol):
    """What the prober says of a container's current run (prober_manager.UpdatePodStatus)."""

    def started(self, record: ContainerRecord) -> bool: ...

    def ready(self, record: ContainerRecord) -> bool: ...


@dataclass
class ContainerRecord:
    """What the kubelet knows about one container of a pod across its restarts."""

    name: str
    image: str
    image_id: str = ""
    process: ContainerProcess | None = None
    exit: ContainerExit | None = None  # the current run's end, while it is not restarted
    last_terminated: Obj | None = None  # lastState.terminated: the previous run's end
    previous: ContainerProcess | None = None  # that run, kept as the runtime keeps one dead container
    restart_count: int = 0
    waiting_reason: str = "ContainerCreating"
    waiting_message: str = ""
    sidecar: bool = False  # a restartable init container (kinn.api.sidecars)
    kind: str = CONTAINERS  # the pod spec's list it is in: INIT_CONTAINERS, CONTAINERS or EPHEMERAL_CONTAINERS

    @property
    def init(self) -> bool:
        return self.kind == INIT_CONTAINERS

    @property
    def field_path(self) -> str:
        """Where the container is in the pod, as events name it (`spec.containers{app}`)."""
        return f"spec.{self.kind}{{{self.name}}}"

    @property
    def running(self) -> bool:
        return self.process is not None and self.exit is None

    @property
    def ever_ran(self) -> bool:
        return self.process is not None or self.exit is not None or self.last_terminated is not None

    def terminated_state(self) -> Obj | None:
        """state.terminated for the current run, if it ended; one that never started shows the
        zero start time, as the kubelet reports a container the runtime could not start."""
        if self.exit is None:
            return None
        state: Obj = {"exitCode": self.exit.exit_code, "reason": self.exit.reason,
                      "startedAt": rfc3339(self.process.started_at) if self.process else NEVER_STARTED,
                      "finishedAt": rfc3339(self.exit.finished_at)}
        if self.exit.message:
            state["message"] = self.exit.message
        if self.process is not None:
            state["containerID"] = CONTAINER_ID_SCHEME + self.process.id
        return state

    def will_restart(self, reason: str, message: str) -> None:
        """The ended run becomes lastState; the container waits (e.g. in CrashLoopBackOff) to run again."""
        self.last_terminated = self.terminated_state()
        self.previous = self.process
        self.process, self.exit = None, None
        self.waiting_reason, self.waiting_message = reason, message

    def started(self, process: ContainerProcess) -> None:
        """A new run began; every run after the first counts as a restart."""
        self._new_run()
        self.process, self.exit = process, None

    def failed_to_start(self, message: str) -> None:
        """A new run whose process could not be started (runc's StartError): it ends at once with
        exit code 128 and counts as a run, so the restart policy, back-off and the pod's phase
        treat it as any other failed run (a Job with a mistyped command fails)."""
        self._new_run()
        self.exit = ContainerExit(128, "StartError", datetime.now(timezone.utc), message)

    def _new_run(self) -> None:
        """Every run after the first counts as a restart, and none waits any more."""
        if self.last_terminated is not None:
            self.restart_count += 1
        self.waiting_reason, self.waiting_message = "", ""

    def state(self) -> Obj:
        if self.running:
            assert self.process is not None
            return {"running": {"startedAt": rfc3339(self.process.started_at)}}
        terminated = self.terminated_state()
        if terminated is not None:
            return {"terminated": terminated}
        waiting = {"reason": self.waiting_reason}
        if self.waiting_message:
            waiting["message"] = self.waiting_message
        return {"waiting": waiting}

    def status(self, probes: ContainerProbes) -> Obj:
        """The container's status; an init container (not a sidecar) is ready once it succeeded, as
        the prober manager reports it. The prober knows nothing of ephemeral containers: never ready,
        and no `started`."""
        out: Obj = {"name": self.name, "image": self.image, "imageID": self.image_id, "state": self.state(),
                    "lastState": {"terminated": self.last_terminated} if self.last_terminated else {},
                    "ready": False, "restartCount": self.restart_count}
        if self.kind != EPHEMERAL_CONTAINERS:
            out["ready"] = _terminated_ok(self) if self.init and not self.sidecar else probes.ready(self)
            out["started"] = probes.started(self)
        if self.process is not None:
            out["containerID"] = CONTAINER_ID_SCHEME + self.process.id
        elif self.last_terminated and "containerID" in self.last_terminated:
            out["containerID"] = self.last_terminated["containerID"]
        return out


def _terminated_ok(record: ContainerRecord) -> bool:
    return record.exit is not None and record.exit.exit_code == 0


def _initialized(record: ContainerRecord) -> bool:
    """An init container's part is done: it succeeded, or (a sidecar) it has run; a sidecar that
    exits later is restarted, and the pod stays initialized."""
    return record.ever_ran if record.sidecar else _terminated_ok(record)


def pod_phase(pod: Obj, init: list[ContainerRecord], containers: list[ContainerRecord]) -> str:
    """getPhase: Pending until init containers succeeded (sidecars: started) and every container ran
    once; then Running while any runs (or will be restarted); Succeeded/Failed once all ended for
    good. Sidecars do not count after initialization: a Job's pod is done when its containers are."""
    policy = pod["spec"].get("restartPolicy", "Always")
    if any(not _initialized(record) for record in init):
        failed_init = any(record.exit is not None and record.exit.exit_code != 0 and not record.sidecar
                          for record in init)
        return "Failed" if failed_init and policy == "Never" else "Pending"
    if any(record.process is None and record.exit is None and record.last_terminated is None for record in containers):
        return "Pending"
    if any(record.running for record in containers):
        return "Running"
    ended = [record for record in containers if record.exit is not None]
    if len(ended) < len(containers) or policy == "Always":
        return "Running"  # waiting to be restarted
    if all(record.exit.exit_code == 0 for record in ended):  # type: ignore[union-attr]
        return "Succeeded"
    return "Failed" if policy == "Never" else "Running"


def _condition(kind: str, ok: bool, reason: str = "", message: str = "") -> Obj:
    condition: Obj = {"type": kind, "status": "True" if ok else "False", "lastProbeTime": None}
    if not ok and reason:
        condition["reason"] = reason
    if not ok and message:
        condition["message"] = message
    return condition


def pod_conditions(phase: str, sandbox_ready: bool, init: list[ContainerRecord], containers: list[ContainerRecord],
                   probes: ContainerProbes) -> list[Obj]:
    """PodReadyToStartContainers, Initialized, ContainersReady and Ready (PodScheduled is the scheduler's)."""
    incomplete = [record.name for record in init if not _initialized(record)]
    unready = [record.name for record in [*(r for r in init if r.sidecar), *containers] if not probes.ready(record)]
    if phase == "Succeeded" or (phase == "Failed" and not incomplete):
        ready_reason, ready_message = "PodCompleted", ""
    else:
        ready_reason, ready_message = "ContainersNotReady", f"containers with unready status: [{' '.join(unready)}]"
    init_reason = "PodCompleted" if phase in ("Succeeded", "Failed") and not incomplete else "ContainersNotInitialized"
    return [
        _condition("PodReadyToStartContainers", sandbox_ready),
        _condition("Initialized", not incomplete, init_reason,
                   f"containers with incomplete status: [{' '.join(incomplete)}]" if incomplete else ""),
        _condition("Ready", not unready and phase == "Running", ready_reason, ready_message),
        _condition("ContainersReady", not unready and phase == "Running", ready_reason, ready_message),
    ]


def pod_status(pod: Obj, *, host_ip: str, pod_ips: list[str], start_time: str, sandbox_ready: bool,
               init: list[ContainerRecord], containers: list[ContainerRecord], probes: ContainerProbes,
               ephemeral: Sequence[ContainerRecord] = ()) -> Obj:
    """The complete PodStatus the kubelet reports for this pod now. Ephemeral containers have their
    statuses but no say in the phase or the conditions."""
    phase = pod_phase(pod, init, containers)
    # The scheduler's condition if it set one; the kubelet reports a pod it runs as scheduled anyway
    # (static pods, pods created with spec.nodeName), as generateAPIPodStatus does. A copy: the pod
    # is the informer's, read-only and its conditions shared with other pods, and the status
    # manager stamps a transition time on the status it writes.
    reported = (pod.get("status") or {}).get("conditions") or []
    scheduled = [dict(c) for c in reported if c.get("type") == "PodScheduled"] or [_condition("PodScheduled", True)]
    conditions = pod_conditions(phase, sandbox_ready, init, containers, probes)
    status: Obj = {"phase": phase, "conditions": conditions + scheduled,
                   "hostIP": host_ip, "hostIPs": [{"ip": host_ip}], "startTime": start_time,
                   "containerStatuses": [record.status(probes) for record in containers],
                   "qosClass": (pod.get("status") or {}).get("qosClass")}
    if init:
        status["initContainerStatuses"] = [record.status(probes) for record in init]
    if ephemeral:
        status["ephemeralContainerStatuses"] = [record.status(probes) for record in ephemeral]
    if pod_ips:
        status["podIP"], status["podIPs"] = pod_ips[0], [{"ip": ip} for ip in pod_ips]
    return {key: value for key, value in status.items() if value is not None}


class StatusManager:
    """Writes pod statuses through `pods/status`, skipping writes that would change nothing.

    `translate_uid` names the API object a pod's status goes to: its own UID, or for a static pod
    its mirror pod's (None while it has none); a new mirror gets the whole status again.
    """

    def __init__(self, client: Client, translate_uid: Callable[[str], str | None] = lambda uid: uid) -> None:
        self.client = client
        self.translate_uid = translate_uid
        self._written: dict[str, tuple[str, Obj]] = {}  # pod UID → (API object's UID, status written)

    def _with_transition_times(self, uid: str, status: Obj) -> Obj:
        """Keep lastTransitionTime for conditions whose status did not change, stamp the others now."""
        previous = {c["type"]: c for c in self._written.get(uid, ("", {}))[1].get("conditions", [])}
        stamp = now_rfc3339()
        for condition in status["conditions"]:
            if "lastTransitionTime" in condition and condition["type"] == "PodScheduled":
                continue
            old = previous.get(condition["type"])
            same = old is not None and old["status"] == condition["status"]
            condition["lastTransitionTime"] = old["lastTransitionTime"] if same else stamp
        return status

    async def set_status(self, pod: Obj, status: Obj) -> None:
        meta = pod["metadata"]
        api_uid = self.translate_uid(meta["uid"])
        if api_uid is None:
            return
        status = self._with_transition_times(meta["uid"], status)
        if self._written.get(meta["uid"]) == (api_uid, status):
            return
        try:
            await self.client.patch(PODS, meta["name"], {"metadata": {"uid": api_uid}, "status": status},
                                    meta["namespace"], subresource="status")
        except StatusError as error:
            if error.code not in (404, 409):
                raise
            log.info("%s/%s: status not written: %s", meta["namespace"], meta["name"], error.message)
            return
        self._written[meta["uid"]] = (api_uid, status)

    def forget(self, uid: str) -> None:
        self._written.pop(uid, None)
