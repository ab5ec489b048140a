"""Pods: graceful deletion, initial status, and the binding, eviction and ephemeralcontainers subresources.

A pod on a node is deleted gracefully: the API server only stamps deletionTimestamp and the grace
period; the kubelet stops the containers and then confirms with a zero-grace delete, which removes
the object. A pod with no node, or one that already finished, goes at once (upstream
CheckGracefulDelete).

`pods/ephemeralcontainers` is the pod through another door where only spec.ephemeralContainers
may change: `kubectl debug` adds its debugging container there, as no pod update may.
"""

from __future__ import annotations

from typing import Any

from kinn.api import errors
from kinn.api.defaults.core import default_container
from kinn.api.field import ErrorList, required
from kinn.api.qos import qos_class
from kinn.api.validation.core import validate_pod_ephemeral_containers_update
from kinn.apiserver.registry.strategy import Strategy, reset_metadata

Obj = dict[str, Any]

DEFAULT_GRACE_PERIOD = 30
EPHEMERAL_CONTAINERS = "ephemeralcontainers"


class PodStrategy(Strategy):
    status_keeps_metadata = True

    def prepare_for_status_update(self, new: Obj, old: Obj) -> Obj:
        """podStatusStrategy: metadata may change, except the pod's owners."""
        result = super().prepare_for_status_update(new, old)
        owners = old["metadata"].get("ownerReferences")
        result["metadata"].pop("ownerReferences", None)
        if owners is not None:
            result["metadata"]["ownerReferences"] = owners
        return result

    def prepare_for_subresource_update(self, subresource: str, new: Obj, old: Obj) -> Obj:
        if subresource != EPHEMERAL_CONTAINERS:
            return super().prepare_for_subresource_update(subresource, new, old)
        result = drop_non_ephemeral_container_updates(new, old)
        # The new containers get the defaults a created pod's containers got (pull policy,
        # termination message), as upstream's decoder gives them to the whole patched pod.
        for container in result["spec"].get("ephemeralContainers") or []:
            default_container(container)
        return result

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj) -> ErrorList:
        if subresource == EPHEMERAL_CONTAINERS:
            return validate_pod_ephemeral_containers_update(new, old)
        return super().validate_subresource_update(subresource, new, old)

    def initial_status(self, obj: Obj) -> Obj:
        return {"phase": "Pending", "qosClass": qos_class(obj.get("spec", {}))}

    def after_create(self, obj: Obj) -> None:
        # The QoS class depends on requests that defaulting copies from limits: compute it again.
        obj["status"]["qosClass"] = qos_class(obj.get("spec", {}))

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        spec, status = obj.get("spec", {}), obj.get("status", {})
        if not spec.get("nodeName") or status.get("phase") in ("Succeeded", "Failed"):
            return 0
        grace = requested if requested is not None else spec.get("terminationGracePeriodSeconds", DEFAULT_GRACE_PERIOD)
        return max(int(grace), 0)


def drop_non_ephemeral_container_updates(new: Obj, old: Obj) -> Obj:
    """dropNonEphemeralContainerUpdates: of a write through `pods/ephemeralcontainers`, only
    spec.ephemeralContainers counts; the rest of the pod, its metadata and status included, stays
    as stored. The result shares old's unchanged parts: callers must not mutate them."""
    spec = {k: v for k, v in (old.get("spec") or {}).items() if k != "ephemeralContainers"}
    containers = (new.get("spec") or {}).get("ephemeralContainers")
    if containers is not None:
        spec["ephemeralContainers"] = containers
    return {**old, "spec": spec, "metadata": reset_metadata(new, old)}


def bind(pod: Obj, binding: Obj, now: str) -> Obj:
    """The mutation `pods/binding` applies: set the node once and mark the pod scheduled."""
    name = pod["metadata"]["name"]
    node = (binding.get("target") or {}).get("name", "")
    if not node:
        raise errors.invalid("Binding", "", name, [required("target.name")])
    if pod["metadata"].get("deletionTimestamp"):
        raise errors.conflict("pods/binding", "", name, f"pod {name} is being deleted, cannot be assigned to a host")
    current = pod.get("spec", {}).get("nodeName")
    if current:
        raise errors.conflict("pods/binding", "", name, f'pod {name} is already assigned to node "{current}"')
    pod["spec"]["nodeName"] = node
    annotations = (binding.get("metadata") or {}).get("annotations")
    if annotations:
        pod["metadata"].setdefault("annotations", {}).update(annotations)
    conditions = pod.setdefault("status", {}).setdefault("conditions", [])
    conditions[:] = [c for c in conditions if c.get("type") != "PodScheduled"]
    conditions.append({"type": "PodScheduled", "status": "True", "lastProbeTime": None,
                       "lastTransitionTime": now})
    return pod
