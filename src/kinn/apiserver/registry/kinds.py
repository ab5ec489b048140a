"""Which Strategy each kind uses."""

from __future__ import annotations

from typing import Any

from kinn.api.conversion.events import from_events_v1, to_events_v1
from kinn.api.defaults.batch import generate_job_selector
from kinn.api.resources import Resource
from kinn.apiserver.allocators.ipallocator import IPAllocator
from kinn.apiserver.allocators.portallocator import PortAllocator
from kinn.apiserver.registry.namespaces import NamespaceStrategy
from kinn.apiserver.registry.pods import PodStrategy
from kinn.apiserver.registry.services import ServiceStrategy
from kinn.apiserver.registry.strategy import Strategy

Obj = dict[str, Any]


class JobStrategy(Strategy):
    default_propagation = "Orphan"  # batch/v1, for backwards compatibility
    default_propagation_warning = ("child pods are preserved by default when jobs are deleted; set "
                                   "propagationPolicy=Background to remove them or set propagationPolicy=Orphan "
                                   "to suppress this warning")

    def after_create(self, obj: Obj) -> None:
        """Unless the user manages it, the selector is generated from the new uid (upstream PrepareForCreate)."""
        generate_job_selector(obj, obj["metadata"]["uid"])


class ReplicationControllerStrategy(Strategy):
    default_propagation = "Orphan"  # v1, as before the garbage collector existed


class DeploymentStrategy(Strategy):
    def prepare_for_status_update(self, new: Obj, old: Obj) -> Obj:
        """deploymentStatusStrategy resets spec and labels only: the deployment controller records the
        `deployment.kubernetes.io/revision` annotation through the status endpoint."""
        result = super().prepare_for_status_update(new, old)
        annotations = new.get("metadata", {}).get("annotations")
        result["metadata"].pop("annotations", None)
        if annotations:
            result["metadata"]["annotations"] = annotations
        return result


class NodeStrategy(Strategy):
    """nodeStatusStrategy resets only the spec: metadata written with the status stays."""

    status_keeps_metadata = True


class EventsV1Strategy(Strategy):
    """events.k8s.io/v1 serves the core/v1 events it shares storage with, in its own shape."""

    converts = True

    def to_external(self, obj: Obj) -> Obj | None:
        return to_events_v1(obj)

    def to_internal(self, obj: Obj) -> Obj:
        return from_events_v1(obj)


def strategy_for(resource: Resource, ips: IPAllocator, ports: PortAllocator) -> Strategy:
    if resource.group == "":
        if resource.plural == "pods":
            return PodStrategy(resource)
        if resource.plural == "services":
            return ServiceStrategy(resource, ips, ports)
        if resource.plural == "namespaces":
            return NamespaceStrategy(resource)
        if resource.plural == "nodes":
            return NodeStrategy(resource)
        if resource.plural == "replicationcontrollers":
            return ReplicationControllerStrategy(resource)
    if resource.group == "batch" and resource.plural == "jobs":
        return JobStrategy(resource)
    if resource.group == "apps" and resource.plural == "deployments":
        return DeploymentStrategy(resource)
    if resource.group == "events.k8s.io":
        return EventsV1Strategy(resource)
    return Strategy(resource)
