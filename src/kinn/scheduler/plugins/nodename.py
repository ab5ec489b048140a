"""NodeName: a pod that names its node fits only there."""

from __future__ import annotations

from kinn.scheduler.framework.interface import NODE_ADD, ClusterEvent, CycleState, Handle, SUCCESS, Status
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodeName"
ERR_REASON = "node(s) didn't match the requested node name"
_REJECT = Status.unresolvable(ERR_REASON, plugin=NAME)


class NodeName:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [NODE_ADD]

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        wanted = pod.pod.get("spec", {}).get("nodeName")
        return _REJECT if wanted and wanted != node.name else SUCCESS
