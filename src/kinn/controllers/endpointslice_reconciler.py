"""The EndpointSlice reconciler (k8s.io/endpointslice reconciler.go): desired endpoints → slice writes.

Pure: given a Service, its pods and the slices the controller already manages for it, it returns
the slices to create, update and delete. Endpoints are grouped by their resolved port set (one
slice never mixes port sets), at most `max_per_slice` per slice, and churn is kept low as
upstream does: an unchanged slice is never rewritten, new endpoints first fill slices that are
being updated anyway, then one existing slice that can take all of them, and only then new
slices; a slice that would be deleted while another is created is updated in its place instead.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

from kinn.controllers.endpointsutil import (
    HEADLESS_LABEL, LAST_CHANGE_TRIGGER_TIME, endpoint_port, find_port, is_headless, pod_ip_for_family,
    service_ip_family, should_pod_be_in_endpoints, should_set_hostname, target_ref,
)
from kinn.controllers.podutil import is_pod_ready, is_terminating

Obj = dict[str, Any]
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by"
CONTROLLER_NAME = "endpointslice-controller.k8s.io"
ZONE_LABEL = "topology.kubernetes.io/zone"
MAX_ENDPOINTS_PER_SLICE = 100

PortKey = tuple[tuple[tuple[str, Any], ...], ...]


def port_key(ports: list[Obj]) -> PortKey:
    return tuple(sorted(tuple(sorted(p.items())) for p in ports))


def endpoint_key(endpoint: Obj) -> tuple[str, str]:
    """An endpoint's identity across syncs: its address and the pod it stands for."""
    return (endpoint.get("addresses") or [""])[0], (endpoint.get("targetRef") or {}).get("uid", "")


def pod_to_endpoint(pod: Obj, service: Obj, node: Obj | None) -> Obj | None:
    """podToEndpoint: conditions as upstream — `serving` is readiness even while terminating, `ready`
    never true for a terminating pod unless the Service publishes not-ready addresses."""
    ip = pod_ip_for_family(pod, service_ip_family(service))
    if ip is None:
        return None
    serving = is_pod_ready(pod)
    terminating = is_terminating(pod)
    ready = bool(service["spec"].get("publishNotReadyAddresses")) or (serving and not terminating)
    endpoint: Obj = {"addresses": [ip], "conditions": {"ready": ready, "serving": serving, "terminating": terminating}}
    if should_set_hostname(pod, service):
        endpoint["hostname"] = pod["spec"]["hostname"]
    endpoint["targetRef"] = target_ref(pod)
    if pod.get("spec", {}).get("nodeName"):
        endpoint["nodeName"] = pod["spec"]["nodeName"]
    zone = ((node or {}).get("metadata", {}).get("labels") or {}).get(ZONE_LABEL)
    if zone:
        endpoint["zone"] = zone
    return endpoint


def endpoint_ports(service: Obj, pod: Obj) -> list[Obj]:
    """The service ports resolved on this pod; a named port the pod lacks is left out."""
    ports = []
    for service_port in service["spec"].get("ports") or []:
        number = find_port(pod, service_port)
        if number is not None:
            ports.append({"name": service_port.get("name", ""), **endpoint_port(service_port, number)})
    return ports


@dataclass
class PortGroup:
    ports: list[Obj]
    endpoints: dict[tuple[str, str], Obj] = field(default_factory=dict)


def desired_endpoints(service: Obj, pods: list[Obj], nodes: dict[str, Obj]) -> dict[PortKey, PortGroup]:
    """Every pod that belongs in the slices (terminating ones included), grouped by port set."""
    groups: dict[PortKey, PortGroup] = {}
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, include_terminating=True):
            continue
        endpoint = pod_to_endpoint(pod, service, nodes.get(pod.get("spec", {}).get("nodeName", "")))
        if endpoint is None:
            continue
        ports = endpoint_ports(service, pod)
        group = groups.setdefault(port_key(ports), PortGroup(ports))
        group.endpoints[endpoint_key(endpoint)] = endpoint
    return groups


def slice_labels(service: Obj) -> dict[str, str]:
    """The Service's labels (minus the two the controller owns), its name, manager, headless mark."""
    reserved = (SERVICE_NAME_LABEL, MANAGED_BY_LABEL, HEADLESS_LABEL)
    labels = {k: v for k, v in (service["metadata"].get("labels") or {}).items() if k not in reserved}
    labels[SERVICE_NAME_LABEL] = service["metadata"]["name"]
    labels[MANAGED_BY_LABEL] = CONTROLLER_NAME
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    return labels


def new_slice(service: Obj, ports: list[Obj], endpoints: list[Obj]) -> Obj:
    meta = service["metadata"]
    owner = {"apiVersion": "v1", "kind": "Service", "name": meta["name"], "uid": meta["uid"],
             "controller": True, "blockOwnerDeletion": True}
    return {
        "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"generateName": f"{meta['name']}-"[:58], "namespace": meta["namespace"],
                     "labels": slice_labels(service), "ownerReferences": [owner]},
        "addressType": service_ip_family(service),
        "endpoints": endpoints,
        "ports": ports,
    }


@dataclass
class Plan:
    create: list[Obj] = field(default_factory=list)
    update: list[Obj] = field(default_factory=list)
    delete: list[Obj] = field(default_factory=list)

    def empty(self) -> bool:
        return not (self.create or self.update or self.delete)


def reconcile(service: Obj, existing: list[Obj], desired: dict[PortKey, PortGroup],
              trigger_time: str | None = None, max_per_slice: int = MAX_ENDPOINTS_PER_SLICE) -> Plan:
    """The writes that make `existing` slices hold exactly the `desired` endpoints."""
    plan = Plan()
    family = service_ip_family(service)
    by_ports: dict[PortKey, list[Obj]] = {}
    for slice_ in existing:
        if slice_.get("addressType") != family or not _owned_by(slice_, service):
            plan.delete.append(slice_)
        else:
            by_ports.setdefault(port_key(slice_.get("ports") or []), []).append(slice_)
    for key, group in desired.items():
        _reconcile_port_set(service, by_ports.pop(key, []), group, max_per_slice, plan)
    for stale in by_ports.values():  # port sets no pod offers any more
        plan.delete.extend(stale)
    _keep_placeholder(service, existing, plan)
    _deletes_to_updates(plan)
    for slice_ in plan.create + plan.update:
        annotations = slice_["metadata"].setdefault("annotations", {})
        if trigger_time:
            annotations[LAST_CHANGE_TRIGGER_TIME] = trigger_time
        else:
            annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
    return plan


def _reconcile_port_set(service: Obj, slices: list[Obj], group: PortGroup, max_per_slice: int, plan: Plan) -> None:
    """reconcileByPortMapping for one port set."""
    wanted = dict(group.endpoints)
    labels = slice_labels(service)
    to_update: list[Obj] = []
    unchanged: list[Obj] = []
    for slice_ in slices:
        kept = [wanted.pop(endpoint_key(e)) for e in slice_.get("endpoints") or [] if endpoint_key(e) in wanted]
        if kept == (slice_.get("endpoints") or []) and slice_["metadata"].get("labels") == labels:
            unchanged.append(slice_)
        elif not kept:
            plan.delete.append(slice_)
        else:
            updated = copy.deepcopy(slice_)
            updated["endpoints"] = kept
            updated["metadata"]["labels"] = labels
            to_update.append(updated)
    remaining = list(wanted.values())
    for slice_ in sorted(to_update, key=lambda s: -len(s["endpoints"])):
        room = max_per_slice - len(slice_["endpoints"])
        slice_["endpoints"].extend(remaining[:room])
        remaining = remaining[room:]
    if remaining and len(remaining) < max_per_slice:
        roomy = [s for s in unchanged if len(s.get("endpoints") or []) + len(remaining) <= max_per_slice]
        if roomy:
            target = copy.deepcopy(max(roomy, key=lambda s: len(s.get("endpoints") or [])))
            target["endpoints"] = (target.get("endpoints") or []) + remaining
            to_update.append(target)
            remaining = []
    for start in range(0, len(remaining), max_per_slice):
        plan.create.append(new_slice(service, group.ports, remaining[start:start + max_per_slice]))
    plan.update.extend(to_update)


def _keep_placeholder(service: Obj, existing: list[Obj], plan: Plan) -> None:
    """A Service with no endpoints still has one (empty) slice; an existing placeholder is kept."""
    if len(existing) != len(plan.delete) or plan.create:
        return
    placeholder = new_slice(service, [], [])
    if len(plan.delete) == 1 and _is_placeholder_like(plan.delete[0], placeholder):
        plan.delete.clear()
    else:
        plan.create.append(placeholder)


def _is_placeholder_like(slice_: Obj, placeholder: Obj) -> bool:
    return not slice_.get("endpoints") and not slice_.get("ports") \
        and slice_.get("addressType") == placeholder["addressType"] \
        and slice_["metadata"].get("labels") == placeholder["metadata"]["labels"]


def _deletes_to_updates(plan: Plan) -> None:
    """Rather than delete one slice and create another, rewrite the doomed slice (same name)."""
    for doomed in list(plan.delete):
        match = next((c for c in plan.create if c["addressType"] == doomed.get("addressType")), None)
        if match is None:
            continue
        plan.create.remove(match)
        plan.delete.remove(doomed)
        rewritten = copy.deepcopy(doomed)
        rewritten["metadata"]["labels"] = match["metadata"]["labels"]
        rewritten["endpoints"] = match["endpoints"]
        rewritten["ports"] = match["ports"]
        plan.update.append(rewritten)


def _owned_by(slice_: Obj, service: Obj) -> bool:
    """A slice left by an earlier Service of the same name is not reused (ownedBy)."""
    return any(ref.get("uid") == service["metadata"]["uid"] and ref.get("kind") == "Service"
               for ref in slice_["metadata"].get("ownerReferences") or [])
