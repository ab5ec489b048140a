"""The garbage collector's dependency graph (pkg/controller/garbagecollector/graph_builder.go).

Every object of every watched resource is a node, linked to its owners by the uids in its
ownerReferences. The GraphBuilder turns informer events into graph changes and says which items
the collector must look at: dependents of an owner that disappeared or started foreground
deletion (attemptToDelete), owners waiting on their dependents, and owners being orphaned
(attemptToOrphan). It only decides what to look at; the collector verifies against the API server
before acting, since the graph may be behind.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kinn.api.resources import Resource

Obj = dict[str, Any]
FOREGROUND = "foregroundDeletion"
ORPHAN = "orphan"


def delete_key(uid: str) -> str:
    return f"delete:{uid}"


def orphan_key(uid: str) -> str:
    return f"orphan:{uid}"


@dataclass
class Node:
    resource: Resource
    namespace: str
    name: str
    uid: str
    owners: list[Obj] = field(default_factory=list)
    being_deleted: bool = False
    finalizers: tuple[str, ...] = ()

    @classmethod
    def of(cls, resource: Resource, obj: Obj) -> "Node":
        meta = obj["metadata"]
        return cls(resource, meta.get("namespace", ""), meta["name"], meta["uid"],
                   list(meta.get("ownerReferences") or []), bool(meta.get("deletionTimestamp")),
                   tuple(meta.get("finalizers") or ()))

    @property
    def deleting_dependents(self) -> bool:
        """Foreground deletion in progress: the owner stays until its blocking dependents are gone."""
        return self.being_deleted and FOREGROUND in self.finalizers

    @property
    def orphaning(self) -> bool:
        return self.being_deleted and ORPHAN in self.finalizers

    def owner_uids(self) -> set[str]:
        return {ref["uid"] for ref in self.owners if ref.get("uid")}

    def matches(self, ref: Obj, namespace: str) -> bool:
        """The node is the object `ref` (seen from a dependent in `namespace`) names, not a namesake."""
        group = ref.get("apiVersion", "").rpartition("/")[0]
        return (self.resource.group, self.resource.kind, self.name) == (group, ref.get("kind"), ref.get("name")) \
            and self.namespace == (namespace if self.resource.namespaced else "")


class Graph:
    def __init__(self) -> None:
        self.nodes: dict[str, Node] = {}
        self._dependents: dict[str, set[str]] = {}

    def dependents(self, uid: str) -> list[Node]:
        return [self.nodes[d] for d in self._dependents.get(uid, ()) if d in self.nodes]

    def blocking_dependents(self, owner: Node) -> list[Node]:
        """Dependents whose reference to `owner` sets blockOwnerDeletion (foreground waits on these)."""
        return [d for d in self.dependents(owner.uid)
                if any(r.get("uid") == owner.uid and r.get("blockOwnerDeletion") for r in d.owners)]

    def upsert(self, node: Node) -> Node | None:
        old = self.nodes.get(node.uid)
        if old is not None:
            self._unlink(old)
        self.nodes[node.uid] = node
        for owner in node.owner_uids():
            self._dependents.setdefault(owner, set()).add(node.uid)
        return old

    def remove(self, uid: str) -> Node | None:
        node = self.nodes.pop(uid, None)
        if node is not None:
            self._unlink(node)
        return node

    def _unlink(self, node: Node) -> None:
        for owner in node.owner_uids():
            dependents = self._dependents.get(owner)
            if dependents is not None:
                dependents.discard(node.uid)
                if not dependents:
                    del self._dependents[owner]


class GraphBuilder:
    """processGraphChanges: apply one informer event, return the work-queue keys it calls for."""

    def __init__(self, graph: Graph) -> None:
        self.graph = graph

    def upserted(self, resource: Resource, obj: Obj) -> list[str]:
        node = Node.of(resource, obj)
        old = self.graph.upsert(node)
        keys: list[str] = []
        if self._has_missing_or_deleting_owner(node):
            keys.append(delete_key(node.uid))
        if old is not None:
            keys += self._owners_waiting_on(old.owner_uids() - node.owner_uids())
        if node.deleting_dependents:
            keys.append(delete_key(node.uid))
            if old is None or not old.deleting_dependents:
                keys += [delete_key(d.uid) for d in self.graph.dependents(node.uid)]
        if node.orphaning:
            keys.append(orphan_key(node.uid))
        return keys

    def deleted(self, obj: Obj) -> list[str]:
        node = self.graph.remove(obj["metadata"]["uid"])
        if node is None:
            return []
        return [delete_key(d.uid) for d in self.graph.dependents(node.uid)] + self._owners_waiting_on(node.owner_uids())

    def _has_missing_or_deleting_owner(self, node: Node) -> bool:
        for ref in node.owners:
            owner = self.graph.nodes.get(ref.get("uid", ""))
            if owner is None or not owner.matches(ref, node.namespace) or owner.deleting_dependents:
                return True
        return False

    def _owners_waiting_on(self, owner_uids: set[str]) -> list[str]:
        """Owners in foreground deletion that lost a dependent may now be free to go."""
        return [delete_key(uid) for uid in owner_uids
                if (owner := self.graph.nodes.get(uid)) is not None and owner.deleting_dependents]
