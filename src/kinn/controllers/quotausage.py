"""What objects use of a ResourceQuota (pkg/quota/v1/evaluator/core), as pure functions.

Each evaluator turns one object into usage: a pod counts as `pods` and `count/pods` and adds its
effective requests and limits (the larger of the containers' sum and any init container, plus
overhead) under `requests.*`, `limits.*` and the bare `cpu`/`memory`; a service counts its
LoadBalancer type and node ports; a claim adds its storage request, also per storage class; any
other object counts as `count/<resource>.<group>`. Finished pods use nothing, nor do pods whose
grace period ran out. A quota reports usage only for what its `hard` names.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from fractions import Fraction
from typing import Any, Iterable

from kinn.api.qos import qos_class
from kinn.api.quantity import Format, Quantity
from kinn.controllers.podutil import is_pod_terminal, parse_time

Obj = dict[str, Any]
Usage = dict[str, Quantity]

COMPUTE = ("cpu", "memory", "ephemeral-storage")
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"


def add(total: Usage, name: str, amount: Quantity) -> None:
    """Sum keeping the first addend's notation, as Quantity.Add does (64Mi + 128Mi = 192Mi), which
    takes the second's when the first is zero: admission adds a pod's 64Mi to a used "0" as 64Mi."""
    current = total.get(name)
    if current is None or current.value == 0:
        total[name] = amount
    else:
        total[name] = Quantity(current.value + amount.value, current.format)


def merge(total: Usage, usage: Usage) -> None:
    for name, amount in usage.items():
        add(total, name, amount)


def count(n: int = 1) -> Quantity:
    return Quantity(Fraction(n), Format.DECIMAL_SI)


def resource_list(values: Obj | None) -> Usage:
    """A ResourceList (`{"cpu": "100m"}`) as quantities."""
    return {name: Quantity.parse(str(v)) for name, v in (values or {}).items()}


def _resources(container: Obj, kind: str) -> dict[str, Quantity]:
    return resource_list((container.get("resources") or {}).get(kind))


def containers_resources(spec: Obj, kind: str) -> Usage:
    """The containers' requests or limits together: their sum, or an init container's where larger
    (LimitRanger's Pod limits judge this, without the overhead)."""
    total: Usage = {}
    for container in spec.get("containers") or []:
        merge(total, _resources(container, kind))
    for container in spec.get("initContainers") or []:
        for name, amount in _resources(container, kind).items():
            if name not in total or total[name] < amount:
                total[name] = amount
    return total


def pod_resources(spec: Obj, kind: str) -> dict[str, Quantity]:
    """Effective pod requests or limits: max(sum of containers, each init container) + overhead."""
    total = containers_resources(spec, kind)
    if kind == "requests" or total:
        merge(total, resource_list(spec.get("overhead")))
    return total


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
    for name, amount in pod_resources(spec, "requests").items():
        usage[f"requests.{name}"] = amount
        if name in COMPUTE:
            usage[name] = amount
    for name, amount in pod_resources(spec, "limits").items():
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


def matches_scopes(pod: Obj, scopes: Iterable[str]) -> bool:
    """The quota scopes that judge pods alone (Terminating, NotTerminating, BestEffort, NotBestEffort)."""
    spec = pod.get("spec") or {}
    for scope in scopes:
        terminating = spec.get("activeDeadlineSeconds") is not None
        best_effort = qos_class(spec) == "BestEffort"
        if (scope == "Terminating" and not terminating) or (scope == "NotTerminating" and terminating):
            return False
        if (scope == "BestEffort" and not best_effort) or (scope == "NotBestEffort" and best_effort):
            return False
    return True


def usage_of(plural: str, group: str, objects: Iterable[Obj], scopes: Iterable[str] = (),
             now: datetime | None = None) -> Usage:
    """The summed usage of one resource's objects in a namespace."""
    now = now or datetime.now(timezone.utc)
    scopes = list(scopes)
    total: Usage = {}
    for obj in objects:
        if group == "" and plural == "pods":
            if pod_counts(obj, now) and matches_scopes(obj, scopes):
                merge(total, pod_usage(obj))
        elif group == "" and plural == "services":
            merge(total, service_usage(obj))
        elif group == "" and plural == "persistentvolumeclaims":
            merge(total, claim_usage(obj))
        else:
            merge(total, object_count_usage(plural, group))
    return total


def used_status(hard: dict[str, str], usage: Usage) -> dict[str, str]:
    """status.used: every hard resource, zero when nothing uses it, in canonical quantity form."""
    return {name: str(usage[name]) if name in usage else "0" for name in hard}
