"""Taints and tolerations (component-helpers scheduling/corev1 and core/v1 Toleration.ToleratesTaint).

Shared by the scheduler's TaintToleration, NodeUnschedulable and PodTopologySpread plugins, the
DaemonSet controller and node lifecycle eviction, so all agree on what a toleration covers.
"""

from __future__ import annotations

from typing import Any, Iterable

Obj = dict[str, Any]

# The effects that keep a pod off a node (DoNotScheduleTaintsFilterFunc).
DO_NOT_SCHEDULE_EFFECTS = ("NoSchedule", "NoExecute")
TAINT_EFFECTS = ("NoSchedule", "PreferNoSchedule", "NoExecute")


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


def parse_taint(spec: str) -> Obj:
    """`key=value:Effect` or `key:Effect`, as --register-with-taints and `kubectl taint` spell a taint."""
    key_value, sep, effect = spec.rpartition(":")
    if not sep or effect not in TAINT_EFFECTS:
        raise ValueError(f"invalid taint spec: {spec}, unsupported taint effect (must be one of "
                         f"{', '.join(TAINT_EFFECTS)})")
    key, _, value = key_value.partition("=")
    if not key:
        raise ValueError(f"invalid taint spec: {spec}, the key is empty")
    return {"key": key, "value": value, "effect": effect} if value else {"key": key, "effect": effect}
