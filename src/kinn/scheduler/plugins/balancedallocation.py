"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in equal shares
(score = (1 - standard deviation of the fractions) × 100, over actual requests as upstream; kinn scores
cpu and memory, the default resources, for which the deviation is half their difference)."""

from __future__ import annotations

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
        requested, allocatable = node.requested, node.allocatable
        if not allocatable.milli_cpu or not allocatable.memory:
            return MAX_NODE_SCORE
        cpu = min((requested.milli_cpu + pod.requests.milli_cpu) / allocatable.milli_cpu, 1.0)
        memory = min((requested.memory + pod.requests.memory) / allocatable.memory, 1.0)
        return int((1 - abs(cpu - memory) / 2) * MAX_NODE_SCORE)  # the std deviation of two fractions
