"""NodeName: a pod that names its node fits only there."""

from __future__ import annotations

from typing import Hashable

from kinn.scheduler.framework.interface import NODE_ADD, SKIP, ClusterEvent, CycleState, Handle, SUCCESS, Status
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"
_REJECT = Status.unresolvable(ERR_REASON, plugin=NAME)


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    """The pod names no node, or this one (Fits)."""
    wanted = pod.pod.get("spec", {}).get("nodeName")
    return not wanted or wanted == node.name


class NodeName:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [NODE_ADD]

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        """A pod that names no node fits every node's name: no need to ask node by node (upstream
        has no PreFilter here and asks each node; the Skip is kinn's, the verdicts are the same)."""
        return SUCCESS if pod.pod.get("spec", {}).get("nodeName") else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS if fits(pod, node) else _REJECT

    def sign(self, pod: PodInfo) -> Hashable:
        return pod.pod.get("spec", {}).get("nodeName")
