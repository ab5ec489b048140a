"""One Registry per served resource, each with its kind's Strategy (pkg/registry in upstream)."""

from __future__ import annotations

from kinn.api.resources import TABLE, Resource
from kinn.apiserver.admission import AdmissionChain
from kinn.apiserver.allocators.ipallocator import IPAllocator
from kinn.apiserver.allocators.portallocator import PortAllocator
from kinn.apiserver.registry.generic import Registry
from kinn.apiserver.registry.kinds import strategy_for
from kinn.storage.interface import Store


class Registries:
    """Every resource's registry, looked up by the (group, version, plural) of a request."""

    def __init__(self, store: Store, admission: AdmissionChain, ips: IPAllocator, ports: PortAllocator) -> None:
        self.store = store
        self.ips = ips
        self.ports = ports
        self._by_path: dict[tuple[str, str, str], Registry] = {}
        for resource in TABLE.resources:
            strategy = strategy_for(resource, ips, ports)
            self._by_path[(resource.group, resource.version, resource.plural)] = Registry(
                resource, store, strategy, admission
            )

    def get(self, group: str, version: str, plural: str) -> Registry | None:
        return self._by_path.get((group, version, plural))

    def of(self, resource: Resource) -> Registry:
        return self._by_path[(resource.group, resource.version, resource.plural)]

    def core(self, plural: str) -> Registry:
        return self._by_path[("", "v1", plural)]
