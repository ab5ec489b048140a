"""The EndpointSlice controller (pkg/controller/endpointslice): slices of a selector Service's pods.

It reads Services, pods, nodes (for zones) and the slices it manages (label
`endpointslice.kubernetes.io/managed-by: endpointslice-controller.k8s.io`), and lets the reconciler
decide the writes. Slices carry an owner reference to their Service, so the garbage collector
removes them with it. Right after a write the slice informer may not have caught up; like
upstream's EndpointSliceTracker, a Service whose cached slices are older than the controller's own
writes (by resourceVersion) is not reconciled from the stale cache — the write's watch event,
which may arrive before or after the write's response, queues it again.
"""

from __future__ import annotations

from typing import Any

from kinn.api.errors import StatusError
from kinn.client.informer import EventHandler
from kinn.client.rest import resource
from kinn.controllers.base import ControllerContext
from kinn.controllers.endpointslice_reconciler import (
    CONTROLLER_NAME, MANAGED_BY_LABEL, SERVICE_NAME_LABEL, Plan, desired_endpoints, reconcile,
)
from kinn.controllers.endpointsutil import (
    ServicePodsController, has_managed_endpoints, is_namespace_terminating, selected_pods,
)

Obj = dict[str, Any]
NODES = resource("v1", "nodes")
ENDPOINT_SLICES = resource("discovery.k8s.io/v1", "endpointslices")


def managed_service_key(slice_: Obj) -> str | None:
    """`namespace/service` of a slice this controller manages, else None."""
    labels = slice_["metadata"].get("labels") or {}
    if labels.get(MANAGED_BY_LABEL) != CONTROLLER_NAME or not labels.get(SERVICE_NAME_LABEL):
        return None
    return f"{slice_['metadata']['namespace']}/{labels[SERVICE_NAME_LABEL]}"


class EndpointSliceController(ServicePodsController):
    name = "endpointslice"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.nodes = self.informer(NODES).indexer
        slices = self.informer(ENDPOINT_SLICES, EventHandler(
            on_add=self._slice_changed,
            on_update=lambda old, new: self._slice_changed(new),
            on_delete=self._slice_changed,
        ))
        slices.indexer.add_indexer("service", lambda s: [k] if (k := managed_service_key(s)) else [])
        self.slices = slices.indexer
        # service key → {slice name: resourceVersion our write produced, or None for a delete}
        self.written: dict[str, dict[str, int | None]] = {}

    def _slice_changed(self, slice_: Obj) -> None:
        key = managed_service_key(slice_)
        if key is None:
            return
        self.queue.add(key)

    async def sync(self, key: str) -> None:
        """syncService."""
        service = self.services.get(key)
        if service is None:
            self.triggers.delete_service(key)
            self.written.pop(key, None)
            return  # its slices go with it: the garbage collector follows their owner references
        if not has_managed_endpoints(service):
            return
        if self._cache_behind_writes(key, service["metadata"]["namespace"]):
            return  # their watch events will queue this again
        pods = selected_pods(self.pods, service)
        nodes = {n["metadata"]["name"]: n for n in self.nodes.list()}
        plan = reconcile(service, self.slices.by_index("service", key), desired_endpoints(service, pods, nodes),
                         self.triggers.compute(service, pods))
        if not plan.empty():
            await self._apply(key, service, plan)

    def _cache_behind_writes(self, key: str, namespace: str) -> bool:
        """True while the slice cache does not yet show every write this controller made."""
        written = self.written.get(key)
        if not written:
            return False
        for name, revision in list(written.items()):
            cached = self.slices.get(f"{namespace}/{name}")
            if revision is None:
                caught_up = cached is None
            else:
                caught_up = cached is not None and int(cached["metadata"]["resourceVersion"]) >= revision
            if not caught_up:
                return True
            del written[name]
        return False

    async def _apply(self, key: str, service: Obj, plan: Plan) -> None:
        """Creates first, then updates, then deletes, so a Service never briefly has no endpoints."""
        written = self.written.setdefault(key, {})
        namespace = service["metadata"]["namespace"]

        def record(result: Obj) -> None:
            written[result["metadata"]["name"]] = int(result["metadata"]["resourceVersion"])

        try:
            for slice_ in plan.create:
                record(await self.client.create(ENDPOINT_SLICES, slice_, namespace))
            for slice_ in plan.update:
                record(await self.client.update(ENDPOINT_SLICES, slice_))
            for slice_ in plan.delete:
                if await self._delete(slice_):
                    written[slice_["metadata"]["name"]] = None
        except StatusError as e:
            if not is_namespace_terminating(e):
                raise

    async def _delete(self, slice_: Obj) -> bool:
        """Delete; False if it was already gone (no watch event will follow)."""
        meta = slice_["metadata"]
        try:
            await self.client.delete(ENDPOINT_SLICES, meta["name"], meta["namespace"],
                                     preconditions={"uid": meta["uid"]})
        except StatusError as e:
            if e.code != 404:
                raise
            return False
        return True

