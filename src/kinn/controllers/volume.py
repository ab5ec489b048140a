"""The PersistentVolume binder (pkg/controller/volume/persistentvolume, "persistentvolume-controller").

Claims and volumes are reconciled separately, as upstream's claim and volume queues: a Pending
claim is bound to the best matching Available volume (volumematch) in four writes — volume
claimRef, volume phase, claim volumeName + annotations, claim phase — each of which the next sync
picks up if a later one fails. A volume whose claim is gone is Released; with the Delete reclaim
policy it is then deleted (kinn has no storage backend to clean), with Retain it waits for an
administrator. No volume and no class: the claim waits with upstream's `FailedBinding` event.
"""

from __future__ import annotations

from typing import Any

from kinn.api.errors import StatusError
from kinn.client.informer import EventHandler, object_key
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.api.timestamps import now_rfc3339
from kinn.controllers.volumematch import claim_class, find_best_match

Obj = dict[str, Any]

VOLUMES = resource("v1", "persistentvolumes")
CLAIMS = resource("v1", "persistentvolumeclaims")
STORAGE_CLASSES = resource("storage.k8s.io/v1", "storageclasses")

BIND_COMPLETED = "pv.kubernetes.io/bind-completed"
BOUND_BY_CONTROLLER = "pv.kubernetes.io/bound-by-controller"
STORAGE_PROVISIONER = "volume.kubernetes.io/storage-provisioner"
BETA_STORAGE_PROVISIONER = "volume.beta.kubernetes.io/storage-provisioner"
NO_VOLUMES = "no persistent volumes available for this claim and no storage class is set"

CLAIM, VOLUME = "claim:", "volume:"


def annotations(obj: Obj) -> dict[str, str]:
    return obj.get("metadata", {}).get("annotations") or {}


def phase(obj: Obj) -> str:
    return (obj.get("status") or {}).get("phase", "")


def claim_ref(claim: Obj) -> Obj:
    meta = claim["metadata"]
    return {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta["namespace"],
            "name": meta["name"], "uid": meta["uid"], "resourceVersion": meta.get("resourceVersion", "")}


def _with_annotations(obj: Obj, extra: dict[str, str]) -> Obj:
    return {**obj, "metadata": {**obj["metadata"], "annotations": {**annotations(obj), **extra}}}


class PersistentVolumeBinderController(Controller):
    name = "persistentvolume-binder"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.recorder = ctx.recorder("persistentvolume-controller")
        self.volumes = self.informer(VOLUMES, self._handler(VOLUME))
        self.claims = self.informer(CLAIMS, self._handler(CLAIM))
        self.classes = self.informer(STORAGE_CLASSES)

    def _handler(self, prefix: str) -> EventHandler:
        def changed(obj: Obj) -> None:
            self.queue.add(prefix + object_key(obj))
            if prefix == CLAIM and (obj.get("spec") or {}).get("volumeName"):
                self.queue.add(VOLUME + obj["spec"]["volumeName"])  # a deleted claim releases its volume

        return EventHandler(on_add=changed, on_update=lambda old, new: changed(new), on_delete=changed)

    async def sync(self, key: str) -> None:
        if key.startswith(CLAIM):
            claim = self.claims.indexer.get(key[len(CLAIM):])
            if claim is not None and not claim["metadata"].get("deletionTimestamp"):
                await self.sync_claim(claim)
        else:
            volume = self.volumes.indexer.get(key[len(VOLUME):])
            if volume is not None:
                await self.sync_volume(volume)

    # -- claims ----------------------------------------------------------------------------

    async def sync_claim(self, claim: Obj) -> None:
        name = (claim.get("spec") or {}).get("volumeName")
        if not name:
            await self._sync_unbound_claim(claim)
            return
        volume = self.volumes.indexer.get(name)
        if volume is None:
            if BIND_COMPLETED in annotations(claim):
                await self._claim_lost(claim, "Bound claim has lost its PersistentVolume. Data on the volume is lost!")
            return  # pre-bound to a volume that does not exist (yet): stays Pending
        ref = (volume.get("spec") or {}).get("claimRef")
        if ref and ref.get("uid") and ref["uid"] != claim["metadata"]["uid"]:
            if BIND_COMPLETED in annotations(claim):
                await self._claim_lost(claim, "Two claims are bound to the same volume, this one is bound incorrectly",
                                       "ClaimMisbound")
            return
        await self.bind(volume, claim)

    async def _sync_unbound_claim(self, claim: Obj) -> None:
        if BIND_COMPLETED in annotations(claim):
            await self._claim_lost(claim, "Bound claim has lost reference to PersistentVolume. Data on the volume is lost!")
            return
        volume = find_best_match(self.volumes.indexer.list(), claim)
        if volume is not None:
            await self.bind(volume, claim)
            return
        await self._wait_for_volume(claim)

    async def _wait_for_volume(self, claim: Obj) -> None:
        """No volume fits: say why, as upstream does, and wait for one to appear."""
        class_name = claim_class(claim)
        if not class_name:
            await self.recorder.event(claim, "Normal", "FailedBinding", NO_VOLUMES)
            return
        storage_class = self.classes.indexer.get(class_name)
        if storage_class is None:
            await self.recorder.event(claim, "Warning", "ProvisioningFailed",
                                      f'storageclass.storage.k8s.io "{class_name}" not found')
            return
        if storage_class.get("volumeBindingMode") == "WaitForFirstConsumer":
            await self.recorder.event(claim, "Normal", "WaitForFirstConsumer",
                                      "waiting for first consumer to be created before binding")
            return
        await self._await_external_provisioner(claim, storage_class.get("provisioner", ""))

    async def _await_external_provisioner(self, claim: Obj, provisioner: str) -> None:
        """Hand the claim to an external provisioner by annotation (kinn runs none in-tree)."""
        if annotations(claim).get(STORAGE_PROVISIONER) != provisioner:
            await self.client.update(CLAIMS, _with_annotations(
                claim, {STORAGE_PROVISIONER: provisioner, BETA_STORAGE_PROVISIONER: provisioner}))
        await self.recorder.event(
            claim, "Normal", "ExternalProvisioning",
            f"Waiting for a volume to be created either by the external provisioner '{provisioner}' or manually by "
            "the system administrator. If volume creation is delayed, please verify that the provisioner is running "
            "and correctly registered.")

    async def _claim_lost(self, claim: Obj, message: str, reason: str = "ClaimLost") -> None:
        if phase(claim) == "Lost":
            return
        await self.client.update(CLAIMS, {**claim, "status": {**(claim.get("status") or {}), "phase": "Lost"}},
                                 "status")
        await self.recorder.event(claim, "Warning", reason, message)

    # -- binding ---------------------------------------------------------------------------

    async def bind(self, volume: Obj, claim: Obj) -> None:
        """Volume first, then claim, each spec before status (upstream bind); every step is idempotent."""
        volume = await self._bind_volume_to_claim(volume, claim)
        if phase(volume) != "Bound":
            await self._set_volume_phase(volume, "Bound")
        claim = await self._bind_claim_to_volume(claim, volume)
        status = claim.get("status") or {}
        wanted = {"phase": "Bound", "accessModes": volume["spec"].get("accessModes") or [],
                  "capacity": volume["spec"].get("capacity") or {}}
        if any(status.get(k) != v for k, v in wanted.items()):
            await self.client.update(CLAIMS, {**claim, "status": {**status, **wanted}}, "status")
            self.log.info("claim %s bound to volume %s", object_key(claim), volume["metadata"]["name"])

    async def _bind_volume_to_claim(self, volume: Obj, claim: Obj) -> Obj:
        ref = (volume.get("spec") or {}).get("claimRef") or {}
        if ref.get("uid") == claim["metadata"]["uid"]:
            return volume
        extra = {} if ref else {BOUND_BY_CONTROLLER: "yes"}  # a pre-bound claimRef was the user's doing
        updated = _with_annotations(volume, extra)
        updated["spec"] = {**volume["spec"], "claimRef": claim_ref(claim)}
        return await self.client.update(VOLUMES, updated)

    async def _bind_claim_to_volume(self, claim: Obj, volume: Obj) -> Obj:
        spec = claim.get("spec") or {}
        name = volume["metadata"]["name"]
        if spec.get("volumeName") == name and BIND_COMPLETED in annotations(claim):
            return claim
        extra = {BIND_COMPLETED: "yes"}
        if not spec.get("volumeName"):
            extra[BOUND_BY_CONTROLLER] = "yes"
        updated = _with_annotations(claim, extra)
        updated["spec"] = {**spec, "volumeName": name}
        return await self.client.update(CLAIMS, updated)

    async def _set_volume_phase(self, volume: Obj, new_phase: str) -> Obj:
        status = {**(volume.get("status") or {}), "phase": new_phase, "lastPhaseTransitionTime": now_rfc3339()}
        return await self.client.update(VOLUMES, {**volume, "status": status}, "status")

    # -- volumes ---------------------------------------------------------------------------

    async def sync_volume(self, volume: Obj) -> None:
        ref = (volume.get("spec") or {}).get("claimRef")
        if not ref or not ref.get("uid"):
            if phase(volume) != "Available":
                await self._set_volume_phase(volume, "Available")
            self._enqueue_waiting_claims()
            return
        claim = self.claims.indexer.get(f"{ref.get('namespace')}/{ref.get('name')}")
        if claim is None or claim["metadata"]["uid"] != ref["uid"]:
            claim = await self._live_claim(ref)
        if claim is not None and claim["metadata"]["uid"] == ref["uid"]:
            if not (claim.get("spec") or {}).get("volumeName"):
                self.queue.add(CLAIM + object_key(claim))  # half-bound: the claim's sync finishes the job
            elif phase(volume) != "Bound":
                await self._set_volume_phase(volume, "Bound")
            return
        await self._reclaim(volume)

    def _enqueue_waiting_claims(self) -> None:
        """A free volume may be what a Pending claim waits for (upstream resyncs claims for this)."""
        for claim in self.claims.indexer.list():
            if not (claim.get("spec") or {}).get("volumeName"):
                self.queue.add(CLAIM + object_key(claim))

    async def _live_claim(self, ref: Obj) -> Obj | None:
        """Ask the API server before releasing: the cache may simply not have seen the claim yet."""
        try:
            return await self.client.get(CLAIMS, ref.get("name", ""), ref.get("namespace", ""))
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    async def _reclaim(self, volume: Obj) -> None:
        """The claim is gone: Released, then the reclaim policy decides (reclaimVolume)."""
        if phase(volume) not in ("Released", "Failed"):
            volume = await self._set_volume_phase(volume, "Released")
        policy = (volume.get("spec") or {}).get("persistentVolumeReclaimPolicy") or "Retain"
        if policy != "Delete" or volume["metadata"].get("deletionTimestamp"):
            return
        try:
            await self.client.delete(VOLUMES, volume["metadata"]["name"])
        except StatusError as e:
            if e.code != 404:
                raise
        self.log.info("volume %s deleted by its reclaim policy", volume["metadata"]["name"])
