"""PodTopologySpread: topologySpreadConstraints (DoNotSchedule filters, ScheduleAnyway scores).

A pod without constraints gets the system defaults (hostname maxSkew 3, zone maxSkew 5, both
ScheduleAnyway) over the selector of the Services, ReplicationControllers, ReplicaSets and
StatefulSets that select it — how upstream spreads the pods of one workload (formerly the
SelectorSpread / DefaultPodTopologySpread plugins).
"""

from __future__ import annotations

import math
from typing import Iterable, NamedTuple

from kinn.api.nodeaffinity import required_node_affinity_matches
from kinn.api.selectors import LabelSelector, parse_label_selector
from kinn.api.taints import DO_NOT_SCHEDULE_EFFECTS, find_untolerated_taint
from kinn.scheduler.framework.interface import (
    ASSIGNED_POD_CHANGE, MAX_NODE_SCORE, NODE_ADD, NODE_UPDATE, ClusterEvent, CycleState, Handle, SKIP, SUCCESS,
    Status,
)
from kinn.scheduler.nodeinfo import LABEL_HOSTNAME, LABEL_ZONE, NodeInfo, PodInfo, memoized
from kinn.scheduler.plugins.helpers import compile_selector

NAME = "PodTopologySpread"
ERR_REASON_CONSTRAINTS_NOT_MATCH = "node(s) didn't match pod topology spread constraints"
ERR_REASON_NODE_LABEL_NOT_MATCH = ERR_REASON_CONSTRAINTS_NOT_MATCH + " (missing required label)"
_REJECT = Status.unschedulable(ERR_REASON_CONSTRAINTS_NOT_MATCH, plugin=NAME)
_MISSING_LABEL = Status.unresolvable(ERR_REASON_NODE_LABEL_NOT_MATCH, plugin=NAME)
_FILTER_STATE = f"PreFilter{NAME}"
_SCORE_STATE = f"PreScore{NAME}"
SYSTEM_DEFAULT_CONSTRAINTS = ((LABEL_HOSTNAME, 3), (LABEL_ZONE, 5))


class Constraint(NamedTuple):
    max_skew: int
    topology_key: str
    selector: LabelSelector
    min_domains: int
    honor_affinity: bool
    honor_taints: bool


def _constraint(spec: dict, pod: PodInfo) -> Constraint:
    selector = compile_selector(spec.get("labelSelector"))
    pinned = [f"{k}={pod.labels[k]}" for k in spec.get("matchLabelKeys") or () if k in pod.labels]
    if pinned and not selector.nothing:
        selector = LabelSelector(selector.requirements + parse_label_selector(",".join(pinned)).requirements)
    return Constraint(spec.get("maxSkew", 1), spec.get("topologyKey", ""), selector, spec.get("minDomains") or 1,
                      spec.get("nodeAffinityPolicy", "Honor") == "Honor", spec.get("nodeTaintsPolicy") == "Honor")


def _eligible(pod: PodInfo, node: NodeInfo, constraints: Iterable[Constraint], require_all: bool = True) -> bool:
    """Does this node's domain count (nodeAffinityPolicy / nodeTaintsPolicy, all topology keys present)?"""
    constraints = list(constraints)
    if require_all and not all(c.topology_key in node.labels for c in constraints):
        return False
    spec = pod.pod.get("spec", {})
    if any(c.honor_affinity for c in constraints) and not required_node_affinity_matches(spec, node.name, node.labels):
        return False
    if any(c.honor_taints for c in constraints) and find_untolerated_taint(
            node.taints, spec.get("tolerations") or [], DO_NOT_SCHEDULE_EFFECTS):
        return False
    return True


class FilterState(NamedTuple):
    constraints: list[Constraint]
    counts: list[dict[str, int]]  # per constraint: topology value → matching pods
    min_match: list[int]


class ScoreState(NamedTuple):
    constraints: list[Constraint]
    counts: list[dict[str, int]]
    weights: list[float]
    ignored: set[str]


def _terms(c: Constraint, counts: dict[str, int], weight: float, namespace: str, nodes: list[NodeInfo]) -> list[float]:
    """Each node's part of the score from one constraint: the matching pods in its domain × the
    constraint's weight + maxSkew − 1, or 0 for a node without the topology label. With the hostname
    as the key a node is its own domain, so its part is remembered on the node until its pods change."""
    key, skew = c.topology_key, c.max_skew - 1
    if key == LABEL_HOSTNAME:
        return memoized(nodes, (NAME, c.selector.key, namespace, weight, skew), lambda n: (
            n.count_matching(c.selector, namespace) * weight + skew if key in n.labels else 0.0))
    return [counts.get(n.labels[key], 0) * weight + skew if key in n.labels else 0.0 for n in nodes]


class PodTopologySpread:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [*ASSIGNED_POD_CHANGE, NODE_ADD, NODE_UPDATE]

    def _constraints(self, pod: PodInfo, action: str) -> list[Constraint]:
        specs = pod.pod.get("spec", {}).get("topologySpreadConstraints") or []
        return [_constraint(c, pod) for c in specs if c.get("whenUnsatisfiable", "DoNotSchedule") == action]

    def default_selector(self, pod: PodInfo) -> LabelSelector:
        """The union of the selectors of Services/RCs/RSs/StatefulSets selecting the pod (helper.DefaultSelector)."""
        requirements = []
        listers = self.handle.listers
        for kind in ("Service", "ReplicationController"):
            for owner in listers.in_namespace(kind, pod.namespace):
                wanted = (owner.get("spec") or {}).get("selector") or {}
                if wanted and all(pod.labels.get(k) == v for k, v in wanted.items()):
                    requirements.extend(parse_label_selector(",".join(f"{k}={v}" for k, v in wanted.items())).requirements)
        for kind in ("ReplicaSet", "StatefulSet"):
            for owner in listers.in_namespace(kind, pod.namespace):
                selector = compile_selector((owner.get("spec") or {}).get("selector"))
                if not selector.empty and selector.matches(pod.labels):
                    requirements.extend(selector.requirements)
        return LabelSelector(requirements)

    # -- filter ----------------------------------------------------------------------------------

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        constraints = self._constraints(pod, "DoNotSchedule")
        if not constraints:
            return SKIP
        counts: list[dict[str, int]] = [{} for _ in constraints]
        for node in self.handle.snapshot.node_infos:
            if not _eligible(pod, node, constraints):
                continue
            for i, c in enumerate(constraints):
                value = node.labels[c.topology_key]
                counts[i][value] = counts[i].get(value, 0) + node.count_matching(c.selector, pod.namespace)
        min_match = [0 if len(n) < c.min_domains else min(n.values()) for c, n in zip(constraints, counts)]
        state[_FILTER_STATE] = FilterState(constraints, counts, min_match)
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        s: FilterState = state[_FILTER_STATE]
        for c, counts, min_match in zip(s.constraints, s.counts, s.min_match):
            value = node.labels.get(c.topology_key)
            if value is None:
                return _MISSING_LABEL
            self_match = 1 if c.selector.matches(pod.labels) else 0
            if counts.get(value, 0) + self_match - min_match > c.max_skew:
                return _REJECT
        return SUCCESS

    # -- score -----------------------------------------------------------------------------------

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        require_all = bool(pod.pod.get("spec", {}).get("topologySpreadConstraints"))
        constraints = self._constraints(pod, "ScheduleAnyway")
        if not require_all:
            selector = self.default_selector(pod)
            if selector.empty:
                return SKIP
            constraints = [Constraint(skew, key, selector, 1, True, False) for key, skew in SYSTEM_DEFAULT_CONSTRAINTS]
        if not constraints:
            return SKIP
        ignored: set[str] = set()
        if require_all:
            ignored = {n.name for n in nodes if not all(c.topology_key in n.labels for c in constraints)}
        considered = [n for n in nodes if n.name not in ignored] if ignored else nodes
        # A constraint whose key no considered node carries scores nothing anywhere (the system
        # default's zone constraint on nodes without zones): not asked about node by node.
        known = self.handle.snapshot.label_keys
        constraints = [c for c in constraints
                       if c.topology_key in known and any(c.topology_key in n.labels for n in considered)]
        # The domains of each key; under the hostname each node is its own, and upstream counts
        # the considered nodes rather than collecting their names.
        domains = [{n.labels[c.topology_key] for n in considered if c.topology_key in n.labels}
                   if c.topology_key != LABEL_HOSTNAME else set() for c in constraints]
        sizes = [len(considered) if c.topology_key == LABEL_HOSTNAME else len(d) for c, d in zip(constraints, domains)]
        counts: list[dict[str, int]] = [{} for _ in constraints]
        spread_keys = [i for i, c in enumerate(constraints) if c.topology_key != LABEL_HOSTNAME]
        if spread_keys:
            for node in self.handle.snapshot.node_infos:
                if not _eligible(pod, node, constraints, require_all):
                    continue
                for i in spread_keys:
                    value = node.labels.get(constraints[i].topology_key)
                    if value in domains[i]:
                        counts[i][value] = counts[i].get(value, 0) + node.count_matching(
                            constraints[i].selector, pod.namespace)
        weights = [math.log(size + 2) for size in sizes]
        state[_SCORE_STATE] = ScoreState(constraints, counts, weights, ignored)
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        s: ScoreState = state[_SCORE_STATE]
        terms = [_terms(c, counts, weight, pod.namespace, nodes) for c, counts, weight in zip(s.constraints, s.counts, s.weights)]
        if len(terms) == 1:  # the usual case: the hostname alone (a system default's zone has no nodes)
            scores = [int(part + 0.5) for part in terms[0]]  # Go's math.Round
        else:
            scores = [int(sum(parts) + 0.5) for parts in zip(*terms)] if terms else [0] * len(nodes)
        if s.ignored:
            scores = [0 if node.name in s.ignored else score for node, score in zip(nodes, scores)]
        return scores

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        """Fewer matching pods → higher score: 100 × (max + min − s) / max over the non-ignored nodes."""
        ignored = state[_SCORE_STATE].ignored
        considered = [s for n, s in zip(nodes, scores) if n.name not in ignored] if ignored else scores
        if not considered:
            scores[:] = [0] * len(scores)
            return
        low, high = min(considered), max(considered)
        if high == 0:
            scores[:] = [MAX_NODE_SCORE] * len(scores)
        else:
            scores[:] = [MAX_NODE_SCORE * (high + low - s) // high for s in scores]
        if ignored:
            scores[:] = [0 if n.name in ignored else s for n, s in zip(nodes, scores)]
