"""Adoption and orphaning of dependents by a controller (pkg/controller/controller_ref_manager.go).

Ownership is recorded in the dependent's ownerReferences (`controller: true`); the selector only
decides what a controller *may* own. A controller claims what it already owns and still selects,
adopts orphans it selects — but only after re-reading itself from the API server, so a
controller being deleted (or replaced by a namesake) never grabs pods — and releases what it owns
but no longer selects, so another controller can adopt it. Patches carry the dependent's UID, so
they fail instead of touching a namesake that replaced the object in the meantime.
"""

from __future__ import annotations

from typing import Any, Callable

from kinn.api.errors import StatusError
from kinn.api.resources import Resource
from kinn.client.rest import Client
from kinn.controllers.podutil import controller_of, controller_ref, is_terminating

Obj = dict[str, Any]


class ControllerRefManager:
    def __init__(self, client: Client, controller: Obj, controller_resource: Resource,
                 match: Callable[[Obj], bool]) -> None:
        self.client = client
        self.controller = controller
        self.controller_resource = controller_resource
        self.match = match
        self._can_adopt_error: StatusError | None = None
        self._checked = False

    @property
    def uid(self) -> str:
        return self.controller["metadata"]["uid"]

    async def claim(self, resource: Resource, objs: list[Obj]) -> list[Obj]:
        """The objects this controller owns after adopting and releasing (ClaimPods / ClaimReplicaSets).

        Errors are collected and the first is raised after every object was considered, so one
        failed patch does not stop the others from being claimed, as upstream aggregates them.
        """
        claimed: list[Obj] = []
        errors: list[StatusError] = []
        for obj in objs:
            try:
                if await self._claim_one(resource, obj):
                    claimed.append(obj)
            except StatusError as e:
                errors.append(e)
        if errors:
            raise errors[0]
        return claimed

    async def _claim_one(self, resource: Resource, obj: Obj) -> bool:
        ref = controller_of(obj)
        if ref is not None:
            if ref.get("uid") != self.uid:
                return False  # someone else's
            if self.match(obj):
                return True
            if not is_terminating(self.controller):
                await self._patch(resource, obj, [{"$patch": "delete", "uid": self.uid}])
            return False
        if is_terminating(self.controller) or not self.match(obj) or is_terminating(obj):
            return False
        if obj["metadata"].get("namespace") != self.controller["metadata"].get("namespace"):
            return False
        await self._can_adopt()
        return await self._patch(resource, obj, [controller_ref(self.controller)])

    async def _can_adopt(self) -> None:
        """RecheckDeletionTimestamp: a fresh (uncached) read of the controller, once per claim round."""
        if not self._checked:
            self._checked = True
            meta = self.controller["metadata"]
            fresh = await self.client.get(self.controller_resource, meta["name"], meta.get("namespace", ""))
            kind_name = f"{meta.get('namespace')}/{meta['name']}"
            if fresh["metadata"]["uid"] != self.uid:
                self._can_adopt_error = StatusError(
                    409, "Conflict",
                    f"original {kind_name} is gone: got uid {fresh['metadata']['uid']}, wanted {self.uid}")
            elif is_terminating(fresh):
                self._can_adopt_error = StatusError(
                    409, "Conflict", f"{kind_name} has just been deleted at {fresh['metadata']['deletionTimestamp']}")
        if self._can_adopt_error is not None:
            raise self._can_adopt_error

    async def _patch(self, resource: Resource, obj: Obj, owner_refs: list[Obj]) -> bool:
        """Adopt or release by strategic-merge patching ownerReferences (merge key uid); False if gone."""
        meta = obj["metadata"]
        patch = {"metadata": {"ownerReferences": owner_refs, "uid": meta["uid"]}}
        try:
            await self.client.patch(resource, meta["name"], patch, meta.get("namespace", ""), "strategic")
        except StatusError as e:
            if e.code in (404, 422):  # gone, or (release) its owner list already changed: nothing to do
                return False
            raise
        return True
