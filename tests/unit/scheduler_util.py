"""Builders for scheduler unit tests: nodes, pods, and a framework over an in-memory snapshot."""

from __future__ import annotations

from typing import Any

from kinn.client.informer import Indexer
from kinn.scheduler.framework.interface import CycleState, Handle, Listers, Status, SUCCESS
from kinn.scheduler.nodeinfo import PodInfo, Snapshot
from kinn.scheduler.plugins.registry import default_framework
from kinn.scheduler.queue import SchedulingQueue
from kinn.scheduler.schedule_one import Algorithm

Obj = dict[str, Any]


def node(name: str, cpu: str = "4", memory: str = "8Gi", pods: int = 110, labels: dict | None = None,
         taints: list | None = None, unschedulable: bool = False) -> Obj:
    allocatable = {"cpu": cpu, "memory": memory, "pods": str(pods), "ephemeral-storage": "10Gi"}
    spec: Obj = {}
    if taints:
        spec["taints"] = taints
    if unschedulable:
        spec["unschedulable"] = True
    return {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {"kubernetes.io/hostname": name, **(labels or {})}},
            "spec": spec, "status": {"allocatable": allocatable, "capacity": allocatable}}


def pod(name: str, cpu: str | None = None, memory: str | None = None, node_name: str = "", namespace: str = "default",
        labels: dict | None = None, priority: int = 0, **spec: Any) -> Obj:
    requests = {k: v for k, v in (("cpu", cpu), ("memory", memory)) if v}
    container: Obj = {"name": "c", "image": "pause"}
    if requests:
        container["resources"] = {"requests": requests}
    if "ports" in spec:
        container["ports"] = spec.pop("ports")
    body: Obj = {"containers": [container], "priority": priority, "schedulerName": "default-scheduler", **spec}
    if node_name:
        body["nodeName"] = node_name
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "uid": f"uid-{name}", "labels": labels or {},
                         "creationTimestamp": "2024-01-01T00:00:00Z"},
            "spec": body, "status": {"phase": "Pending"}}


def indexers(objects: dict[str, list[Obj]]) -> dict[str, Indexer]:
    result = {}
    for kind, items in objects.items():
        indexer = Indexer()
        for item in items:
            indexer.upsert(item)
        result[kind] = indexer
    return result


class Harness:
    """The default framework over given nodes, assigned pods and other objects (PVCs, Services …)."""

    def __init__(self, nodes: list[Obj], pods: list[Obj] = (), objects: dict[str, list[Obj]] | None = None) -> None:
        self.snapshot = Snapshot.from_objects(nodes, pods)
        self.handle = Handle(Listers(indexers(objects or {})), self.snapshot)
        self.framework = default_framework(self.handle)
        self.queue = SchedulingQueue({})
        self.handle.nominator = self.queue
        self.algorithm = Algorithm(self.framework, self.snapshot)

    def filter_statuses(self, pending: Obj) -> dict[str, Status]:
        """Each node's verdict (PreFilter rejection applies to all nodes)."""
        info = PodInfo(pending)
        state = CycleState()
        status = self.framework.run_pre_filter(state, info)
        if not status.is_success:
            return {n.name: status for n in self.snapshot.node_infos}
        return {n.name: self.framework.run_filters_with_nominated_pods(state, info, n) for n in self.snapshot.node_infos}

    def feasible(self, pending: Obj) -> list[str]:
        return sorted(name for name, status in self.filter_statuses(pending).items() if status is SUCCESS)

    def reasons(self, pending: Obj) -> dict[str, str]:
        return {name: status.message for name, status in self.filter_statuses(pending).items() if status is not SUCCESS}

    def scores(self, pending: Obj) -> dict[str, int]:
        info = PodInfo(pending)
        state = CycleState()
        assert self.framework.run_pre_filter(state, info).is_success
        nodes = [n for n in self.snapshot.node_infos if self.framework.run_filters(state, info, n).is_success]
        assert self.framework.run_pre_score(state, info, nodes).is_success
        return dict(zip((n.name for n in nodes), self.framework.run_score(state, info, nodes)))

    def bind(self, pending: Obj, node_name: str) -> None:
        self.snapshot.add_pod(PodInfo({**pending, "spec": {**pending["spec"], "nodeName": node_name}}), node_name)
