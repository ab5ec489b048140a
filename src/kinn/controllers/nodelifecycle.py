"""Node lifecycle: notice silent nodes, taint them, mark and evict their pods.

Every `--node-monitor-period` each node is checked (monitorNodeHealth). A node is alive while its
Lease in `kube-node-lease` is renewed or its Ready condition's heartbeat moves; after
`--node-monitor-grace-period` of silence its conditions go Unknown (`NodeStatusUnknown`, "Kubelet
stopped posting node status."). Conditions map to taints as upstream: Ready=Unknown →
`node.kubernetes.io/unreachable`, Ready=False → `node.kubernetes.io/not-ready`, each NoSchedule
and NoExecute, removed when the node recovers. Pods on a node that is not ready are marked
Ready=False (event `NodeNotReady`), and the NoExecute taint manager evicts those whose
tolerations run out. Upstream's zone-aware eviction rate limits are left out: eviction here is
immediate once a toleration expires.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kinn.api.errors import StatusError
from kinn.client.informer import EventHandler, SharedInformer
from kinn.client.leaderelection import LEASES
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.nodehealth import NodeHealth, ready_status, reconcile_taints, unknown_conditions
from kinn.api.timestamps import now_rfc3339
from kinn.controllers.podutil import is_pod_ready, is_terminating
from kinn.controllers.tainteviction import (
    EvictionSchedule, disruption_target, no_execute_taints, toleration_time,
)

Obj = dict[str, Any]

NODES = resource("v1", "nodes")
PODS = resource("v1", "pods")
NODE_LEASE_NAMESPACE = "kube-node-lease"
BY_NODE = "spec.nodeName"


def pod_node(pod: Obj) -> list[str]:
    name = pod.get("spec", {}).get("nodeName")
    return [name] if name else []


class NodeLifecycleController(Controller):
    name = "node-lifecycle-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.grace = ctx.options.node_monitor_grace_period.total_seconds()
        self.period = ctx.options.node_monitor_period.total_seconds()
        self.recorder = ctx.recorder("node-controller")
        self.eviction_recorder = ctx.recorder("taint-eviction-controller")
        self.health: dict[str, NodeHealth] = {}
        self.evictions = EvictionSchedule()
        self.nodes = self.informer(NODES, self.enqueue_handler())
        self.leases = self.informer_in(NODE_LEASE_NAMESPACE)
        self.pods = self.informer(PODS, EventHandler(
            on_add=self._pod_changed, on_update=lambda old, new: self._pod_changed(new),
            on_delete=self._pod_deleted))
        self.pods.indexer.add_indexer(BY_NODE, pod_node)

    def informer_in(self, namespace: str) -> SharedInformer:
        informer = self.ctx.informers.informer(LEASES, namespace=namespace)
        self._informers.append(informer)
        return informer

    def _pod_changed(self, pod: Obj) -> None:
        """Only a pod on a node that is not ready or has NoExecute taints has anything to be done
        to it (upstream's processPod and the taint manager's pod handler): a Deployment landing on
        healthy nodes costs no node sync per pod change."""
        for name in pod_node(pod):
            node = self.nodes.indexer.get(name)
            if node is not None and (ready_status(node) != "True" or no_execute_taints(node)):
                self.queue.add(name)

    def _pod_deleted(self, pod: Obj) -> None:
        self.evictions.cancel(pod["metadata"].get("uid", ""))

    def background(self) -> list[Any]:
        return [self._monitor_node_health()]

    async def _monitor_node_health(self) -> None:
        """Re-check every node each period: silence is noticed by time passing, not by an event."""
        while True:
            await asyncio.sleep(self.period)
            for key in self.nodes.indexer.keys():
                self.queue.add(key)

    async def sync(self, key: str) -> None:
        node = self.nodes.indexer.get(key)
        if node is None:
            if self.health.pop(key, None) is not None:
                self.log.info("node %s removed from the controller", key)
            return
        if key not in self.health:
            await self._register(node)
        node = await self._update_health(node)
        node = await self._update_taints(node)
        pods = self.pods.indexer.by_index(BY_NODE, key)
        if ready_status(node) != "True":
            await self._mark_pods_not_ready(pods)
        await self._evict_pods(node, pods)

    async def _register(self, node: Obj) -> None:
        name = node["metadata"]["name"]
        self.health[name] = NodeHealth(time.monotonic(), None, None)
        await self.recorder.event(node, "Normal", "RegisteredNode",
                                  f"Node {name} event: Registered Node {name} in Controller")

    async def _update_health(self, node: Obj) -> Obj:
        """Conditions go Unknown once nothing was heard for the grace period (tryUpdateNodeHealth)."""
        name = node["metadata"]["name"]
        health = self.health[name]
        now = time.monotonic()
        health.observe(node, self.leases.indexer.get(f"{NODE_LEASE_NAMESPACE}/{name}"), now)
        if now - health.probe <= self.grace:
            return node
        conditions = unknown_conditions(node, now_rfc3339())
        if conditions is None:
            return node
        was_ready = ready_status(node) == "True"
        updated = await self.client.update(NODES, {**node, "status": {**node.get("status", {}),
                                                                     "conditions": conditions}}, "status")
        self.log.info("node %s: no status for %.0fs, conditions set Unknown", name, now - health.probe)
        if was_ready:
            await self.recorder.event(node, "Normal", "NodeNotReady", f"Node {name} status is now: NodeNotReady")
        return updated

    async def _update_taints(self, node: Obj) -> Obj:
        taints = reconcile_taints(node, now_rfc3339())
        if taints is None:
            return node
        spec = {k: v for k, v in node.get("spec", {}).items() if k != "taints"}
        if taints:
            spec["taints"] = taints
        return await self.client.update(NODES, {**node, "spec": spec})

    async def _mark_pods_not_ready(self, pods: list[Obj]) -> None:
        """Ready pods on a node that is not ready are not ready either (MarkPodsNotReady)."""
        for pod in pods:
            if not is_pod_ready(pod):
                continue
            meta = pod["metadata"]
            patch = {"status": {"conditions": [
                {"type": "Ready", "status": "False", "lastTransitionTime": now_rfc3339()}]}}
            try:
                await self.client.patch(PODS, meta["name"], patch, meta["namespace"], "strategic", "status")
            except StatusError as e:
                if e.code == 404:
                    continue
                raise
            await self.recorder.event(pod, "Warning", "NodeNotReady", "Node is not ready")

    async def _evict_pods(self, node: Obj, pods: list[Obj]) -> None:
        """The taint manager's pass over one node (handleNodeUpdate → processPodOnNode)."""
        taints = no_execute_taints(node)
        now = time.monotonic()
        for pod in pods:
            uid = pod["metadata"].get("uid", "")
            if is_terminating(pod):
                continue
            if not taints:
                if self.evictions.cancel(uid):
                    await self.eviction_recorder.event(pod, "Normal", "TaintManagerEviction",
                                                       f"Cancelling deletion of Pod {_name(pod)}")
                continue
            allowed = toleration_time(pod.get("spec", {}).get("tolerations") or [], taints)
            if allowed == float("inf"):
                continue
            due = self.evictions.due_in(uid, allowed, now)
            if due > 0:
                self.queue.add_after(node["metadata"]["name"], due)
                continue
            await self._evict(pod)
            self.evictions.cancel(uid)

    async def _evict(self, pod: Obj) -> None:
        meta = pod["metadata"]
        await self.eviction_recorder.event(pod, "Normal", "TaintManagerEviction",
                                           f"Marking for deletion Pod {_name(pod)}")
        try:
            await self.client.patch(PODS, meta["name"], {"status": {"conditions": [disruption_target(now_rfc3339())]}},
                                    meta["namespace"], "strategic", "status")
            await self.client.delete(PODS, meta["name"], meta["namespace"])
        except StatusError as e:
            if e.code != 404:
                raise


def _name(pod: Obj) -> str:
    return f"{pod['metadata']['namespace']}/{pod['metadata']['name']}"
