"""persistentVolumeClaim volumes: the claim's bound PersistentVolume, mounted from the node.

Like the kubelet's desired-state populator (getPVCExtractPV, getPVSpec), the claim must be Bound
to a volume whose claimRef points back at it; until then the pod waits and the kubelet retries.
kinn's nodes share the host's disk, so the volumes it can mount are `hostPath` and `local` ones:
their path is bind-mounted, created as a directory if missing (kinn has no provisioner making it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from kinn.api.errors import StatusError
from kinn.client.rest import Client, resource
from kinn.kubelet.volumes.host import VolumeError
from kinn.kubelet.volumes.hostpath import host_path

Obj = dict[str, Any]
CLAIMS = resource("v1", "persistentvolumeclaims")
VOLUMES = resource("v1", "persistentvolumes")


class ClaimError(VolumeError):
    """The claim cannot be resolved to a volume yet (the populator's "error processing PVC")."""


async def _bound_claim(client: Client, namespace: str, name: str) -> Obj:
    try:
        claim = await client.get(CLAIMS, name, namespace)
    except StatusError as error:
        raise ClaimError(f"failed to fetch PVC from API server: {error.message}") from None
    if claim["metadata"].get("deletionTimestamp"):
        raise ClaimError("PVC is being deleted")
    if (claim.get("status") or {}).get("phase") != "Bound":
        raise ClaimError("PVC is not bound")
    if not claim["spec"].get("volumeName"):
        raise ClaimError("PVC has empty pvc.Spec.VolumeName")
    return claim


async def _claimed_volume(client: Client, claim: Obj) -> Obj:
    name = claim["spec"]["volumeName"]
    try:
        volume = await client.get(VOLUMES, name)
    except StatusError as error:
        raise ClaimError(f"failed to fetch PV {name} from API server: {error.message}") from None
    claim_ref = volume["spec"].get("claimRef")
    if claim_ref is None:
        raise ClaimError(f"found PV object {name} but it has a nil pv.Spec.ClaimRef indicating it is not yet bound "
                         "to the claim")
    if claim_ref.get("uid") != claim["metadata"]["uid"]:
        raise ClaimError(f"found PV object {name} but its pv.Spec.ClaimRef.UID {claim_ref.get('uid')} does not point "
                         f"to claim.UID {claim['metadata']['uid']}")
    return volume


async def claim_path(client: Client, namespace: str, source: Obj) -> Path:
    """The node path behind a persistentVolumeClaim volume source."""
    name = source["claimName"]
    try:
        volume = await _claimed_volume(client, await _bound_claim(client, namespace, name))
    except ClaimError as error:
        raise ClaimError(f"error processing PVC {namespace}/{name}: {error}") from None
    spec = volume["spec"]
    if spec.get("hostPath"):
        return host_path(spec["hostPath"])
    if spec.get("local"):
        return host_path({"path": spec["local"]["path"], "type": "DirectoryOrCreate"})
    kinds = sorted(k for k in spec if isinstance(spec[k], dict) and k not in ("claimRef", "capacity", "nodeAffinity"))
    raise VolumeError(f"kinn mounts only hostPath and local persistent volumes, not {kinds}")
