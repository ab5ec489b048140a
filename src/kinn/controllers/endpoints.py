"""The Endpoints controller (pkg/controller/endpoint): one Endpoints object per selector Service.

Each selected pod with an IP becomes an address — ready, or in `notReadyAddresses` unless the
Service publishes not-ready addresses — once per service port, with the port number resolved on
that pod. The per-pod subsets are then repacked into the canonical form (RepackSubsets): addresses
offering the same set of ports share one subset. Services without a selector keep hand-made
Endpoints; the Endpoints of a deleted Service are deleted.
"""

from __future__ import annotations

import copy
import math
from typing import Any

from kinn.api.errors import StatusError
from kinn.client.informer import EventHandler, split_key
from kinn.client.rest import resource
from kinn.controllers.base import ControllerContext
from kinn.controllers.endpointsutil import (
    HEADLESS_LABEL, LAST_CHANGE_TRIGGER_TIME, ServicePodsController, endpoint_port, find_port,
    has_managed_endpoints, is_headless, is_namespace_terminating, pod_ip_for_family, selected_pods,
    service_ip_family, should_pod_be_in_endpoints, should_set_hostname, target_ref,
)
from kinn.controllers.podutil import is_pod_ready

Obj = dict[str, Any]
ENDPOINTS = resource("v1", "endpoints")

MAX_CAPACITY = 1000
OVER_CAPACITY = "endpoints.kubernetes.io/over-capacity"
LEADER_ANNOTATION = "control-plane.alpha.kubernetes.io/leader"

# --- RepackSubsets ------------------------------------------------------------------------------

_NO_PORT = ()  # sentinel port key: addresses of a subset without ports are kept, not dropped


def _address_key(address: Obj) -> tuple[str, str]:
    """Two identical IPs from different pods stay apart (attribution), as upstream's addressKey."""
    return address.get("ip", ""), (address.get("targetRef") or {}).get("uid", "")


def _port_key(port: Obj) -> tuple[tuple[str, Any], ...]:
    return tuple(sorted(port.items()))


def repack_subsets(subsets: list[Obj]) -> list[Obj]:
    """Expand subsets to (port, address, ready) facts and pack them again canonically.

    An address listed both ready and not ready for one port is not ready. Addresses are then
    grouped by the exact (address, ready) set each port reaches, so every subset is "these
    addresses serve these ports". Sorted, so equal endpoints always compare equal.
    """
    addresses: dict[tuple[str, str], Obj] = {}
    ports: dict[tuple[Any, ...], Obj] = {}
    readiness: dict[tuple[Any, ...], dict[tuple[str, str], bool]] = {}
    for subset in subsets:
        keys = [_port_key(p) for p in subset.get("ports") or ()] or [_NO_PORT]
        for port, key in zip(subset.get("ports") or [{}], keys):
            ports[key] = port
            by_address = readiness.setdefault(key, {})
            for ready, field in ((True, "addresses"), (False, "notReadyAddresses")):
                for address in subset.get(field) or ():
                    akey = _address_key(address)
                    addresses.setdefault(akey, address)
                    if by_address.get(akey, True):
                        by_address[akey] = ready
    groups: dict[frozenset[tuple[tuple[str, str], bool]], list[Obj]] = {}
    for key, by_address in readiness.items():
        group = groups.setdefault(frozenset(by_address.items()), [])
        if key != _NO_PORT:
            group.append(ports[key])
    final = [_subset(addresses, members, group_ports) for members, group_ports in groups.items()]
    return sorted(final, key=_subset_sort_key)


def _subset(addresses: dict[tuple[str, str], Obj], members: frozenset[tuple[tuple[str, str], bool]],
            ports: list[Obj]) -> Obj:
    subset: Obj = {}
    ready = sorted(k for k, r in members if r)
    not_ready = sorted(k for k, r in members if not r)
    if ready:
        subset["addresses"] = [copy.deepcopy(addresses[k]) for k in ready]
    if not_ready:
        subset["notReadyAddresses"] = [copy.deepcopy(addresses[k]) for k in not_ready]
    if ports:
        subset["ports"] = sorted(ports, key=lambda p: (p.get("name", ""), p.get("port", 0), p.get("protocol", "")))
    return subset


def _subset_sort_key(subset: Obj) -> tuple[Any, ...]:
    """By lowest address, ready or not (upstream orders by a hash; any fixed order compares equal)."""
    members = [*(subset.get("addresses") or ()), *(subset.get("notReadyAddresses") or ())]
    return sorted(_address_key(a) for a in members), [_port_key(p) for p in subset.get("ports") or ()]


# --- desired subsets ----------------------------------------------------------------------------

def endpoint_address(pod: Obj, service: Obj) -> Obj | None:
    """podToEndpointAddressForService: the pod's IP in the Service's family, node and pod reference."""
    ip = pod_ip_for_family(pod, service_ip_family(service))
    if ip is None:
        return None
    address: Obj = {"ip": ip}
    if should_set_hostname(pod, service):
        address["hostname"] = pod["spec"]["hostname"]
    if pod.get("spec", {}).get("nodeName"):
        address["nodeName"] = pod["spec"]["nodeName"]
    address["targetRef"] = target_ref(pod)
    return address


def desired_subsets(service: Obj, pods: list[Obj]) -> list[Obj]:
    """One subset per (pod, service port) — or per pod for a headless Service without ports — repacked."""
    tolerate_unready = bool(service["spec"].get("publishNotReadyAddresses"))
    service_ports = service["spec"].get("ports") or []
    subsets: list[Obj] = []
    for pod in pods:
        if not should_pod_be_in_endpoints(pod, tolerate_unready):
            continue
        address = endpoint_address(pod, service)
        if address is None:
            continue
        field = "addresses" if tolerate_unready or is_pod_ready(pod) else "notReadyAddresses"
        if not service_ports and is_headless(service):
            subsets.append({field: [address]})
        for service_port in service_ports:
            number = find_port(pod, service_port)
            if number is not None:
                subsets.append({field: [address], "ports": [endpoint_port(service_port, number)]})
    return repack_subsets(subsets)


def truncate(subsets: list[Obj]) -> bool:
    """Keep at most 1000 addresses, each subset its proportional share (ready ones first); True if cut."""
    ready = sum(len(s.get("addresses") or ()) for s in subsets)
    not_ready = sum(len(s.get("notReadyAddresses") or ()) for s in subsets)
    if ready + not_ready <= MAX_CAPACITY:
        return False
    field, total, budget = "notReadyAddresses", not_ready, MAX_CAPACITY - ready
    if ready > MAX_CAPACITY:
        field, total, budget = "addresses", ready, MAX_CAPACITY
    room = budget
    for subset in subsets:
        share = min(math.ceil(len(subset.get(field) or ()) / total * budget), room)
        subset[field] = (subset.get(field) or [])[:share]
        if field == "addresses":
            subset.pop("notReadyAddresses", None)
        room -= len(subset[field])
    return True


def _labels_without_headless(labels: dict[str, str] | None) -> dict[str, str]:
    return {k: v for k, v in (labels or {}).items() if k != HEADLESS_LABEL}


def _address_count(subsets: list[Obj]) -> int:
    return sum(len(s.get("addresses") or ()) + len(s.get("notReadyAddresses") or ()) for s in subsets)


def up_to_date(current: Obj, subsets: list[Obj], service: Obj) -> bool:
    """Nothing to write: same subsets, labels as the Service's, over-capacity annotation consistent."""
    current_subsets = current.get("subsets") or []
    capacity_ok = _address_count(current_subsets) <= MAX_CAPACITY and \
        OVER_CAPACITY not in (current["metadata"].get("annotations") or {})
    return current_subsets == subsets and capacity_ok and \
        _labels_without_headless(current["metadata"].get("labels")) == (service["metadata"].get("labels") or {})


def new_endpoints(current: Obj | None, service: Obj, subsets: list[Obj], trigger_time: str | None) -> Obj:
    meta = service["metadata"]
    endpoints = copy.deepcopy(current) if current else {
        "apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": meta["name"], "namespace": meta["namespace"]}}
    endpoints["subsets"] = copy.deepcopy(subsets)
    annotations = dict(endpoints["metadata"].get("annotations") or {})
    if trigger_time:
        annotations[LAST_CHANGE_TRIGGER_TIME] = trigger_time
    else:
        annotations.pop(LAST_CHANGE_TRIGGER_TIME, None)
    if truncate(endpoints["subsets"]):
        annotations[OVER_CAPACITY] = "truncated"
    else:
        annotations.pop(OVER_CAPACITY, None)
    labels = _labels_without_headless(meta.get("labels"))
    if is_headless(service):
        labels[HEADLESS_LABEL] = ""
    endpoints["metadata"]["annotations"] = annotations
    endpoints["metadata"]["labels"] = labels
    return endpoints


# --- the controller -----------------------------------------------------------------------------

class EndpointsController(ServicePodsController):
    name = "endpoint"

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        # A deleted Endpoints object of a live Service is recreated (onEndpointsDelete).
        self.endpoints = self.informer(ENDPOINTS, EventHandler(on_delete=self.enqueue)).indexer
        self.recorder = ctx.recorder("endpoint-controller")

    def background(self) -> list[Any]:
        return [self._check_leftover_endpoints()]

    async def _check_leftover_endpoints(self) -> None:
        """At start, Endpoints whose Service vanished while nobody watched are queued for deletion
        (except leader-election records kept in old-style Endpoints)."""
        for endpoints in self.endpoints.list():
            key = f"{endpoints['metadata']['namespace']}/{endpoints['metadata']['name']}"
            annotations = endpoints["metadata"].get("annotations") or {}
            if self.services.get(key) is None and LEADER_ANNOTATION not in annotations:
                self.queue.add(key)

    async def sync(self, key: str) -> None:
        """syncService."""
        namespace, name = split_key(key)
        service = self.services.get(key)
        if service is None:
            self.triggers.delete_service(key)
            try:
                await self.client.delete(ENDPOINTS, name, namespace)
            except StatusError as e:
                if e.code != 404:
                    raise
            return
        if not has_managed_endpoints(service):
            return
        pods = selected_pods(self.pods, service)
        trigger_time = self.triggers.compute(service, pods)
        subsets = desired_subsets(service, pods)
        current = self.endpoints.get(key)
        if current is not None and up_to_date(current, subsets, service):
            return
        await self._write(service, new_endpoints(current, service, subsets, trigger_time), create=current is None)

    async def _write(self, service: Obj, endpoints: Obj, create: bool) -> None:
        meta = service["metadata"]
        try:
            if create:
                await self.client.create(ENDPOINTS, endpoints, meta["namespace"])
            else:
                await self.client.update(ENDPOINTS, endpoints)
        except StatusError as e:
            if create and is_namespace_terminating(e):
                return
            verb = "create" if create else "update"
            reason = "FailedToCreateEndpoint" if create else "FailedToUpdateEndpoint"
            await self.recorder.event(endpoints, "Warning", reason,
                                      f"Failed to {verb} endpoint for service {meta['namespace']}/{meta['name']}: "
                                      f"{e.message}")
            raise
