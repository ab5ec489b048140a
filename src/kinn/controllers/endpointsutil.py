"""What the Endpoints and EndpointSlice controllers share (pkg/controller/util/endpoint).

Which pods a Service selects, which of them belong in its endpoints, the port a service port
resolves to on one pod (a named targetPort is looked up per pod, so pods of one Service may
listen on different numbers), the address family, the hostname of headless-service pods, and
the TriggerTimeTracker behind the `endpoints.kubernetes.io/last-change-trigger-time` annotation,
and ServicePodsController, the Service and pod wiring both controllers start from.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from kinn.api.errors import StatusError
from kinn.api.sidecars import is_sidecar
from kinn.api.timestamps import rfc3339
from kinn.client.informer import EventHandler, Indexer, object_key
from kinn.client.rest import resource
from kinn.controllers.base import Controller, ControllerContext
from kinn.controllers.podutil import is_pod_terminal, is_terminating, parse_time, pod_condition

Obj = dict[str, Any]
SERVICES = resource("v1", "services")
PODS = resource("v1", "pods")

LAST_CHANGE_TRIGGER_TIME = "endpoints.kubernetes.io/last-change-trigger-time"
HEADLESS_LABEL = "service.kubernetes.io/headless"
CLUSTER_IP_NONE = "None"


def selector_matches(selector: dict[str, str] | None, labels: dict[str, str] | None) -> bool:
    """A Service's equality-based selector (labels.Set(selector).AsSelectorPreValidated())."""
    labels = labels or {}
    return all(labels.get(k) == v for k, v in (selector or {}).items())


def selected_pods(pods: Indexer, service: Obj) -> list[Obj]:
    """Pods in the Service's namespace its selector matches."""
    selector = service["spec"].get("selector") or {}
    return [p for p in pods.by_index("namespace", service["metadata"]["namespace"])
            if selector_matches(selector, p["metadata"].get("labels"))]


def services_for_pod(services: Indexer, pod: Obj) -> set[str]:
    """Keys of the selector-bearing Services in the pod's namespace that select it."""
    labels = pod["metadata"].get("labels")
    return {object_key(s) for s in services.by_index("namespace", pod["metadata"]["namespace"])
            if s.get("spec", {}).get("selector") and selector_matches(s["spec"]["selector"], labels)}


def should_pod_be_in_endpoints(pod: Obj, include_terminating: bool) -> bool:
    """ShouldPodBeInEndpoints: not finished, has an IP, and not being deleted unless asked to keep those."""
    if is_pod_terminal(pod):
        return False
    status = pod.get("status", {})
    if not status.get("podIP") and not status.get("podIPs"):
        return False
    return include_terminating or not is_terminating(pod)


def service_ip_family(service: Obj) -> str:
    families = service["spec"].get("ipFamilies") or ["IPv4"]
    return families[0]


def pod_ip_for_family(pod: Obj, family: str) -> str | None:
    """The pod's address in the Service's family (a dual-stack pod has one of each)."""
    status = pod.get("status", {})
    ips = [entry.get("ip", "") for entry in status.get("podIPs") or []] or [status.get("podIP", "")]
    want = 6 if family == "IPv6" else 4
    for ip in ips:
        try:
            if ipaddress.ip_address(ip).version == want:
                return ip
        except ValueError:
            continue
    return None


def should_set_hostname(pod: Obj, service: Obj) -> bool:
    """A pod gets a DNS hostname in a Service when its subdomain names that Service (headless pattern)."""
    spec = pod.get("spec", {})
    return bool(spec.get("hostname")) and spec.get("subdomain") == service["metadata"]["name"] \
        and pod["metadata"]["namespace"] == service["metadata"]["namespace"]


def find_port(pod: Obj, service_port: Obj) -> int | None:
    """FindPort: a numeric targetPort as is; a named one is the pod's containerPort of that name and
    protocol, in regular containers or restartable (sidecar) init containers."""
    target = service_port.get("targetPort", service_port.get("port"))
    if isinstance(target, int):
        return target
    if isinstance(target, str) and target.isdigit():
        return int(target)
    protocol = service_port.get("protocol", "TCP")
    spec = pod.get("spec", {})
    sidecars = [c for c in spec.get("initContainers") or [] if is_sidecar(c)]
    for container in [*(spec.get("containers") or []), *sidecars]:
        for port in container.get("ports") or []:
            if port.get("name") == target and port.get("protocol", "TCP") == protocol:
                return int(port["containerPort"])
    return None


def endpoint_port(service_port: Obj, number: int) -> Obj:
    """The EndpointPort (core) / EndpointPort (discovery) a service port resolves to on one pod."""
    port: Obj = {"port": number, "protocol": service_port.get("protocol", "TCP")}
    if service_port.get("name"):
        port["name"] = service_port["name"]
    if service_port.get("appProtocol"):
        port["appProtocol"] = service_port["appProtocol"]
    return port


def target_ref(pod: Obj) -> Obj:
    meta = pod["metadata"]
    return {"kind": "Pod", "namespace": meta["namespace"], "name": meta["name"], "uid": meta["uid"]}


def is_headless(service: Obj) -> bool:
    return service["spec"].get("clusterIP") == CLUSTER_IP_NONE


def has_managed_endpoints(service: Obj) -> bool:
    """Does the controller write this Service's endpoints? Not for a selectorless Service (its
    endpoints are written by hand) nor an ExternalName one (it has none)."""
    spec = service["spec"]
    return bool(spec.get("selector")) and spec.get("type") != "ExternalName"


def is_namespace_terminating(err: StatusError) -> bool:
    """Creates in a Terminating namespace fail forever; controllers drop the key instead of retrying."""
    return err.code == 403 and "is being terminated" in err.message


@dataclass
class _ServiceState:
    pod_trigger_times: dict[str, datetime] = field(default_factory=dict)
    service_trigger_time: datetime | None = None


class TriggerTimeTracker:
    """Computes the last-change-trigger-time annotation: the earliest change not yet reflected in the
    endpoints — a pod's Ready transition or the Service's creation — since the previous sync.

    A Service seen for the first time gets no trigger time (upstream cannot tell which change is
    new after a restart); the annotation is then left off.
    """

    def __init__(self) -> None:
        self._states: dict[str, _ServiceState] = {}

    def compute(self, service: Obj, pods: list[Obj]) -> str | None:
        key = object_key(service)
        state = self._states.get(key)
        known = state is not None
        state = state or _ServiceState()
        changed: list[datetime] = []
        pod_times: dict[str, datetime] = {}
        for pod in pods:
            when = parse_time((pod_condition(pod, "Ready") or {}).get("lastTransitionTime"))
            if when is None:
                continue
            pod_times[pod["metadata"]["name"]] = when
            previous = state.pod_trigger_times.get(pod["metadata"]["name"])
            if previous is None or when > previous:
                changed.append(when)
        created = parse_time(service["metadata"].get("creationTimestamp"))
        if created is not None and (state.service_trigger_time is None or created > state.service_trigger_time):
            changed.append(created)
        self._states[key] = _ServiceState(pod_times, created)
        if not known or not changed:
            return None
        return rfc3339(min(changed))

    def delete_service(self, key: str) -> None:
        self._states.pop(key, None)


class ServicePodsController(Controller):
    """The wiring the Endpoints and EndpointSlice controllers share: keys are Services; a Service is
    queued when it changes and when a pod it selects (before or after the change) does."""

    def __init__(self, ctx: ControllerContext) -> None:
        super().__init__(ctx)
        self.services = self.informer(SERVICES, self.enqueue_handler()).indexer
        self.pods = self.informer(PODS, EventHandler(
            on_add=self._pod_changed,
            on_update=lambda old, new: self._pod_changed(new, old),
            on_delete=self._pod_changed,
        )).indexer
        self.triggers = TriggerTimeTracker()

    def _pod_changed(self, pod: Obj, old: Obj | None = None) -> None:
        keys = services_for_pod(self.services, pod)
        if old is not None:
            keys |= services_for_pod(self.services, old)
        for key in keys:
            self.queue.add(key)
