"""NodeUnschedulable: a cordoned node (spec.unschedulable) takes only pods tolerating its taint."""

from __future__ import annotations

from typing import Hashable

from kinn.api.taints import tolerations_tolerate
from kinn.scheduler.framework.interface import NODE_ADD, NODE_UPDATE, ClusterEvent, CycleState, Handle, SUCCESS, Status
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeUnschedulable"
ERR_REASON_UNSCHEDULABLE = "node(s) were unschedulable"
TAINT_NODE_UNSCHEDULABLE = {"key": "node.kubernetes.io/unschedulable", "effect": "NoSchedule"}
_REJECT = Status.unresolvable(ERR_REASON_UNSCHEDULABLE, plugin=NAME)


class NodeUnschedulable:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [NODE_ADD, NODE_UPDATE]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        if not node.unschedulable:
            return SUCCESS
        tolerations = pod.pod.get("spec", {}).get("tolerations") or ()
        return SUCCESS if tolerations_tolerate(tolerations, TAINT_NODE_UNSCHEDULABLE) else _REJECT

    def sign(self, pod: PodInfo) -> Hashable:
        return tolerations_tolerate(pod.pod.get("spec", {}).get("tolerations") or (), TAINT_NODE_UNSCHEDULABLE)
