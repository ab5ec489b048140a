"""Pods made from a controller's template, and the pod-state predicates every workload controller shares.

Mirrors pkg/controller/controller_utils.go (GetPodFromTemplate, FilterActivePods, controller refs)
and pkg/api/v1/pod (IsPodReady, IsPodAvailable), so ReplicaSet, DaemonSet, StatefulSet and Job
controllers agree on what "active", "ready" and "available" mean.
"""

from __future__ import annotations

import copy
from datetime import datetime, timezone
from typing import Any

from kinn.api.errors import StatusError
from kinn.client.events import EventRecorder
from kinn.client.informer import Indexer
from kinn.client.rest import Client, resource

Obj = dict[str, Any]
PODS = resource("v1", "pods")


def parse_time(value: str | None) -> datetime | None:
    """An RFC 3339 timestamp as the API writes them (second precision, `Z`), or None."""
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def controller_ref(owner: Obj) -> Obj:
    """The ownerReference a controller stamps on what it creates (blockOwnerDeletion for foreground GC)."""
    meta = owner["metadata"]
    return {"apiVersion": owner["apiVersion"], "kind": owner["kind"], "name": meta["name"], "uid": meta["uid"],
            "controller": True, "blockOwnerDeletion": True}


def controller_of(obj: Obj) -> Obj | None:
    """The ownerReference with controller=true, if any (metav1.GetControllerOf)."""
    for ref in obj.get("metadata", {}).get("ownerReferences") or []:
        if ref.get("controller"):
            return ref
    return None


def is_controlled_by(obj: Obj, owner: Obj) -> bool:
    ref = controller_of(obj)
    return ref is not None and ref.get("uid") == owner["metadata"]["uid"]


def pod_from_template(template: Obj, owner: Obj, generate_name: str = "", name: str = "") -> Obj:
    """A pod from a template: the template's labels, annotations, finalizers and spec, controlled by `owner`.

    As GetPodFromTemplate, the pod carries a fresh copy so that later edits by the caller (node
    affinity, hostname, volumes) never leak back into the owner's cached template.
    """
    template_meta = template.get("metadata") or {}
    meta: Obj = {"namespace": owner["metadata"]["namespace"], "ownerReferences": [controller_ref(owner)]}
    if name:
        meta["name"] = name
    else:
        meta["generateName"] = generate_name or pods_prefix(owner["metadata"]["name"])
    for key in ("labels", "annotations", "finalizers"):
        if template_meta.get(key):
            meta[key] = copy.deepcopy(template_meta[key])
    return {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": copy.deepcopy(template.get("spec") or {})}


def pods_prefix(controller_name: str) -> str:
    """`<name>-`, cut so generated names stay valid (getPodsPrefix: 63 minus the 5 random characters)."""
    return f"{controller_name}-"[:58]


def is_terminating(obj: Obj) -> bool:
    return bool(obj.get("metadata", {}).get("deletionTimestamp"))


def is_pod_terminal(pod: Obj) -> bool:
    return pod.get("status", {}).get("phase") in ("Succeeded", "Failed")


def is_pod_active(pod: Obj) -> bool:
    """Neither finished nor being deleted (controller.IsPodActive)."""
    return not is_pod_terminal(pod) and not is_terminating(pod)


def get_condition(status: Obj, type_: str) -> Obj | None:
    """The condition of `type_` in an object's status (pods, nodes, Deployments … keep them alike).
    A plain loop: controllers ask this of every pod they count, and a generator costs more than the search."""
    for condition in status.get("conditions") or ():
        if condition.get("type") == type_:
            return condition
    return None


def pod_condition(pod: Obj, type_: str) -> Obj | None:
    return get_condition(pod.get("status", {}), type_)


def is_pod_ready(pod: Obj) -> bool:
    condition = pod_condition(pod, "Ready")
    return condition is not None and condition.get("status") == "True"


def is_pod_available(pod: Obj, min_ready_seconds: int, now: datetime | None = None) -> bool:
    """Ready for at least minReadySeconds, counted from the Ready condition's lastTransitionTime."""
    if not is_pod_ready(pod):
        return False
    if min_ready_seconds <= 0:
        return True
    since = parse_time((pod_condition(pod, "Ready") or {}).get("lastTransitionTime"))
    now = now or datetime.now(timezone.utc)
    return since is not None and (now - since).total_seconds() >= min_ready_seconds


def controller_uid_index(obj: Obj) -> list[str]:
    """Index function: objects by their controller's UID, so a controller finds its pods without a scan."""
    ref = controller_of(obj)
    return [ref["uid"]] if ref else []


def resolve_controller_ref(owners: Indexer, obj: Obj, ref: Obj | None, kind: str) -> str | None:
    """resolveControllerRef: the key of the `kind` controller `ref` names, if `owners` holds that very
    object (same UID — not a namesake created after the owner was deleted)."""
    if ref is None or ref.get("kind") != kind:
        return None
    key = f"{obj['metadata']['namespace']}/{ref['name']}"
    owner = owners.get(key)
    return key if owner is not None and owner["metadata"]["uid"] == ref.get("uid") else None


def owner_key(obj: Obj, kind: str) -> str | None:
    """`namespace/name` of the controller of `kind` owning `obj` — the key its event handler enqueues."""
    ref = controller_of(obj)
    if ref is None or ref.get("kind") != kind:
        return None
    return f"{obj['metadata']['namespace']}/{ref['name']}"


class PodControl:
    """Creates and deletes a controller's pods and records the events upstream's RealPodControl records."""

    def __init__(self, client: Client, recorder: EventRecorder) -> None:
        self.client = client
        self.recorder = recorder

    async def create(self, owner: Obj, pod: Obj) -> Obj:
        try:
            created = await self.client.create(PODS, pod, owner["metadata"]["namespace"])
        except StatusError as e:
            await self.recorder.event(owner, "Warning", "FailedCreate", f"Error creating: {e.message}")
            raise
        await self.recorder.event(owner, "Normal", "SuccessfulCreate", f"Created pod: {created['metadata']['name']}")
        return created

    async def delete(self, owner: Obj, pod: Obj) -> None:
        """Delete; a pod already gone is not an error (the informer will tell the expectations)."""
        name = pod["metadata"]["name"]
        try:
            await self.client.delete(PODS, name, pod["metadata"]["namespace"])
        except StatusError as e:
            if e.code == 404:
                return
            await self.recorder.event(owner, "Warning", "FailedDelete", f"Error deleting: {e.message}")
            raise
        await self.recorder.event(owner, "Normal", "SuccessfulDelete", f"Deleted pod: {name}")
