"""The pod table: READY, STATUS and RESTARTS computed as upstream's `printPod`.

STATUS is the single word users read first, so every rule of the upstream function is kept:
init containers (`Init:0/2`, `Init:CrashLoopBackOff`, `Init:ExitCode:1`), sidecars (restartable
init containers count towards READY), waiting/terminated reasons of app containers
(`ContainerCreating`, `CrashLoopBackOff`, `Completed`, `Error`), `SchedulingGated`,
`Terminating`, and `Unknown` for a pod being deleted off a lost node.
"""

from __future__ import annotations

from typing import Any, Mapping

from kinn.api.printers.columns import AGE, NAME, Column, Printer, printer
from kinn.api.sidecars import is_sidecar
from kinn.api.printers.format import NONE, Clock, name_of, human_duration, parse_time

# The status reason the node lifecycle controller sets on pods of an unreachable node.
NODE_UNREACHABLE_REASON = "NodeLost"

COLUMNS = (
    NAME,
    Column("Ready", doc="The aggregate readiness state of this pod for accepting traffic."),
    Column("Status", doc="The aggregate status of the containers in this pod."),
    Column("Restarts", doc="The number of times the containers in this pod have been restarted and when the last "
                           "container in this pod has restarted."),
    AGE,
    Column("IP", priority=1, doc=("PodStatus", "podIP")),
    Column("Node", priority=1, doc=("PodSpec", "nodeName")),
    Column("Nominated Node", priority=1, doc=("PodStatus", "nominatedNodeName")),
    Column("Readiness Gates", priority=1, doc=("PodSpec", "readinessGates")),
)

_SUCCEEDED = [{"type": "Completed", "status": "True", "reason": "Succeeded",
               "message": "The pod has completed successfully."}]
_FAILED = [{"type": "Completed", "status": "True", "reason": "Failed", "message": "The pod failed."}]


def _has_condition(status: Mapping[str, Any], kind: str) -> bool:
    return any(c.get("type") == kind and c.get("status") == "True" for c in status.get("conditions") or ())


def _last_termination(container_status: Mapping[str, Any]) -> float:
    terminated = (container_status.get("lastState") or {}).get("terminated")
    return (parse_time(terminated.get("finishedAt")) or 0.0) if terminated else 0.0


def _terminated_reason(terminated: Mapping[str, Any], prefix: str = "") -> str:
    if terminated.get("reason"):
        return prefix + terminated["reason"]
    if terminated.get("signal"):
        return f"{prefix}Signal:{terminated['signal']}"
    return f"{prefix}ExitCode:{terminated.get('exitCode', 0)}"


class _PodState:
    """The running totals `printPod` accumulates while it walks the container statuses."""

    __slots__ = ("reason", "ready", "restarts", "last_restart")

    def __init__(self, reason: str) -> None:
        self.reason = reason
        self.ready = 0
        self.restarts = 0
        self.last_restart = 0.0


def _walk_init_containers(pod: Mapping[str, Any], state: _PodState) -> tuple[bool, int, float]:
    """Returns (still initializing, sidecar restarts, sidecar last restart)."""
    spec_inits = (pod.get("spec") or {}).get("initContainers") or ()
    by_name = {c.get("name"): c for c in spec_inits}
    sidecar_restarts, sidecar_last = 0, 0.0
    for i, status in enumerate((pod.get("status") or {}).get("initContainerStatuses") or ()):
        count = status.get("restartCount", 0)
        finished = _last_termination(status)
        state.restarts += count
        state.last_restart = max(state.last_restart, finished)
        restartable = is_sidecar(by_name.get(status.get("name")))
        if restartable:
            sidecar_restarts += count
            sidecar_last = max(sidecar_last, finished)
        current = status.get("state") or {}
        terminated, waiting = current.get("terminated"), current.get("waiting")
        if terminated is not None and terminated.get("exitCode", 0) == 0:
            continue
        if restartable and status.get("started"):
            state.ready += 1 if status.get("ready") else 0
            continue
        if terminated is not None:
            state.reason = _terminated_reason(terminated, "Init:")
        elif waiting is not None and waiting.get("reason") and waiting["reason"] != "PodInitializing":
            state.reason = "Init:" + waiting["reason"]
        else:
            state.reason = f"Init:{i}/{len(spec_inits)}"
        return True, sidecar_restarts, sidecar_last
    return False, sidecar_restarts, sidecar_last


def _walk_containers(pod: Mapping[str, Any], state: _PodState) -> None:
    status = pod.get("status") or {}
    has_running = False
    # Upstream walks backwards, so the first container's reason wins.
    for container in reversed(status.get("containerStatuses") or ()):
        state.restarts += container.get("restartCount", 0)
        state.last_restart = max(state.last_restart, _last_termination(container))
        current = container.get("state") or {}
        waiting, terminated = current.get("waiting"), current.get("terminated")
        if waiting is not None and waiting.get("reason"):
            state.reason = waiting["reason"]
        elif terminated is not None:
            state.reason = _terminated_reason(terminated)
        elif container.get("ready") and current.get("running") is not None:
            has_running = True
            state.ready += 1
    # A completed container next to a running one leaves the pod Running (or NotReady).
    if state.reason == "Completed" and has_running:
        state.reason = "Running" if _has_condition(status, "Ready") else "NotReady"


def pod_status(pod: Mapping[str, Any]) -> _PodState:
    status = pod.get("status") or {}
    phase = status.get("phase", "")
    state = _PodState(status.get("reason") or phase)
    if any(c.get("type") == "PodScheduled" and c.get("reason") == "SchedulingGated"
           for c in status.get("conditions") or ()):
        state.reason = "SchedulingGated"
    initializing, sidecar_restarts, sidecar_last = _walk_init_containers(pod, state)
    if not initializing or _has_condition(status, "Initialized"):
        state.restarts, state.last_restart = sidecar_restarts, sidecar_last
        _walk_containers(pod, state)
    if (pod.get("metadata") or {}).get("deletionTimestamp"):
        if status.get("reason") == NODE_UNREACHABLE_REASON:
            state.reason = "Unknown"
        elif phase not in ("Succeeded", "Failed"):
            state.reason = "Terminating"
    return state


def _total_containers(spec: Mapping[str, Any]) -> int:
    return len(spec.get("containers") or ()) + sum(1 for c in spec.get("initContainers") or () if is_sidecar(c))


def _readiness_gates(pod: Mapping[str, Any]) -> str:
    gates = (pod.get("spec") or {}).get("readinessGates") or ()
    if not gates:
        return NONE
    conditions = {}
    for c in (pod.get("status") or {}).get("conditions") or ():
        conditions.setdefault(c.get("type"), c.get("status"))
    ready = sum(1 for g in gates if conditions.get(g.get("conditionType")) == "True")
    return f"{ready}/{len(gates)}"


def _pod_ip(status: Mapping[str, Any]) -> str:
    ips = status.get("podIPs") or ()
    return status.get("podIP") or (ips[0].get("ip") if ips else "") or NONE


def pod_row(pod: Mapping[str, Any], clock: Clock) -> list[Any]:
    state = pod_status(pod)
    spec, status = pod.get("spec") or {}, pod.get("status") or {}
    restarts = str(state.restarts)
    if state.restarts and state.last_restart:
        restarts = f"{state.restarts} ({human_duration(clock.now - state.last_restart)} ago)"
    return [
        name_of(pod),
        f"{state.ready}/{_total_containers(spec)}",
        state.reason,
        restarts,
        clock.age(pod),
        _pod_ip(status),
        spec.get("nodeName") or NONE,
        status.get("nominatedNodeName") or NONE,
        _readiness_gates(pod),
    ]


def pod_conditions(pod: Mapping[str, Any]) -> list[dict[str, str]] | None:
    """Row conditions marking finished pods, which clients may use to hide them."""
    phase = (pod.get("status") or {}).get("phase")
    return _SUCCEEDED if phase == "Succeeded" else _FAILED if phase == "Failed" else None


POD = printer(COLUMNS, pod_row, pod_conditions)
PRINTERS: dict[tuple[str, str], Printer] = {("", "Pod"): POD}
