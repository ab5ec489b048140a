"""Which Strategy each kind uses."""

from __future__ import annotations

from kinn.api.resources import Resource
from kinn.apiserver.allocators.ipallocator import IPAllocator
from kinn.apiserver.allocators.portallocator import PortAllocator
from kinn.apiserver.registry.namespaces import NamespaceStrategy
from kinn.apiserver.registry.pods import PodStrategy
from kinn.apiserver.registry.services import ServiceStrategy
from kinn.apiserver.registry.strategy import Strategy


def strategy_for(resource: Resource, ips: IPAllocator, ports: PortAllocator) -> Strategy:
    if resource.group == "":
        if resource.plural == "pods":
            return PodStrategy(resource)
        if resource.plural == "services":
            return ServiceStrategy(resource, ips, ports)
        if resource.plural == "namespaces":
            return NamespaceStrategy(resource)
    return Strategy(resource)
