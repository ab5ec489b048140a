"""Does a pod's nodeSelector and required node affinity admit a node (component-helpers nodeaffinity).

Shared by the scheduler's NodeAffinity, PodTopologySpread and VolumeBinding plugins and the DaemonSet
controller, which must agree on which nodes a pod may run on. Terms are ORed, a term's requirements
ANDed; an empty term matches nothing; `matchFields` sees only `metadata.name`, as upstream.

The matchers take a node's name and labels rather than the node object, because the scheduler
precomputes both per node; `pod_matches_node` is the node-object form for controllers.
"""

from __future__ import annotations

from typing import Any, Mapping

from kinn.api.selectors import _go_int

Obj = dict[str, Any]


def requirement_matches(requirement: Obj, values: Mapping[str, str]) -> bool:
    """One NodeSelectorRequirement against a node's labels (or fields)."""
    key, operator, wanted = requirement.get("key", ""), requirement.get("operator", ""), requirement.get("values") or []
    if operator == "In":
        return key in values and values[key] in wanted
    if operator == "NotIn":
        return key not in values or values[key] not in wanted
    if operator == "Exists":
        return key in values
    if operator == "DoesNotExist":
        return key not in values
    if operator in ("Gt", "Lt") and key in values and len(wanted) == 1:
        have, bound = _go_int(values[key]), _go_int(wanted[0])
        if have is None or bound is None:
            return False
        return have > bound if operator == "Gt" else have < bound
    return False


def node_selector_term_matches(term: Obj, node_name: str, labels: Mapping[str, str]) -> bool:
    """All requirements of a term hold; an empty term matches nothing (v1.NodeSelectorTerm)."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    fields_view = {"metadata.name": node_name}
    return all(requirement_matches(e, labels) for e in expressions) and all(
        requirement_matches(f, fields_view) for f in fields)


def node_selector_matches(selector: Obj, node_name: str, labels: Mapping[str, str]) -> bool:
    """A NodeSelector: its terms are ORed."""
    return any(node_selector_term_matches(t, node_name, labels) for t in selector.get("nodeSelectorTerms") or ())


def required_node_affinity_matches(spec: Obj, node_name: str, labels: Mapping[str, str]) -> bool:
    """spec.nodeSelector AND required node affinity (nodeaffinity.GetRequiredNodeAffinity().Match)."""
    for key, wanted in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != wanted:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    return required is None or node_selector_matches(required, node_name, labels)


def pod_matches_node(pod_spec: Obj, node: Obj) -> bool:
    """`required_node_affinity_matches` against a Node object."""
    metadata = node.get("metadata", {})
    return required_node_affinity_matches(pod_spec, metadata.get("name", ""), metadata.get("labels") or {})
