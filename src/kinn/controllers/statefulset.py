"""StatefulSetController: pods with stable names, hostnames and volumes, created and replaced in order
(pkg/controller/statefulset).

Pod `<set>-<ordinal>` gets hostname = its name and subdomain = serviceName (so the headless
service gives it a stable DNS name) and one PVC per volumeClaimTemplate, `<claim>-<set>-<ordinal>`,
which outlives the pod unless persistentVolumeClaimRetentionPolicy says Delete. Under OrderedReady
an ordinal is created only when every lower one is Running and Ready, and surplus ordinals go
highest first, one at a time; Parallel does both at once. RollingUpdate replaces pods from the
highest ordinal down to `partition`, one at a time, each only after the others are Ready.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from kinn.api.errors import StatusError
from kinn.client.events import EventRecorder
from kinn.client.informer import object_key
from kinn.client.rest import resource
from kinn.controllers import history
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.podutil import (
    PODS, controller_ref, controller_uid_index, is_pod_available, is_pod_ready, is_pod_terminal, is_terminating,
    owner_key, pod_from_template,
)

Obj = dict[str, Any]
STATEFULSETS = resource("apps/v1", "statefulsets")
PVCS = resource("v1", "persistentvolumeclaims")
POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name"
POD_INDEX_LABEL = "apps.kubernetes.io/pod-index"


def ordinal_of(set_name: str, pod: Obj) -> int | None:
    match = re.fullmatch(rf"{re.escape(set_name)}-(\d+)", pod["metadata"]["name"])
    return int(match.group(1)) if match else None


def claim_name(template: Obj, pod_name: str) -> str:
    return f"{template['metadata']['name']}-{pod_name}"


def pod_revision(pod: Obj) -> str:
    return (pod["metadata"].get("labels") or {}).get(history.REVISION_HASH_LABEL, "")


def is_running_and_ready(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") == "Running" and is_pod_ready(pod)


@dataclass
class Revisions:
    current: Obj
    update: Obj

    def template_for(self, sts: Obj, ordinal: int) -> tuple[Obj, str]:
        """Pods below the partition stay on the current revision (newVersionedStatefulSetPod)."""
        strategy = sts["spec"].get("updateStrategy") or {}
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
        revision = self.current if strategy.get("type", "RollingUpdate") == "RollingUpdate" and ordinal < partition \
            else self.update
        return revision["data"]["spec"]["template"], revision["metadata"]["name"]


class StatefulSetController(Controller):
    name = "statefulset"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.recorder: EventRecorder = ctx.recorder("statefulset-controller")
        self.sets = self.informer(STATEFULSETS, self.enqueue_handler())
        self.pods = self.informer(PODS, self.enqueue_handler(lambda p: owner_key(p, "StatefulSet")))
        self.pods.indexer.add_indexer("controller-uid", controller_uid_index)
        self.claims = self.informer(PVCS)
        self.revisions = self.informer(history.CONTROLLER_REVISIONS,
                                       self.enqueue_handler(lambda r: owner_key(r, "StatefulSet")))

    async def sync(self, key: str) -> None:
        sts = self.sets.indexer.get(key)
        if sts is None or is_terminating(sts):
            return
        revisions = await self._construct_history(sts)
        pods = {o: p for p in self.pods.indexer.by_index("controller-uid", sts["metadata"]["uid"])
                if (o := ordinal_of(sts["metadata"]["name"], p)) is not None}
        await self._update_set(sts, revisions, pods)
        await self._update_status(sts, revisions, pods)

    # -- revisions ---------------------------------------------------------------------------

    async def _construct_history(self, sts: Obj) -> Revisions:
        owned = history.owned_revisions(self.revisions.indexer.by_index("namespace", sts["metadata"]["namespace"]), sts)
        data = history.template_patch(sts["spec"]["template"])
        collision_count = (sts.get("status") or {}).get("collisionCount", 0)  # nil hashes as 0 here, as upstream
        hash_ = history.hash_revision(data, collision_count)
        labels = dict((sts["spec"]["template"].get("metadata") or {}).get("labels") or {})
        try:
            update = await history.ensure_revision(self.client, sts, owned, data, hash_, labels)
        except history.HashCollision:
            status = {**(sts.get("status") or {}), "collisionCount": collision_count + 1}
            await self.client.update(STATEFULSETS, {**sts, "status": status}, subresource="status")
            raise
        current_name = (sts.get("status") or {}).get("currentRevision")
        current = next((r for r in owned if r["metadata"]["name"] == current_name), update)
        live = {current["metadata"]["name"], update["metadata"]["name"]}
        live |= {pod_revision(p) for p in self.pods.indexer.by_index("controller-uid", sts["metadata"]["uid"])}
        await history.truncate_history(self.client, owned, live, sts["spec"].get("revisionHistoryLimit", 10))
        return Revisions(current, update)

    # -- pods --------------------------------------------------------------------------------

    async def _update_set(self, sts: Obj, revisions: Revisions, pods: dict[int, Obj]) -> None:
        """Bring ordinals [start, start+replicas) to life in order and remove the rest (updateStatefulSet)."""
        spec = sts["spec"]
        start = (spec.get("ordinals") or {}).get("start", 0)
        wanted = range(start, start + spec.get("replicas", 1))
        monotonic = spec.get("podManagementPolicy", "OrderedReady") == "OrderedReady"
        for ordinal in wanted:
            pod = pods.get(ordinal)
            if pod is not None and is_pod_terminal(pod) and not is_terminating(pod):
                await self._delete_pod(sts, pod)  # failed or succeeded: replaced under the same name
                pod = None
            if pod is None:
                await self._create_pod(sts, revisions, ordinal)
                if monotonic:
                    return
            elif monotonic and (is_terminating(pod) or not is_running_and_ready(pod)):
                return  # OrderedReady: wait for this ordinal before touching the next
        condemned = sorted((o for o in pods if o not in wanted), reverse=True)
        for ordinal in condemned:
            pod = pods[ordinal]
            if not is_terminating(pod):
                await self._scale_down_claims(sts, pod)
                await self._delete_pod(sts, pod)
            if monotonic:
                return
        await self._rolling_update(sts, revisions, pods, wanted)

    async def _rolling_update(self, sts: Obj, revisions: Revisions, pods: dict[int, Obj], wanted: range) -> None:
        """Replace the highest out-of-date ordinal at or above the partition, once all others are ready."""
        strategy = sts["spec"].get("updateStrategy") or {}
        if strategy.get("type", "RollingUpdate") != "RollingUpdate":
            return
        partition = (strategy.get("rollingUpdate") or {}).get("partition", 0)
        update_name = revisions.update["metadata"]["name"]
        for ordinal in sorted((o for o in wanted if o >= partition), reverse=True):
            pod = pods.get(ordinal)
            if pod is None or is_terminating(pod) or not is_running_and_ready(pod):
                return
            if pod_revision(pod) != update_name:
                await self._delete_pod(sts, pod)
                return

    def _new_pod(self, sts: Obj, revisions: Revisions, ordinal: int) -> Obj:
        template, revision_name = revisions.template_for(sts, ordinal)
        name = f"{sts['metadata']['name']}-{ordinal}"
        template = {k: v for k, v in template.items() if k != "$patch"}
        pod = pod_from_template(template, sts, name=name)
        labels = pod["metadata"].setdefault("labels", {})
        labels.update({POD_NAME_LABEL: name, POD_INDEX_LABEL: str(ordinal), history.REVISION_HASH_LABEL: revision_name})
        pod["spec"]["hostname"] = name
        if sts["spec"].get("serviceName"):
            pod["spec"]["subdomain"] = sts["spec"]["serviceName"]
        volumes = [v for v in pod["spec"].get("volumes") or []
                   if v["name"] not in {t["metadata"]["name"] for t in self._claim_templates(sts)}]
        for template_claim in self._claim_templates(sts):
            volumes.append({"name": template_claim["metadata"]["name"],
                            "persistentVolumeClaim": {"claimName": claim_name(template_claim, name)}})
        if volumes:
            pod["spec"]["volumes"] = volumes
        return pod

    @staticmethod
    def _claim_templates(sts: Obj) -> list[Obj]:
        return sts["spec"].get("volumeClaimTemplates") or []

    async def _create_pod(self, sts: Obj, revisions: Revisions, ordinal: int) -> None:
        pod = self._new_pod(sts, revisions, ordinal)
        await self._create_claims(sts, pod["metadata"]["name"])
        name, set_name = pod["metadata"]["name"], sts["metadata"]["name"]
        try:
            await self.client.create(PODS, pod, sts["metadata"]["namespace"])
        except StatusError as e:
            if e.code == 409:
                return
            await self.recorder.event(sts, "Warning", "FailedCreate",
                                      f"create Pod {name} in StatefulSet {set_name} failed error: {e.message}")
            raise
        await self.recorder.event(sts, "Normal", "SuccessfulCreate",
                                  f"create Pod {name} in StatefulSet {set_name} successful")

    async def _create_claims(self, sts: Obj, pod_name: str) -> None:
        """The pod's PVCs, created once and then left alone (createPersistentVolumeClaims)."""
        namespace, set_name = sts["metadata"]["namespace"], sts["metadata"]["name"]
        when_deleted = (sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}).get("whenDeleted", "Retain")
        for template in self._claim_templates(sts):
            name = claim_name(template, pod_name)
            if self.claims.indexer.get(f"{namespace}/{name}") is not None:
                continue
            claim = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
                     "metadata": {**copy.deepcopy(template.get("metadata") or {}), "name": name, "namespace": namespace},
                     "spec": copy.deepcopy(template.get("spec") or {})}
            selector_labels = (sts["spec"].get("selector") or {}).get("matchLabels") or {}
            claim["metadata"]["labels"] = {**(claim["metadata"].get("labels") or {}), **selector_labels}
            if when_deleted == "Delete":
                claim["metadata"]["ownerReferences"] = [{**controller_ref(sts), "controller": True}]
            try:
                await self.client.create(PVCS, claim, namespace)
            except StatusError as e:
                if e.code == 409:
                    continue
                await self.recorder.event(sts, "Warning", "FailedCreate",
                                          f"create Claim {name} for Pod {pod_name} in StatefulSet {set_name} "
                                          f"failed error: {e.message}")
                raise
            await self.recorder.event(sts, "Normal", "SuccessfulCreate",
                                      f"create Claim {name} Pod {pod_name} in StatefulSet {set_name} success")

    async def _scale_down_claims(self, sts: Obj, pod: Obj) -> None:
        """whenScaled: Delete makes the condemned pod own its claims, so the GC removes them with it."""
        policy = sts["spec"].get("persistentVolumeClaimRetentionPolicy") or {}
        if policy.get("whenScaled", "Retain") != "Delete":
            return
        ref = {"apiVersion": "v1", "kind": "Pod", "name": pod["metadata"]["name"], "uid": pod["metadata"]["uid"],
               "controller": False, "blockOwnerDeletion": True}
        for template in self._claim_templates(sts):
            name = claim_name(template, pod["metadata"]["name"])
            claim = self.claims.indexer.get(f"{sts['metadata']['namespace']}/{name}")
            if claim is not None and ref not in (claim["metadata"].get("ownerReferences") or []):
                refs = [r for r in claim["metadata"].get("ownerReferences") or [] if r.get("kind") != "Pod"]
                await self.client.patch(PVCS, name, {"metadata": {"ownerReferences": refs + [ref]}},
                                        sts["metadata"]["namespace"])

    async def _delete_pod(self, sts: Obj, pod: Obj) -> None:
        name, set_name = pod["metadata"]["name"], sts["metadata"]["name"]
        try:
            await self.client.delete(PODS, name, pod["metadata"]["namespace"])
        except StatusError as e:
            if e.code == 404:
                return
            await self.recorder.event(sts, "Warning", "FailedDelete",
                                      f"delete Pod {name} in StatefulSet {set_name} failed error: {e.message}")
            raise
        await self.recorder.event(sts, "Normal", "SuccessfulDelete",
                                  f"delete Pod {name} in StatefulSet {set_name} successful")

    # -- status ------------------------------------------------------------------------------

    async def _update_status(self, sts: Obj, revisions: Revisions, pods: dict[int, Obj]) -> None:
        min_ready = sts["spec"].get("minReadySeconds", 0)
        now = datetime.now(timezone.utc)
        current_name, update_name = revisions.current["metadata"]["name"], revisions.update["metadata"]["name"]
        existing = [p for p in pods.values() if not is_terminating(p)]
        replicas = sts["spec"].get("replicas", 1)
        status: Obj = {
            "observedGeneration": sts["metadata"].get("generation", 1),
            "replicas": len(existing),
            "readyReplicas": sum(1 for p in existing if is_running_and_ready(p)),
            "availableReplicas": sum(1 for p in existing if is_running_and_ready(p)
                                     and is_pod_available(p, min_ready, now)),
            "currentReplicas": sum(1 for p in existing if pod_revision(p) == current_name),
            "updatedReplicas": sum(1 for p in existing if pod_revision(p) == update_name),
            "currentRevision": current_name, "updateRevision": update_name,
            "collisionCount": (sts.get("status") or {}).get("collisionCount", 0),
        }
        if status["updatedReplicas"] == replicas and status["readyReplicas"] == replicas == status["replicas"]:
            # completeRollingUpdate: every pod runs the update revision, which becomes current.
            status.update(currentRevision=update_name, currentReplicas=status["updatedReplicas"])
        for omitempty in ("readyReplicas", "currentReplicas", "updatedReplicas"):
            if not status[omitempty]:
                del status[omitempty]
        if status != (sts.get("status") or {}):
            await self.client.update(STATEFULSETS, {**sts, "status": status}, subresource="status")
        if min_ready > 0 and status.get("readyReplicas", 0) != status.get("availableReplicas", 0):
            self.queue.add_after(object_key(sts), float(min_ready))
