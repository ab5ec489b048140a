"""Does a pod's nodeSelector and required node affinity admit a node (component-helpers nodeaffinity).

Shared by the scheduler's NodeAffinity filter and the DaemonSet controller, which must agree on
which nodes a pod may run on. Terms are ORed, a term's requirements ANDed; an empty term matches
nothing; `matchFields` supports only `metadata.name`, as upstream.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

Obj = dict[str, Any]


def _as_int(value: str) -> int | None:
    try:
        return int(value)
    except ValueError:
        return None


def _compare(have: str | None, values: list[str], test: Callable[[int, int], bool]) -> bool:
    if have is None or len(values) != 1:
        return False
    left, right = _as_int(have), _as_int(values[0])
    return left is not None and right is not None and test(left, right)


def requirement_matches(requirement: Obj, fields: Mapping[str, str]) -> bool:
    """One NodeSelectorRequirement against a node's labels (or fields)."""
    key, operator, values = requirement.get("key", ""), requirement.get("operator"), requirement.get("values") or []
    have = fields.get(key)
    if operator == "In":
        return have is not None and have in values
    if operator == "NotIn":
        return have is None or have not in values
    if operator == "Exists":
        return have is not None
    if operator == "DoesNotExist":
        return have is None
    if operator == "Gt":
        return _compare(have, values, lambda a, b: a > b)
    if operator == "Lt":
        return _compare(have, values, lambda a, b: a < b)
    return False


def term_matches(term: Obj, node: Obj) -> bool:
    expressions = term.get("matchExpressions") or []
    field_requirements = term.get("matchFields") or []
    if not expressions and not field_requirements:
        return False
    labels = node.get("metadata", {}).get("labels") or {}
    fields = {"metadata.name": node.get("metadata", {}).get("name", "")}
    return (all(requirement_matches(r, labels) for r in expressions)
            and all(r.get("key") == "metadata.name" and requirement_matches(r, fields) for r in field_requirements))


def node_selector_matches(selector: Obj | None, node: Obj) -> bool:
    """A NodeSelector (ORed terms); None admits every node."""
    if selector is None:
        return True
    return any(term_matches(term, node) for term in selector.get("nodeSelectorTerms") or [])


def required_node_affinity(pod_spec: Obj) -> Obj | None:
    affinity = (pod_spec.get("affinity") or {}).get("nodeAffinity") or {}
    return affinity.get("requiredDuringSchedulingIgnoredDuringExecution")


def pod_matches_node(pod_spec: Obj, node: Obj) -> bool:
    """nodeSelector labels all present and the required node affinity satisfied (GetRequiredNodeAffinity.Match)."""
    labels = node.get("metadata", {}).get("labels") or {}
    if any(labels.get(k) != v for k, v in (pod_spec.get("nodeSelector") or {}).items()):
        return False
    return node_selector_matches(required_node_affinity(pod_spec), node)
