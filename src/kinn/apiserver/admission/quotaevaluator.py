"""What a quota evaluator (pkg/quota/v1: Evaluator) answers at admission for one kind of object.

The usage is kinn.controllers.quotausage's, the very sums the resourcequota controller recounts, so
what admission charges and what the controller later finds agree. A quota concerns an object when
its `status.hard` names a resource of the object's kind (what the controller has published, not
the spec) and, for pods alone, when the pod is in every scope the quota selects: a scoped quota
never counts other kinds (generic.MatchesNoScopeFunc). Pods must also name the cpu and memory a
quota tracks, container by container (podEvaluator.Constraints).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

from kinn.apiserver.admission import Operation
from kinn.controllers.quotausage import Usage, pod_matches_scope, pod_usage, scope_requirements, usage_of
from kinn.controllers.resourcequota import evaluated_resource

Obj = dict[str, Any]

# podEvaluator's validationSet: the compute resources a quota makes every container name.
_MUST_SPECIFY = frozenset({"cpu", "limits.cpu", "limits.memory", "memory", "requests.cpu", "requests.memory"})
# Kinds whose usage an update can change (a service's type or ports, a claim's size): charged for the
# increase. Pods are not: their resources are immutable without InPlacePodVerticalScaling (alpha in 1.32).
_CHARGED_ON_UPDATE = frozenset({("", "services"), ("", "persistentvolumeclaims")})


def missing_compute(required: Iterable[str], pod: Obj) -> str | None:
    """Constraints: `must specify <resource> for: <containers>; ...` when a tracked cpu or memory
    resource is absent from a container's requests or limits."""
    needed = _MUST_SPECIFY.intersection(required)
    spec = pod.get("spec") or {}
    missing: dict[str, set[str]] = {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        named = pod_usage({"spec": {"containers": [container]}})
        for name in needed.difference(named):
            missing.setdefault(name, set()).add(container.get("name", ""))
    if not missing:
        return None
    return "must specify " + "; ".join(f"{name} for: {','.join(sorted(containers))}"
                                       for name, containers in sorted(missing.items()))


@dataclass(frozen=True)
class Evaluator:
    """The quota evaluator of one resource (`plural` in `group`)."""

    plural: str
    group: str

    @property
    def is_pods(self) -> bool:
        return (self.group, self.plural) == ("", "pods")

    def handles(self, op: Operation) -> bool:
        if op is Operation.CREATE:
            return True
        return op is Operation.UPDATE and (self.group, self.plural) in _CHARGED_ON_UPDATE

    def matching_resources(self, names: Iterable[str]) -> list[str]:
        """The quota resources this kind's objects use."""
        return sorted(name for name in names if evaluated_resource(name) == (self.plural, self.group))

    def matches(self, quota: Obj, obj: Obj) -> bool:
        """generic.Matches: the quota tracks one of our resources and the object is in its scopes."""
        if not self.matching_resources((quota.get("status") or {}).get("hard") or {}):
            return False
        requirements = scope_requirements(quota)
        if not self.is_pods:
            return not requirements
        return all(pod_matches_scope(obj, requirement) for requirement in requirements)

    def constraints(self, required: Iterable[str], obj: Obj) -> str | None:
        return missing_compute(required, obj) if self.is_pods else None

    def usage(self, obj: Obj) -> Usage:
        return usage_of(self.plural, self.group, [obj])
