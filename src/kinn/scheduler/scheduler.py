"""The scheduler (pkg/scheduler/scheduler.go, schedule_one.go, eventhandlers.go).

Informers feed the cache (assigned pods, nodes) and the queue (pending pods this scheduler is
responsible for). The loop pops a pod, runs the synchronous scheduling cycle, assumes the pod onto
the chosen node and starts its binding cycle as a task — PreBind, then POST `pods/{name}/binding`,
then the `Scheduled` event — so the next pod is scheduled while the API call is in flight. A pod
that fits nowhere gets PostFilter (preemption), a `FailedScheduling` event and a `PodScheduled=False`
condition with the same aggregated message, and waits in the queue for a cluster event that helps.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any, Awaitable, Callable

from kinn.api.errors import StatusError
from kinn.api.timestamps import now_rfc3339
from kinn.client.events import EventRecorder
from kinn.client.informer import EventHandler, SharedInformer, SharedInformerFactory, object_key
from kinn.client.rest import REQUEST_ERRORS, Client, resource
from kinn.scheduler.cache import Cache
from kinn.scheduler.framework.interface import (
    NODE_ADD, NODE_UPDATE, ClusterEvent, CycleState, FitError, Handle, Listers,
)
from kinn.scheduler.nodeinfo import PodInfo
from kinn.scheduler.plugins.registry import default_framework
from kinn.scheduler.queue import QueuedPodInfo, SchedulingQueue
from kinn.scheduler.schedule_one import Algorithm, SchedulingError

Obj = dict[str, Any]
log = logging.getLogger("kinn.scheduler")
PODS = resource("v1", "pods")

# kind → served resource, for the informers plugins read and whose changes may unblock pods.
WATCHED = {
    "Node": resource("v1", "nodes"),
    "Namespace": resource("v1", "namespaces"),
    "PersistentVolumeClaim": resource("v1", "persistentvolumeclaims"),
    "PersistentVolume": resource("v1", "persistentvolumes"),
    "StorageClass": resource("storage.k8s.io/v1", "storageclasses"),
    "Service": resource("v1", "services"),
    "ReplicationController": resource("v1", "replicationcontrollers"),
    "ReplicaSet": resource("apps/v1", "replicasets"),
    "StatefulSet": resource("apps/v1", "statefulsets"),
}
# Upstream's pod informer leaves finished pods out: they hold no resources.
NON_TERMINAL_PODS = "status.phase!=Succeeded,status.phase!=Failed"


@dataclass
class SchedulerOptions:
    """KubeSchedulerConfiguration fields kinn honours (same meanings and defaults)."""

    scheduler_name: str = "default-scheduler"
    percentage_of_nodes_to_score: int = 0  # 0: adaptive
    pod_initial_backoff_seconds: float = 1.0
    pod_max_backoff_seconds: float = 10.0


def _assigned(pod: Obj) -> bool:
    return bool(pod.get("spec", {}).get("nodeName"))


def _node_scheduling_properties_changed(old: Obj, new: Obj) -> bool:
    """Only changes that can make a pod fit count (nodeSchedulingPropertiesChange), not heartbeats."""
    def properties(node: Obj) -> tuple[Any, ...]:
        spec, status = node.get("spec", {}), node.get("status", {})
        ready = [c.get("status") for c in status.get("conditions") or () if c.get("type") == "Ready"]
        return (spec.get("unschedulable"), spec.get("taints"), node["metadata"].get("labels"),
                status.get("allocatable"), ready)
    return properties(old) != properties(new)


class Scheduler:
    def __init__(self, client: Client, factory: SharedInformerFactory, options: SchedulerOptions | None = None) -> None:
        self.client = client
        self.options = options or SchedulerOptions()
        self.recorder = EventRecorder(client, self.options.scheduler_name)
        self.cache = Cache()
        self.pods = factory.informer(PODS, field_selector=NON_TERMINAL_PODS)
        self.informers: dict[str, SharedInformer] = {kind: factory.informer(r) for kind, r in WATCHED.items()}
        listers = Listers({kind: informer.indexer for kind, informer in self.informers.items()})
        self.handle = Handle(listers, self.cache.snapshot, client=client, recorder=self.recorder,
                             scheduler_name=self.options.scheduler_name)
        self.framework = default_framework(self.handle)
        self.queue = SchedulingQueue(self._event_plugins(), self.options.pod_initial_backoff_seconds,
                                     self.options.pod_max_backoff_seconds)
        self.handle.nominator = self.queue
        self.algorithm = Algorithm(self.framework, self.cache.snapshot, self.options.percentage_of_nodes_to_score)
        self._tasks: set[asyncio.Task[None]] = set()
        self._register_handlers()

    def _event_plugins(self) -> dict[ClusterEvent, set[str]]:
        events: dict[ClusterEvent, set[str]] = {}
        for plugin in self.framework.plugins:
            for event in plugin.events_to_register():
                events.setdefault(event, set()).add(plugin.name)
        return events

    # -- event handlers (eventhandlers.go) -----------------------------------------------------------

    def _register_handlers(self) -> None:
        self.pods.add_event_handler(EventHandler(self._pod_added, self._pod_updated, self._pod_deleted))
        self.informers["Node"].add_event_handler(EventHandler(self._node_added, self._node_updated, self._node_deleted))
        for kind in ("PersistentVolumeClaim", "PersistentVolume", "StorageClass", "Namespace"):
            self.informers[kind].add_event_handler(EventHandler(
                on_add=lambda obj, kind=kind: self._moved_by(kind, "Add"),
                on_update=lambda old, new, kind=kind: self._moved_by(kind, "Update")))

    def _moved_by(self, kind: str, action: str) -> None:
        self.queue.move_all_to_active_or_backoff(ClusterEvent(kind, action))

    def _responsible(self, pod: Obj) -> bool:
        return pod.get("spec", {}).get("schedulerName", "default-scheduler") == self.options.scheduler_name

    def _pod_added(self, pod: Obj) -> None:
        if _assigned(pod):
            self.cache.add_pod(pod)
            self._moved_by("Pod", "Add")
        elif self._responsible(pod):
            self.queue.add(pod)

    def _pod_updated(self, old: Obj, new: Obj) -> None:
        if _assigned(new):
            self.cache.add_pod(new)
            if not _assigned(old):
                self.queue.delete(old)
                self._moved_by("Pod", "Add")
            elif old["metadata"].get("labels") != new["metadata"].get("labels"):
                self._moved_by("Pod", "Update")
        elif self._responsible(new):
            self.queue.update(old, new)

    def _pod_deleted(self, pod: Obj) -> None:
        if _assigned(pod):
            self.cache.remove_pod(pod)
            self._moved_by("Pod", "Delete")
        else:
            self.queue.delete(pod)
            self.cache.forget_pod(object_key(pod))

    def _node_added(self, node: Obj) -> None:
        self.cache.add_node(node)
        self.queue.move_all_to_active_or_backoff(NODE_ADD)

    def _node_updated(self, old: Obj, new: Obj) -> None:
        self.cache.add_node(new)
        if _node_scheduling_properties_changed(old, new):
            self.queue.move_all_to_active_or_backoff(NODE_UPDATE)

    def _node_deleted(self, node: Obj) -> None:
        self.cache.remove_node(node)

    # -- the loop ------------------------------------------------------------------------------------

    async def run(self) -> None:
        await asyncio.gather(self.pods.synced.wait(), *(i.synced.wait() for i in self.informers.values()))
        log.info("caches synced, scheduling")
        flushes = asyncio.create_task(self.queue.run())
        try:
            while True:
                await self.schedule_one()
        finally:
            flushes.cancel()
            for task in [flushes, *self._tasks]:
                task.cancel()
            await asyncio.gather(flushes, *self._tasks, return_exceptions=True)

    async def schedule_one(self) -> None:
        queued = await self.queue.pop()
        cycle = self.queue.scheduling_cycle
        pod = self.pods.indexer.get(queued.key)
        if pod is None or _assigned(pod) or pod["metadata"].get("deletionTimestamp") or self.cache.is_assumed(queued.key):
            self.queue.done(queued.key)  # gone, bound or being deleted meanwhile (skipPodSchedule)
            return
        info = queued.pod_info
        state = CycleState()
        try:
            result = self.algorithm.schedule(state, info)
        except FitError as e:
            post = self.framework.run_post_filter(state, info, e.diagnosis.node_to_status)
            e.diagnosis.post_filter_msg = post.status.message
            if post.nominated_node:
                self.queue.add_nominated_pod(info, post.nominated_node)
            queued.unschedulable_plugins = e.diagnosis.unschedulable_plugins
            self._failed(queued, cycle, str(e), "Unschedulable", post.nominated_node, post.prepare)
            return
        except SchedulingError as e:
            queued.unschedulable_plugins = set()
            self._failed(queued, cycle, str(e), "SchedulerError")
            return
        assumed = PodInfo({**pod, "spec": {**pod["spec"], "nodeName": result.node}})
        self.cache.assume_pod(assumed, result.node)
        self.queue.delete_nominated_pod(queued.key)
        self.queue.done(queued.key)
        self._spawn(self._binding_cycle(state, queued, cycle, assumed, result.node))

    def _spawn(self, work: Awaitable[None]) -> None:
        task = asyncio.ensure_future(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _binding_cycle(self, state: CycleState, queued: QueuedPodInfo, cycle: int, info: PodInfo,
                             node: str) -> None:
        try:
            for plugin in self.framework.pre_bind_plugins:
                status = await plugin.pre_bind(state, info, node)
                if not status.is_success:
                    raise SchedulingError(status.message)
            await self.bind(info, node)
        except (StatusError, SchedulingError, *REQUEST_ERRORS) as e:
            message = e.message if isinstance(e, StatusError) else str(e)
            log.info("binding %s to %s failed: %s", info.key, node, message)
            self.cache.forget_pod(info.key)
            self.queue.move_all_to_active_or_backoff(ClusterEvent("Pod", "Delete"))  # its room is free again
            queued.unschedulable_plugins = set()
            self._failed(queued, cycle, f"binding rejected: {message}", "SchedulerError")
            return
        log.debug("bound %s to %s", info.key, node)
        await self.recorder.event(info.pod, "Normal", "Scheduled",
                                  f"Successfully assigned {info.namespace}/{info.name} to {node}")

    async def bind(self, info: PodInfo, node: str) -> None:
        """DefaultBinder: POST pods/{name}/binding."""
        binding = {"apiVersion": "v1", "kind": "Binding",
                   "metadata": {"name": info.name, "namespace": info.namespace, "uid": info.uid},
                   "target": {"apiVersion": "v1", "kind": "Node", "name": node}}
        await self.client.create(PODS, binding, info.namespace, subresource="binding", name=info.name)

    # -- failures (handleSchedulingFailure) ------------------------------------------------------------

    def _failed(self, queued: QueuedPodInfo, cycle: int, message: str, reason: str, nominated: str = "",
                prepare: Callable[[], Awaitable[None]] | None = None) -> None:
        log.info("unable to schedule %s: %s", queued.key, message)
        current = self.pods.indexer.get(queued.key)
        if current is None or _assigned(current):
            self.queue.done(queued.key)
            return
        self.queue.add_unschedulable_if_not_present(queued, cycle)
        self._spawn(self._report_failure(current, message, reason, nominated, prepare))

    async def _report_failure(self, pod: Obj, message: str, reason: str, nominated: str,
                              prepare: Callable[[], Awaitable[None]] | None) -> None:
        try:
            if prepare is not None:
                await prepare()
            await self.recorder.event(pod, "Warning", "FailedScheduling", message)
            await self._update_pod_condition(pod, message, reason, nominated)
        except StatusError as e:
            log.info("reporting failure of %s: %s", object_key(pod), e.message)

    async def _update_pod_condition(self, pod: Obj, message: str, reason: str, nominated: str) -> None:
        """PodScheduled=False with the reason and message, and the nominated node, patched only on change."""
        status = pod.get("status", {})
        previous = next((c for c in status.get("conditions") or () if c.get("type") == "PodScheduled"), {})
        same_condition = (previous.get("status"), previous.get("reason"), previous.get("message")) == (
            "False", reason, message)
        same_nomination = (status.get("nominatedNodeName") or "") == nominated
        if same_condition and same_nomination:
            return
        transition = previous.get("lastTransitionTime") if previous.get("status") == "False" else None
        condition = {"type": "PodScheduled", "status": "False", "reason": reason, "message": message,
                     "lastProbeTime": None, "lastTransitionTime": transition or now_rfc3339()}
        patch: Obj = {"status": {"conditions": [condition]}}
        if not same_nomination:
            patch["status"]["nominatedNodeName"] = nominated or None
        meta = pod["metadata"]
        await self.client.patch(PODS, meta["name"], patch, meta["namespace"], patch_type="strategic",
                                subresource="status")
