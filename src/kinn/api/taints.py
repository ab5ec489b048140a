"""Taints and tolerations (component-helpers scheduling/corev1 and core/v1 Toleration.ToleratesTaint).

Shared by the scheduler's TaintToleration plugin, the DaemonSet controller and node lifecycle
eviction, so all three agree on what a toleration covers.
"""

from __future__ import annotations

from typing import Any, Callable, Iterable

Obj = dict[str, Any]


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


def tolerates_all(tolerations: Iterable[Obj], taint: Obj) -> bool:
    return any(tolerates(t, taint) for t in tolerations)


def find_untolerated_taint(taints: Iterable[Obj], tolerations: list[Obj],
                           include: Callable[[Obj], bool] = lambda taint: True) -> Obj | None:
    """The first taint passing `include` that no toleration covers (FindMatchingUntoleratedTaint)."""
    for taint in taints:
        if include(taint) and not tolerates_all(tolerations, taint):
            return taint
    return None
