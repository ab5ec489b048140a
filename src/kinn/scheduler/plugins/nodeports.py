"""NodePorts: a host port (per protocol and host IP, 0.0.0.0 overlapping every IP) is held by one pod per node."""

from __future__ import annotations

from typing import Hashable

from kinn.scheduler.framework.interface import ASSIGNED_POD_DELETE, NODE_ADD, ClusterEvent, CycleState, Handle, SKIP, SUCCESS, Status
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo

NAME = "NodePorts"
ERR_REASON = "node(s) didn't have free ports for the requested pod ports"
_REJECT = Status.unschedulable(ERR_REASON, plugin=NAME)


def _conflicts(wanted: tuple[str, str, int], used: tuple[str, str, int]) -> bool:
    ip, protocol, port = wanted
    used_ip, used_protocol, used_port = used
    return port == used_port and protocol == used_protocol and (
        ip == used_ip or "0.0.0.0" in (ip, used_ip))


def fits(pod: PodInfo, node: NodeInfo) -> bool:
    """No host port the pod wants is held on the node (Fits)."""
    return not any(_conflicts(wanted, used) for wanted in pod.ports for used in node.used_ports)


class NodePorts:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [ASSIGNED_POD_DELETE, NODE_ADD]

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        return SUCCESS if pod.ports else SKIP

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        return SUCCESS if fits(pod, node) else _REJECT

    def sign(self, pod: PodInfo) -> Hashable:
        return pod.ports
