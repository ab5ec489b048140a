"""NodeAffinity: spec.nodeSelector and required node affinity filter nodes; preferred terms score them."""

from __future__ import annotations

from typing import Hashable

from kinn.scheduler.framework.interface import (
    NODE_ADD, NODE_UPDATE, ClusterEvent, CycleState, Handle, SKIP, SUCCESS, Status, default_normalize_score,
)
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo
from kinn.api.nodeaffinity import node_selector_term_matches, required_node_affinity_matches

NAME = "NodeAffinity"
ERR_REASON_POD = "node(s) didn't match Pod's node affinity/selector"
_REJECT = Status.unresolvable(ERR_REASON_POD, plugin=NAME)


def _node_affinity(pod: PodInfo) -> dict:
    return (pod.pod.get("spec", {}).get("affinity") or {}).get("nodeAffinity") or {}


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    """spec.nodeSelector and the required node affinity match the node."""
    return required_node_affinity_matches(pod.pod["spec"], node.name, node.labels)


class NodeAffinity:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [NODE_ADD, NODE_UPDATE]

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        spec = pod.pod.get("spec", {})
        if not spec.get("nodeSelector") and not _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution"):
            return SKIP
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS if fits(pod, node) else _REJECT

    def sign(self, pod: PodInfo) -> Hashable:
        return pod.pod["spec"].get("nodeSelector"), _node_affinity(pod).get("requiredDuringSchedulingIgnoredDuringExecution")

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        return SUCCESS if _node_affinity(pod).get("preferredDuringSchedulingIgnoredDuringExecution") else SKIP

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        preferred = _node_affinity(pod)["preferredDuringSchedulingIgnoredDuringExecution"]
        return [sum(term.get("weight", 0) for term in preferred
                    if node_selector_term_matches(term.get("preference") or {}, node.name, node.labels))
                for node in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize_score(scores)
