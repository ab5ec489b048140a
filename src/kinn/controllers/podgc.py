"""PodGCController: delete pods nobody else will (pkg/controller/podgc).

Every gcCheckPeriod it force-deletes (grace 0): the oldest terminated pods beyond
--terminated-pod-gc-threshold; pods bound to nodes that no longer exist (after a quarantine and
a confirming GET, marked Failed with a DisruptionTarget condition first, so the reason shows);
and terminating pods that were never scheduled, which no kubelet will ever confirm.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from kinn.api.errors import StatusError
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.api.timestamps import now_rfc3339
from kinn.controllers.podutil import PODS, is_pod_terminal, is_terminating

Obj = dict[str, Any]
NODES = resource("v1", "nodes")
GC_KEY = "podgc"


class PodGCController(Controller):
    name = "podgc"
    gc_check_period = 20.0
    quarantine = 40.0  # a node missing from the cache this long is checked against the API server

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.threshold = ctx.options.terminated_pod_gc_threshold
        self.pods = self.informer(PODS)
        self.nodes = self.informer(NODES)
        self._missing_since: dict[str, float] = {}

    def background(self) -> list[Any]:
        return [self._tick()]

    async def _tick(self) -> None:
        while True:
            self.queue.add(GC_KEY)
            await asyncio.sleep(self.gc_check_period)

    async def sync(self, key: str) -> None:
        pods = self.pods.indexer.list()
        await self._gc_terminated(pods)
        await self._gc_orphaned(pods)
        await self._gc_unscheduled_terminating(pods)

    async def _gc_terminated(self, pods: list[Obj]) -> None:
        if self.threshold <= 0:
            return
        terminated = [p for p in pods if is_pod_terminal(p) and not is_terminating(p)]
        excess = len(terminated) - self.threshold
        if excess <= 0:
            return
        terminated.sort(key=lambda p: p["metadata"].get("creationTimestamp", ""))
        await asyncio.gather(*(self._force_delete(p) for p in terminated[:excess]))

    async def _gc_orphaned(self, pods: list[Obj]) -> None:
        known = {n["metadata"]["name"] for n in self.nodes.indexer.list()}
        bound = {p["spec"]["nodeName"] for p in pods if p.get("spec", {}).get("nodeName")}
        now = time.monotonic()
        for node in list(self._missing_since):
            if node in known or node not in bound:
                del self._missing_since[node]
        gone: set[str] = set()
        for node in bound - known:
            since = self._missing_since.setdefault(node, now)
            if now - since >= self.quarantine and await self._node_absent(node):
                gone.add(node)
        orphans = [p for p in pods if p.get("spec", {}).get("nodeName") in gone]
        await asyncio.gather(*(self._delete_orphan(p) for p in orphans))

    async def _node_absent(self, name: str) -> bool:
        try:
            await self.client.get(NODES, name)
        except StatusError as e:
            if e.code == 404:
                return True
            raise
        return False

    async def _delete_orphan(self, pod: Obj) -> None:
        """Mark it Failed with DisruptionTarget (as upstream's addConditionAndDeletePod), then delete."""
        self.log.info("deleting orphaned pod %s/%s: node %s no longer exists", pod["metadata"]["namespace"],
                      pod["metadata"]["name"], pod["spec"]["nodeName"])
        if not is_pod_terminal(pod):
            condition = {"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                         "message": "PodGC: node no longer exists", "lastTransitionTime": now_rfc3339()}
            try:
                await self.client.patch(PODS, pod["metadata"]["name"],
                                        {"status": {"phase": "Failed", "conditions": [condition]}},
                                        pod["metadata"]["namespace"], "strategic", subresource="status")
            except StatusError as e:
                if e.code != 404:
                    raise
        await self._force_delete(pod)

    async def _gc_unscheduled_terminating(self, pods: list[Obj]) -> None:
        stuck = [p for p in pods if is_terminating(p) and not p.get("spec", {}).get("nodeName")]
        await asyncio.gather(*(self._force_delete(p) for p in stuck))

    async def _force_delete(self, pod: Obj) -> None:
        try:
            await self.client.delete(PODS, pod["metadata"]["name"], pod["metadata"]["namespace"],
                                     grace_period_seconds=0)
        except StatusError as e:
            if e.code != 404:
                raise
