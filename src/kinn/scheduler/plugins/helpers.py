"""Matching helpers several plugins share: node selectors, tolerations, pod affinity terms.

Label selectors inside pod specs are compiled once per distinct selector (keyed by their JSON),
since the same few selectors are matched against thousands of pods per cycle.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Iterable

import orjson

from kinn.api.selectors import (
    NOTHING, LabelSelector, SelectorError, _go_int, label_selector_from_object, parse_label_selector,
)

Obj = dict[str, Any]


@lru_cache(maxsize=4096)
def _compile(selector_json: bytes) -> LabelSelector:
    try:
        return label_selector_from_object(orjson.loads(selector_json))
    except SelectorError:
        return NOTHING


def compile_selector(selector: Obj | None) -> LabelSelector:
    """`metav1.LabelSelectorAsSelector`, memoised; an invalid selector selects nothing."""
    if selector is None:
        return NOTHING
    return _compile(orjson.dumps(selector, option=orjson.OPT_SORT_KEYS))


# -- node selectors -------------------------------------------------------------------------------

def _expression_matches(expr: Obj, values: dict[str, str]) -> bool:
    key, operator, wanted = expr.get("key", ""), expr.get("operator", ""), expr.get("values") or []
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


def node_selector_term_matches(term: Obj, node_name: str, labels: dict[str, str]) -> bool:
    """All expressions of a term hold; an empty term matches nothing (v1.NodeSelectorTerm)."""
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False
    fields_view = {"metadata.name": node_name}
    return all(_expression_matches(e, labels) for e in expressions) and all(
        _expression_matches(f, fields_view) for f in fields)


def node_selector_matches(selector: Obj, node_name: str, labels: dict[str, str]) -> bool:
    """Terms are ORed (a required node affinity)."""
    return any(node_selector_term_matches(t, node_name, labels) for t in selector.get("nodeSelectorTerms") or ())


def required_node_affinity_matches(spec: Obj, node_name: str, labels: dict[str, str]) -> bool:
    """spec.nodeSelector AND required node affinity (nodeaffinity.GetRequiredNodeAffinity().Match)."""
    for key, wanted in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != wanted:
            return False
    required = (((spec.get("affinity") or {}).get("nodeAffinity") or {})
                .get("requiredDuringSchedulingIgnoredDuringExecution"))
    return required is None or node_selector_matches(required, node_name, labels)


# -- taints and tolerations ------------------------------------------------------------------------

def tolerates(toleration: Obj, taint: Obj) -> bool:
    """v1.Toleration.ToleratesTaint: empty effect/key are wildcards; Exists ignores the value."""
    if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
        return False
    if toleration.get("key") and toleration["key"] != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    return operator == "Equal" and (toleration.get("value") or "") == (taint.get("value") or "")


def find_untolerated_taint(taints: Iterable[Obj], tolerations: list[Obj], effects: tuple[str, ...]) -> Obj | None:
    for taint in taints:
        if taint.get("effect") in effects and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


# -- pod affinity terms ----------------------------------------------------------------------------

class AffinityTerm:
    """A PodAffinityTerm resolved against the pod that declares it (framework.AffinityTerm):
    namespaces default to the pod's own, matchLabelKeys/mismatchLabelKeys pin the pod's label values."""

    __slots__ = ("selector", "namespaces", "namespace_selector", "topology_key", "weight")

    def __init__(self, term: Obj, owner_namespace: str, owner_labels: dict[str, str], weight: int = 0) -> None:
        selector = compile_selector(term.get("labelSelector"))
        extra = [f"{k}={owner_labels[k]}" for k in term.get("matchLabelKeys") or () if k in owner_labels]
        extra += [f"{k}!={owner_labels[k]}" for k in term.get("mismatchLabelKeys") or () if k in owner_labels]
        if extra and not selector.nothing:
            selector = LabelSelector(selector.requirements + parse_label_selector(",".join(extra)).requirements)
        self.selector = selector
        namespaces = term.get("namespaces") or []
        ns_selector = term.get("namespaceSelector")
        self.namespace_selector = compile_selector(ns_selector) if ns_selector is not None else None
        self.namespaces = set(namespaces) if namespaces or ns_selector is not None else {owner_namespace}
        self.topology_key: str = term.get("topologyKey", "")
        self.weight = weight

    def matches(self, namespace: str, labels: dict[str, str], namespace_labels: dict[str, str] | None) -> bool:
        """Does a pod in `namespace` with `labels` fall under this term?"""
        if namespace not in self.namespaces and not (
                self.namespace_selector is not None and self.namespace_selector.matches(namespace_labels or {})):
            return False
        return self.selector.matches(labels)


def affinity_terms(terms: list[Obj], namespace: str, labels: dict[str, str]) -> list[AffinityTerm]:
    return [AffinityTerm(t, namespace, labels) for t in terms]


def weighted_affinity_terms(terms: list[Obj], namespace: str, labels: dict[str, str]) -> list[AffinityTerm]:
    return [AffinityTerm(t.get("podAffinityTerm") or {}, namespace, labels, t.get("weight", 0)) for t in terms]
