"""NodeResourcesFit: requests must fit in allocatable minus what the node's pods request; the score
prefers the least allocated node (LeastAllocated over cpu and memory, weight 1 each)."""

from __future__ import annotations

from typing import Hashable

from kinn.scheduler.framework.interface import (
    ASSIGNED_POD_DELETE, MAX_NODE_SCORE, NODE_ADD, NODE_UPDATE, ClusterEvent, CycleState, Handle, SUCCESS, Status,
)
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo, memoized

NAME = "NodeResourcesFit"


def insufficient_resources(pod: PodInfo, node: NodeInfo) -> tuple[list[str], bool]:
    """Reasons the pod does not fit, and whether any is unresolvable (the request exceeds the node's
    whole allocatable, so no eviction can help — upstream's InsufficientResource.Unresolvable)."""
    reasons: list[str] = []
    unresolvable = False
    request, used, allocatable = pod.requests, node.requested, node.allocatable
    for name, want, have, total in (
        ("cpu", request.milli_cpu, used.milli_cpu, allocatable.milli_cpu),
        ("memory", request.memory, used.memory, allocatable.memory),
        ("ephemeral-storage", request.ephemeral_storage, used.ephemeral_storage, allocatable.ephemeral_storage),
    ):
        if want > 0 and want > total - have:
            reasons.append(f"Insufficient {name}")
            unresolvable |= want > total
    for name, want in request.scalar.items():
        total = allocatable.scalar.get(name, 0)
        if want > 0 and want > total - used.scalar.get(name, 0):
            reasons.append(f"Insufficient {name}")
            unresolvable |= want > total
    return reasons, unresolvable


class NodeResourcesFit:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [ASSIGNED_POD_DELETE, NODE_ADD, NODE_UPDATE]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        request, used, allocatable = pod.requests, node.requested, node.allocatable
        if (len(node.pods) < allocatable.allowed_pod_number and not request.scalar
                and request.milli_cpu <= allocatable.milli_cpu - used.milli_cpu
                and request.memory <= allocatable.memory - used.memory
                and request.ephemeral_storage <= allocatable.ephemeral_storage - used.ephemeral_storage):
            return SUCCESS  # the common case, decided without building reason lists
        reasons, unresolvable = insufficient_resources(pod, node)
        if len(node.pods) + 1 > node.allocatable.allowed_pod_number:
            reasons.insert(0, "Too many pods")
        if not reasons:
            return SUCCESS
        if unresolvable:
            return Status.unresolvable(*reasons, plugin=NAME)
        return Status.unschedulable(*reasons, plugin=NAME)

    def sign(self, pod: PodInfo) -> Hashable:
        return pod.requests

    def score(self, state: CycleState, pod: PodInfo, nodes: list[NodeInfo]) -> list[int]:
        cpu, memory = pod.non_zero.milli_cpu, pod.non_zero.memory
        return memoized(nodes, (NAME, cpu, memory), lambda n: (
            least_allocated(n.non_zero_requested.milli_cpu + cpu, n.allocatable.milli_cpu)
            + least_allocated(n.non_zero_requested.memory + memory, n.allocatable.memory)) // 2)


def least_allocated(requested: int, capacity: int) -> int:
    """Free share of a resource, 0..100 (leastRequestedScore)."""
    if capacity == 0 or requested > capacity:
        return 0
    return (capacity - requested) * MAX_NODE_SCORE // capacity
