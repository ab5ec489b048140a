"""InterPodAffinity: required pod affinity/anti-affinity (both the incoming pod's and existing pods'
anti-affinity towards it) filter nodes per topology domain; preferred terms score them.

PreFilter counts, once per cycle, matching pods per (topologyKey, value); Filter then only looks
up the node's own label values, as upstream's preFilterState does.
"""

from __future__ import annotations

from typing import NamedTuple

from kinn.scheduler.framework.interface import (
    ASSIGNED_POD_CHANGE, MAX_NODE_SCORE, NODE_ADD, NODE_UPDATE, ClusterEvent, CycleState, Handle, SKIP, SUCCESS,
    Status, cluster_events,
)
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo
from kinn.scheduler.plugins.helpers import AffinityTerm, affinity_terms, weighted_affinity_terms

NAME = "InterPodAffinity"
ERR_REASON_AFFINITY = "node(s) didn't match pod affinity rules"
ERR_REASON_ANTI_AFFINITY = "node(s) didn't match pod anti-affinity rules"
ERR_REASON_EXISTING_ANTI_AFFINITY = "node(s) didn't satisfy existing pods anti-affinity rules"
HARD_POD_AFFINITY_WEIGHT = 1  # InterPodAffinityArgs.hardPodAffinityWeight default
_REJECT_AFFINITY = Status.unresolvable(ERR_REASON_AFFINITY, plugin=NAME)
_REJECT_ANTI = Status.unschedulable(ERR_REASON_ANTI_AFFINITY, plugin=NAME)
_REJECT_EXISTING = Status.unschedulable(ERR_REASON_EXISTING_ANTI_AFFINITY, plugin=NAME)
_FILTER_STATE = f"PreFilter{NAME}"
_SCORE_STATE = f"PreScore{NAME}"
Pair = tuple[str, str]


class Terms(NamedTuple):
    affinity: list[AffinityTerm]
    anti_affinity: list[AffinityTerm]
    preferred_affinity: list[AffinityTerm]
    preferred_anti_affinity: list[AffinityTerm]


def terms_of(pod: PodInfo) -> Terms:
    if pod.parsed_terms is None:
        ns, labels = pod.namespace, pod.labels
        pod.parsed_terms = Terms(affinity_terms(pod.affinity, ns, labels), affinity_terms(pod.anti_affinity, ns, labels),
                                 weighted_affinity_terms(pod.preferred_affinity, ns, labels),
                                 weighted_affinity_terms(pod.preferred_anti_affinity, ns, labels))
    return pod.parsed_terms  # type: ignore[return-value]


class FilterState(NamedTuple):
    terms: Terms
    existing_anti_counts: dict[Pair, int]
    affinity_counts: dict[Pair, int]
    anti_affinity_counts: dict[Pair, int]


def _count(counts: dict[Pair, int], key: str, node: NodeInfo, delta: int) -> None:
    value = node.labels.get(key)
    if value is not None:
        counts[(key, value)] = counts.get((key, value), 0) + delta


class InterPodAffinity:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [*ASSIGNED_POD_CHANGE, NODE_ADD, NODE_UPDATE, *cluster_events("Namespace", "Add", "Update")]

    def _namespace_labels(self, namespace: str) -> dict[str, str]:
        ns = self.handle.listers.get("Namespace", namespace)
        return (ns or {}).get("metadata", {}).get("labels") or {}

    # -- filter ----------------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        snapshot = self.handle.snapshot
        with_anti = snapshot.have_pods_with_required_anti_affinity()
        if not pod.affinity and not pod.anti_affinity and not with_anti:
            return SKIP
        terms = terms_of(pod)
        own_ns_labels = self._namespace_labels(pod.namespace)
        existing_anti: dict[Pair, int] = {}
        for node in with_anti:
            for existing in node.pods.values():
                for term in terms_of(existing).anti_affinity:
                    if term.matches(pod.namespace, pod.labels, own_ns_labels):
                        _count(existing_anti, term.topology_key, node, 1)
        affinity: dict[Pair, int] = {}
        anti: dict[Pair, int] = {}
        if terms.affinity or terms.anti_affinity:
            for node in snapshot.node_infos:
                for existing in node.pods.values():
                    ns_labels = self._namespace_labels(existing.namespace)
                    for term in terms.affinity:
                        if term.matches(existing.namespace, existing.labels, ns_labels):
                            _count(affinity, term.topology_key, node, 1)
                    for term in terms.anti_affinity:
                        if term.matches(existing.namespace, existing.labels, ns_labels):
                            _count(anti, term.topology_key, node, 1)
        state[_FILTER_STATE] = FilterState(terms, existing_anti, affinity, anti)
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s: FilterState = state[_FILTER_STATE]
        if s.terms.affinity and not self._satisfies_affinity(s, pod, node):
            return _REJECT_AFFINITY
        for term in s.terms.anti_affinity:
            value = node.labels.get(term.topology_key)
            if value is not None and s.anti_affinity_counts.get((term.topology_key, value), 0) > 0:
                return _REJECT_ANTI
        for (key, value), count in s.existing_anti_counts.items():
            if count > 0 and node.labels.get(key) == value:
                return _REJECT_EXISTING
        return SUCCESS

    def _satisfies_affinity(self, s: FilterState, pod: PodInfo, node: NodeInfo) -> bool:
        pods_exist = True
        for term in s.terms.affinity:
            value = node.labels.get(term.topology_key)
            if value is None:
                return False  # every topology key must exist on the node
            if s.affinity_counts.get((term.topology_key, value), 0) <= 0:
                pods_exist = False
        if pods_exist:
            return True
        # The first pod of a group with affinity to itself: allowed if nothing else matches anywhere.
        ns_labels = self._namespace_labels(pod.namespace)
        return not s.affinity_counts and all(t.matches(pod.namespace, pod.labels, ns_labels) for t in s.terms.affinity)

    # -- score -----------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        snapshot = self.handle.snapshot
        terms = terms_of(pod)
        has_preferred = bool(terms.preferred_affinity or terms.preferred_anti_affinity)
        walk = snapshot.node_infos if has_preferred else snapshot.have_pods_with_affinity()
        if not walk:
            return SKIP
        own_ns_labels = self._namespace_labels(pod.namespace)
        scores: dict[Pair, int] = {}
        for node in walk:
            for existing in node.pods.values():
                ns_labels = self._namespace_labels(existing.namespace)
                for term in terms.preferred_affinity:
                    if term.matches(existing.namespace, existing.labels, ns_labels):
                        _count(scores, term.topology_key, node, term.weight)
                for term in terms.preferred_anti_affinity:
                    if term.matches(existing.namespace, existing.labels, ns_labels):
                        _count(scores, term.topology_key, node, -term.weight)
                if not existing.has_affinity:
                    continue
                theirs = terms_of(existing)
                for term in theirs.affinity:
                    if term.matches(pod.namespace, pod.labels, own_ns_labels):
                        _count(scores, term.topology_key, node, HARD_POD_AFFINITY_WEIGHT)
                for term in theirs.preferred_affinity:
                    if term.matches(pod.namespace, pod.labels, own_ns_labels):
                        _count(scores, term.topology_key, node, term.weight)
                for term in theirs.preferred_anti_affinity:
                    if term.matches(pod.namespace, pod.labels, own_ns_labels):
                        _count(scores, term.topology_key, node, -term.weight)
        if not scores:
            return SKIP
        state[_SCORE_STATE] = scores
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        scores: dict[Pair, int] = state[_SCORE_STATE]
        return [sum(score for (key, value), score in scores.items() if node.labels.get(key) == value)
                for node in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        """Min-max scaling to 0..100, as upstream (negative totals from anti-affinity become low scores)."""
        if not scores:
            return
        low, high = min(scores), max(scores)
        spread = high - low
        scores[:] = [int(MAX_NODE_SCORE * (s - low) / spread) if spread > 0 else 0 for s in scores]
