"""Pure node-health rules of the node lifecycle controller: staleness, Unknown conditions, taints.

Kept apart from the controller's I/O so the exact upstream rules (which conditions go Unknown with
which reason, which taint each condition maps to) are table-tested on plain dicts.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from kinn.controllers.podutil import get_condition

Obj = dict[str, Any]

NOT_READY_TAINT = "node.kubernetes.io/not-ready"
UNREACHABLE_TAINT = "node.kubernetes.io/unreachable"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"

# The conditions the controller owns when the kubelet goes silent (nodeConditionsToUpdate upstream).
MONITORED_CONDITIONS = ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")

# (condition type, status) → NoSchedule taint key (nodeConditionToTaintKeyStatusMap, TaintNodesByCondition).
NO_SCHEDULE_TAINTS = {
    ("Ready", "False"): NOT_READY_TAINT,
    ("Ready", "Unknown"): UNREACHABLE_TAINT,
    ("MemoryPressure", "True"): "node.kubernetes.io/memory-pressure",
    ("DiskPressure", "True"): "node.kubernetes.io/disk-pressure",
    ("NetworkUnavailable", "True"): "node.kubernetes.io/network-unavailable",
    ("PIDPressure", "True"): "node.kubernetes.io/pid-pressure",
}
NO_EXECUTE_TAINTS = {"False": NOT_READY_TAINT, "Unknown": UNREACHABLE_TAINT}
_MANAGED = {(key, "NoSchedule") for key in [*NO_SCHEDULE_TAINTS.values(), UNSCHEDULABLE_TAINT]} | {
    (key, "NoExecute") for key in NO_EXECUTE_TAINTS.values()}


def ready_status(node: Obj) -> str:
    """`True`, `False` or `Unknown`; a node that never reported Ready counts as Unknown."""
    condition = get_condition(node.get("status", {}), "Ready")
    return condition.get("status", "Unknown") if condition else "Unknown"


@dataclass
class NodeHealth:
    """The last sign of life seen from a node (nodeHealthData): probe time plus what proved it."""

    probe: float
    heartbeat: str | None
    renew: str | None

    def observe(self, node: Obj, lease: Obj | None, now: float) -> None:
        """A new Ready heartbeat or a renewed Lease moves the probe time (tryUpdateNodeHealth)."""
        heartbeat = (get_condition(node.get("status", {}), "Ready") or {}).get("lastHeartbeatTime")
        renew = ((lease or {}).get("spec") or {}).get("renewTime")
        if heartbeat != self.heartbeat or (renew and renew != self.renew):
            self.probe = now
        self.heartbeat, self.renew = heartbeat, renew or self.renew


def unknown_conditions(node: Obj, now: str) -> list[Obj] | None:
    """Conditions with every monitored one set Unknown, or None if they already are.

    As upstream: a condition the kubelet posted becomes Unknown with `NodeStatusUnknown`, keeping
    its last heartbeat; one it never posted appears with `NodeStatusNeverUpdated`, dated from the
    node's creation.
    """
    conditions = copy.deepcopy(node.get("status", {}).get("conditions") or [])
    by_type = {c.get("type"): c for c in conditions}
    changed = False
    for type_ in MONITORED_CONDITIONS:
        condition = by_type.get(type_)
        if condition is None:
            conditions.append({
                "type": type_, "status": "Unknown", "reason": "NodeStatusNeverUpdated",
                "message": "Kubelet never posted node status.",
                "lastHeartbeatTime": node["metadata"].get("creationTimestamp"), "lastTransitionTime": now,
            })
            changed = True
        elif condition.get("status") != "Unknown":
            condition.update(status="Unknown", reason="NodeStatusUnknown",
                             message="Kubelet stopped posting node status.", lastTransitionTime=now)
            changed = True
    return conditions if changed else None


def desired_taints(node: Obj) -> set[tuple[str, str]]:
    """The (key, effect) taints the node's conditions and spec call for (both tainting passes)."""
    wanted = set()
    for condition in node.get("status", {}).get("conditions") or []:
        key = NO_SCHEDULE_TAINTS.get((condition.get("type"), condition.get("status")))
        if key:
            wanted.add((key, "NoSchedule"))
    if node.get("spec", {}).get("unschedulable"):
        wanted.add((UNSCHEDULABLE_TAINT, "NoSchedule"))
    no_execute = NO_EXECUTE_TAINTS.get(ready_status(node))
    if no_execute:
        wanted.add((no_execute, "NoExecute"))
    return wanted


def reconcile_taints(node: Obj, now: str) -> list[Obj] | None:
    """The node's taints with the controller-owned ones made to match, or None if nothing changes.

    Taints others placed are kept as they are; NoExecute taints carry `timeAdded` as upstream's
    SwapNodeControllerTaint stamps them.
    """
    current = node.get("spec", {}).get("taints") or []
    wanted = desired_taints(node)
    kept = [t for t in current if (t.get("key"), t.get("effect")) not in _MANAGED
            or (t.get("key"), t.get("effect")) in wanted]
    present = {(t.get("key"), t.get("effect")) for t in kept}
    added = [{"key": key, "effect": effect, **({"timeAdded": now} if effect == "NoExecute" else {})}
             for key, effect in sorted(wanted - present)]
    if not added and len(kept) == len(current):
        return None
    return kept + added
