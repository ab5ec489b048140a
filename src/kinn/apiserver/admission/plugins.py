"""The admission plugins a default 1.32 API server enables that change what users see.

- NamespaceLifecycle: no new objects in a namespace that does not exist or is terminating.
- ServiceAccount: pods run as `default` unless they say otherwise.
- DefaultTolerationSeconds: pods tolerate not-ready/unreachable nodes for 300 s, which is why a
  dead node's pods are evicted five minutes later (seed 002's node controller).
- Priority: resolves `priorityClassName` to `priority` (0 when none).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kinn.api import errors
from kinn.api.resources import TABLE, Resource
from kinn.apiserver.admission import AdmissionChain, Operation
from kinn.storage.interface import Store

if TYPE_CHECKING:
    from kinn.apiserver.registry.generic import RequestContext

Obj = dict[str, Any]

_NAMESPACES = TABLE.lookup("", "v1", "namespaces")
_PRIORITY_CLASSES = TABLE.lookup("scheduling.k8s.io", "v1", "priorityclasses")
# Objects that may be created in a terminating namespace: what its teardown itself produces.
_ALLOWED_WHILE_TERMINATING = {"events", "leases"}
DEFAULT_TOLERATION_SECONDS = 300


class NamespaceLifecycle:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def validate(self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext") -> None:
        if op is not Operation.CREATE or not resource.namespaced:
            return
        assert _NAMESPACES is not None
        ns = await self.store.get(_NAMESPACES.key(None, ctx.namespace))
        if ns is None:
            raise errors.not_found("namespaces", "", ctx.namespace)
        terminating = ns.obj.get("status", {}).get("phase") == "Terminating"
        if terminating and resource.storage_name not in _ALLOWED_WHILE_TERMINATING:
            raise errors.forbidden(
                resource.plural, resource.group, obj["metadata"].get("name", ""),
                f"unable to create new content in namespace {ctx.namespace} because it is being terminated",
            )


def _is_pod_create(op: Operation, resource: Resource) -> bool:
    return op is Operation.CREATE and resource.group == "" and resource.plural == "pods"


class ServiceAccount:
    async def admit(self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext") -> None:
        if not _is_pod_create(op, resource):
            return
        spec = obj.setdefault("spec", {})
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name


class DefaultTolerationSeconds:
    _TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")

    async def admit(self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext") -> None:
        if not _is_pod_create(op, resource):
            return
        tolerations = obj.setdefault("spec", {}).setdefault("tolerations", [])
        for taint in self._TAINTS:
            if any(t.get("key") == taint and t.get("effect") in ("NoExecute", None, "") for t in tolerations):
                continue
            if any(not t.get("key") and t.get("operator") == "Exists" for t in tolerations):
                continue
            tolerations.append({
                "key": taint, "operator": "Exists", "effect": "NoExecute",
                "tolerationSeconds": DEFAULT_TOLERATION_SECONDS,
            })


class Priority:
    def __init__(self, store: Store) -> None:
        self.store = store

    async def admit(self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext") -> None:
        if not _is_pod_create(op, resource):
            return
        spec = obj.setdefault("spec", {})
        class_name = spec.get("priorityClassName")
        if not class_name:
            spec.setdefault("priority", 0)
            return
        assert _PRIORITY_CLASSES is not None
        pc = await self.store.get(_PRIORITY_CLASSES.key(None, class_name))
        if pc is None:
            raise errors.forbidden(
                "pods", "", obj["metadata"].get("name", ""),
                f"no PriorityClass with name {class_name} was found",
            )
        spec["priority"] = pc.obj.get("value", 0)
        spec.setdefault("preemptionPolicy", pc.obj.get("preemptionPolicy", "PreemptLowerPriority"))


def default_chain(store: Store) -> AdmissionChain:
    return AdmissionChain(
        mutating=[ServiceAccount(), DefaultTolerationSeconds(), Priority(store)],
        validating=[NamespaceLifecycle(store)],
    )
