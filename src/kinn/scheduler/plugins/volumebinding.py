"""VolumeBinding: every claim the pod uses must exist and be bound, or be bindable on the node.

A claim of a WaitForFirstConsumer class waits for the scheduler: the node is chosen first, then in
PreBind the claim is annotated with `volume.kubernetes.io/selected-node` (dynamic provisioning) or
a matching static volume is pre-bound to it through `spec.claimRef`, for the PV controller to finish.
"""

from __future__ import annotations

from typing import Any

from kinn.api.errors import StatusError
from kinn.api.nodeaffinity import node_selector_matches
from kinn.api.quantity import value
from kinn.client.rest import resource
from kinn.scheduler.framework.interface import (
    NODE_ADD, NODE_UPDATE, ClusterEvent, CycleState, Handle, SKIP, SUCCESS, Status, cluster_events,
)
from kinn.scheduler.nodeinfo import NodeInfo, PodInfo

Obj = dict[str, Any]
NAME = "VolumeBinding"
ERR_REASON_BIND_CONFLICT = "node(s) didn't find available persistent volumes to bind"
ERR_REASON_NODE_CONFLICT = "node(s) had volume node affinity conflict"
ERR_UNBOUND_IMMEDIATE = "pod has unbound immediate PersistentVolumeClaims"
ERR_BOUND_MISSING_PV = "node(s) unavailable due to one or more pvc(s) bound to non-existent pv(s)"
ANNOTATION_SELECTED_NODE = "volume.kubernetes.io/selected-node"
NO_PROVISIONER = "kubernetes.io/no-provisioner"
PVCS = resource("v1", "persistentvolumeclaims")
PVS = resource("v1", "persistentvolumes")
_STATE = f"PreFilter{NAME}"


def claim_of(handle: Handle, namespace: str, name: str) -> Obj | None:
    return handle.listers.get("PersistentVolumeClaim", f"{namespace}/{name}")


def _volume_fits_node(pv: Obj, node: NodeInfo) -> bool:
    required = ((pv.get("spec") or {}).get("nodeAffinity") or {}).get("required")
    return required is None or node_selector_matches(required, node.name, node.labels)


def _volume_matches_claim(pv: Obj, claim: Obj) -> bool:
    """Static binding rules (pv controller findMatchingVolume): class, access modes, capacity, not taken."""
    spec, claim_spec = pv.get("spec") or {}, claim.get("spec") or {}
    ref = spec.get("claimRef")
    if ref and (ref.get("namespace"), ref.get("name")) != (claim["metadata"]["namespace"], claim["metadata"]["name"]):
        return False
    if (pv.get("status") or {}).get("phase", "Available") != "Available":
        return False
    if (spec.get("storageClassName") or "") != (claim_spec.get("storageClassName") or ""):
        return False
    if not set(claim_spec.get("accessModes") or ()) <= set(spec.get("accessModes") or ()):
        return False
    wanted = ((claim_spec.get("resources") or {}).get("requests") or {}).get("storage", "0")
    return value(str((spec.get("capacity") or {}).get("storage", "0"))) >= value(str(wanted))


class VolumeBinding:
    name = NAME

    def __init__(self, handle: Handle) -> None:
        self.handle = handle

    def events_to_register(self) -> list[ClusterEvent]:
        return [NODE_ADD, NODE_UPDATE, *cluster_events("PersistentVolumeClaim", "Add", "Update"),
                *cluster_events("PersistentVolume", "Add", "Update"), ClusterEvent("StorageClass", "Add")]

    def pre_filter(self, state: CycleState, pod: PodInfo) -> Status:
        if not pod.claims:
            return SKIP
        bound: list[Obj] = []
        delayed: list[tuple[Obj, Obj]] = []
        for name in pod.claims:
            claim = claim_of(self.handle, pod.namespace, name)
            if claim is None:
                return Status.unresolvable(f'persistentvolumeclaim "{name}" not found', plugin=NAME)
            if claim["metadata"].get("deletionTimestamp"):
                return Status.unresolvable(f'persistentvolumeclaim "{name}" is being deleted', plugin=NAME)
            if (claim.get("spec") or {}).get("volumeName"):
                bound.append(claim)
                continue
            storage_class = self.handle.listers.get("StorageClass", (claim.get("spec") or {}).get("storageClassName") or "")
            if storage_class is None or storage_class.get("volumeBindingMode") != "WaitForFirstConsumer":
                return Status.unresolvable(ERR_UNBOUND_IMMEDIATE, plugin=NAME)
            delayed.append((claim, storage_class))
        state[_STATE] = (bound, delayed)
        return SUCCESS

    def filter(self, state: CycleState, pod: PodInfo, node: NodeInfo) -> Status:
        bound, delayed = state[_STATE]
        for claim in bound:
            pv = self.handle.listers.get("PersistentVolume", claim["spec"]["volumeName"])
            if pv is None:
                return Status.unresolvable(ERR_BOUND_MISSING_PV, plugin=NAME)
            if not _volume_fits_node(pv, node):
                return Status.unresolvable(ERR_REASON_NODE_CONFLICT, plugin=NAME)
        for claim, storage_class in delayed:
            if storage_class.get("provisioner") != NO_PROVISIONER:
                continue
            if self._static_volume_for(claim, node) is None:
                return Status.unresolvable(ERR_REASON_BIND_CONFLICT, plugin=NAME)
        return SUCCESS

    def _static_volume_for(self, claim: Obj, node: NodeInfo) -> Obj | None:
        volumes = self.handle.listers.in_namespace("PersistentVolume", "")
        return next((pv for pv in volumes if _volume_matches_claim(pv, claim) and _volume_fits_node(pv, node)), None)

    async def pre_bind(self, state: CycleState, pod: PodInfo, node_name: str) -> Status:
        entry = state.get(_STATE)
        if not entry or not entry[1]:
            return SUCCESS
        node = self.handle.snapshot.get(node_name)
        client = self.handle.client
        try:
            for claim, storage_class in entry[1]:
                meta = claim["metadata"]
                if storage_class.get("provisioner") != NO_PROVISIONER:
                    await client.patch(PVCS, meta["name"], {"metadata": {"annotations": {
                        ANNOTATION_SELECTED_NODE: node_name}}}, meta["namespace"])
                elif node is not None and (pv := self._static_volume_for(claim, node)) is not None:
                    ref = {"kind": "PersistentVolumeClaim", "apiVersion": "v1", "namespace": meta["namespace"],
                           "name": meta["name"], "uid": meta.get("uid", "")}
                    await client.patch(PVS, pv["metadata"]["name"], {"spec": {"claimRef": ref}})
        except StatusError as e:
            return Status.error(e.message, plugin=NAME)
        return SUCCESS
