"""Taint-based eviction (the NoExecute taint manager, pkg/controller/tainteviction).

A pod on a node with NoExecute taints may stay only as long as its tolerations allow: a taint it
does not tolerate evicts it at once; tolerated ones evict it after the smallest `tolerationSeconds`
among the tolerations used, counted from when the pod was first seen under the taints — pods get
300 s for not-ready/unreachable from the DefaultTolerationSeconds admission plugin, the famous
five minutes. A pod is evicted by adding the `DisruptionTarget` condition and deleting it.
"""

from __future__ import annotations

import math
from typing import Any, Iterable

from kinn.api.taints import tolerates

Obj = dict[str, Any]


def no_execute_taints(node: Obj) -> list[Obj]:
    return [t for t in node.get("spec", {}).get("taints") or [] if t.get("effect") == "NoExecute"]


def toleration_time(tolerations: list[Obj], taints: Iterable[Obj]) -> float:
    """Seconds the pod may stay: 0 if a taint is not tolerated, inf if no used toleration is bounded.

    Each taint is covered by the first toleration matching it (GetMatchingTolerations); the
    smallest `tolerationSeconds` among those wins (getMinTolerationTime), negatives count as 0.
    """
    seconds = math.inf
    for taint in taints:
        used = next((t for t in tolerations if tolerates(t, taint)), None)
        if used is None:
            return 0.0
        if used.get("tolerationSeconds") is not None:
            seconds = min(seconds, max(0.0, float(used["tolerationSeconds"])))
    return seconds


def disruption_target(now: str) -> Obj:
    """The condition a pod gets before the taint manager deletes it (PodDisruptionConditions, GA in 1.31)."""
    return {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByTaintManager",
            "message": "Taint manager: deleting due to NoExecute taint", "lastTransitionTime": now}


class EvictionSchedule:
    """When each pod came under NoExecute taints it tolerates (the taint manager's timed queue)."""

    def __init__(self) -> None:
        self._since: dict[str, float] = {}

    def due_in(self, uid: str, allowed: float, now: float) -> float:
        """Seconds until the pod must go (≤ 0: now); the clock starts at the first call per pod."""
        started = self._since.setdefault(uid, now)
        return started + allowed - now

    def cancel(self, uid: str) -> bool:
        """Forget a pod no longer under taints; True if an eviction was pending."""
        return self._since.pop(uid, None) is not None

    def scheduled(self) -> set[str]:
        return set(self._since)
