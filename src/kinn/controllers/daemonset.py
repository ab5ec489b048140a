"""DaemonSetsController: one pod per eligible node, rolled to new templates node by node (pkg/controller/daemon).

Each sync groups the DaemonSet's pods by target node, creates a pod for every node that should run
one and has none (pinned by required node affinity on `metadata.name`; the scheduler binds it),
deletes pods from nodes that must not keep them, failed pods, and surplus duplicates, then — once
its own creations and deletions are observed — replaces old-template pods within maxUnavailable.
"""

from __future__ import annotations

import asyncio
from collections import defaultdict
from datetime import datetime, timezone
from typing import Any

from kinn.api.errors import StatusError
from kinn.api.intstr import scaled_value
from kinn.client.informer import EventHandler, object_key
from kinn.client.rest import resource
from kinn.controllers import history
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.daemon_util import node_should_run_daemon_pod, node_name_affinity, pod_template, target_node_name
from kinn.controllers.expectations import ControllerExpectations
from kinn.controllers.podutil import (
    PODS, PodControl, controller_uid_index, is_pod_available, is_pod_ready, is_pod_terminal, is_terminating,
    owner_key, pod_from_template,
)

Obj = dict[str, Any]
DAEMONSETS = resource("apps/v1", "daemonsets")
NODES = resource("v1", "nodes")


def _created(pod: Obj) -> tuple[str, str]:
    return pod["metadata"].get("creationTimestamp", ""), pod["metadata"]["name"]


class DaemonSetsController(Controller):
    name = "daemonset"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = ControllerExpectations()
        self.pod_control = PodControl(self.client, ctx.recorder("daemonset-controller"))
        self.recorder = self.pod_control.recorder
        self.daemonsets = self.informer(DAEMONSETS, self.enqueue_handler())
        self.pods = self.informer(PODS, EventHandler(self._pod_added, self._pod_updated, self._pod_deleted))
        self.pods.indexer.add_indexer("controller-uid", controller_uid_index)
        self.nodes = self.informer(NODES, EventHandler(self._node_changed, self._node_updated, self._node_changed))
        self.revisions = self.informer(history.CONTROLLER_REVISIONS,
                                       self.enqueue_handler(lambda r: owner_key(r, "DaemonSet")))

    # -- event handlers ----------------------------------------------------------------------

    def _pod_added(self, pod: Obj) -> None:
        if key := owner_key(pod, "DaemonSet"):
            self.expectations.creation_observed(key)
            self.queue.add(key)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if key := owner_key(new, "DaemonSet"):
            if is_terminating(new) and not is_terminating(old):
                self.expectations.deletion_observed(key)
            self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        if key := owner_key(pod, "DaemonSet"):
            if not is_terminating(pod):
                self.expectations.deletion_observed(key)
            self.queue.add(key)

    def _node_changed(self, node: Obj) -> None:
        for ds in self.daemonsets.indexer.list():
            self.enqueue(ds)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        """Heartbeats change only status; labels, taints and spec decide eligibility (shouldIgnoreNodeUpdate)."""
        if old["metadata"].get("labels") != new["metadata"].get("labels") or old.get("spec") != new.get("spec"):
            self._node_changed(new)

    # -- sync --------------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        ds = self.daemonsets.indexer.get(key)
        if ds is None:
            self.expectations.delete(key)
            return
        if is_terminating(ds):
            return
        nodes = self.nodes.indexer.list()
        current = await self._construct_history(ds)
        hash_ = current["metadata"]["labels"][history.REVISION_HASH_LABEL]
        if self.expectations.satisfied(key):
            await self._manage(key, ds, nodes, hash_)
            if self.expectations.satisfied(key) and self._strategy(ds) == "RollingUpdate":
                await self._rolling_update(key, ds, nodes, hash_)
            await self._cleanup_history(ds, current)
        await self._update_status(ds, nodes, hash_)

    def _strategy(self, ds: Obj) -> str:
        return (ds["spec"].get("updateStrategy") or {}).get("type", "RollingUpdate")

    def _node_to_daemon_pods(self, ds: Obj) -> dict[str, list[Obj]]:
        """Active pods (and terminating ones not yet terminal) by the node they are for, oldest first."""
        by_node: dict[str, list[Obj]] = defaultdict(list)
        for pod in self.pods.indexer.by_index("controller-uid", ds["metadata"]["uid"]):
            if is_terminal_and_deleted(pod):
                continue
            if node := target_node_name(pod):
                by_node[node].append(pod)
        for pods in by_node.values():
            pods.sort(key=_created)
        return by_node

    async def _construct_history(self, ds: Obj) -> Obj:
        """The revision of the current template; a hash collision bumps status.collisionCount and retries."""
        revisions = history.owned_revisions(self.revisions.indexer.by_index("namespace", ds["metadata"]["namespace"]), ds)
        template = ds["spec"]["template"]
        collision_count = (ds.get("status") or {}).get("collisionCount")
        hash_ = history.hash_revision(template, collision_count)
        labels = dict((template.get("metadata") or {}).get("labels") or {})
        try:
            return await history.ensure_revision(self.client, ds, revisions, history.template_patch(template), hash_, labels)
        except history.HashCollision:
            status = {**(ds.get("status") or {}), "collisionCount": (collision_count or 0) + 1}
            await self.client.update(DAEMONSETS, {**ds, "status": status}, subresource="status")
            raise

    async def _manage(self, key: str, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        node_to_pods = self._node_to_daemon_pods(ds)
        create_on: list[str] = []
        delete: list[Obj] = []
        for node in nodes:
            name = node["metadata"]["name"]
            should_run, should_continue = node_should_run_daemon_pod(node, ds)
            pods = node_to_pods.get(name, [])
            if should_run and not pods:
                create_on.append(name)
            elif not should_continue:
                delete.extend(p for p in pods if not is_terminating(p))
            elif should_run:
                delete.extend(await self._excess_pods(ds, name, pods))
        await self._sync_nodes(key, ds, delete, create_on, hash_)

    async def _excess_pods(self, ds: Obj, node: str, pods: list[Obj]) -> list[Obj]:
        """Failed pods (to be replaced) and every running pod but the oldest (podsShouldBeOnNode)."""
        excess: list[Obj] = []
        running: list[Obj] = []
        for pod in pods:
            if is_terminating(pod):
                continue
            if pod.get("status", {}).get("phase") == "Failed":
                await self.recorder.event(ds, "Warning", "FailedDaemonPod",
                                          f"Found failed daemon pod {pod['metadata']['namespace']}/"
                                          f"{pod['metadata']['name']} on node {node}, will try to kill it")
                excess.append(pod)
            else:
                running.append(pod)
        return excess + running[1:]

    async def _sync_nodes(self, key: str, ds: Obj, delete: list[Obj], create_on: list[str], hash_: str) -> None:
        """Create pods for `create_on` and delete `delete`, counting each in the expectations first."""
        if not delete and not create_on:
            return
        self.expectations.expect(key, add=len(create_on), delete=len(delete))
        template = pod_template(ds, hash_)
        results = await asyncio.gather(
            *(self._create_on(key, ds, template, node) for node in create_on),
            *(self._delete(key, ds, pod) for pod in delete), return_exceptions=True)
        for result in results:
            if isinstance(result, BaseException):
                raise result

    async def _create_on(self, key: str, ds: Obj, template: Obj, node: str) -> None:
        pod = pod_from_template(template, ds)
        pod["spec"]["affinity"] = node_name_affinity(pod["spec"].get("affinity"), node)
        try:
            await self.pod_control.create(ds, pod)
        except StatusError:
            self.expectations.creation_observed(key)
            raise

    async def _delete(self, key: str, ds: Obj, pod: Obj) -> None:
        try:
            await self.pod_control.delete(ds, pod)
        except StatusError:
            self.expectations.deletion_observed(key)
            raise

    async def _rolling_update(self, key: str, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        """Delete old-template pods, never letting more than maxUnavailable nodes lack an available pod.

        Unavailable old pods go at once; available ones only while the budget lasts (rollingUpdate
        with maxSurge 0). The next sync's manage() creates the replacements.
        """
        min_ready = ds["spec"].get("minReadySeconds", 0)
        desired = sum(1 for node in nodes if node_should_run_daemon_pod(node, ds)[0])
        rolling = (ds["spec"].get("updateStrategy") or {}).get("rollingUpdate") or {}
        max_unavailable = scaled_value(rolling.get("maxUnavailable", 1), desired, round_up=True)
        now = datetime.now(timezone.utc)
        unavailable = 0
        replace_now: list[Obj] = []
        candidates: list[Obj] = []
        for pods in self._node_to_daemon_pods(ds).values():
            new = [p for p in pods if p["metadata"].get("labels", {}).get(history.REVISION_HASH_LABEL) == hash_]
            old = [p for p in pods if p not in new]
            if len(new) + len(old) != 1:
                unavailable += 1  # none or several: manage() is still converging this node
            elif new:
                unavailable += 0 if is_pod_available(new[0], min_ready, now) else 1
            elif is_terminating(old[0]):
                unavailable += 1
            elif not is_pod_available(old[0], min_ready, now):
                replace_now.append(old[0])
            elif unavailable < max_unavailable:
                candidates.append(old[0])
        budget = max(0, min(max_unavailable - unavailable, len(candidates)))
        await self._sync_nodes(key, ds, replace_now + candidates[:budget], [], hash_)

    async def _cleanup_history(self, ds: Obj, current: Obj) -> None:
        revisions = history.owned_revisions(self.revisions.indexer.by_index("namespace", ds["metadata"]["namespace"]), ds)
        live = {current["metadata"]["name"]}
        for pods in self._node_to_daemon_pods(ds).values():
            for pod in pods:
                if h := pod["metadata"].get("labels", {}).get(history.REVISION_HASH_LABEL):
                    live.add(history.revision_name(ds["metadata"]["name"], h))
        await history.truncate_history(self.client, revisions, live, ds["spec"].get("revisionHistoryLimit", 10))

    # -- status ------------------------------------------------------------------------------

    def _compute_status(self, ds: Obj, nodes: list[Obj], hash_: str) -> Obj:
        min_ready = ds["spec"].get("minReadySeconds", 0)
        generation = str(ds["metadata"].get("generation", 1))
        node_to_pods = self._node_to_daemon_pods(ds)
        now = datetime.now(timezone.utc)
        counts = dict.fromkeys(("desiredNumberScheduled", "currentNumberScheduled", "numberReady", "numberAvailable",
                                "updatedNumberScheduled", "numberMisscheduled"), 0)
        for node in nodes:
            should_run, _ = node_should_run_daemon_pod(node, ds)
            pods = node_to_pods.get(node["metadata"]["name"], [])
            if not should_run:
                counts["numberMisscheduled"] += 1 if pods else 0
                continue
            counts["desiredNumberScheduled"] += 1
            if not pods:
                continue
            counts["currentNumberScheduled"] += 1
            oldest = pods[0]
            if is_pod_ready(oldest):
                counts["numberReady"] += 1
                counts["numberAvailable"] += 1 if is_pod_available(oldest, min_ready, now) else 0
            labels = oldest["metadata"].get("labels") or {}
            if labels.get(history.REVISION_HASH_LABEL) == hash_ or labels.get("pod-template-generation") == generation:
                counts["updatedNumberScheduled"] += 1
        status: Obj = {**counts, "observedGeneration": ds["metadata"].get("generation", 1)}
        if unavailable := counts["desiredNumberScheduled"] - counts["numberAvailable"]:
            status["numberUnavailable"] = unavailable
        return status

    async def _update_status(self, ds: Obj, nodes: list[Obj], hash_: str) -> None:
        status = self._compute_status(ds, nodes, hash_)
        old = ds.get("status") or {}
        for kept in ("collisionCount", "conditions"):
            if kept in old:
                status[kept] = old[kept]
        if status != old:
            await self.client.update(DAEMONSETS, {**ds, "status": status}, subresource="status")
        min_ready = ds["spec"].get("minReadySeconds", 0)
        if min_ready > 0 and status["numberReady"] != status["numberAvailable"]:
            self.queue.add_after(object_key(ds), float(min_ready))


def is_terminal_and_deleted(pod: Obj) -> bool:
    """A finished pod already being deleted no longer occupies its node (getNodesToDaemonPods)."""
    return is_pod_terminal(pod) and is_terminating(pod)
