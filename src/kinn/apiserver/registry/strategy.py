"""Per-kind behaviour of the generic registry (pkg/registry/<group>/<resource>/strategy.go).

The generic store does the same create/update/delete dance for every kind; a Strategy says what
differs: whether `metadata.generation` is tracked, what a create resets, what the main endpoint
may not change (status) and what the status endpoint may not change (everything else), and how a
delete is graceful. Kinds with extra machinery (pods, services, namespaces) subclass it.
"""

from __future__ import annotations

from typing import Any, Callable

from kinn.api.defaults import apply_defaults
from kinn.api.field import ErrorList
from kinn.api.resources import Resource
from kinn.api.validation import validate_create, validate_status_update, validate_update

Obj = dict[str, Any]
# Called with True when the write happened, False when it did not (upstream's FinishFunc).
Finish = Callable[[bool], None]


def nothing_to_finish(ok: bool) -> None:
    return None

# Kinds whose strategies set generation=1 on create and bump it on spec changes upstream.
GENERATION_KINDS = frozenset({
    "Deployment", "ReplicaSet", "ReplicationController", "DaemonSet", "StatefulSet", "Job", "CronJob",
    "Ingress", "IngressClass", "NetworkPolicy", "PodDisruptionBudget", "EndpointSlice",
})

# Kinds whose create keeps the client's status (the kubelet registers a Node with its status).
KEEP_STATUS_ON_CREATE = frozenset({"Node"})

# A new object's status: the counts Go serializes even at zero (required in the OpenAPI schema, no
# omitempty), so it reads as upstream's does before its controller writes, and clients whose models
# require them (the Python client's) can read it.
ZERO_STATUS: dict[str, Obj] = {
    "ReplicationController": {"replicas": 0},
    "ReplicaSet": {"replicas": 0},
    "StatefulSet": {"replicas": 0},
    "DaemonSet": {"currentNumberScheduled": 0, "numberMisscheduled": 0, "desiredNumberScheduled": 0, "numberReady": 0},
}

# Fields that are not "spec" for the purpose of generation: metadata and status.
_NON_SPEC = ("metadata", "status", "apiVersion", "kind")


def spec_of(obj: Obj) -> Obj:
    return {k: v for k, v in obj.items() if k not in _NON_SPEC}


def reset_metadata(new: Obj, old: Obj) -> Obj:
    """metav1.ResetObjectMetaForStatus: a subresource write keeps the stored metadata, except the
    resourceVersion (the client's precondition) and managedFields (the record of this write)."""
    meta = dict(old["metadata"])
    for key in ("resourceVersion", "managedFields"):
        if key in new.get("metadata", {}):
            meta[key] = new["metadata"][key]
    return meta


class Strategy:
    """The default behaviour, right for most kinds."""

    def __init__(self, resource: Resource) -> None:
        self.resource = resource
        self.tracks_generation = resource.kind in GENERATION_KINDS

    # -- create ----------------------------------------------------------------------------

    def prepare_for_create(self, obj: Obj) -> None:
        if self.resource.has_status and self.resource.kind not in KEEP_STATUS_ON_CREATE:
            obj["status"] = self.initial_status(obj)
        if self.tracks_generation:
            obj["metadata"]["generation"] = 1

    def initial_status(self, obj: Obj) -> Obj:
        return dict(ZERO_STATUS.get(self.resource.kind, {}))

    def default(self, obj: Obj) -> None:
        apply_defaults(self.resource, obj)

    def validate(self, obj: Obj) -> ErrorList:
        return validate_create(self.resource, obj)

    def after_create(self, obj: Obj) -> None:
        """Fill fields that depend on server-assigned metadata (uid) — e.g. a Job's selector."""

    def begin_create(self, obj: Obj) -> Finish:
        """Claim what the object needs from outside the store (service IPs); undone on failure."""
        return nothing_to_finish

    def begin_update(self, new: Obj, old: Obj) -> Finish:
        return nothing_to_finish

    # -- update ----------------------------------------------------------------------------

    def prepare_for_update(self, new: Obj, old: Obj) -> None:
        if self.resource.has_status:
            if "status" in old:
                new["status"] = old["status"]
            else:
                new.pop("status", None)

    def bump_generation(self, new: Obj, old: Obj) -> None:
        if not self.tracks_generation:
            return
        generation = old["metadata"].get("generation", 1)
        if spec_of(new) != spec_of(old):
            generation += 1
        new["metadata"]["generation"] = generation

    def validate_update(self, new: Obj, old: Obj) -> ErrorList:
        return validate_update(self.resource, new, old)

    # Node and Pod status strategies keep the writer's metadata (kubelets and flanneld annotate
    # through the status endpoint); the others reset it (metav1.ResetObjectMetaForStatus).
    status_keeps_metadata = False

    def prepare_for_status_update(self, new: Obj, old: Obj) -> Obj:
        """The status endpoint changes status (and, for some kinds, metadata) only."""
        result = {k: v for k, v in old.items() if k != "status"}
        if "status" in new:
            result["status"] = new["status"]
        if self.status_keeps_metadata:
            result["metadata"] = dict(new.get("metadata") or old["metadata"])
            return result
        result["metadata"] = reset_metadata(new, old)
        return result

    def validate_status_update(self, new: Obj, old: Obj) -> ErrorList:
        return validate_status_update(self.resource, new, old)

    # -- other subresources that write the object ------------------------------------------

    def prepare_for_subresource_update(self, subresource: str, new: Obj, old: Obj) -> Obj:
        """What a write through `subresource` keeps of `new` (upstream gives each such endpoint a
        strategy of its own). The scale, binding and finalize handlers build the change themselves."""
        if subresource == "status":
            return self.prepare_for_status_update(new, old)
        return new

    def validate_subresource_update(self, subresource: str, new: Obj, old: Obj) -> ErrorList:
        if subresource == "status":
            return self.validate_status_update(new, old)
        return []  # scale, binding, finalize: their handlers check the change they build

    allow_create_on_update = False
    allow_unconditional_update = True

    # -- delete ----------------------------------------------------------------------------

    # How a delete that names no propagation treats dependents (upstream's
    # DefaultGarbageCollectionPolicy): None is Background; v1 kinds older than the garbage
    # collector keep theirs (Orphan). The warning, if any, goes with a delete that relies on it.
    default_propagation: str | None = None
    default_propagation_warning = ""

    def grace_period(self, obj: Obj, requested: int | None) -> int:
        """Seconds the object stays around after a delete (0 = remove now unless finalized)."""
        return 0

    def keep_on_delete(self, obj: Obj) -> bool:
        """True if a delete only marks the object (a namespace waits for its finalizers)."""
        return False

    def should_delete_during_update(self, obj: Obj) -> bool:
        """An update that removed the last finalizer of a terminating object completes its delete."""
        meta = obj["metadata"]
        return bool(meta.get("deletionTimestamp")) and not meta.get("finalizers") and not meta.get(
            "deletionGracePeriodSeconds"
        )

    def on_delete(self, obj: Obj) -> None:
        """Release what the object held (service IPs, node ports)."""

    # -- representation --------------------------------------------------------------------

    # Whether `to_external` changes anything: if not, reads serve the stored bytes undecoded.
    converts = False

    def to_external(self, obj: Obj) -> Obj | None:
        """Convert the stored form to this endpoint's version; None means stored form is served as-is."""
        return None

    def to_internal(self, obj: Obj) -> Obj:
        return obj

