"""Emptying a Terminating namespace (pkg/controller/namespace/deletion).

For every namespaced resource kinn serves: delete the collection (background propagation), list
what is left, and count it — per resource and per finalizer — into the namespace's deletion
conditions. Pods still shutting down give an estimate (their grace period) of when to look again;
content held by finalizers gives the default 15 seconds. Only when nothing is left is the
`kubernetes` finalizer removed through `namespaces/{name}/finalize`, and the API server deletes
the namespace.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from kinn.api.errors import StatusError, aggregate
from kinn.api.resources import TABLE, Resource
from kinn.client.rest import Client, resource
from kinn.api.timestamps import now_rfc3339
from kinn.controllers.podutil import parse_time

Obj = dict[str, Any]
NAMESPACES = resource("v1", "namespaces")
FINALIZER = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15
DEFAULT_TERMINATION_GRACE = 30

# Condition type → (reason, message) when all is well, in the order upstream keeps them.
OK_CONDITIONS: dict[str, tuple[str, str]] = {
    "NamespaceDeletionDiscoveryFailure": ("ResourcesDiscovered", "All resources successfully discovered"),
    "NamespaceDeletionGroupVersionParsingFailure": ("ParsedGroupVersions", "All legacy kube types successfully parsed"),
    "NamespaceDeletionContentFailure": ("ContentDeleted",
                                        "All content successfully deleted, may be waiting on finalization"),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentHasNoFinalizers", "All content-preserving finalizers finished"),
}


def namespaced_content_resources() -> list[Resource]:
    """Discovery's deletable namespaced resources (events once: both groups share their storage)."""
    seen: set[str] = set()
    chosen = []
    for r in TABLE.resources:
        if r.namespaced and {"list", "delete"} <= set(r.verbs) and r.storage_name not in seen:
            seen.add(r.storage_name)
            chosen.append(r)
    return chosen


@dataclass
class Remaining:
    """What one pass left behind (gvrDeletionMetadata summed over resources)."""

    estimate: int = 0
    by_resource: dict[Resource, int] = field(default_factory=dict)
    by_finalizer: Counter[str] = field(default_factory=Counter)
    errors: list[str] = field(default_factory=list)


def desired_conditions(remaining: Remaining) -> dict[str, tuple[str, str, str]]:
    """Condition type → (status, reason, message) for this pass (namespaceConditionUpdater)."""
    wanted = {t: ("False", reason, message) for t, (reason, message) in OK_CONDITIONS.items()}
    if remaining.errors:
        wanted["NamespaceDeletionContentFailure"] = (
            "True", "ContentDeletionFailed",
            f"Failed to delete all resource types, {len(remaining.errors)} remaining: {aggregate(remaining.errors)}")
    if remaining.by_resource:
        counts = sorted(f"{r.plural}.{r.group} has {n} resource instances" for r, n in remaining.by_resource.items())
        wanted["NamespaceContentRemaining"] = (
            "True", "SomeResourcesRemain", f"Some resources are remaining: {', '.join(counts)}")
    if remaining.by_finalizer:
        counts = sorted(f"{f} in {n} resource instances" for f, n in remaining.by_finalizer.items())
        wanted["NamespaceFinalizersRemaining"] = (
            "True", "SomeFinalizersRemain",
            f"Some content in the namespace has finalizers remaining: {', '.join(counts)}")
    return wanted


def updated_conditions(current: list[Obj], wanted: dict[str, tuple[str, str, str]], now: str) -> list[Obj]:
    """The namespace's conditions with ours set; a condition keeps its lastTransitionTime while unchanged."""
    conditions = [dict(c) for c in current]
    for type_, (status, reason, message) in wanted.items():
        new = {"type": type_, "status": status, "lastTransitionTime": now, "reason": reason, "message": message}
        old = next((c for c in conditions if c.get("type") == type_), None)
        if old is None:
            conditions.append(new)
        elif (old.get("status"), old.get("reason"), old.get("message")) != (status, reason, message):
            conditions[conditions.index(old)] = new
    return conditions


def pods_grace_estimate(pods: list[Obj], deleted_at: datetime | None) -> int:
    """estimateGracefulTermination: the longest grace period of live pods, unless already elapsed."""
    estimate = 0
    for pod in pods:
        if pod.get("status", {}).get("phase") in ("Succeeded", "Failed"):
            continue
        estimate = max(estimate, int(pod.get("spec", {}).get("terminationGracePeriodSeconds",
                                                              DEFAULT_TERMINATION_GRACE)))
    if deleted_at is not None and (datetime.now(timezone.utc) - deleted_at).total_seconds() >= estimate:
        return 0
    return estimate


class NamespacedResourcesDeleter:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.resources = namespaced_content_resources()

    async def delete(self, name: str) -> int:
        """Delete: empty the namespace and finalize it; >0 is the seconds to wait before trying again."""
        try:
            namespace = await self.client.get(NAMESPACES, name)
        except StatusError as e:
            if e.code == 404:
                return 0
            raise
        meta = namespace["metadata"]
        if not meta.get("deletionTimestamp") or FINALIZER not in (namespace.get("spec", {}).get("finalizers") or []):
            return 0
        remaining = await self.delete_all_content(name, parse_time(meta["deletionTimestamp"]))
        await self._update_conditions(namespace, remaining)
        if remaining.errors:
            raise StatusError(500, "InternalError", aggregate(remaining.errors))
        if remaining.estimate > 0:
            return remaining.estimate
        await self._finalize(namespace)
        return 0

    async def delete_all_content(self, namespace: str, deleted_at: datetime | None) -> Remaining:
        remaining = Remaining()
        for r in self.resources:
            try:
                await self._delete_content(r, namespace, deleted_at, remaining)
            except StatusError as e:
                remaining.errors.append(e.message)
        return remaining

    async def _delete_content(self, r: Resource, namespace: str, deleted_at: datetime | None,
                              remaining: Remaining) -> None:
        """deleteAllContentForGroupVersionResource."""
        estimate = 0
        if r.group == "" and r.plural == "pods":
            estimate = pods_grace_estimate((await self.client.list_all(r, namespace)).get("items") or [], deleted_at)
        await self._delete_collection(r, namespace)
        items = (await self.client.list_all(r, namespace)).get("items") or []
        if not items:
            return
        remaining.by_resource[r] = len(items)
        finalizers = Counter(f for item in items for f in item["metadata"].get("finalizers") or [])
        remaining.by_finalizer.update(finalizers)
        if estimate:
            remaining.estimate = max(remaining.estimate, estimate)
        elif finalizers:
            remaining.estimate = max(remaining.estimate, FINALIZER_ESTIMATE_SECONDS)
        else:
            remaining.errors.append(f"unexpected items still remain in namespace: {namespace} for gvr: "
                                    f"{r.group}/{r.version}, Resource={r.plural}")

    async def _delete_collection(self, r: Resource, namespace: str) -> None:
        """deletecollection where served, else one by one; background propagation either way."""
        options = {"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": "Background"}
        if "deletecollection" in r.verbs:
            await self.client.request("DELETE", self.client.path(r, namespace), body=options)
            return
        for item in (await self.client.list_all(r, namespace)).get("items") or []:
            try:
                await self.client.delete(r, item["metadata"]["name"], namespace, propagation_policy="Background")
            except StatusError as e:
                if e.code != 404:
                    raise

    async def _update_conditions(self, namespace: Obj, remaining: Remaining) -> None:
        status = namespace.setdefault("status", {})
        current = status.get("conditions") or []
        conditions = updated_conditions(current, desired_conditions(remaining), now_rfc3339())
        if conditions == current:
            return
        status["conditions"] = conditions
        try:
            namespace.update(await self.client.update(NAMESPACES, namespace, subresource="status"))
        except StatusError as e:
            if e.code != 404:
                raise

    async def _finalize(self, namespace: Obj) -> None:
        """Remove our token from spec.finalizers (finalizeNamespace); the API server does the rest."""
        spec = namespace.setdefault("spec", {})
        spec["finalizers"] = sorted({f for f in spec.get("finalizers") or [] if f != FINALIZER})
        try:
            await self.client.update(NAMESPACES, namespace, subresource="finalize")
        except StatusError as e:
            if e.code != 404:
                raise
