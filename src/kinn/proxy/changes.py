"""Change tracking (pkg/proxy's ServiceChangeTracker and EndpointsChangeTracker, merged).

Informer events arrive one object at a time; the proxy wants, at each sync, the current service
ports and endpoints of every Service plus *which* Services changed since the last sync and what
they looked like before (partial syncs rewrite only those; stale UDP conntrack entries are found
by comparing before and after). A Service counts as changed only if what the proxy derives from
it changed, so a status-only update of an unrelated field costs no sync.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from kinn.proxy.serviceport import Endpoint, ServicePort, service_ports, slice_endpoints, slice_service

Obj = dict[str, Any]
ServiceKey = tuple[str, str]  # (namespace, name)
PortEndpoints = dict[tuple[str, str], list[Endpoint]]  # (port name, protocol) → endpoints


@dataclass(frozen=True)
class Snapshot:
    """The proxy's whole view at one instant; what a mode's sync reads (never mutated afterwards)."""

    services: dict[ServiceKey, list[ServicePort]]
    endpoints: dict[ServiceKey, PortEndpoints]

    def endpoints_of(self, svc: ServicePort) -> list[Endpoint]:
        return self.endpoints.get(svc.name.service, {}).get((svc.name.port, svc.protocol), [])

    def ports(self) -> list[ServicePort]:
        """Every service port, in a stable order (upstream iterates a map; sorted reads better)."""
        return sorted((p for ports in self.services.values() for p in ports), key=lambda p: (p.name, p.protocol))


@dataclass(frozen=True)
class Change:
    """A Service as the last sync saw it (what was there before this round of events)."""

    ports: list[ServicePort]
    endpoints: PortEndpoints


@dataclass
class ProxyState:
    node_name: str
    services: dict[ServiceKey, list[ServicePort]] = field(default_factory=dict)
    endpoints: dict[ServiceKey, PortEndpoints] = field(default_factory=dict)
    _slices: dict[ServiceKey, dict[str, Obj]] = field(default_factory=dict)
    _changes: dict[ServiceKey, Change] = field(default_factory=dict)

    def service_updated(self, service: Obj) -> bool:
        meta = service["metadata"]
        return self._set_ports((meta.get("namespace", "default"), meta["name"]), service_ports(service))

    def service_deleted(self, service: Obj) -> bool:
        meta = service["metadata"]
        return self._set_ports((meta.get("namespace", "default"), meta["name"]), [])

    def slice_updated(self, endpoint_slice: Obj) -> bool:
        key = slice_service(endpoint_slice)
        if key is None:
            return False
        self._slices.setdefault(key, {})[endpoint_slice["metadata"]["name"]] = endpoint_slice
        return self._recompute_endpoints(key)

    def slice_deleted(self, endpoint_slice: Obj) -> bool:
        key = slice_service(endpoint_slice)
        if key is None or endpoint_slice["metadata"]["name"] not in self._slices.get(key, {}):
            return False
        del self._slices[key][endpoint_slice["metadata"]["name"]]
        if not self._slices[key]:
            del self._slices[key]
        return self._recompute_endpoints(key)

    def snapshot(self) -> Snapshot:
        return Snapshot(dict(self.services), dict(self.endpoints))

    def take_changes(self) -> dict[ServiceKey, Change]:
        """The Services changed since the last call, with their state before the first change."""
        changes, self._changes = self._changes, {}
        return {key: before for key, before in changes.items()
                if before != Change(self.services.get(key, []), self.endpoints.get(key, {}))}

    def requeue(self, changes: dict[ServiceKey, Change]) -> None:
        """Give back changes a failed sync did not apply; their older 'before' wins."""
        self._changes = {**self._changes, **changes}

    def _remember(self, key: ServiceKey) -> None:
        if key not in self._changes:
            self._changes[key] = Change(self.services.get(key, []), self.endpoints.get(key, {}))

    def _set_ports(self, key: ServiceKey, ports: list[ServicePort]) -> bool:
        if self.services.get(key, []) == ports:
            return False
        self._remember(key)
        if ports:
            self.services[key] = ports
        else:
            self.services.pop(key, None)
        return True

    def _recompute_endpoints(self, key: ServiceKey) -> bool:
        endpoints = slice_endpoints(self._slices.get(key, {}).values(), self.node_name)
        if self.endpoints.get(key, {}) == endpoints:
            return False
        self._remember(key)
        if endpoints:
            self.endpoints[key] = endpoints
        else:
            self.endpoints.pop(key, None)
        return True
