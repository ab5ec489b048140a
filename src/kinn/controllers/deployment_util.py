"""Pure Deployment arithmetic and bookkeeping (pkg/controller/deployment/util, k8s.io/apimachinery intstr).

Rolling-update budgets (maxSurge rounds up, maxUnavailable rounds down, never both zero), how
far the new ReplicaSet may grow, proportional scaling of every ReplicaSet during a rollout,
revision and replica annotations, conditions and status — all without I/O, so the numbers are
checked table by table against upstream's.
"""

from __future__ import annotations

import copy
import math
from typing import Any, Iterable

from kinn.controllers.history import hash_revision
from kinn.api.timestamps import now_rfc3339
from kinn.controllers.podutil import get_condition, is_terminating, parse_time

Obj = dict[str, Any]

POD_TEMPLATE_HASH_LABEL = "pod-template-hash"
REVISION_ANNOTATION = "deployment.kubernetes.io/revision"
REVISION_HISTORY_ANNOTATION = "deployment.kubernetes.io/revision-history"
DESIRED_REPLICAS_ANNOTATION = "deployment.kubernetes.io/desired-replicas"
MAX_REPLICAS_ANNOTATION = "deployment.kubernetes.io/max-replicas"
# Annotations that describe the Deployment itself and must not be copied onto its ReplicaSets.
_SKIP_COPY_ANNOTATIONS = frozenset({
    "kubectl.kubernetes.io/last-applied-configuration", REVISION_ANNOTATION, REVISION_HISTORY_ANNOTATION,
    DESIRED_REPLICAS_ANNOTATION, MAX_REPLICAS_ANNOTATION, "deprecated.deployment.rollback.to",
})
MAX_REV_HISTORY_LENGTH_IN_CHARS = 2000
MAX_INT32 = 2**31 - 1

# Condition reasons (deployment_util.go).
NEW_RS_REASON = "NewReplicaSetCreated"
FOUND_NEW_RS_REASON = "FoundNewReplicaSet"
RS_UPDATED_REASON = "ReplicaSetUpdated"
NEW_RS_AVAILABLE_REASON = "NewReplicaSetAvailable"
TIMED_OUT_REASON = "ProgressDeadlineExceeded"
PAUSED_REASON = "DeploymentPaused"
RESUMED_REASON = "DeploymentResumed"
FAILED_RS_CREATE_REASON = "ReplicaSetCreateError"
MIN_AVAILABLE_REASON = "MinimumReplicasAvailable"
MIN_UNAVAILABLE_REASON = "MinimumReplicasUnavailable"


# -- intstr and rolling budgets --------------------------------------------------------------------

def scaled_value(value: int | str | None, total: int, round_up: bool) -> int:
    """intstr.GetScaledValueFromIntOrPercent: an int as is, `N%` of total rounded up or down."""
    if value is None:
        raise ValueError("nil value for IntOrString")
    if isinstance(value, int):
        return value
    if not value.endswith("%"):
        raise ValueError("invalid value for IntOrString: invalid type: string is not a percentage")
    try:
        percent = int(value[:-1])
    except ValueError:
        raise ValueError(f'invalid value for IntOrString: invalid value "{value}"') from None
    scaled = percent * total / 100
    return math.ceil(scaled) if round_up else math.floor(scaled)


def replicas(obj: Obj | None) -> int:
    return (obj or {}).get("spec", {}).get("replicas", 1)


def is_rolling_update(d: Obj) -> bool:
    return d["spec"].get("strategy", {}).get("type", "RollingUpdate") == "RollingUpdate"


def resolve_fenceposts(max_surge: int | str | None, max_unavailable: int | str | None, desired: int) -> tuple[int, int]:
    """(surge, unavailable): surge rounds up, unavailable down; both zero would deadlock, so unavailable 1."""
    surge = scaled_value(max_surge if max_surge is not None else 0, desired, True)
    unavailable = scaled_value(max_unavailable if max_unavailable is not None else 0, desired, False)
    if surge == 0 and unavailable == 0:
        unavailable = 1
    return surge, unavailable


def _rolling(d: Obj) -> Obj:
    return d["spec"].get("strategy", {}).get("rollingUpdate") or {}


def max_surge(d: Obj) -> int:
    if not is_rolling_update(d):
        return 0
    rolling = _rolling(d)
    return resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas(d))[0]


def max_unavailable(d: Obj) -> int:
    if not is_rolling_update(d) or replicas(d) == 0:
        return 0
    rolling = _rolling(d)
    unavailable = resolve_fenceposts(rolling.get("maxSurge"), rolling.get("maxUnavailable"), replicas(d))[1]
    return min(unavailable, replicas(d))


# -- replica set collections ----------------------------------------------------------------------

def rs_replicas(rs: Obj) -> int:
    return rs.get("spec", {}).get("replicas", 1)


def total_replicas(sets: Iterable[Obj | None]) -> int:
    """GetReplicaCountForReplicaSets: the sum of spec.replicas."""
    return sum(rs_replicas(rs) for rs in sets if rs is not None)


def _status_sum(sets: Iterable[Obj | None], field: str) -> int:
    return sum((rs.get("status") or {}).get(field, 0) for rs in sets if rs is not None)


def actual_replicas(sets: Iterable[Obj | None]) -> int:
    return _status_sum(sets, "replicas")


def available_replicas(sets: Iterable[Obj | None]) -> int:
    return _status_sum(sets, "availableReplicas")


def active(sets: Iterable[Obj | None]) -> list[Obj]:
    """FilterActiveReplicaSets: the ones with pods wanted."""
    return [rs for rs in sets if rs is not None and rs_replicas(rs) > 0]


def _created_key(rs: Obj) -> tuple[str, str]:
    meta = rs["metadata"]
    return meta.get("creationTimestamp", ""), meta["name"]


def by_creation(sets: Iterable[Obj]) -> list[Obj]:
    """ReplicaSetsByCreationTimestamp: oldest first, ties by name."""
    return sorted(sets, key=_created_key)


def by_size_older(sets: Iterable[Obj]) -> list[Obj]:
    """ReplicaSetsBySizeOlder: largest first, ties oldest first (where scale-downs start)."""
    return sorted(by_creation(sets), key=rs_replicas, reverse=True)


def by_size_newer(sets: Iterable[Obj]) -> list[Obj]:
    """ReplicaSetsBySizeNewer: largest first, ties newest first (where scale-ups start)."""
    return sorted(list(reversed(by_creation(sets))), key=rs_replicas, reverse=True)


def revision(obj: Obj) -> int:
    """The revision annotation as a number; 0 when absent or unreadable."""
    try:
        return int(obj["metadata"].get("annotations", {}).get(REVISION_ANNOTATION, "0"))
    except ValueError:
        return 0


def by_revision(sets: Iterable[Obj]) -> list[Obj]:
    return sorted(by_creation(sets), key=revision)


def max_revision(sets: Iterable[Obj]) -> int:
    return max((revision(rs) for rs in sets), default=0)


# -- templates, hashes, new and old sets ----------------------------------------------------------

def compute_hash(template: Obj, collision_count: int | None) -> str:
    """The pod-template-hash: FNV-32a of the template plus collisionCount, in the safe alphabet."""
    return hash_revision(template, collision_count)


def _without_hash(template: Obj) -> Obj:
    template = copy.deepcopy(template or {})
    meta = template.get("metadata") or {}
    labels = meta.get("labels") or {}
    labels.pop(POD_TEMPLATE_HASH_LABEL, None)
    if not labels:
        meta.pop("labels", None)
    if not meta:
        template.pop("metadata", None)
    return template


def equal_ignore_hash(a: Obj, b: Obj) -> bool:
    """EqualIgnoreHash: templates equal once the pod-template-hash label is set aside."""
    return _without_hash(a) == _without_hash(b)


def find_new_replica_set(d: Obj, sets: list[Obj]) -> Obj | None:
    """The oldest ReplicaSet whose template is the Deployment's (FindNewReplicaSet)."""
    return next((rs for rs in by_creation(sets) if equal_ignore_hash(rs["spec"].get("template", {}),
                                                                      d["spec"].get("template", {}))), None)


def find_old_replica_sets(d: Obj, sets: list[Obj]) -> list[Obj]:
    """Every other ReplicaSet (FindOldReplicaSets' allOldRSs)."""
    new = find_new_replica_set(d, sets)
    return [rs for rs in sets if new is None or rs["metadata"]["uid"] != new["metadata"]["uid"]]


def find_active_or_latest(new: Obj | None, old: list[Obj]) -> Obj | None:
    """The one set to scale when at most one has replicas (FindActiveOrLatest); None mid-rollout."""
    if new is None and not old:
        return None
    old = list(reversed(by_creation(old)))
    live = active([*old, new])
    if not live:
        return new if new is not None else old[0]
    return live[0] if len(live) == 1 else None


def new_replica_set_template(d: Obj, hash_: str) -> tuple[Obj, Obj]:
    """The new set's template and selector: the Deployment's, plus pod-template-hash."""
    template = copy.deepcopy(d["spec"]["template"])
    template.setdefault("metadata", {}).setdefault("labels", {})[POD_TEMPLATE_HASH_LABEL] = hash_
    selector = copy.deepcopy(d["spec"].get("selector") or {})
    selector.setdefault("matchLabels", {})[POD_TEMPLATE_HASH_LABEL] = hash_
    return template, selector


# -- how many replicas -----------------------------------------------------------------------------

def new_rs_new_replicas(d: Obj, all_sets: list[Obj | None], new: Obj) -> int:
    """NewRSNewReplicas: how big the new set may be now — within maxSurge for rolling, everything for Recreate."""
    if not is_rolling_update(d):
        return replicas(d)
    surge = scaled_value(_rolling(d).get("maxSurge", 0), replicas(d), True)
    current = total_replicas(all_sets)
    max_total = replicas(d) + surge
    if current >= max_total:
        return rs_replicas(new)
    return rs_replicas(new) + min(max_total - current, replicas(d) - rs_replicas(new))


def _annotation_int(rs: Obj, key: str) -> int | None:
    try:
        return int(rs["metadata"].get("annotations", {})[key])
    except (KeyError, ValueError):
        return None


def desired_replicas_annotation(rs: Obj) -> int | None:
    return _annotation_int(rs, DESIRED_REPLICAS_ANNOTATION)


def _round(value: float) -> int:
    """Go's math.Round: halves away from zero."""
    return int(math.floor(value + 0.5)) if value >= 0 else -int(math.floor(-value + 0.5))


def rs_fraction(rs: Obj, d: Obj) -> int:
    """getReplicaSetFraction: the change that keeps this set's share when the Deployment is resized."""
    if replicas(d) == 0:
        return -rs_replicas(rs)
    deployment_replicas = replicas(d) + max_surge(d)
    annotated = _annotation_int(rs, MAX_REPLICAS_ANNOTATION)
    if annotated is None:
        annotated = (d.get("status") or {}).get("replicas", 0)
    if annotated == 0:
        return 0  # Go divides by zero into ±Inf and saturates; no share to keep either way
    return _round(rs_replicas(rs) * deployment_replicas / annotated) - rs_replicas(rs)


def rs_proportion(rs: Obj | None, d: Obj, to_add: int, added: int) -> int:
    """GetReplicaSetProportion: this set's share of `to_add`, bounded by what is left to hand out."""
    if rs is None or rs_replicas(rs) == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = rs_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def proportional_sizes(d: Obj, live: list[Obj]) -> tuple[dict[str, int], str]:
    """The new size of each active set when a Deployment is resized mid-rollout (scale's proportional part).

    Every set keeps its share of the total; rounding leftovers go to the first set in order:
    the largest (newest on ties) when growing, the largest (oldest on ties) when shrinking.
    """
    allowed = replicas(d) + max_surge(d) if replicas(d) > 0 else 0
    to_add = allowed - total_replicas(live)
    if to_add > 0:
        ordered, operation = by_size_newer(live), "up"
    elif to_add < 0:
        ordered, operation = by_size_older(live), "down"
    else:
        ordered, operation = live, ""
    sizes: dict[str, int] = {}
    added = 0
    for rs in ordered:
        share = rs_proportion(rs, d, to_add, added) if to_add else 0
        sizes[rs["metadata"]["name"]] = rs_replicas(rs) + share
        added += share
    if ordered and to_add:
        first = ordered[0]["metadata"]["name"]
        sizes[first] = max(0, sizes[first] + to_add - added)
    return {rs["metadata"]["name"]: sizes[rs["metadata"]["name"]] for rs in ordered}, operation


def is_saturated(d: Obj, rs: Obj | None) -> bool:
    """The new set has all replicas, all available, for the current size (IsSaturated)."""
    if rs is None:
        return False
    return (desired_replicas_annotation(rs) == replicas(d) and rs_replicas(rs) == replicas(d)
            and (rs.get("status") or {}).get("availableReplicas", 0) == replicas(d))


# -- annotations -----------------------------------------------------------------------------------

def set_replicas_annotations(rs: Obj, desired: int, max_replicas: int) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in ((DESIRED_REPLICAS_ANNOTATION, desired), (MAX_REPLICAS_ANNOTATION, max_replicas)):
        if annotations.get(key) != str(value):
            annotations[key] = str(value)
            changed = True
    return changed


def _copy_deployment_annotations(d: Obj, rs: Obj) -> bool:
    annotations = rs["metadata"].setdefault("annotations", {})
    changed = False
    for key, value in (d["metadata"].get("annotations") or {}).items():
        if key not in _SKIP_COPY_ANNOTATIONS and annotations.get(key) != value:
            annotations[key] = value
            changed = True
    return changed


def _append_revision_history(annotations: dict[str, str], old_revision: str) -> None:
    """revision-history: the revisions this set had before, oldest dropped beyond 2000 characters."""
    history = annotations.get(REVISION_HISTORY_ANNOTATION, "")
    if not history:
        annotations[REVISION_HISTORY_ANNOTATION] = old_revision
        return
    revisions = history.split(",")
    total = len(history) + len(old_revision) + 1
    start = 0
    while total > MAX_REV_HISTORY_LENGTH_IN_CHARS and start < len(revisions):
        total -= len(revisions[start]) + 1
        start += 1
    if total <= MAX_REV_HISTORY_LENGTH_IN_CHARS:
        annotations[REVISION_HISTORY_ANNOTATION] = ",".join([*revisions[start:], old_revision])


def set_new_replica_set_annotations(d: Obj, rs: Obj, new_revision: int, exists: bool) -> bool:
    """SetNewReplicaSetAnnotations: copy the Deployment's annotations, bump the revision, record the old one."""
    changed = _copy_deployment_annotations(d, rs)
    annotations = rs["metadata"].setdefault("annotations", {})
    old_text = annotations.get(REVISION_ANNOTATION)
    try:
        old = int(old_text) if old_text is not None else 0
    except ValueError:
        return False
    if old < new_revision:
        annotations[REVISION_ANNOTATION] = str(new_revision)
        changed = True
        if old_text is not None:
            _append_revision_history(annotations, old_text)
    if not exists and set_replicas_annotations(rs, replicas(d), replicas(d) + max_surge(d)):
        changed = True
    return changed


def set_deployment_revision(d: Obj, revision_text: str) -> bool:
    annotations = d["metadata"].setdefault("annotations", {})
    if annotations.get(REVISION_ANNOTATION) == revision_text:
        return False
    annotations[REVISION_ANNOTATION] = revision_text
    return True


# -- conditions ------------------------------------------------------------------------------------

def has_progress_deadline(d: Obj) -> bool:
    deadline = d["spec"].get("progressDeadlineSeconds")
    return deadline is not None and deadline != MAX_INT32


def new_condition(type_: str, status: str, reason: str, message: str) -> Obj:
    now = now_rfc3339()
    return {"type": type_, "status": status, "lastUpdateTime": now, "lastTransitionTime": now,
            "reason": reason, "message": message}


def set_condition(status: Obj, condition: Obj) -> None:
    """SetDeploymentCondition: same status and reason is a no-op; same status keeps the transition time."""
    current = get_condition(status, condition["type"])
    if current is not None and current["status"] == condition["status"] and current.get("reason") == condition["reason"]:
        return
    if current is not None and current["status"] == condition["status"]:
        condition = {**condition, "lastTransitionTime": current.get("lastTransitionTime")}
    remove_condition(status, condition["type"])
    status.setdefault("conditions", []).append(condition)


def remove_condition(status: Obj, type_: str) -> None:
    conditions = [c for c in status.get("conditions") or [] if c.get("type") != type_]
    if conditions:
        status["conditions"] = conditions
    else:
        status.pop("conditions", None)


# -- status ----------------------------------------------------------------------------------------

def calculate_status(all_sets: list[Obj | None], new: Obj | None, d: Obj) -> Obj:
    """calculateStatus: counts from the sets' statuses plus the Available condition."""
    available = available_replicas(all_sets)
    status: Obj = {
        "observedGeneration": d["metadata"].get("generation", 0),
        "replicas": actual_replicas(all_sets),
        "updatedReplicas": actual_replicas([new]),
        "readyReplicas": _status_sum(all_sets, "readyReplicas"),
        "availableReplicas": available,
        "unavailableReplicas": max(total_replicas(all_sets) - available, 0),
    }
    status = {k: v for k, v in status.items() if v}  # omitempty, so an equal status compares equal
    previous = d.get("status") or {}
    if "collisionCount" in previous:
        status["collisionCount"] = previous["collisionCount"]
    if previous.get("conditions"):
        status["conditions"] = copy.deepcopy(previous["conditions"])
    if available >= replicas(d) - max_unavailable(d):
        set_condition(status, new_condition("Available", "True", MIN_AVAILABLE_REASON,
                                            "Deployment has minimum availability."))
    else:
        set_condition(status, new_condition("Available", "False", MIN_UNAVAILABLE_REASON,
                                            "Deployment does not have minimum availability."))
    return status


def deployment_complete(d: Obj, status: Obj) -> bool:
    want = replicas(d)
    return (status.get("updatedReplicas", 0) == want and status.get("replicas", 0) == want
            and status.get("availableReplicas", 0) == want
            and status.get("observedGeneration", 0) >= d["metadata"].get("generation", 0))


def deployment_progressing(d: Obj, status: Obj) -> bool:
    """More updated, fewer old, more ready or more available replicas than last recorded."""
    old = d.get("status") or {}
    old_olds = old.get("replicas", 0) - old.get("updatedReplicas", 0)
    new_olds = status.get("replicas", 0) - status.get("updatedReplicas", 0)
    return (status.get("updatedReplicas", 0) > old.get("updatedReplicas", 0) or new_olds < old_olds
            or status.get("readyReplicas", 0) > old.get("readyReplicas", 0)
            or status.get("availableReplicas", 0) > old.get("availableReplicas", 0))


def progress_deadline_at(d: Obj) -> float | None:
    """When the Progressing condition last moved plus progressDeadlineSeconds (epoch seconds)."""
    condition = get_condition(d.get("status") or {}, "Progressing")
    updated = parse_time((condition or {}).get("lastUpdateTime"))
    if not has_progress_deadline(d) or updated is None:
        return None
    return updated.timestamp() + d["spec"]["progressDeadlineSeconds"]


def deployment_timed_out(d: Obj, now: float) -> bool:
    if not has_progress_deadline(d):
        return False
    condition = get_condition(d.get("status") or {}, "Progressing")
    if condition is None or condition.get("reason") == NEW_RS_AVAILABLE_REASON:
        return False
    if condition.get("reason") == TIMED_OUT_REASON:
        return True
    deadline = progress_deadline_at(d)
    return deadline is not None and deadline < now


def alive(sets: Iterable[Obj]) -> list[Obj]:
    return [rs for rs in sets if not is_terminating(rs)]


# -- rolling update scale-down plans ---------------------------------------------------------------

def max_scaled_down(all_sets: list[Obj | None], new: Obj, d: Obj) -> int:
    """How many old pods may go now without dropping below replicas-maxUnavailable (reconcileOldReplicaSets).

    Unavailable pods of the new set are subtracted: they will become available, so the old ones
    they are meant to replace are still needed.
    """
    min_available = replicas(d) - max_unavailable(d)
    new_unavailable = rs_replicas(new) - (new.get("status") or {}).get("availableReplicas", 0)
    return total_replicas(all_sets) - min_available - new_unavailable


def unhealthy_cleanup_plan(old: list[Obj], max_cleanup: int) -> list[tuple[Obj, int]]:
    """(set, new size) pairs removing old replicas that are not available anyway, oldest sets first
    (cleanupUnhealthyReplicas): they cost no availability, so they go before any healthy pod."""
    plan: list[tuple[Obj, int]] = []
    total = 0
    for rs in by_creation(old):
        if total >= max_cleanup:
            break
        size = rs_replicas(rs)
        unhealthy = size - (rs.get("status") or {}).get("availableReplicas", 0)
        if size == 0 or unhealthy <= 0:
            continue
        count = min(max_cleanup - total, unhealthy)
        plan.append((rs, size - count))
        total += count
    return plan


def rolling_scale_down_plan(all_sets: list[Obj | None], old: list[Obj], d: Obj) -> list[tuple[Obj, int]]:
    """(set, new size) pairs scaling old sets down by what availability allows, oldest first
    (scaleDownOldReplicaSetsForRollingUpdate).

    A set counts at most spec.replicas available pods. Its status still shows the pods it had until
    the ReplicaSet controller has synced its new size (and upstream's status is computed before the
    pods it deletes go), so counting status alone, as upstream does, scales an old set down twice
    for one step and drops below replicas-maxUnavailable for a moment.
    """
    min_available = replicas(d) - max_unavailable(d)
    available = sum(min(rs_replicas(rs), (rs.get("status") or {}).get("availableReplicas", 0))
                    for rs in all_sets if rs is not None)
    if available <= min_available:
        return []
    budget = available - min_available
    plan: list[tuple[Obj, int]] = []
    total = 0
    for rs in by_creation(old):
        if total >= budget:
            break
        size = rs_replicas(rs)
        if size == 0:
            continue
        count = min(size, budget - total)
        plan.append((rs, size - count))
        total += count
    return plan
