"""The garbage collector (pkg/controller/garbagecollector): ownerReferences put into effect.

Background: once an owner is gone (by uid), its dependents are deleted. Foreground: an owner
marked `foregroundDeletion` keeps existing until its blockOwnerDeletion dependents are gone — the
collector deletes them (in foreground too, if they have dependents of their own) and then removes
the finalizer. Orphan: an owner marked `orphan` has its reference removed from every dependent,
then the finalizer. Whether an owner is really absent is decided by a live GET, never by the
cache alone, because informers of different resources lag each other.
"""

from __future__ import annotations

from typing import Any, Callable

from kinn.api.errors import StatusError
from kinn.api.resources import TABLE, Resource
from kinn.client.informer import EventHandler
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.gc_graph import FOREGROUND, ORPHAN, Graph, GraphBuilder, Node, delete_key

Obj = dict[str, Any]
IGNORED = {"events"}  # as upstream's ignoredResources: events never own anything and churn fast


def monitored_resources() -> list[Resource]:
    """Every resource kinn serves that can be listed, watched and deleted (GetDeletableResources)."""
    seen: set[str] = set()
    chosen = []
    for r in TABLE.resources:
        if r.storage_name in IGNORED or r.storage_name in seen:
            continue
        if {"list", "watch", "delete"} <= set(r.verbs):
            seen.add(r.storage_name)
            chosen.append(r)
    return chosen


def resource_for_ref(ref: Obj) -> Resource | None:
    """The served resource an ownerReference's apiVersion/kind names (any served version of the group)."""
    group, _, version = ref.get("apiVersion", "").rpartition("/")
    exact = TABLE.for_kind(group, version, ref.get("kind", ""))
    if exact is not None:
        return exact
    return next((r for r in TABLE.resources if r.group == group and r.kind == ref.get("kind")), None)


class GarbageCollector(Controller):
    name = "garbagecollector"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.graph = Graph()
        self.builder = GraphBuilder(self.graph)
        for r in monitored_resources():
            self.informer(r, self._monitor(r))

    def _monitor(self, r: Resource) -> EventHandler:
        def enqueue(keys: list[str]) -> None:
            for key in keys:
                self.queue.add(key)

        return EventHandler(
            on_add=lambda obj: enqueue(self.builder.upserted(r, obj)),
            on_update=lambda old, new: enqueue(self.builder.upserted(r, new)),
            on_delete=lambda obj: enqueue(self.builder.deleted(obj)),
        )

    async def sync(self, key: str) -> None:
        action, _, uid = key.partition(":")
        node = self.graph.nodes.get(uid)
        if node is None:
            return  # gone from the graph: nothing left to collect or orphan
        if action == "orphan":
            await self.attempt_to_orphan(node)
        else:
            await self.attempt_to_delete(node)

    # -- attemptToDelete ---------------------------------------------------------------------

    async def attempt_to_delete(self, item: Node) -> None:
        """attemptToDeleteItem: delete `item` if none of its owners still holds it."""
        if item.deleting_dependents:
            await self.process_deleting_dependents(item)
            return
        if item.being_deleted:
            return
        latest = await self._get(item.resource, item.namespace, item.name)
        if latest is None or latest["metadata"]["uid"] != item.uid:
            return  # gone or replaced: its own delete event handles the rest
        refs = latest["metadata"].get("ownerReferences") or []
        if not refs:
            return
        solid, dangling, waiting = await self._classify(refs, item.namespace)
        if solid:
            if dangling or waiting:
                # Still owned: just drop the references to owners that are gone or waiting on us.
                drop = {r["uid"] for r in dangling + waiting}
                await self._patch_meta(item, "ownerReferences", lambda rs: [r for r in rs if r.get("uid") not in drop])
            return
        finalizers = latest["metadata"].get("finalizers") or []
        if waiting and self.graph.dependents(item.uid):
            policy = "Foreground"  # keep the chain blocked: our own dependents go first
        elif ORPHAN in finalizers:
            policy = "Orphan"
        elif FOREGROUND in finalizers:
            policy = "Foreground"
        else:
            policy = "Background"
        self.log.info("deleting %s %s/%s (propagation %s)", item.resource.kind, item.namespace, item.name, policy)
        await self._delete(item, policy)

    async def _classify(self, refs: list[Obj], namespace: str) -> tuple[list[Obj], list[Obj], list[Obj]]:
        """Owners that are solid (exist), dangling (absent, verified live), or waiting for dependents."""
        solid: list[Obj] = []
        dangling: list[Obj] = []
        waiting: list[Obj] = []
        for ref in refs:
            state = await self._owner_state(ref, namespace)
            {"solid": solid, "dangling": dangling, "waiting": waiting}[state].append(ref)
        return solid, dangling, waiting

    async def _owner_state(self, ref: Obj, namespace: str) -> str:
        owner = self.graph.nodes.get(ref.get("uid", ""))
        if owner is not None and owner.matches(ref, namespace):
            return "waiting" if owner.deleting_dependents else "solid"
        r = resource_for_ref(ref)
        if r is None:
            self.log.warning("owner %s %s of an object in %r is of no served kind; kept",
                             ref.get("apiVersion"), ref.get("kind"), namespace)
            return "solid"
        if r.namespaced and not namespace:
            return "dangling"  # a cluster-scoped object cannot be owned by a namespaced one
        live = await self._get(r, namespace if r.namespaced else "", ref.get("name", ""))
        if live is None or live["metadata"]["uid"] != ref.get("uid"):
            return "dangling"
        meta = live["metadata"]
        return "waiting" if meta.get("deletionTimestamp") and FOREGROUND in (meta.get("finalizers") or []) else "solid"

    async def process_deleting_dependents(self, owner: Node) -> None:
        """An owner in foreground deletion: finish once no blocking dependent is left, else push them."""
        blocking = self.graph.blocking_dependents(owner)
        if not blocking:
            await self._patch_meta(owner, "finalizers", lambda fs: [f for f in fs if f != FOREGROUND])
            return
        for dependent in blocking:
            if not dependent.being_deleted:
                self.queue.add(delete_key(dependent.uid))

    # -- attemptToOrphan ---------------------------------------------------------------------

    async def attempt_to_orphan(self, owner: Node) -> None:
        """Remove the owner's references from all its dependents, then the `orphan` finalizer."""
        if not owner.orphaning:
            return
        for dependent in self.graph.dependents(owner.uid):
            await self._patch_meta(dependent, "ownerReferences",
                                   lambda rs: [r for r in rs if r.get("uid") != owner.uid])
        await self._patch_meta(owner, "finalizers", lambda fs: [f for f in fs if f != ORPHAN])

    # -- API calls ---------------------------------------------------------------------------

    async def _get(self, r: Resource, namespace: str, name: str) -> Obj | None:
        try:
            return await self.client.get(r, name, namespace)
        except StatusError as e:
            if e.code == 404:
                return None
            raise

    async def _delete(self, item: Node, policy: str) -> None:
        try:
            await self.client.delete(item.resource, item.name, item.namespace, propagation_policy=policy,
                                     preconditions={"uid": item.uid})
        except StatusError as e:
            if e.code not in (404, 409):  # gone, or replaced by a namesake we must not touch
                raise

    async def _patch_meta(self, node: Node, field: str, change: Callable[[list[Any]], list[Any]]) -> None:
        """Rewrite one metadata list of the live object, guarded by its resourceVersion (409 → retry)."""
        live = await self._get(node.resource, node.namespace, node.name)
        if live is None or live["metadata"]["uid"] != node.uid:
            return
        meta = live["metadata"]
        current = meta.get(field) or []
        wanted = change(current)
        if wanted == current:
            return
        patch = {"metadata": {field: wanted or None, "resourceVersion": meta["resourceVersion"]}}
        try:
            await self.client.patch(node.resource, node.name, patch, node.namespace)
        except StatusError as e:
            if e.code != 404:
                raise
