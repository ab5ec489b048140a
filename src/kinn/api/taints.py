"""Taints and tolerations (component-helpers scheduling/corev1 and core/v1 Toleration.ToleratesTaint).

Shared by the scheduler's TaintToleration, NodeUnschedulable and PodTopologySpread plugins, the
DaemonSet controller and node lifecycle eviction, so all agree on what a toleration covers.
"""

from __future__ import annotations

from typing import Any, Iterable

Obj = dict[str, Any]

# The effects that keep a pod off a node (DoNotScheduleTaintsFilterFunc).
DO_NOT_SCHEDULE_EFFECTS = ("NoSchedule", "NoExecute")


def tolerates(toleration: Obj, taint: Obj) -> bool:
    """An empty effect covers every effect; `Exists` with an empty key covers every taint."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def tolerations_tolerate(tolerations: Iterable[Obj], taint: Obj) -> bool:
    """Does any of `tolerations` cover `taint`?"""
    return any(tolerates(t, taint) for t in tolerations)


def find_untolerated_taint(taints: Iterable[Obj], tolerations: list[Obj], effects: tuple[str, ...]) -> Obj | None:
    """The first taint with one of `effects` that no toleration covers (FindMatchingUntoleratedTaint)."""
    for taint in taints:
        if taint.get("effect") in effects and not tolerations_tolerate(tolerations, taint):
            return taint
    return None
