"""LimitRanger (plugin/pkg/admission/limitranger): a namespace's LimitRanges default and bound what
its pods and claims ask for.

Mutation gives a new pod's containers the `default` limits and `defaultRequest` requests of every
Container item for what they leave out (the API defaults those two from `max` and `min`) and says
what it set in the `kubernetes.io/limit-ranger` annotation. Validation then holds every container
to the Container items, the pod's totals to the Pod items and a claim's storage request to the
PersistentVolumeClaim items: `min`, `max` and `maxLimitRequestRatio`. The first LimitRange broken
refuses the request with every violation it found, in upstream's words.

Pods are judged on create only: their containers' resources cannot change afterwards.
"""

from __future__ import annotations

import math
from fractions import Fraction
from typing import TYPE_CHECKING, Any, Callable

from kinn.api import errors
from kinn.api.podresources import pod_limits, pod_requests, quantities
from kinn.api.qos import qos_class
from kinn.api.quantity import Quantity
from kinn.api.resources import TABLE, Resource
from kinn.apiserver.admission import Operation, is_pod_create
from kinn.apiserver.admission.lister import Lister
from kinn.controllers.quotausage import Usage
from kinn.storage.interface import Store

if TYPE_CHECKING:
    from kinn.apiserver.registry.generic import RequestContext

Obj = dict[str, Any]
Violations = list[str]

LIMIT_RANGER_ANNOTATION = "kubernetes.io/limit-ranger"
_LIMIT_RANGES = TABLE.lookup("", "v1", "limitranges")
# resource.MaxMilliValue: values up to this compare in thousandths, larger ones in whole units.
MAX_MILLI_VALUE = (2**63 - 1) // 1000


def _items(limit_range: Obj, limit_type: str) -> list[Obj]:
    return [item for item in (limit_range.get("spec") or {}).get("limits") or [] if item.get("type") == limit_type]


# -- defaulting ---------------------------------------------------------------------------------


def _fill(resources: Obj, kind: str, defaults: Obj) -> list[str]:
    """Add the defaults a container's requests or limits lack; the names added, sorted."""
    missing = sorted(name for name in defaults if name not in (resources.get(kind) or {}))
    if missing:
        resources.setdefault(kind, {}).update({name: defaults[name] for name in missing})
    return missing


def _default_container(container: Obj, requests: Obj, limits: Obj, role: str) -> list[str]:
    """mergeContainerResources: fill in the defaults, and describe what was set for the annotation."""
    resources = container.setdefault("resources", {})
    notes = []
    set_limits = _fill(resources, "limits", limits)
    set_requests = _fill(resources, "requests", requests)
    if set_requests:
        notes.append(f"{', '.join(set_requests)} request for {role} {container.get('name', '')}")
    if set_limits:
        notes.append(f"{', '.join(set_limits)} limit for {role} {container.get('name', '')}")
    return notes


def default_pod_resources(limit_range: Obj, pod: Obj) -> bool:
    """PodMutateLimitFunc: one LimitRange's container defaults (later items override earlier ones);
    True if anything was set. Each LimitRange that sets something rewrites the annotation."""
    requests: Obj = {}
    limits: Obj = {}
    for item in _items(limit_range, "Container"):
        requests.update(item.get("defaultRequest") or {})
        limits.update(item.get("default") or {})
    spec = pod.setdefault("spec", {})
    notes = []
    for container in spec.get("containers") or []:
        notes += _default_container(container, requests, limits, "container")
    for container in spec.get("initContainers") or []:
        notes += _default_container(container, requests, limits, "init container")
    if notes:
        annotations = pod.setdefault("metadata", {}).setdefault("annotations", {})
        annotations[LIMIT_RANGER_ANNOTATION] = "LimitRanger plugin set: " + "; ".join(notes)
    return bool(notes)


# -- constraints --------------------------------------------------------------------------------


def _compared(*quantities: Quantity | None) -> list[int]:
    """requestLimitEnforcedValues: thousandths when no value would overflow them, else whole units,
    each rounded up; an absent quantity is 0."""
    values = [q.value if q is not None else Fraction(0) for q in quantities]
    if all(math.ceil(v) <= MAX_MILLI_VALUE for v in values):
        return [math.ceil(v * 1000) for v in values]
    return [math.ceil(v) for v in values]


def min_violation(limit_type: str, name: str, enforced: Quantity, requests: Usage, limits: Usage) -> str | None:
    request, limit = requests.get(name), limits.get(name)
    observed_request, observed_limit, minimum = _compared(request, limit, enforced)
    if request is None:
        return f"minimum {name} usage per {limit_type} is {enforced}.  No request is specified"
    if observed_request < minimum:
        return f"minimum {name} usage per {limit_type} is {enforced}, but request is {request}"
    if limit is not None and observed_limit < minimum:
        return f"minimum {name} usage per {limit_type} is {enforced}, but limit is {limit}"
    return None


def max_violation(limit_type: str, name: str, enforced: Quantity, requests: Usage, limits: Usage) -> str | None:
    request, limit = requests.get(name), limits.get(name)
    observed_request, observed_limit, maximum = _compared(request, limit, enforced)
    if limit is None:
        return f"maximum {name} usage per {limit_type} is {enforced}.  No limit is specified"
    if observed_limit > maximum:
        return f"maximum {name} usage per {limit_type} is {enforced}, but limit is {limit}"
    if request is not None and observed_request > maximum:
        return f"maximum {name} usage per {limit_type} is {enforced}, but request is {request}"
    return None


def max_request_violation(limit_type: str, name: str, enforced: Quantity, requests: Usage) -> str | None:
    """maxRequestConstraint: for claims, whose limits are not user input, the max bounds the request."""
    request = requests.get(name)
    observed_request, _, maximum = _compared(request, None, enforced)
    if request is None:
        return f"maximum {name} usage per {limit_type} is {enforced}.  No request is specified"
    if observed_request > maximum:
        return f"maximum {name} usage per {limit_type} is {enforced}, but request is {request}"
    return None


def ratio_violation(limit_type: str, name: str, enforced: Quantity, requests: Usage, limits: Usage) -> str | None:
    """limitRequestRatioConstraint: limit / request at most the enforced ratio, shown as Go's %f."""
    request, limit = requests.get(name), limits.get(name)
    observed_request, observed_limit, _ = _compared(request, limit, enforced)
    prefix = f"{name} max limit to request ratio per {limit_type} is {enforced}"
    if request is None or observed_request == 0:
        return f"{prefix}, but no request is specified or request is 0"
    if limit is None or observed_limit == 0:
        return f"{prefix}, but no limit is specified or limit is 0"
    ratio = observed_limit / observed_request
    observed, allowed = ratio, float(math.ceil(enforced.value))
    if math.ceil(enforced.value) <= MAX_MILLI_VALUE:
        observed, allowed = ratio * 1000, float(math.ceil(enforced.value * 1000))
    return f"{prefix}, but provided ratio is {ratio:f}" if observed > allowed else None


def _bounds(item: Obj, requests: Usage, limits: Usage) -> Violations:
    """An item's min, max and ratio checks of one set of requests and limits (upstream's map order is
    random; here it is by resource name)."""
    limit_type = item["type"]
    found = []
    for name, enforced in sorted(quantities(item.get("min")).items()):
        found.append(min_violation(limit_type, name, enforced, requests, limits))
    for name, enforced in sorted(quantities(item.get("max")).items()):
        found.append(max_violation(limit_type, name, enforced, requests, limits))
    for name, enforced in sorted(quantities(item.get("maxLimitRequestRatio")).items()):
        found.append(ratio_violation(limit_type, name, enforced, requests, limits))
    return [violation for violation in found if violation is not None]


def _container_resources(container: Obj) -> tuple[Usage, Usage]:
    resources = container.get("resources") or {}
    return quantities(resources.get("requests")), quantities(resources.get("limits"))


def pod_violations(limit_range: Obj, pod: Obj) -> Violations:
    """PodValidateLimitFunc: Container items bound each container and init container, Pod items the
    containers' totals."""
    spec = pod.get("spec") or {}
    found: Violations = []
    for item in (limit_range.get("spec") or {}).get("limits") or []:
        if item.get("type") == "Container":
            for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
                found += _bounds(item, *_container_resources(container))
        elif item.get("type") == "Pod":
            found += _bounds(item, pod_requests(spec, quantities, overhead=False),
                              pod_limits(spec, quantities, overhead=False))
    return found


def claim_violations(limit_range: Obj, claim: Obj) -> Violations:
    """PersistentVolumeClaimValidateLimitFunc: min and max of what the claim requests."""
    requests = quantities(((claim.get("spec") or {}).get("resources") or {}).get("requests"))
    found = []
    for item in _items(limit_range, "PersistentVolumeClaim"):
        for name, enforced in sorted(quantities(item.get("min")).items()):
            found.append(min_violation("PersistentVolumeClaim", name, enforced, requests, {}))
        for name, enforced in sorted(quantities(item.get("max")).items()):
            found.append(max_request_violation("PersistentVolumeClaim", name, enforced, requests))
    return [violation for violation in found if violation is not None]


_VALIDATORS: dict[tuple[str, str], Callable[[Obj, Obj], Violations]] = {
    ("", "pods"): pod_violations,
    ("", "persistentvolumeclaims"): claim_violations,
}


def _judged(op: Operation, resource: Resource, obj: Obj, old: Obj | None) -> bool:
    """SupportsAttributes, less the subresource test admission here cannot make: pods on create, claims
    on create and on an update that changes the spec (a status write never does), unless the claim is
    being deleted."""
    key = (resource.group, resource.plural)
    if op is Operation.CREATE:
        return key in _VALIDATORS
    if op is not Operation.UPDATE or key != ("", "persistentvolumeclaims") or old is None:
        return False
    return not old["metadata"].get("deletionTimestamp") and obj.get("spec") != old.get("spec")


class LimitRanger:
    def __init__(self, store: Store) -> None:
        assert _LIMIT_RANGES is not None
        self.limit_ranges = Lister(store, _LIMIT_RANGES)

    async def _limit_ranges(self, namespace: str) -> list[Obj]:
        return [stored.obj for stored in await self.limit_ranges.list(namespace)]

    async def admit(self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext") -> None:
        if not is_pod_create(op, resource):
            return
        changed = False
        for limit_range in await self._limit_ranges(ctx.namespace):
            changed |= default_pod_resources(limit_range, obj)
        if changed:
            # Upstream computes the QoS class after mutating admission (PrepareForCreate); kinn's
            # registry computed it before, from the resources the pod had without these defaults.
            obj.setdefault("status", {})["qosClass"] = qos_class(obj["spec"])

    async def validate(
        self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext"
    ) -> None:
        if not _judged(op, resource, obj, old):
            return
        violations_of = _VALIDATORS[(resource.group, resource.plural)]
        for limit_range in await self._limit_ranges(ctx.namespace):
            violations = violations_of(limit_range, obj)
            if violations:
                raise errors.forbidden(resource.plural, resource.group, obj["metadata"].get("name", ""),
                                       errors.aggregate(violations))
