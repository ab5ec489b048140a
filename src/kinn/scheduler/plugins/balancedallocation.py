"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in equal shares
(score = (1 - standard deviation of the fractions) × 100, over actual requests as upstream)."""

from __future__ import annotations

import math

from kinn.scheduler.framework.interface import (
    ASSIGNED_POD_DELETE, MAX_NODE_SCORE, NODE_ADD, NODE_UPDATE, ClusterEvent, CycleState, Handle, SKIP, SUCCESS, Status,
)
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeResourcesBalancedAllocation"


class BalancedAllocation:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [ASSIGNED_POD_DELETE, NODE_ADD, NODE_UPDATE]

    def pre_score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> Status:
        """A pod requesting nothing leaves every node's balance as it is: nothing to score."""
        return SUCCESS if pod.requests.milli_cpu or pod.requests.memory else SKIP

    def score(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> int:
        pairs = ((node.requested.milli_cpu + pod.requests.milli_cpu, node.allocatable.milli_cpu),
                 (node.requested.memory + pod.requests.memory, node.allocatable.memory))
        fractions = [min(requested / capacity, 1.0) for requested, capacity in pairs if capacity]
        if len(fractions) < 2:
            return MAX_NODE_SCORE
        mean = sum(fractions) / len(fractions)
        std = math.sqrt(sum((f - mean) ** 2 for f in fractions) / len(fractions))
        return int((1 - std) * MAX_NODE_SCORE)
