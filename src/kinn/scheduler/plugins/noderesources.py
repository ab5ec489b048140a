"""NodeResourcesFit: requests must fit in allocatable minus what the node's pods request; the score
prefers the least allocated node (LeastAllocated over cpu and memory, weight 1 each)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Hashable

from kinn.scheduler.framework.interface import (
    ASSIGNED_POD_DELETE, MAX_NODE_SCORE, NODE_ADD, NODE_UPDATE, ClusterEvent, CycleState, Handle, SUCCESS, Status,
)
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo, memoized

NAME = "NodeResourcesFit"


@dataclass(frozen=True)
class InsufficientResource:
    """A resource the node has too little of left for the pod (noderesources.InsufficientResource):
    the scheduler gives `reason`, the kubelet's admission the figures."""

    resource_name: str
    reason: str
    requested: int
    used: int
    capacity: int
    unresolvable: bool  # the request exceeds the node's whole allocatable: no eviction can help


def fits(pod: PodInfo, node: NodeInfo) -> list[InsufficientResource]:
    """What the pod lacks on the node (Fits): a pod slot, then cpu, memory, ephemeral storage and
    extended resources, each counted only if the pod requests some."""
    lacking: list[InsufficientResource] = []
    request, used, allocatable = pod.requests, node.requested, node.allocatable
    if len(node.pods) + 1 > allocatable.allowed_pod_number:
        lacking.append(InsufficientResource("pods", "Too many pods", 1, len(node.pods),
                                            allocatable.allowed_pod_number, unresolvable=False))
    wanted = [("cpu", request.milli_cpu, used.milli_cpu, allocatable.milli_cpu),
              ("memory", request.memory, used.memory, allocatable.memory),
              ("ephemeral-storage", request.ephemeral_storage, used.ephemeral_storage,
               allocatable.ephemeral_storage)]
    wanted += [(name, want, used.scalar.get(name, 0), allocatable.scalar.get(name, 0))
               for name, want in request.scalar.items()]
    for name, want, have, total in wanted:
        if want > 0 and want > total - have:
            lacking.append(InsufficientResource(name, f"Insufficient {name}", want, have, total, want > total))
    return lacking


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
        lacking = fits(pod, node)
        if not lacking:
            return SUCCESS
        reasons = [resource.reason for resource in lacking]
        if any(resource.unresolvable for resource in lacking):
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
