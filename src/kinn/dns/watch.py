"""Informers keep the DNS tables current: every Namespace, Service and EndpointSlice event updates
ClusterRecords and then calls `changed` (which drops cached answers), so an answer follows the
cluster as soon as the watch event arrives; nothing polls."""

from __future__ import annotations

from typing import Callable

from kinn.client.informer import EventHandler, Obj, SharedInformerFactory
from kinn.client.rest import resource
from kinn.dns.records import ClusterRecords

NAMESPACES = resource("v1", "namespaces")
SERVICES = resource("v1", "services")
ENDPOINT_SLICES = resource("discovery.k8s.io/v1", "endpointslices")


def watch_cluster(factory: SharedInformerFactory, records: ClusterRecords, changed: Callable[[], None]) -> None:
    """Register the three informers on `factory` (started by the caller)."""
    for kind, upsert, delete in ((NAMESPACES, records.set_namespace, records.delete_namespace),
                                 (SERVICES, records.set_service, records.delete_service),
                                 (ENDPOINT_SLICES, records.set_slice, records.delete_slice)):
        factory.informer(kind).add_event_handler(_handler(upsert, delete, changed))


def _handler(upsert: Callable[[Obj], None], delete: Callable[[Obj], None], changed: Callable[[], None]) -> EventHandler:
    def on_upsert(obj: Obj) -> None:
        upsert(obj)
        changed()

    def on_delete(obj: Obj) -> None:
        delete(obj)
        changed()

    return EventHandler(on_add=on_upsert, on_update=lambda old, new: on_upsert(new), on_delete=on_delete)
