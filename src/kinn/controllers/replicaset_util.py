"""Pure pieces of the ReplicaSet controller: which pods to delete first, batched creation, status.

Mirrors pkg/controller/controller_utils.go (ActivePodsWithRanks, podPhaseToOrdinal) and
pkg/controller/replicaset (getPodsToDelete, slowStartBatch, calculateStatus, replica_set_utils),
kept free of I/O so the ordering rules are unit-tested table by table.
"""

from __future__ import annotations

import asyncio
import functools
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Awaitable, Callable

from kinn.api.sidecars import is_sidecar
from kinn.api.selectors import LabelSelector, Operator, new_requirement
from kinn.api.timestamps import now_rfc3339
from kinn.controllers.podutil import (
    is_pod_active, is_pod_available, is_pod_ready, parse_time, pod_condition,
)

Obj = dict[str, Any]
POD_DELETION_COST = "controller.kubernetes.io/pod-deletion-cost"
_PHASE_ORDINAL = {"Pending": 0, "Unknown": 1, "Running": 2}
SLOW_START_INITIAL_BATCH_SIZE = 1


# -- deletion ranking -----------------------------------------------------------------------------

def deletion_cost(pod: Obj) -> int:
    """The pod-deletion-cost annotation; 0 when absent or not an int32, as upstream ignores the error."""
    text = ((pod.get("metadata") or {}).get("annotations") or {}).get(POD_DELETION_COST, "")
    try:
        value = int(text)
    except ValueError:
        return 0
    return value if -(2**31) <= value < 2**31 else 0


def _ready_time(pod: Obj) -> datetime | None:
    if not is_pod_ready(pod):
        return None
    return parse_time((pod_condition(pod, "Ready") or {}).get("lastTransitionTime"))


def _max_restarts(pod: Obj) -> tuple[int, int]:
    """Highest restart count of regular containers, and of sidecars (restartPolicy Always init containers)."""
    status = pod.get("status") or {}
    regular = max((c.get("restartCount", 0) for c in status.get("containerStatuses") or []), default=0)
    sidecars = {c.get("name") for c in (pod.get("spec") or {}).get("initContainers") or [] if is_sidecar(c)}
    sidecar = max((c.get("restartCount", 0) for c in status.get("initContainerStatuses") or []
                   if c.get("name") in sidecars), default=0)
    return regular, sidecar


def _log_rank(moment: datetime, now: datetime) -> int:
    """floor(log2(age in ns)), or -1 for no age: LogarithmicScaleDown buckets ages by powers of two."""
    age_ns = (now - moment).total_seconds() * 1e9
    return int(math.log2(age_ns)) if age_ns > 0 else -1


def _newer_first(t1: datetime | None, t2: datetime | None, uid1: str, uid2: str, now: datetime) -> int:
    """Zero times first, then younger before older by log2 age bucket, ties broken by UID (pseudo-random)."""
    if t1 is None or t2 is None:
        return -1 if t1 is None else 1  # afterOrZero
    diff = _log_rank(t1, now) - _log_rank(t2, now)
    if diff == 0:
        return -1 if uid1 < uid2 else (1 if uid1 > uid2 else 0)
    return -1 if diff < 0 else 1


@dataclass
class _Ranked:
    pod: Obj
    rank: int


def _compare(a: _Ranked, b: _Ranked, now: datetime) -> int:
    """ActivePodsWithRanks.Less as a three-way comparison: negative means `a` is deleted first."""
    pa, pb = a.pod, b.pod
    node_a, node_b = pa.get("spec", {}).get("nodeName", ""), pb.get("spec", {}).get("nodeName", "")
    if node_a != node_b and (not node_a or not node_b):
        return -1 if not node_a else 1  # 1. unassigned < assigned
    phase_a = _PHASE_ORDINAL.get(pa.get("status", {}).get("phase", ""), 0)
    phase_b = _PHASE_ORDINAL.get(pb.get("status", {}).get("phase", ""), 0)
    if phase_a != phase_b:
        return phase_a - phase_b  # 2. Pending < Unknown < Running
    ready_a, ready_b = is_pod_ready(pa), is_pod_ready(pb)
    if ready_a != ready_b:
        return -1 if not ready_a else 1  # 3. not ready < ready
    cost_a, cost_b = deletion_cost(pa), deletion_cost(pb)
    if cost_a != cost_b:
        return -1 if cost_a < cost_b else 1  # 4. lower deletion cost first
    if a.rank != b.rank:
        return -1 if a.rank > b.rank else 1  # 5. doubled up on a node first
    uid_a, uid_b = pa["metadata"].get("uid", ""), pb["metadata"].get("uid", "")
    if ready_a and ready_b:
        t_a, t_b = _ready_time(pa), _ready_time(pb)
        if t_a != t_b:
            return _newer_first(t_a, t_b, uid_a, uid_b, now)  # 6. ready for less time first
    restarts_a, restarts_b = _max_restarts(pa), _max_restarts(pb)
    for r_a, r_b in zip(restarts_a, restarts_b):
        if r_a != r_b:
            return -1 if r_a > r_b else 1  # 7. more restarts first
    c_a = parse_time(pa["metadata"].get("creationTimestamp"))
    c_b = parse_time(pb["metadata"].get("creationTimestamp"))
    if c_a != c_b:
        return _newer_first(c_a, c_b, uid_a, uid_b, now)  # 8. newer first
    return 0


def pods_to_delete(pods: list[Obj], related: list[Obj], diff: int, now: datetime | None = None) -> list[Obj]:
    """The `diff` pods to delete first (getPodsToDelete); ranks count active related pods per node."""
    if diff >= len(pods):
        return pods[:diff]
    per_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = pod.get("spec", {}).get("nodeName", "")
            per_node[node] = per_node.get(node, 0) + 1
    ranked = [_Ranked(p, per_node.get(p.get("spec", {}).get("nodeName", ""), 0)) for p in pods]
    moment = now or datetime.now(timezone.utc)
    ranked.sort(key=functools.cmp_to_key(lambda a, b: _compare(a, b, moment)))
    return [r.pod for r in ranked[:diff]]


# -- creation -------------------------------------------------------------------------------------

async def slow_start_batch(count: int, initial: int, fn: Callable[[], Awaitable[None]]) -> tuple[int, Exception | None]:
    """Run `fn` count times in batches of 1, 2, 4, … (slowStartBatch), stopping after a batch with an error.

    A template the API server rejects (quota, admission) then costs one failed request instead of
    a burst of hundreds. Returns the number of successes and the first error.
    """
    done = 0
    remaining = count
    batch = min(remaining, initial)
    while batch > 0:
        results = await asyncio.gather(*(fn() for _ in range(batch)), return_exceptions=True)
        errors = [r for r in results if isinstance(r, Exception)]
        done += batch - len(errors)
        if errors:
            return done, errors[0]
        remaining -= batch
        batch = min(2 * batch, remaining)
    return done, None


# -- status ---------------------------------------------------------------------------------------

def labels_selector(labels: dict[str, str] | None) -> LabelSelector:
    """labels.Set(...).AsSelector(): every label must be present with its value."""
    return LabelSelector([new_requirement(k, Operator.EQUALS, [v]) for k, v in (labels or {}).items()])


def replica_failure(status: Obj) -> Obj | None:
    return next((c for c in status.get("conditions") or [] if c.get("type") == "ReplicaFailure"), None)


def calculate_status(rs: Obj, pods: list[Obj], desired: int, manage_error: Exception | None) -> Obj:
    """The ReplicaSet status these pods give (calculateStatus), with the ReplicaFailure condition.

    The condition is set when creating or deleting failed and removed on the next clean sync; its
    reason says which direction failed and its message is the API error's.
    """
    status = {k: v for k, v in (rs.get("status") or {}).items() if k != "conditions"}
    conditions = [c for c in (rs.get("status") or {}).get("conditions") or []]
    template_labels = labels_selector(((rs["spec"].get("template") or {}).get("metadata") or {}).get("labels"))
    min_ready = rs["spec"].get("minReadySeconds", 0)
    now = datetime.now(timezone.utc)
    status["replicas"] = len(pods)
    status["fullyLabeledReplicas"] = sum(1 for p in pods if template_labels.matches(p["metadata"].get("labels")))
    ready = [p for p in pods if is_pod_ready(p)]
    status["readyReplicas"] = len(ready)
    status["availableReplicas"] = sum(1 for p in ready if is_pod_available(p, min_ready, now))
    failure = replica_failure(rs.get("status") or {})
    if manage_error is not None and failure is None:
        diff = len(pods) - desired
        reason = "FailedCreate" if diff < 0 else ("FailedDelete" if diff > 0 else "")
        conditions.append({"type": "ReplicaFailure", "status": "True", "lastTransitionTime": now_rfc3339(),
                           "reason": reason, "message": _error_text(manage_error)})
    elif manage_error is None and failure is not None:
        conditions = [c for c in conditions if c.get("type") != "ReplicaFailure"]
    if conditions:
        status["conditions"] = conditions
    return {k: v for k, v in status.items() if v or k == "replicas"}


def _error_text(error: Exception) -> str:
    return getattr(error, "message", "") or str(error)
