"""The admission plugins a default 1.32 API server enables that change what users see.

- NamespaceLifecycle: no new objects in a namespace that does not exist or is terminating.
- ServiceAccount: pods run as `default` unless they say otherwise, and get the account's API
  credentials as the projected `kube-api-access-<random>` volume in every container.
- DefaultTolerationSeconds: pods tolerate not-ready/unreachable nodes for 300 s, which is why a
  dead node's pods are evicted five minutes later (seed 002's node controller).
- Priority: resolves `priorityClassName` to `priority` (0 when none).
- DefaultIngressClass: an Ingress created without a class gets the default IngressClass.
- LimitRanger (limitranger.py) and ResourceQuota (resourcequota.py): a namespace's LimitRanges
  default and bound pods and claims, and its ResourceQuotas refuse what would pass them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from kinn.api import errors
from kinn.api.resources import TABLE, Resource
from kinn.api.validation.core import MIRROR_POD_ANNOTATION
from kinn.api.validation.networking import DEFAULT_INGRESS_CLASS_ANNOTATION, INGRESS_CLASS_ANNOTATION
from kinn.apiserver.admission import AdmissionChain, Operation, is_pod_create
from kinn.apiserver.admission.limitranger import LimitRanger
from kinn.apiserver.admission.resourcequota import ResourceQuota
from kinn.apiserver.registry.generic import random_suffix
from kinn.apiserver.registry.tokenrequest import WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS
from kinn.storage.interface import Store

if TYPE_CHECKING:
    from kinn.apiserver.registry.generic import RequestContext

Obj = dict[str, Any]

_NAMESPACES = TABLE.lookup("", "v1", "namespaces")
_PRIORITY_CLASSES = TABLE.lookup("scheduling.k8s.io", "v1", "priorityclasses")
_SERVICE_ACCOUNTS = TABLE.lookup("", "v1", "serviceaccounts")
_INGRESS_CLASSES = TABLE.lookup("networking.k8s.io", "v1", "ingressclasses")
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


SERVICE_ACCOUNT_VOLUME_NAME = "kube-api-access"
DEFAULT_API_TOKEN_MOUNT_PATH = "/var/run/secrets/kubernetes.io/serviceaccount"
ROOT_CA_CONFIGMAP = "kube-root-ca.crt"


def token_volume_source() -> Obj:
    """The projected source of the API credentials (upstream TokenVolumeSource): a pod-bound token,
    the cluster CA from the namespace's kube-root-ca.crt ConfigMap, and the namespace."""
    return {"defaultMode": 0o644, "sources": [
        {"serviceAccountToken": {"expirationSeconds": WARN_ONLY_BOUND_TOKEN_EXPIRATION_SECONDS, "path": "token"}},
        {"configMap": {"name": ROOT_CA_CONFIGMAP, "items": [{"key": "ca.crt", "path": "ca.crt"}]}},
        {"downwardAPI": {"items": [{"path": "namespace",
                                    "fieldRef": {"apiVersion": "v1", "fieldPath": "metadata.namespace"}}]}}]}


def mount_service_account_token(spec: Obj) -> None:
    """Mount the token volume at the well-known path in every container that has nothing there,
    adding the volume (reusing an existing kube-api-access-* one) if any container needs it."""
    existing = next((v["name"] for v in spec.get("volumes") or []
                     if v["name"].startswith(SERVICE_ACCOUNT_VOLUME_NAME + "-")), None)
    name = existing or f"{SERVICE_ACCOUNT_VOLUME_NAME}-{random_suffix()}"
    needed = False
    for container in [*(spec.get("initContainers") or []), *(spec.get("containers") or [])]:
        mounts = container.setdefault("volumeMounts", [])
        if not any(m.get("mountPath") == DEFAULT_API_TOKEN_MOUNT_PATH for m in mounts):
            mounts.append({"name": name, "readOnly": True, "mountPath": DEFAULT_API_TOKEN_MOUNT_PATH})
            needed = True
    if needed and existing is None:
        spec.setdefault("volumes", []).append({"name": name, "projected": token_volume_source()})


class ServiceAccount:
    """Defaults the account and mounts its token (plugin/pkg/admission/serviceaccount).

    Upstream rejects a pod whose account does not exist; kinn lets it through without a token
    volume instead, because an API server run without the controller manager (tests, the
    component alone) has no `default` account to find.
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    async def admit(self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext") -> None:
        if not is_pod_create(op, resource):
            return
        if MIRROR_POD_ANNOTATION in ((obj.get("metadata") or {}).get("annotations") or {}):
            return  # the kubelet would see a spec that differs from its static pod's
        spec = obj.setdefault("spec", {})
        name = spec.get("serviceAccountName") or spec.get("serviceAccount") or "default"
        spec["serviceAccountName"] = name
        spec["serviceAccount"] = name
        assert _SERVICE_ACCOUNTS is not None
        account = await self.store.get(_SERVICE_ACCOUNTS.key(ctx.namespace, name))
        if account is not None and _should_automount(account.obj, spec):
            mount_service_account_token(spec)


def _should_automount(account: Obj, spec: Obj) -> bool:
    """The pod's automountServiceAccountToken wins, then the account's; the default is to mount."""
    if spec.get("automountServiceAccountToken") is not None:
        return bool(spec["automountServiceAccountToken"])
    return account.get("automountServiceAccountToken") is not False


class DefaultTolerationSeconds:
    _TAINTS = ("node.kubernetes.io/not-ready", "node.kubernetes.io/unreachable")

    async def admit(self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext") -> None:
        if not is_pod_create(op, resource):
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
        if not is_pod_create(op, resource):
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


class DefaultIngressClass:
    """plugin/pkg/admission/network/defaultingressclass: a new Ingress that names no class, by field or by
    the legacy annotation, gets the IngressClass annotated `ingressclass.kubernetes.io/is-default-class:
    "true"` (the newest of several, then by name), so the controller of that class serves it."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def admit(self, op: Operation, resource: Resource, obj: Obj, old: Obj | None, ctx: "RequestContext") -> None:
        if op is not Operation.CREATE or (resource.group, resource.plural) != ("networking.k8s.io", "ingresses"):
            return
        spec = obj.setdefault("spec", {})
        if spec.get("ingressClassName") is not None:
            return
        if INGRESS_CLASS_ANNOTATION in ((obj.get("metadata") or {}).get("annotations") or {}):
            return
        assert _INGRESS_CLASSES is not None
        defaults = sorted((stored.obj for stored in await self.store.list(_INGRESS_CLASSES.key_prefix())
                           if (stored.obj["metadata"].get("annotations") or {}).get(DEFAULT_INGRESS_CLASS_ANNOTATION)
                           == "true"), key=lambda c: c["metadata"]["name"])
        if defaults:
            newest = max(defaults, key=lambda c: c["metadata"].get("creationTimestamp") or "")
            spec["ingressClassName"] = newest["metadata"]["name"]


def default_chain(store: Store) -> AdmissionChain:
    """The plugins in upstream's order (AllOrderedPlugins): LimitRanger defaults before the other
    mutations, and ResourceQuota judges last, once everything else has accepted the object."""
    limit_ranger = LimitRanger(store)
    return AdmissionChain(
        mutating=[limit_ranger, ServiceAccount(store), DefaultTolerationSeconds(), Priority(store),
                  DefaultIngressClass(store)],
        validating=[NamespaceLifecycle(store), limit_ranger, ResourceQuota(store)],
    )
