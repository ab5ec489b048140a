"""TaintToleration: NoSchedule/NoExecute taints must be tolerated; untolerated PreferNoSchedule taints
lower a node's score. A NotReady node carries `node.kubernetes.io/not-ready:NoSchedule` (set by the node
lifecycle controller), so this is also how not-ready nodes are avoided, as upstream."""

from __future__ import annotations

from typing import Hashable

from kinn.api.taints import DO_NOT_SCHEDULE_EFFECTS, find_untolerated_taint, tolerations_tolerate
from kinn.scheduler.framework.interface import (
    NODE_ADD, NODE_UPDATE, ClusterEvent, CycleState, Handle, SKIP, SUCCESS, Status, default_normalize_score,
)
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "TaintToleration"
_PREFERRED = f"PreScore{NAME}"


class TaintToleration:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [NODE_ADD, NODE_UPDATE]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not node.taints:
            return SUCCESS
        tolerations = pod.pod.get("spec", {}).get("tolerations") or []
        taint = find_untolerated_taint(node.taints, tolerations, DO_NOT_SCHEDULE_EFFECTS)
        if taint is None:
            return SUCCESS
        return Status.unresolvable(
            f"node(s) had untolerated taint {{{taint.get('key', '')}: {taint.get('value', '')}}}", plugin=NAME)

    def sign(self, pod: PodInfo) -> Hashable:
        return pod.pod.get("spec", {}).get("tolerations")

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        if not any(t.get("effect") == "PreferNoSchedule" for n in nodes for t in n.taints):
            return SKIP
        tolerations = pod.pod.get("spec", {}).get("tolerations") or []
        state[_PREFERRED] = [t for t in tolerations if t.get("effect") in (None, "", "PreferNoSchedule")]
        return SUCCESS

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        tolerations = state[_PREFERRED]
        return [sum(1 for taint in node.taints if taint.get("effect") == "PreferNoSchedule"
                    and not tolerations_tolerate(tolerations, taint)) for node in nodes]

    def normalize_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo], scores: list[int]) -> None:
        default_normalize_score(scores, reverse=True)
