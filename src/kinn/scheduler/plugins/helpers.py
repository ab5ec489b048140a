"""Matching helpers several plugins share: compiled label selectors and pod affinity terms.

Label selectors inside pod specs are compiled once per distinct selector (keyed by their JSON),
since the same few selectors are matched against thousands of pods per cycle.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import orjson

from kinn.api.selectors import (
    NOTHING, LabelSelector, SelectorError, label_selector_from_object, parse_label_selector,
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
