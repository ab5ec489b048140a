"""NodeResourcesBalancedAllocation: prefer nodes whose cpu and memory would be used in equal shares
(score = (1 - standard deviation of the fractions) × 100, over actual requests as upstream; kinn scores
cpu and memory, the default resources, for which the deviation is half their difference)."""

from __future__ import annotations

from kinn.scheduler.framework.interface import (
    ASSIGNED_POD_DELETE, MAX_NODE_SCORE, NODE_ADD, NODE_UPDATE, ClusterEvent, CycleState, Handle, SKIP, SUCCESS, Status,
)
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo, memoized

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

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        cpu, memory = pod.requests.milli_cpu, pod.requests.memory
        return memoized(nodes, (NAME, cpu, memory), lambda n: balance(
            n.requested.milli_cpu + cpu, n.allocatable.milli_cpu, n.requested.memory + memory, n.allocatable.memory))


def balance(cpu: int, cpu_capacity: int, memory: int, memory_capacity: int) -> int:
    """1 − the standard deviation of the cpu and memory fractions (half their difference), 0..100."""
    if not cpu_capacity or not memory_capacity:
        return MAX_NODE_SCORE
    return int((1 - abs(min(cpu / cpu_capacity, 1.0) - min(memory / memory_capacity, 1.0)) / 2) * MAX_NODE_SCORE)
