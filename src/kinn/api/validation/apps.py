"""apps/v1 validation, as pkg/apis/apps/validation plus the apps/v1 rules of pkg/registry/apps.

The registry strategies add what the group version decides: in apps/v1 the selector of every
workload is immutable once created.
"""

from __future__ import annotations

from typing import Callable, Iterable

from kinn.api import field
from kinn.api.field import ErrorList, Path
from kinn.api.validation import gofmt, meta, names
from kinn.api.validation.common import (
    Obj,
    immutable,
    int_or_percent_value,
    nonnegative,
    not_more_than_100_percent,
    object_meta,
    object_meta_update,
    positive_int_or_percent,
    selector_is_empty,
    template_labels_match,
)
from kinn.api.validation.core import validate_pod_template_spec

SPEC = Path("spec")
STATUS = Path("status")


def _spec(obj: Obj) -> Obj:
    return obj.get("spec") or {}


def validate_selector(selector: Obj | None, path: Path, owner: str) -> ErrorList:
    """Required, well formed, and not empty: an empty selector would adopt every pod in the namespace."""
    if selector is None:
        return [field.required(path)]
    errs = meta.validate_label_selector(selector, path)
    if selector_is_empty(selector):
        errs.append(gofmt.invalid(path, gofmt.label_selector(selector), f"empty selector is invalid for {owner}"))
    return errs


def validate_controller_template(template: Obj, path: Path, owner: str, pod_spec: bool = True) -> ErrorList:
    """Pods of long-running controllers must restart forever and may not have a deadline."""
    errs = validate_pod_template_spec(template, path) if pod_spec else []
    pod = template.get("spec") or {}
    restart = pod.get("restartPolicy", "")
    if restart != "Always":
        errs.append(field.not_supported(path.child("spec", "restartPolicy"), restart, ["Always"]))
    if pod.get("activeDeadlineSeconds") is not None:
        errs.append(
            field.forbidden(path.child("spec", "activeDeadlineSeconds"), f"activeDeadlineSeconds in {owner} is not Supported")
        )
    return errs


def validate_selector_immutable(new: Obj, old: Obj) -> ErrorList:
    """apps/v1 strategies refuse any selector change: pods selected before would be orphaned."""
    return immutable(_spec(new).get("selector"), _spec(old).get("selector"), SPEC.child("selector"), gofmt.label_selector)


def validate_status_counts(status: Obj, path: Path, counts: Iterable[str], bounded: Iterable[str]) -> ErrorList:
    """Non-negative counters, and the ones that count a subset of `replicas` may not exceed it."""
    errs: ErrorList = []
    for name in counts:
        errs += nonnegative(status.get(name), path.child(name))
    replicas = status.get("replicas", 0)
    for name in bounded:
        if status.get(name, 0) > replicas:
            errs.append(field.invalid(path.child(name), status.get(name, 0), "cannot be greater than status.replicas"))
    return errs


def validate_available_vs_ready(status: Obj, path: Path, detail: str) -> ErrorList:
    available = status.get("availableReplicas", 0)
    if available > status.get("readyReplicas", 0):
        return [field.invalid(path.child("availableReplicas"), available, detail)]
    return []


def validate_collision_count_update(new: Obj, old: Obj) -> ErrorList:
    """`IsDecremented`: the collision count only grows, so revision hashes never repeat."""
    new_count = (new.get("status") or {}).get("collisionCount")
    old_count = (old.get("status") or {}).get("collisionCount")
    if old_count is not None and (new_count is None or new_count < old_count):
        return [field.invalid(STATUS.child("collisionCount"), new_count or 0, "cannot be decremented")]
    return []


# Deployment


def _strategy_struct(type_name: str, strategy: Obj, rolling_type: str) -> str:
    rolling = gofmt.pointer(rolling_type, strategy.get("rollingUpdate"))
    return gofmt.struct(type_name, [("Type", gofmt.quote(strategy.get("type", ""))), ("RollingUpdate", rolling)])


def validate_rolling_update_deployment(rolling: Obj, path: Path) -> ErrorList:
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    errs = positive_int_or_percent(unavailable, path.child("maxUnavailable"))
    errs += positive_int_or_percent(surge, path.child("maxSurge"))
    if int_or_percent_value(unavailable) == 0 and int_or_percent_value(surge) == 0:
        errs.append(
            gofmt.invalid(path.child("maxUnavailable"), gofmt.int_or_string(unavailable), "may not be 0 when `maxSurge` is 0")
        )
    errs += not_more_than_100_percent(unavailable, path.child("maxUnavailable"))
    return errs


def validate_deployment_strategy(strategy: Obj, path: Path) -> ErrorList:
    kind = strategy.get("type")
    if kind == "Recreate":
        if strategy.get("rollingUpdate") is not None:
            return [field.forbidden(path.child("rollingUpdate"), "may not be specified when strategy `type` is 'Recreate'")]
        return []
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            return [field.required(path.child("rollingUpdate"), "this should be defaulted and never be nil")]
        return validate_rolling_update_deployment(rolling, path.child("rollingUpdate"))
    rendered = _strategy_struct("apps.DeploymentStrategy", strategy, "apps.RollingUpdateDeployment")
    return [gofmt.not_supported(path, rendered, ["Recreate", "RollingUpdate"])]


def validate_deployment_spec(spec: Obj, path: Path) -> ErrorList:
    errs = nonnegative(spec.get("replicas", 0), path.child("replicas"))
    errs += validate_selector(spec.get("selector"), path.child("selector"), "deployment")
    template = spec.get("template") or {}
    errs += template_labels_match(spec.get("selector"), template, path.child("template"))
    errs += validate_controller_template(template, path.child("template"), "ReplicaSet")
    errs += validate_deployment_strategy(spec.get("strategy") or {}, path.child("strategy"))
    min_ready = spec.get("minReadySeconds", 0)
    errs += nonnegative(min_ready, path.child("minReadySeconds"))
    errs += nonnegative(spec.get("revisionHistoryLimit"), path.child("revisionHistoryLimit"))
    deadline = spec.get("progressDeadlineSeconds")
    if deadline is not None:
        errs += nonnegative(deadline, path.child("progressDeadlineSeconds"))
        if deadline <= min_ready:
            errs.append(field.invalid(path.child("progressDeadlineSeconds"), deadline, "must be greater than minReadySeconds"))
    return errs


def validate_deployment(obj: Obj) -> ErrorList:
    return object_meta(obj, True, names.name_is_dns_subdomain) + validate_deployment_spec(_spec(obj), SPEC)


def validate_deployment_update(new: Obj, old: Obj) -> ErrorList:
    errs = object_meta_update(new, old) + validate_deployment_spec(_spec(new), SPEC)
    return errs + validate_selector_immutable(new, old)


def validate_deployment_status_update(new: Obj, old: Obj) -> ErrorList:
    status = new.get("status") or {}
    errs = object_meta_update(new, old)
    errs += validate_status_counts(
        status,
        STATUS,
        ["observedGeneration", "replicas", "updatedReplicas", "readyReplicas", "availableReplicas",
         "unavailableReplicas", "collisionCount"],
        ["updatedReplicas", "readyReplicas", "availableReplicas"],
    )
    errs += validate_available_vs_ready(status, STATUS, "cannot be greater than readyReplicas")
    return errs + validate_collision_count_update(new, old)


# ReplicaSet


def validate_replica_set_spec(spec: Obj, path: Path) -> ErrorList:
    errs = nonnegative(spec.get("replicas", 0), path.child("replicas"))
    errs += nonnegative(spec.get("minReadySeconds", 0), path.child("minReadySeconds"))
    # Upstream reuses the Deployment wording for ReplicaSets.
    errs += validate_selector(spec.get("selector"), path.child("selector"), "deployment")
    template = spec.get("template") or {}
    errs += template_labels_match(spec.get("selector"), template, path.child("template"))
    return errs + validate_controller_template(template, path.child("template"), "ReplicaSet")


def validate_replica_set(obj: Obj) -> ErrorList:
    return object_meta(obj, True, names.name_is_dns_subdomain) + validate_replica_set_spec(_spec(obj), SPEC)


def validate_replica_set_update(new: Obj, old: Obj) -> ErrorList:
    errs = object_meta_update(new, old) + validate_replica_set_spec(_spec(new), SPEC)
    return errs + validate_selector_immutable(new, old)


def validate_replica_set_status_update(new: Obj, old: Obj) -> ErrorList:
    status = new.get("status") or {}
    errs = object_meta_update(new, old)
    errs += validate_status_counts(
        status,
        STATUS,
        ["replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "observedGeneration"],
        ["fullyLabeledReplicas", "readyReplicas", "availableReplicas"],
    )
    return errs + validate_available_vs_ready(status, STATUS, "cannot be greater than readyReplicas")


# DaemonSet


def validate_rolling_update_daemon_set(rolling: Obj, path: Path) -> ErrorList:
    surge, unavailable = rolling.get("maxSurge"), rolling.get("maxUnavailable")
    errs = positive_int_or_percent(unavailable, path.child("maxUnavailable"))
    errs += positive_int_or_percent(surge, path.child("maxSurge"))
    errs += not_more_than_100_percent(unavailable, path.child("maxUnavailable"))
    errs += not_more_than_100_percent(surge, path.child("maxSurge"))
    has_unavailable, has_surge = int_or_percent_value(unavailable) != 0, int_or_percent_value(surge) != 0
    if has_unavailable and has_surge:
        errs.append(
            gofmt.invalid(path.child("maxSurge"), gofmt.int_or_string(surge), "may not be set when maxUnavailable is non-zero")
        )
    elif not has_unavailable and not has_surge:
        errs.append(field.required(path.child("maxUnavailable"), "cannot be 0 when maxSurge is 0"))
    return errs


def validate_daemon_set_update_strategy(strategy: Obj, path: Path) -> ErrorList:
    kind = strategy.get("type")
    if kind == "OnDelete":
        return []
    if kind == "RollingUpdate":
        rolling = strategy.get("rollingUpdate")
        if rolling is None:
            return [field.required(path.child("rollingUpdate"))]
        return validate_rolling_update_daemon_set(rolling, path.child("rollingUpdate"))
    rendered = _strategy_struct("apps.DaemonSetUpdateStrategy", strategy, "apps.RollingUpdateDaemonSet")
    return [gofmt.not_supported(path, rendered, ["RollingUpdate", "OnDelete"])]


def validate_daemon_set_spec(spec: Obj, path: Path) -> ErrorList:
    selector = spec.get("selector")
    template = spec.get("template") or {}
    errs = meta.validate_label_selector(selector, path.child("selector")) if selector is not None else []
    errs += template_labels_match(selector, template, path.child("template"))
    if selector_is_empty(selector):
        errs.append(gofmt.invalid(path.child("selector"), gofmt.label_selector(selector), "empty selector is invalid for daemonset"))
    errs += validate_controller_template(template, path.child("template"), "DaemonSet")
    errs += nonnegative(spec.get("minReadySeconds", 0), path.child("minReadySeconds"))
    errs += validate_daemon_set_update_strategy(spec.get("updateStrategy") or {}, path.child("updateStrategy"))
    return errs + nonnegative(spec.get("revisionHistoryLimit"), path.child("revisionHistoryLimit"))


def validate_daemon_set(obj: Obj) -> ErrorList:
    return object_meta(obj, True, names.name_is_dns_subdomain) + validate_daemon_set_spec(_spec(obj), SPEC)


def validate_daemon_set_update(new: Obj, old: Obj) -> ErrorList:
    errs = object_meta_update(new, old) + validate_daemon_set_spec(_spec(new), SPEC)
    return errs + validate_selector_immutable(new, old)


def validate_daemon_set_status_update(new: Obj, old: Obj) -> ErrorList:
    counts = [
        "currentNumberScheduled", "numberMisscheduled", "desiredNumberScheduled", "numberReady",
        "observedGeneration", "updatedNumberScheduled", "numberAvailable", "numberUnavailable", "collisionCount",
    ]
    errs = object_meta_update(new, old) + validate_status_counts(new.get("status") or {}, STATUS, counts, [])
    return errs + validate_collision_count_update(new, old)


# StatefulSet

# Fields a StatefulSet update may change; anything else would desynchronise existing pods and claims.
STATEFUL_SET_MUTABLE = (
    "replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds",
)
STATEFUL_SET_FORBIDDEN_UPDATE = (
    "updates to statefulset spec for fields other than 'replicas', 'ordinals', 'template', 'updateStrategy', "
    "'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden"
)


def validate_stateful_set_update_strategy(strategy: Obj, path: Path) -> ErrorList:
    kind = strategy.get("type", "")
    rolling = strategy.get("rollingUpdate")
    if kind == "":
        return [field.required(path)]
    if kind == "OnDelete":
        if rolling is None:
            return []
        rendered = gofmt.struct(
            "apps.RollingUpdateStatefulSetStrategy",
            [
                ("Partition", str(rolling.get("partition", 0))),
                ("MaxUnavailable", gofmt.pointer("intstr.IntOrString", rolling.get("maxUnavailable"))),
            ],
        )
        return [gofmt.invalid(path.child("rollingUpdate"), rendered, "only allowed for updateStrategy 'RollingUpdate'")]
    if kind == "RollingUpdate":
        return validate_rolling_update_stateful_set(rolling, path.child("rollingUpdate")) if rolling is not None else []
    rendered = _strategy_struct("apps.StatefulSetUpdateStrategy", strategy, "apps.RollingUpdateStatefulSetStrategy")
    return [gofmt.invalid(path, rendered, "must be 'RollingUpdate' or 'OnDelete'")]


def validate_rolling_update_stateful_set(rolling: Obj, path: Path) -> ErrorList:
    errs = nonnegative(rolling.get("partition", 0), path.child("partition"))
    unavailable = rolling.get("maxUnavailable")
    if unavailable is not None:
        errs += positive_int_or_percent(unavailable, path.child("maxUnavailable"))
        if int_or_percent_value(unavailable) == 0:
            errs.append(gofmt.invalid(path.child("maxUnavailable"), gofmt.int_or_string(unavailable), "cannot be 0"))
        errs += not_more_than_100_percent(unavailable, path.child("maxUnavailable"))
    return errs


def validate_pvc_retention_policy(policy: Obj | None, path: Path) -> ErrorList:
    errs: ErrorList = []
    for name in ("whenDeleted", "whenScaled") if policy is not None else ():
        value = policy.get(name, "")
        if value not in ("Retain", "Delete"):
            errs.append(field.not_supported(path.child(name), value, ["Retain", "Delete"]))
    return errs


def validate_stateful_set_spec(spec: Obj, path: Path) -> ErrorList:
    errs: ErrorList = []
    policy = spec.get("podManagementPolicy", "")
    if policy == "":
        errs.append(field.required(path.child("podManagementPolicy")))
    elif policy not in ("OrderedReady", "Parallel"):
        errs.append(field.invalid(path.child("podManagementPolicy"), policy, "must be 'OrderedReady' or 'Parallel'"))
    errs += validate_stateful_set_update_strategy(spec.get("updateStrategy") or {}, path.child("updateStrategy"))
    errs += validate_pvc_retention_policy(
        spec.get("persistentVolumeClaimRetentionPolicy"), path.child("persistentVolumeClaimRetentionPolicy")
    )
    errs += nonnegative(spec.get("replicas", 0), path.child("replicas"))
    errs += nonnegative(spec.get("minReadySeconds", 0), path.child("minReadySeconds"))
    if spec.get("ordinals") is not None:
        errs += nonnegative(spec["ordinals"].get("start", 0), path.child("ordinals.start"))
    errs += validate_selector(spec.get("selector"), path.child("selector"), "statefulset")
    template = spec.get("template") or {}
    template_path = path.child("template")
    errs += template_labels_match(spec.get("selector"), template, template_path)
    # Upstream checks only the template's labels here (at `template.labels`), not the pod spec.
    errs += meta.validate_labels((template.get("metadata") or {}).get("labels") or {}, template_path.child("labels"))
    return errs + validate_controller_template(template, template_path, "StatefulSet", pod_spec=False)


def validate_stateful_set(obj: Obj) -> ErrorList:
    return object_meta(obj, True, names.name_is_dns_label) + validate_stateful_set_spec(_spec(obj), SPEC)


def validate_stateful_set_update(new: Obj, old: Obj) -> ErrorList:
    errs = object_meta_update(new, old) + validate_stateful_set_spec(_spec(new), SPEC)
    frozen_new = {k: v for k, v in _spec(new).items() if k not in STATEFUL_SET_MUTABLE}
    frozen_old = {k: v for k, v in _spec(old).items() if k not in STATEFUL_SET_MUTABLE}
    if frozen_new != frozen_old:
        errs.append(field.forbidden(SPEC, STATEFUL_SET_FORBIDDEN_UPDATE))
    return errs


def validate_stateful_set_status_update(new: Obj, old: Obj) -> ErrorList:
    status = new.get("status") or {}
    errs = validate_status_counts(
        status,
        STATUS,
        ["replicas", "readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas",
         "observedGeneration", "collisionCount"],
        ["readyReplicas", "currentReplicas", "updatedReplicas", "availableReplicas"],
    )
    errs += validate_available_vs_ready(status, STATUS, "cannot be greater than status.readyReplicas")
    return errs + object_meta_update(new, old) + validate_collision_count_update(new, old)


# ControllerRevision


def validate_controller_revision(obj: Obj) -> ErrorList:
    errs = object_meta(obj, True, names.name_is_dns_subdomain)
    if obj.get("data") is None:
        errs.append(field.required(Path("data"), "data is mandatory"))
    return errs + nonnegative(obj.get("revision", 0), Path("revision"))


def validate_controller_revision_update(new: Obj, old: Obj) -> ErrorList:
    errs = object_meta_update(new, old) + validate_controller_revision(new)
    return errs + immutable(new.get("data"), old.get("data"), Path("data"))


Check = Callable[..., ErrorList]

CREATE: dict[str, Check] = {
    "Deployment": validate_deployment,
    "ReplicaSet": validate_replica_set,
    "DaemonSet": validate_daemon_set,
    "StatefulSet": validate_stateful_set,
    "ControllerRevision": validate_controller_revision,
}
UPDATE: dict[str, Check] = {
    "Deployment": validate_deployment_update,
    "ReplicaSet": validate_replica_set_update,
    "DaemonSet": validate_daemon_set_update,
    "StatefulSet": validate_stateful_set_update,
    "ControllerRevision": validate_controller_revision_update,
}
STATUS_UPDATE: dict[str, Check] = {
    "Deployment": validate_deployment_status_update,
    "ReplicaSet": validate_replica_set_status_update,
    "DaemonSet": validate_daemon_set_status_update,
    "StatefulSet": validate_stateful_set_status_update,
}
