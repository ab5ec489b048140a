"""The Deployment controller (pkg/controller/deployment): roll pods between ReplicaSets.

A Deployment never touches pods. Its template, hashed into `pod-template-hash`, names the *new*
ReplicaSet `<deployment>-<hash>`; every other owned ReplicaSet is *old*. A sync either rescales
(a resize or a paused Deployment: proportional scaling of all sets), or rolls: RollingUpdate grows
the new set within maxSurge and shrinks old ones within maxUnavailable counting available pods,
Recreate empties the old sets before creating the new one. Revisions live in the
`deployment.kubernetes.io/revision` annotation; `kubectl rollout undo` (apps/v1) copies an old
set's template back into the Deployment, whose set then becomes the new one with the next revision.
"""

from __future__ import annotations

import copy
import time
from typing import Any

from kinn.api.errors import StatusError
from kinn.api.selectors import SelectorError, label_selector_from_object
from kinn.client.informer import EventHandler
from kinn.client.rest import resource
from kinn.controllers import deployment_util as du
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.controller_ref_manager import ControllerRefManager
from kinn.controllers.podutil import (
    controller_of, controller_ref, is_pod_terminal, is_terminating, resolve_controller_ref,
)
from kinn.controllers.replicaset import PODS, REPLICASETS

Obj = dict[str, Any]
DEPLOYMENTS = resource("apps/v1", "deployments")


class DeploymentController(Controller):
    name = "deployment"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder("deployment-controller")
        self.deployments = self.informer(DEPLOYMENTS, self.enqueue_handler())
        self.sets = self.informer(REPLICASETS, EventHandler(self._add_rs, self._update_rs, self._rs_deleted))
        self.pods = self.informer(PODS, EventHandler(on_delete=self._pod_deleted))

    # -- events → keys ----------------------------------------------------------------------------

    def _owner_key(self, obj: Obj, ref: Obj | None) -> str | None:
        return resolve_controller_ref(self.deployments.indexer, obj, ref, "Deployment")

    def _enqueue_selecting(self, rs: Obj) -> None:
        """An orphaned ReplicaSet: wake every Deployment that might adopt it."""
        for d in self.deployments.indexer.by_index("namespace", rs["metadata"]["namespace"]):
            try:
                if label_selector_from_object(d["spec"].get("selector")).matches(rs["metadata"].get("labels")):
                    self.enqueue(d)
            except SelectorError:
                continue

    def _add_rs(self, rs: Obj) -> None:
        if is_terminating(rs):
            self._rs_deleted(rs)
        elif (ref := controller_of(rs)) is not None:
            if key := self._owner_key(rs, ref):
                self.queue.add(key)
        else:
            self._enqueue_selecting(rs)

    def _update_rs(self, old: Obj, cur: Obj) -> None:
        old_ref, cur_ref = controller_of(old), controller_of(cur)
        ref_changed = (old_ref or {}).get("uid") != (cur_ref or {}).get("uid")
        if ref_changed and (key := self._owner_key(old, old_ref)):
            self.queue.add(key)
        if cur_ref is not None:
            if key := self._owner_key(cur, cur_ref):
                self.queue.add(key)
        elif ref_changed or old["metadata"].get("labels") != cur["metadata"].get("labels"):
            self._enqueue_selecting(cur)

    def _rs_deleted(self, rs: Obj) -> None:
        if key := self._owner_key(rs, controller_of(rs)):
            self.queue.add(key)

    def _pod_deleted(self, pod: Obj) -> None:
        """Recreate waits for old pods to be gone, not just scaled away: a pod's deletion may unblock it."""
        ref = controller_of(pod)
        if ref is None or ref.get("kind") != "ReplicaSet":
            return
        rs = self.sets.indexer.get(f"{pod['metadata']['namespace']}/{ref['name']}")
        if rs is not None and (key := self._owner_key(rs, controller_of(rs))):
            d = self.deployments.indexer.get(key) or {}
            if d.get("spec", {}).get("strategy", {}).get("type") == "Recreate":
                self.queue.add(key)

    # -- syncDeployment ---------------------------------------------------------------------------

    async def sync(self, key: str) -> None:
        cached = self.deployments.indexer.get(key)
        if cached is None:
            return
        d = copy.deepcopy(cached)
        d.setdefault("apiVersion", "apps/v1")
        d.setdefault("kind", "Deployment")
        selector = d["spec"].get("selector")
        if selector is not None and not selector.get("matchLabels") and not selector.get("matchExpressions"):
            await self.recorder.event(d, "Warning", "SelectingAll",
                                      "This deployment is selecting all pods. A non-empty selector is required.")
            if (d.get("status") or {}).get("observedGeneration", 0) < d["metadata"].get("generation", 0):
                d.setdefault("status", {})["observedGeneration"] = d["metadata"]["generation"]
                await self._update_status(d)
            return
        rs_list = await self._claim_replica_sets(d)
        if is_terminating(d):
            new, old = await self._get_all(d, rs_list, create=False)
            await self._sync_deployment_status([*old, new], new, d)
            return
        await self._check_paused_conditions(d)
        if d["spec"].get("paused") or await self._is_scaling_event(d, rs_list):
            await self._sync(d, rs_list)
        elif du.is_rolling_update(d):
            await self._rollout_rolling(d, rs_list)
        else:
            await self._rollout_recreate(d, rs_list)

    async def _claim_replica_sets(self, d: Obj) -> list[Obj]:
        selector = label_selector_from_object(d["spec"].get("selector"))
        manager = ControllerRefManager(self.client, d, DEPLOYMENTS,
                                       lambda rs: selector.matches(rs["metadata"].get("labels")))
        candidates = self.sets.indexer.by_index("namespace", d["metadata"]["namespace"])
        return [copy.deepcopy(rs) for rs in await manager.claim(REPLICASETS, candidates)]

    # -- new and old sets -------------------------------------------------------------------------

    async def _get_all(self, d: Obj, rs_list: list[Obj], create: bool) -> tuple[Obj | None, list[Obj]]:
        """getAllReplicaSetsAndSyncRevision: (new set — created if asked —, all old sets)."""
        old = du.find_old_replica_sets(d, rs_list)
        return await self._get_new_replica_set(d, rs_list, old, create), old

    async def _get_new_replica_set(self, d: Obj, rs_list: list[Obj], old: list[Obj], create: bool) -> Obj | None:
        existing = du.find_new_replica_set(d, rs_list)
        new_revision = du.max_revision(old) + 1
        if existing is not None:
            return await self._sync_existing_new_replica_set(d, existing, new_revision)
        if not create:
            return None
        return await self._create_new_replica_set(d, old, new_revision)

    async def _sync_existing_new_replica_set(self, d: Obj, rs: Obj, new_revision: int) -> Obj:
        """Bring the new set's annotations and minReadySeconds up to date, and the Deployment's revision."""
        rs = copy.deepcopy(rs)
        annotations_updated = du.set_new_replica_set_annotations(d, rs, new_revision, exists=True)
        min_ready = d["spec"].get("minReadySeconds", 0)
        if annotations_updated or rs["spec"].get("minReadySeconds", 0) != min_ready:
            rs["spec"]["minReadySeconds"] = min_ready
            return await self.client.update(REPLICASETS, rs)
        needs_update = du.set_deployment_revision(d, rs["metadata"].get("annotations", {}).get(du.REVISION_ANNOTATION, ""))
        status = d.setdefault("status", {})
        if du.has_progress_deadline(d) and du.get_condition(status, "Progressing") is None:
            du.set_condition(status, du.new_condition("Progressing", "True", du.FOUND_NEW_RS_REASON,
                                                      f'Found new replica set "{rs["metadata"]["name"]}"'))
            needs_update = True
        if needs_update:
            await self._update_status(d)
        return rs

    async def _create_new_replica_set(self, d: Obj, old: list[Obj], new_revision: int) -> Obj:
        status = d.setdefault("status", {})
        hash_ = du.compute_hash(d["spec"]["template"], status.get("collisionCount"))
        template, selector = du.new_replica_set_template(d, hash_)
        meta = d["metadata"]
        new: Obj = {
            "apiVersion": "apps/v1", "kind": "ReplicaSet",
            "metadata": {"name": f"{meta['name']}-{hash_}", "namespace": meta["namespace"],
                         "ownerReferences": [controller_ref(d)], "labels": dict(template["metadata"]["labels"])},
            "spec": {"replicas": 0, "minReadySeconds": d["spec"].get("minReadySeconds", 0),
                     "selector": selector, "template": template},
        }
        count = du.new_rs_new_replicas(d, [*old, new], new)
        new["spec"]["replicas"] = count
        du.set_new_replica_set_annotations(d, new, new_revision, exists=False)
        created, already_existed = await self._create_or_find(d, new)
        if not already_existed and count > 0:
            await self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                      f"Scaled up replica set {created['metadata']['name']} to {count}")
        needs_update = du.set_deployment_revision(d, str(new_revision))
        if not already_existed and du.has_progress_deadline(d):
            du.set_condition(status, du.new_condition("Progressing", "True", du.NEW_RS_REASON,
                                                      f'Created new replica set "{created["metadata"]["name"]}"'))
            needs_update = True
        if needs_update:
            await self._update_status(d)
        return created

    async def _create_or_find(self, d: Obj, new: Obj) -> tuple[Obj, bool]:
        """Create the new set; an existing namesake is ours (a stale cache) or a hash collision."""
        name = new["metadata"]["name"]
        try:
            return await self.client.create(REPLICASETS, new, d["metadata"]["namespace"]), False
        except StatusError as e:
            if e.reason == "AlreadyExists":
                existing = await self.client.get(REPLICASETS, name, d["metadata"]["namespace"])
                if (controller_of(existing) or {}).get("uid") == d["metadata"]["uid"] and du.equal_ignore_hash(
                        d["spec"]["template"], existing["spec"].get("template", {})):
                    return existing, True
                # A different template hashed to the same name: bump collisionCount so the next hash differs.
                status = d.setdefault("status", {})
                status["collisionCount"] = status.get("collisionCount", 0) + 1
                await self._update_status(d)
                raise
            if any(c.get("type") == "NamespaceTerminating" for c in (e.details or {}).get("causes") or []):
                raise
            message = f'Failed to create new replica set "{name}": {e.message}'
            if du.has_progress_deadline(d):
                du.set_condition(d.setdefault("status", {}),
                                 du.new_condition("Progressing", "False", du.FAILED_RS_CREATE_REASON, message))
                await self._update_status(d)
            await self.recorder.event(d, "Warning", du.FAILED_RS_CREATE_REASON, message)
            raise

    # -- scaling ----------------------------------------------------------------------------------

    async def _scale_replica_set(self, rs: Obj, size: int, d: Obj, operation: str) -> tuple[bool, Obj]:
        """Set the size and the desired/max-replicas annotations; a ScalingReplicaSet event if the size moved."""
        rs = copy.deepcopy(rs)
        old_size = du.rs_replicas(rs)
        annotations_changed = du.set_replicas_annotations(rs, du.replicas(d), du.replicas(d) + du.max_surge(d))
        if old_size == size and not annotations_changed:
            return False, rs
        rs["spec"]["replicas"] = size
        rs = await self.client.update(REPLICASETS, rs)
        if old_size != size:
            await self.recorder.event(d, "Normal", "ScalingReplicaSet",
                                      f"Scaled {operation} replica set {rs['metadata']['name']} to {size} from {old_size}")
        return old_size != size, rs

    async def _scale_and_record(self, rs: Obj, size: int, d: Obj) -> tuple[bool, Obj]:
        if du.rs_replicas(rs) == size:
            return False, rs
        return await self._scale_replica_set(rs, size, d, "up" if du.rs_replicas(rs) < size else "down")

    async def _is_scaling_event(self, d: Obj, rs_list: list[Obj]) -> bool:
        """A set's desired-replicas annotation differs from spec.replicas: the user resized the Deployment."""
        new, old = await self._get_all(d, rs_list, create=False)
        return any(du.desired_replicas_annotation(rs) not in (None, du.replicas(d)) for rs in du.active([*old, new]))

    async def _scale(self, d: Obj, new: Obj | None, old: list[Obj]) -> None:
        """Resize: the one active set, or old sets to 0 once the new is saturated, or proportionally."""
        if (only := du.find_active_or_latest(new, old)) is not None:
            if du.rs_replicas(only) != du.replicas(d):
                await self._scale_and_record(only, du.replicas(d), d)
            return
        if du.is_saturated(d, new):
            for rs in du.active(old):
                await self._scale_and_record(rs, 0, d)
            return
        if du.is_rolling_update(d):
            live = du.active([*old, new])
            sizes, operation = du.proportional_sizes(d, live)
            by_name = {rs["metadata"]["name"]: rs for rs in live}
            for name, size in sizes.items():
                await self._scale_replica_set(by_name[name], size, d, operation)

    async def _sync(self, d: Obj, rs_list: list[Obj]) -> None:
        """sync: scale only (resize or paused), clean history when paused, write status."""
        new, old = await self._get_all(d, rs_list, create=False)
        await self._scale(d, new, old)
        if d["spec"].get("paused"):
            await self._cleanup(d, old)
        await self._sync_deployment_status([*old, new], new, d)

    # -- rollouts ---------------------------------------------------------------------------------

    async def _rollout_rolling(self, d: Obj, rs_list: list[Obj]) -> None:
        new, old = await self._get_all(d, rs_list, create=True)
        assert new is not None
        all_sets: list[Obj | None] = [*old, new]
        if await self._reconcile_new(all_sets, new, d) or await self._reconcile_old(all_sets, du.active(old), new, d):
            await self._sync_rollout_status(all_sets, new, d)
            return
        if du.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old)
        await self._sync_rollout_status(all_sets, new, d)

    async def _reconcile_new(self, all_sets: list[Obj | None], new: Obj, d: Obj) -> bool:
        if du.rs_replicas(new) == du.replicas(d):
            return False
        if du.rs_replicas(new) > du.replicas(d):
            target = du.replicas(d)  # the Deployment shrank: no surge budget applies to shrinking
        else:
            target = du.new_rs_new_replicas(d, all_sets, new)
        scaled, _ = await self._scale_and_record(new, target, d)
        return scaled

    async def _reconcile_old(self, all_sets: list[Obj | None], old: list[Obj], new: Obj, d: Obj) -> bool:
        if du.total_replicas(old) == 0:
            return False
        budget = du.max_scaled_down(all_sets, new, d)
        if budget <= 0:
            return False
        old, cleaned = await self._apply_plan(old, du.unhealthy_cleanup_plan(old, budget), d)
        _, scaled = await self._apply_plan(old, du.rolling_scale_down_plan([*old, new], old, d), d)
        return cleaned + scaled > 0

    async def _apply_plan(self, sets: list[Obj], plan: list[tuple[Obj, int]], d: Obj) -> tuple[list[Obj], int]:
        """Scale each planned set; returns the sets as updated and how many replicas were removed."""
        updated = {rs["metadata"]["uid"]: rs for rs in sets}
        removed = 0
        for rs, size in plan:
            removed += du.rs_replicas(rs) - size
            _, updated[rs["metadata"]["uid"]] = await self._scale_and_record(rs, size, d)
        return [updated[rs["metadata"]["uid"]] for rs in sets], removed

    async def _rollout_recreate(self, d: Obj, rs_list: list[Obj]) -> None:
        new, old = await self._get_all(d, rs_list, create=False)
        all_sets: list[Obj | None] = [*old, new]
        scaled_down = False
        for rs in du.active(old):
            scaled, _ = await self._scale_and_record(rs, 0, d)
            scaled_down = scaled_down or scaled
        if scaled_down or self._old_pods_running(d, new, old):
            await self._sync_rollout_status(all_sets, new, d)
            return
        if new is None:
            new, old = await self._get_all(d, rs_list, create=True)
            all_sets = [*old, new]
        assert new is not None
        await self._scale_and_record(new, du.replicas(d), d)
        if du.deployment_complete(d, d.get("status") or {}):
            await self._cleanup(d, old)
        await self._sync_rollout_status(all_sets, new, d)

    def _old_pods_running(self, d: Obj, new: Obj | None, old: list[Obj]) -> bool:
        """Any old set still reports pods, or any non-terminal pod of an old set exists (oldPodsRunning)."""
        if du.actual_replicas(old) > 0:
            return True
        old_uids = {rs["metadata"]["uid"] for rs in old}
        new_uid = (new or {}).get("metadata", {}).get("uid")
        for pod in self.pods.indexer.by_index("namespace", d["metadata"]["namespace"]):
            owner = (controller_of(pod) or {}).get("uid")
            if owner in old_uids and owner != new_uid and not is_pod_terminal(pod):
                return True
        return False

    async def _cleanup(self, d: Obj, old: list[Obj]) -> None:
        """Delete the oldest fully scaled-down sets beyond revisionHistoryLimit (cleanupDeployment)."""
        limit = d["spec"].get("revisionHistoryLimit")
        if limit is None or limit == du.MAX_INT32:
            return
        cleanable = du.alive(old)
        for rs in du.by_revision(cleanable)[:max(len(cleanable) - limit, 0)]:
            status = rs.get("status") or {}
            if (status.get("replicas", 0) or du.rs_replicas(rs)
                    or rs["metadata"].get("generation", 0) > status.get("observedGeneration", 0)):
                continue
            try:
                await self.client.delete(REPLICASETS, rs["metadata"]["name"], rs["metadata"]["namespace"])
            except StatusError as e:
                if e.code != 404:
                    raise

    # -- status and conditions --------------------------------------------------------------------

    async def _update_status(self, d: Obj) -> None:
        updated = await self.client.update(DEPLOYMENTS, d, subresource="status")
        d["metadata"]["resourceVersion"] = updated["metadata"]["resourceVersion"]

    async def _check_paused_conditions(self, d: Obj) -> None:
        """Progressing=Unknown DeploymentPaused / DeploymentResumed, unless the rollout already timed out."""
        if not du.has_progress_deadline(d):
            return
        status = d.setdefault("status", {})
        condition = du.get_condition(status, "Progressing")
        if condition is not None and condition.get("reason") == du.TIMED_OUT_REASON:
            return
        paused_recorded = condition is not None and condition.get("reason") == du.PAUSED_REASON
        if d["spec"].get("paused") and not paused_recorded:
            du.set_condition(status, du.new_condition("Progressing", "Unknown", du.PAUSED_REASON, "Deployment is paused"))
        elif not d["spec"].get("paused") and paused_recorded:
            du.set_condition(status, du.new_condition("Progressing", "Unknown", du.RESUMED_REASON,
                                                      "Deployment is resumed"))
        else:
            return
        await self._update_status(d)

    async def _sync_deployment_status(self, all_sets: list[Obj | None], new: Obj | None, d: Obj) -> None:
        status = du.calculate_status(all_sets, new, d)
        if status != (d.get("status") or {}):
            d["status"] = status
            await self._update_status(d)

    async def _sync_rollout_status(self, all_sets: list[Obj | None], new: Obj | None, d: Obj) -> None:
        """syncRolloutStatus: status plus the Progressing condition, and a requeue at the progress deadline."""
        status = du.calculate_status(all_sets, new, d)
        if not du.has_progress_deadline(d):
            du.remove_condition(status, "Progressing")
        current = du.get_condition(d.get("status") or {}, "Progressing")
        complete = (status.get("replicas", 0) == status.get("updatedReplicas", 0) and current is not None
                    and current.get("reason") == du.NEW_RS_AVAILABLE_REASON)
        if du.has_progress_deadline(d) and not complete:
            self._set_progressing(d, status, new, current)
        failures = self._replica_failures(all_sets, new)
        if failures is not None:
            du.set_condition(status, failures)
        else:
            du.remove_condition(status, "ReplicaFailure")
        if status == (d.get("status") or {}):
            self._requeue_stuck(d, status)
            return
        d["status"] = status
        await self._update_status(d)

    @staticmethod
    def _set_progressing(d: Obj, status: Obj, new: Obj | None, current: Obj | None) -> None:
        subject = f'ReplicaSet "{new["metadata"]["name"]}"' if new else f'Deployment "{d["metadata"]["name"]}"'
        if du.deployment_complete(d, status):
            du.set_condition(status, du.new_condition("Progressing", "True", du.NEW_RS_AVAILABLE_REASON,
                                                      f"{subject} has successfully progressed."))
        elif du.deployment_progressing(d, status):
            condition = du.new_condition("Progressing", "True", du.RS_UPDATED_REASON, f"{subject} is progressing.")
            if current is not None:
                if current.get("status") == "True":
                    condition["lastTransitionTime"] = current.get("lastTransitionTime")
                du.remove_condition(status, "Progressing")
            du.set_condition(status, condition)
        elif du.deployment_timed_out(d, time.time()):
            du.set_condition(status, du.new_condition("Progressing", "False", du.TIMED_OUT_REASON,
                                                      f"{subject} has timed out progressing."))

    @staticmethod
    def _replica_failures(all_sets: list[Obj | None], new: Obj | None) -> Obj | None:
        """The first ReplicaFailure of the new set, else of an old one, as a Deployment condition."""
        ordered = [new, *(rs for rs in all_sets if rs is not new)]
        for rs in ordered:
            for c in (rs or {}).get("status", {}).get("conditions") or []:
                if c.get("type") == "ReplicaFailure":
                    return {"type": "ReplicaFailure", "status": c["status"], "reason": c.get("reason", ""),
                            "message": c.get("message", ""), "lastUpdateTime": c.get("lastTransitionTime"),
                            "lastTransitionTime": c.get("lastTransitionTime")}
        return None

    def _requeue_stuck(self, d: Obj, status: Obj) -> None:
        """Look again when the progress deadline passes, so ProgressDeadlineExceeded is reported on time."""
        condition = du.get_condition(status, "Progressing")
        if condition is None or not du.has_progress_deadline(d) or du.deployment_complete(d, status):
            return
        if condition.get("reason") == du.TIMED_OUT_REASON:
            return
        deadline = du.progress_deadline_at({**d, "status": status})
        if deadline is None:
            return
        key = f"{d['metadata']['namespace']}/{d['metadata']['name']}"
        self.queue.add_after(key, max(deadline - time.time(), 0.0) + 0.5)
