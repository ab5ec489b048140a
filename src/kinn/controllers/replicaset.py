"""The ReplicaSet controller (pkg/controller/replicaset): keep `spec.replicas` pods of the template alive.

syncReplicaSet reads the ReplicaSet and the namespace's pods from the informer caches, claims
the active pods its selector matches (adopting orphans, releasing pods that no longer match),
creates or deletes the difference and writes the status. Expectations keep a sync from acting on
a cache that has not yet seen the previous sync's creates and deletes. The ReplicationManager
(replication.py) is this same controller over core/v1 ReplicationControllers.
"""

from __future__ import annotations

import asyncio
import copy
from typing import Any

from kinn.api.errors import StatusError
from kinn.api.selectors import LabelSelector, SelectorError, label_selector_from_object
from kinn.client.informer import EventHandler, object_key, split_key
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.controller_ref_manager import ControllerRefManager
from kinn.controllers.expectations import UIDTrackingControllerExpectations
from kinn.controllers.podutil import (
    controller_of, is_pod_active, is_pod_ready, is_terminating, pod_from_template, resolve_controller_ref,
)
from kinn.controllers.replicaset_util import (
    SLOW_START_INITIAL_BATCH_SIZE, calculate_status, pods_to_delete, slow_start_batch,
)

Obj = dict[str, Any]
PODS = resource("v1", "pods")
REPLICASETS = resource("apps/v1", "replicasets")
# How many pods one sync creates or deletes at most (BurstReplicas), so a huge scale proceeds in steps.
BURST_REPLICAS = 500
_STATUS_FIELDS = ("replicas", "fullyLabeledReplicas", "readyReplicas", "availableReplicas", "conditions")


def _namespace_terminating(error: StatusError) -> bool:
    causes = (error.details or {}).get("causes") or []
    return any(c.get("type") == "NamespaceTerminating" for c in causes)


class ReplicaSetController(Controller):
    name = "replicaset"
    resource = REPLICASETS
    component = "replicaset-controller"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.expectations = UIDTrackingControllerExpectations()
        self.recorder = ctx.recorder(self.component)
        self.sets = self.informer(self.resource, self.enqueue_handler())
        self.pods = self.informer(PODS, EventHandler(self._add_pod, self._update_pod, self._delete_pod))

    # -- which selector (the RC variant overrides) ----------------------------------------------

    def selector_of(self, rs: Obj) -> LabelSelector:
        return label_selector_from_object(rs["spec"].get("selector"))

    # -- pod events → keys ------------------------------------------------------------------------

    def _owner_key(self, pod: Obj, ref: Obj | None) -> str | None:
        """The key of the ReplicaSet `ref` names, if it is one of ours and still the same object."""
        return resolve_controller_ref(self.sets.indexer, pod, ref, self.resource.kind)

    def _enqueue_selecting(self, pod: Obj) -> None:
        """An orphan changed: wake every ReplicaSet that might adopt it (getPodReplicaSets)."""
        labels = pod["metadata"].get("labels") or {}
        for rs in self.sets.indexer.by_index("namespace", pod["metadata"]["namespace"]):
            try:
                if self.selector_of(rs).matches(labels):
                    self.enqueue(rs)
            except SelectorError:
                continue

    def _add_pod(self, pod: Obj) -> None:
        if is_terminating(pod):
            self._delete_pod(pod)  # seen first on a restart while being deleted
            return
        ref = controller_of(pod)
        if ref is not None:
            if key := self._owner_key(pod, ref):
                self.expectations.creation_observed(key)
                self.queue.add(key)
            return
        self._enqueue_selecting(pod)

    def _update_pod(self, old: Obj, cur: Obj) -> None:
        labels_changed = old["metadata"].get("labels") != cur["metadata"].get("labels")
        if is_terminating(cur):
            # A graceful delete shows up as deletionTimestamp long before the DELETE: count it now.
            self._delete_pod(cur)
            if labels_changed:
                self._delete_pod(old)
            return
        old_ref, cur_ref = controller_of(old), controller_of(cur)
        ref_changed = (old_ref or {}).get("uid") != (cur_ref or {}).get("uid")
        if ref_changed and (key := self._owner_key(old, old_ref)):
            self.queue.add(key)
        if cur_ref is not None:
            if key := self._owner_key(cur, cur_ref):
                self.queue.add(key)
                rs = self.sets.indexer.get(key) or {}
                min_ready = rs.get("spec", {}).get("minReadySeconds", 0)
                if min_ready > 0 and not is_pod_ready(old) and is_pod_ready(cur):
                    self.queue.add_after(key, float(min_ready))  # availability comes minReadySeconds later
            return
        if labels_changed or ref_changed:
            self._enqueue_selecting(cur)

    def _delete_pod(self, pod: Obj) -> None:
        if key := self._owner_key(pod, controller_of(pod)):
            self.expectations.deletion_observed_of(key, object_key(pod))
            self.queue.add(key)

    # -- syncReplicaSet ---------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        rs = self.sets.indexer.get(key)
        if rs is None:
            self.expectations.delete(key)
            return
        needs_sync = self.expectations.satisfied(key)
        try:
            selector = self.selector_of(rs)
        except SelectorError as e:
            self.log.error("%s has an invalid selector: %s", key, e.message)
            return
        namespace, _ = split_key(key)
        active = [p for p in self.pods.indexer.by_index("namespace", namespace) if is_pod_active(p)]
        manager = ControllerRefManager(self.client, rs, self.resource,
                                       lambda p: selector.matches(p["metadata"].get("labels")))
        pods = await manager.claim(PODS, active)
        manage_error: Exception | None = None
        if needs_sync and not is_terminating(rs):
            try:
                await self.manage_replicas(pods, rs, key)
            except StatusError as e:
                manage_error = e
        desired = rs["spec"].get("replicas", 1)
        updated = await self.update_status(rs, calculate_status(rs, pods, desired, manage_error))
        status = updated.get("status") or {}
        min_ready = rs["spec"].get("minReadySeconds", 0)
        if (manage_error is None and min_ready > 0 and status.get("readyReplicas", 0) == desired
                and status.get("availableReplicas", 0) != desired):
            self.queue.add_after(key, float(min_ready))
        if manage_error is not None:
            raise manage_error

    async def manage_replicas(self, pods: list[Obj], rs: Obj, key: str) -> None:
        """Create or delete the difference between pods and spec.replicas, at most BURST_REPLICAS per sync."""
        diff = len(pods) - rs["spec"].get("replicas", 1)
        if diff < 0:
            await self._create_pods(rs, key, min(-diff, BURST_REPLICAS))
        elif diff > 0:
            victims = pods_to_delete(pods, self._related_pods(rs), min(diff, BURST_REPLICAS))
            await self._delete_pods(rs, key, victims)

    async def _create_pods(self, rs: Obj, key: str, count: int) -> None:
        self.expectations.expect_creations(key, count)

        async def create() -> None:
            try:
                await self.create_pod(rs)
            except StatusError as e:
                if e.code == 504:  # the create may still land; the informer will count it
                    return
                raise

        created, error = await slow_start_batch(count, SLOW_START_INITIAL_BATCH_SIZE, create)
        for _ in range(count - created):
            self.expectations.creation_observed(key)  # the skipped and failed creates will never be seen
        if error is not None:
            if isinstance(error, StatusError) and _namespace_terminating(error):
                return
            raise error

    async def create_pod(self, rs: Obj) -> Obj:
        """podControl.CreatePodsWithGenerateName: the pod, controlled by `rs`, plus the event either way."""
        pod = pod_from_template(rs["spec"].get("template") or {}, rs)
        if not pod["metadata"].get("labels"):
            raise StatusError(422, "Invalid", "unable to create pods, no labels")
        try:
            created = await self.client.create(PODS, pod, rs["metadata"]["namespace"])
        except StatusError as e:
            if not _namespace_terminating(e):
                await self.recorder.event(rs, "Warning", "FailedCreate", f"Error creating: {e.message}")
            raise
        await self.recorder.event(rs, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        return created

    async def _delete_pods(self, rs: Obj, key: str, victims: list[Obj]) -> None:
        self.expectations.expect_deletions_of(key, [object_key(p) for p in victims])
        results = await asyncio.gather(*(self._delete_pod_of(rs, key, p) for p in victims), return_exceptions=True)
        errors = [r for r in results if isinstance(r, BaseException)]
        if errors:
            raise errors[0]

    async def _delete_pod_of(self, rs: Obj, key: str, pod: Obj) -> None:
        name = pod["metadata"]["name"]
        try:
            await self.client.delete(PODS, name, pod["metadata"]["namespace"])
        except StatusError as e:
            self.expectations.deletion_observed_of(key, object_key(pod))  # the informer won't see it
            if e.code == 404:
                return
            await self.recorder.event(rs, "Warning", "FailedDelete", f"Error deleting: {e.message}")
            raise
        await self.recorder.event(rs, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")

    def _related_pods(self, rs: Obj) -> list[Obj]:
        """Pods of every ReplicaSet sharing this one's owner (getIndirectlyRelatedPods), to spot doubled-up nodes."""
        owner = controller_of(rs)
        namespace = rs["metadata"]["namespace"]
        if owner is None:
            related = {rs["metadata"]["uid"]}
        else:
            related = {s["metadata"]["uid"] for s in self.sets.indexer.by_index("namespace", namespace)
                       if (controller_of(s) or {}).get("uid") == owner.get("uid")}
        return [p for p in self.pods.indexer.by_index("namespace", namespace)
                if (controller_of(p) or {}).get("uid") in related]

    async def update_status(self, rs: Obj, status: Obj) -> Obj:
        """Write status unless nothing changed (updateReplicaSetStatus); one retry on a fresh copy on conflict."""
        current = rs.get("status") or {}
        generation = rs["metadata"].get("generation", 0)
        if (all(current.get(f) == status.get(f) for f in _STATUS_FIELDS)
                and current.get("observedGeneration") == generation):
            return rs
        status["observedGeneration"] = generation
        updated = copy.deepcopy(rs)
        updated["status"] = status
        try:
            return await self.client.update(self.resource, updated, subresource="status")
        except StatusError as e:
            if e.code != 409:
                raise
        meta = rs["metadata"]
        fresh = await self.client.get(self.resource, meta["name"], meta["namespace"])
        fresh["status"] = status
        return await self.client.update(self.resource, fresh, subresource="status")
