"""What objects use of a ResourceQuota (pkg/quota/v1/evaluator/core), as pure functions.

Each evaluator turns one object into usage: a pod counts as `pods` and `count/pods` and adds its
effective requests and limits (kinn.api.podresources, as the scheduler adds them up) under
`requests.*`, `limits.*` and the bare `cpu`/`memory`; a service counts its
LoadBalancer type and node ports; a claim adds its storage request, also per storage class; any
other object counts as `count/<resource>.<group>`. Finished pods, and pods whose grace period ran
out, count only in `count/pods` (every pod in storage). A quota reports usage only for what its
`hard` names.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any, Iterable

from kinn.api.podresources import add, pod_limits, pod_requests, quantities
from kinn.api.qos import qos_class
from kinn.api.quantity import Format, Quantity
from kinn.api.selectors import label_selector_from_object
from kinn.controllers.podutil import is_pod_terminal, parse_time

Obj = dict[str, Any]
Usage = dict[str, Quantity]

COMPUTE = ("cpu", "memory", "ephemeral-storage")
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"


def count(n: int = 1) -> Quantity:
    return Quantity(Fraction(n), Format.DECIMAL_SI)


def pod_counts(pod: Obj, now: datetime) -> bool:
    """QuotaV1Pod: not finished, and not past the end of its deletion grace period."""
    if is_pod_terminal(pod):
        return False
    meta = pod.get("metadata", {})
    deleted = parse_time(meta.get("deletionTimestamp"))
    if deleted is not None and meta.get("deletionGracePeriodSeconds") is not None:
        return now <= deleted + timedelta(seconds=meta["deletionGracePeriodSeconds"])
    return True


def pod_usage(pod: Obj) -> Usage:
    usage: Usage = {"pods": count(), "count/pods": count()}
    spec = pod.get("spec") or {}
    for name, amount in pod_requests(spec, quantities).items():
        usage[f"requests.{name}"] = amount
        if name in COMPUTE:
            usage[name] = amount
    for name, amount in pod_limits(spec, quantities).items():
        if name in COMPUTE:
            usage[f"limits.{name}"] = amount
    return usage


def service_usage(service: Obj) -> Usage:
    spec = service.get("spec") or {}
    usage: Usage = {"services": count(), "count/services": count()}
    type_ = spec.get("type", "ClusterIP")
    if type_ == "LoadBalancer":
        usage["services.loadbalancers"] = count()
    if type_ in ("NodePort", "LoadBalancer"):
        usage["services.nodeports"] = count(sum(1 for p in spec.get("ports") or [] if p.get("nodePort")))
    return usage


def claim_usage(claim: Obj) -> Usage:
    spec = claim.get("spec") or {}
    usage: Usage = {"persistentvolumeclaims": count(), "count/persistentvolumeclaims": count()}
    storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
    class_name = spec.get("storageClassName")
    if class_name:
        usage[f"{class_name}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = count()
    if storage:
        usage["requests.storage"] = Quantity.parse(str(storage))
        if class_name:
            usage[f"{class_name}{STORAGE_CLASS_SUFFIX}requests.storage"] = Quantity.parse(str(storage))
    return usage


def object_count_usage(plural: str, group: str) -> Usage:
    """Plain object counts; core resources also answer to their legacy bare names (`configmaps`)."""
    name = f"{plural}.{group}" if group else plural
    usage: Usage = {f"count/{name}": count()}
    if not group:
        usage[plural] = count()
    return usage


_LIFECYCLE_SCOPES = ("BestEffort", "NotBestEffort", "NotTerminating", "Terminating")


def _in_lifecycle_scope(pod: Obj, scope: str) -> bool:
    """Terminating, NotTerminating (by activeDeadlineSeconds), BestEffort, NotBestEffort (by QoS class)."""
    spec = pod.get("spec") or {}
    if scope in ("Terminating", "NotTerminating"):
        return (spec.get("activeDeadlineSeconds") is not None) == (scope == "Terminating")
    return (qos_class(spec) == "BestEffort") == (scope == "BestEffort")


def scope_requirements(quota: Obj) -> list[Obj]:
    """getScopeSelectorsFromQuota: `scopes` as Exists requirements, then the scopeSelector's."""
    spec = quota.get("spec") or {}
    requirements = [{"scopeName": scope, "operator": "Exists"} for scope in spec.get("scopes") or []]
    return requirements + list((spec.get("scopeSelector") or {}).get("matchExpressions") or [])


def _cross_namespace_terms(affinity: Obj) -> bool:
    terms = list(affinity.get("requiredDuringSchedulingIgnoredDuringExecution") or [])
    terms += [weighted.get("podAffinityTerm") or {}
              for weighted in affinity.get("preferredDuringSchedulingIgnoredDuringExecution") or []]
    return any(term.get("namespaces") or term.get("namespaceSelector") is not None for term in terms)


def uses_cross_namespace_affinity(pod: Obj) -> bool:
    """A pod (anti-)affinity term that names namespaces or selects them by label."""
    affinity = (pod.get("spec") or {}).get("affinity") or {}
    return any(_cross_namespace_terms(affinity.get(kind) or {}) for kind in ("podAffinity", "podAntiAffinity"))


def pod_matches_scope(pod: Obj, requirement: Obj) -> bool:
    """podMatchesScopeFunc. PriorityClass selects on the pod's class name as if it were the label
    `PriorityClass`; an unknown scope matches nothing."""
    scope = requirement.get("scopeName")
    if scope in _LIFECYCLE_SCOPES:
        return _in_lifecycle_scope(pod, scope)
    if scope == "CrossNamespacePodAffinity":
        return uses_cross_namespace_affinity(pod)
    if scope != "PriorityClass":
        return False
    class_name = (pod.get("spec") or {}).get("priorityClassName")
    selector = label_selector_from_object({"matchExpressions": [{
        "key": scope, "operator": requirement.get("operator", ""), "values": requirement.get("values") or []}]})
    return selector.matches({scope: class_name} if class_name else {})


def usage_of(plural: str, group: str, objects: Iterable[Obj], requirements: Iterable[Obj] = (),
             now: datetime | None = None) -> Usage:
    """The summed usage of one resource's objects in a namespace, counting only the objects in the
    scopes `requirements` select (scope_requirements): pods alone can be, a scoped quota counts
    nothing else (MatchesNoScopeFunc)."""
    now = now or datetime.now(timezone.utc)
    requirements = list(requirements)
    is_pods = group == "" and plural == "pods"
    if requirements and not is_pods:
        return {}
    total: Usage = {}
    for obj in objects:
        if is_pods:
            if all(pod_matches_scope(obj, requirement) for requirement in requirements):
                # count/pods counts every pod in storage; the rest only pods still alive (PodUsageFunc)
                add(total, pod_usage(obj) if pod_counts(obj, now) else {"count/pods": count()})
        elif group == "" and plural == "services":
            add(total, service_usage(obj))
        elif group == "" and plural == "persistentvolumeclaims":
            add(total, claim_usage(obj))
        else:
            add(total, object_count_usage(plural, group))
    return total


def used_status(hard: dict[str, str], usage: Usage) -> dict[str, str]:
    """status.used: every hard resource, zero when nothing uses it, in canonical quantity form."""
    return {name: str(usage[name]) if name in usage else "0" for name in hard}
