"""Tables for the core/v1 kinds other than pods, as upstream's printers.go prints them."""

from __future__ import annotations

from typing import Any, Mapping

from kinn.api.printers.columns import (
    AGE, CONTAINERS, IMAGES, META, NAME, Column, Printer, printer, replica_columns,
)
from kinn.api.printers.format import NONE, name_of, UNKNOWN, Clock, containers_cells, join_host_port
from kinn.api.selectors import format_labels

Obj = Mapping[str, Any]


# --- services and endpoints ---


def _load_balancer_ips(status: Obj) -> list[str]:
    """`loadBalancerStatusStringer` (wide, so never clipped): sorted unique IPs or hostnames."""
    ingress = (status.get("loadBalancer") or {}).get("ingress") or ()
    return sorted({i.get("ip") or i.get("hostname") for i in ingress if i.get("ip") or i.get("hostname")})


def _external_ip(svc: Obj) -> str:
    spec = svc.get("spec") or {}
    kind, external = spec.get("type", "ClusterIP"), spec.get("externalIPs") or []
    if kind in ("ClusterIP", "NodePort"):
        return ",".join(external) or NONE
    if kind == "LoadBalancer":
        return ",".join(_load_balancer_ips(svc.get("status") or {}) + external) or "<pending>"
    if kind == "ExternalName":
        return spec.get("externalName", "")
    return UNKNOWN


def _service_ports(ports: list[Obj]) -> str:
    def one(p: Obj) -> str:
        protocol = p.get("protocol", "TCP")
        if p.get("nodePort"):
            return f"{p.get('port')}:{p['nodePort']}/{protocol}"
        return f"{p.get('port')}/{protocol}"

    return ",".join(one(p) for p in ports) or NONE


def _service_row(svc: Obj, clock: Clock) -> list[Any]:
    spec = svc.get("spec") or {}
    cluster_ips = spec.get("clusterIPs") or ([spec["clusterIP"]] if spec.get("clusterIP") else [])
    return [name_of(svc), spec.get("type", ""), cluster_ips[0] if cluster_ips else NONE, _external_ip(svc),
            _service_ports(spec.get("ports") or []), clock.age(svc), format_labels(spec.get("selector"))]


def _endpoint_addresses(endpoints: Obj) -> list[str]:
    """Every `ip[:port]` pair, in upstream's order (per subset: ports outer, addresses inner)."""
    out = []
    for subset in endpoints.get("subsets") or ():
        addresses = [a.get("ip", "") for a in subset.get("addresses") or ()]
        ports = subset.get("ports") or ()
        if not ports:
            out.extend(addresses)
        for port in ports:
            out.extend(join_host_port(ip, port.get("port", 0)) for ip in addresses)
    return out


def _endpoints_row(endpoints: Obj, clock: Clock) -> list[Any]:
    if not endpoints.get("subsets"):
        text = NONE
    else:
        addresses = _endpoint_addresses(endpoints)
        text = ",".join(addresses[:3])
        if len(addresses) > 3:
            text += f" + {len(addresses) - 3} more..."
    return [name_of(endpoints), text, clock.age(endpoints)]


# --- nodes and namespaces ---

_ROLE_PREFIX = "node-role.kubernetes.io/"
_ROLE_LABEL = "kubernetes.io/role"


def _node_roles(node: Obj) -> str:
    roles = set()
    for key, value in ((node.get("metadata") or {}).get("labels") or {}).items():
        if key.startswith(_ROLE_PREFIX) and len(key) > len(_ROLE_PREFIX):
            roles.add(key[len(_ROLE_PREFIX):])
        elif key == _ROLE_LABEL and value:
            roles.add(value)
    return ",".join(sorted(roles)) or NONE


def _node_status(node: Obj) -> str:
    ready = next((c for c in (node.get("status") or {}).get("conditions") or () if c.get("type") == "Ready"), None)
    words = ["Unknown" if ready is None else "Ready" if ready.get("status") == "True" else "NotReady"]
    if (node.get("spec") or {}).get("unschedulable"):
        words.append("SchedulingDisabled")
    return ",".join(words)


def _node_address(node: Obj, kind: str) -> str:
    for address in (node.get("status") or {}).get("addresses") or ():
        if address.get("type") == kind:
            return address.get("address", "")
    return NONE


def _node_row(node: Obj, clock: Clock) -> list[Any]:
    info = (node.get("status") or {}).get("nodeInfo") or {}
    return [name_of(node), _node_status(node), _node_roles(node), clock.age(node), info.get("kubeletVersion", ""),
            _node_address(node, "InternalIP"), _node_address(node, "ExternalIP"),
            info.get("osImage") or UNKNOWN, info.get("kernelVersion") or UNKNOWN,
            info.get("containerRuntimeVersion") or UNKNOWN]


# --- events (core/v1 shape; events.k8s.io/v1 objects are viewed through `core_event_view`) ---


def core_event_view(event: Obj) -> dict[str, Any]:
    """An events.k8s.io/v1 Event read as the core/v1 fields the event printer uses."""
    return {
        "metadata": event.get("metadata") or {},
        "firstTimestamp": event.get("deprecatedFirstTimestamp"),
        "lastTimestamp": event.get("deprecatedLastTimestamp"),
        "eventTime": event.get("eventTime"),
        "count": event.get("deprecatedCount", 0),
        "series": event.get("series"),
        "involvedObject": event.get("regarding") or {},
        "type": event.get("type", ""),
        "reason": event.get("reason", ""),
        "message": event.get("note", ""),
        "source": event.get("deprecatedSource") or {},
        "reportingComponent": event.get("reportingController", ""),
        "reportingInstance": event.get("reportingInstance", ""),
    }


def _event_source(event: Obj) -> str:
    """`formatEventSource`: component (or reporting controller), then `, host` when known."""
    source = event.get("source") or {}
    component = source.get("component") or event.get("reportingComponent") or ""
    host = source.get("host") or event.get("reportingInstance") or ""
    return f"{component}, {host}" if host else component


def _event_row(event: Obj, clock: Clock) -> list[Any]:
    first = clock.since(event.get("firstTimestamp")) if event.get("firstTimestamp") else clock.since(
        event.get("eventTime"))
    last = clock.since(event.get("lastTimestamp")) if event.get("lastTimestamp") else first
    count = event.get("count") or 0
    series = event.get("series")
    if series:
        last = clock.since(series.get("lastObservedTime"))
        count = series.get("count", 0)
    elif count == 0:
        count = 1  # singleton events of the new API carry no count
    involved = event.get("involvedObject") or {}
    kind = (involved.get("kind") or "").lower()
    target = f"{kind}/{involved['name']}" if involved.get("name") else kind
    return [last, event.get("type", ""), event.get("reason", ""), target, involved.get("fieldPath", ""),
            _event_source(event), (event.get("message") or "").strip(), first, count, name_of(event)]


def _events_v1_row(event: Obj, clock: Clock) -> list[Any]:
    return _event_row(core_event_view(event), clock)


EVENT_COLUMNS = (
    Column("Last Seen", doc=("Event", "lastTimestamp")),
    Column("Type", doc=("Event", "type")),
    Column("Reason", doc=("Event", "reason")),
    Column("Object", doc=("Event", "involvedObject")),
    Column("Subobject", priority=1, doc=("ObjectReference", "fieldPath")),
    Column("Source", priority=1, doc=("Event", "source")),
    Column("Message", doc=("Event", "message")),
    Column("First Seen", priority=1, doc=("Event", "firstTimestamp")),
    Column("Count", priority=1, doc=("Event", "count")),
    Column("Name", priority=1, format="name", doc=(META, "name")),
)

# --- storage ---

_ACCESS_MODES = (("ReadWriteOnce", "RWO"), ("ReadOnlyMany", "ROX"), ("ReadWriteMany", "RWX"),
                 ("ReadWriteOncePod", "RWOP"))
_STORAGE_CLASS_ANNOTATION = "volume.beta.kubernetes.io/storage-class"


def _access_modes(modes: list[str] | None) -> str:
    """`GetAccessModesAsString`: fixed order, abbreviated."""
    present = set(modes or ())
    return ",".join(short for mode, short in _ACCESS_MODES if mode in present)


def _storage_class(obj: Obj) -> str:
    annotations = (obj.get("metadata") or {}).get("annotations") or {}
    if _STORAGE_CLASS_ANNOTATION in annotations:
        return annotations[_STORAGE_CLASS_ANNOTATION]
    return (obj.get("spec") or {}).get("storageClassName") or ""


def _phase(obj: Obj) -> str:
    if (obj.get("metadata") or {}).get("deletionTimestamp"):
        return "Terminating"
    return (obj.get("status") or {}).get("phase", "")


def _pv_row(pv: Obj, clock: Clock) -> list[Any]:
    spec = pv.get("spec") or {}
    claim = spec.get("claimRef")
    claim_text = f"{claim.get('namespace', '')}/{claim.get('name', '')}" if claim else ""
    return [name_of(pv), (spec.get("capacity") or {}).get("storage", "0"), _access_modes(spec.get("accessModes")),
            spec.get("persistentVolumeReclaimPolicy", ""), _phase(pv), claim_text, _storage_class(pv),
            spec.get("volumeAttributesClassName") or "<unset>", (pv.get("status") or {}).get("reason", ""),
            clock.age(pv), spec.get("volumeMode") or "<unset>"]


def _pvc_row(pvc: Obj, clock: Clock) -> list[Any]:
    spec, status = pvc.get("spec") or {}, pvc.get("status") or {}
    bound = bool(spec.get("volumeName"))
    capacity = (status.get("capacity") or {}).get("storage", "0") if bound else ""
    modes = _access_modes(status.get("accessModes")) if bound else ""
    return [name_of(pvc), _phase(pvc), spec.get("volumeName", ""), capacity, modes, _storage_class(pvc),
            spec.get("volumeAttributesClassName") or "<unset>", clock.age(pvc), spec.get("volumeMode") or "<unset>"]


def _resource_quota_row(quota: Obj, clock: Clock) -> list[Any]:
    status = quota.get("status") or {}
    hard, used = status.get("hard") or {}, status.get("used") or {}
    requests, limits = [], []
    for resource in sorted(hard):
        column = limits if resource.split(".")[0] == "limits" and "." in resource else requests
        column.append(f"{resource}: {used.get(resource, '0')}/{hard[resource]}")
    return [name_of(quota), ", ".join(requests), ", ".join(limits), clock.age(quota)]


# --- simple kinds ---


def _replication_controller_row(rc: Obj, clock: Clock) -> list[Any]:
    spec, status = rc.get("spec") or {}, rc.get("status") or {}
    names, images = containers_cells(((spec.get("template") or {}).get("spec") or {}).get("containers"))
    return [name_of(rc), spec.get("replicas", 0), status.get("replicas", 0), status.get("readyReplicas", 0),
            clock.age(rc), names, images, format_labels(spec.get("selector"))]


def _pod_template_row(template: Obj, clock: Clock) -> list[Any]:
    spec = template.get("template") or {}
    names, images = containers_cells((spec.get("spec") or {}).get("containers"))
    return [name_of(template), names, images, format_labels((spec.get("metadata") or {}).get("labels"))]


def _count_row(*fields: str) -> Any:
    """Name, the number of entries in `fields` together, age (ConfigMap DATA, ServiceAccount SECRETS)."""
    return lambda obj, clock: [name_of(obj), sum(len(obj.get(f) or ()) for f in fields), clock.age(obj)]


def _secret_row(secret: Obj, clock: Clock) -> list[Any]:
    return [name_of(secret), secret.get("type", ""), len(secret.get("data") or ()), clock.age(secret)]


def _namespace_row(ns: Obj, clock: Clock) -> list[Any]:
    return [name_of(ns), (ns.get("status") or {}).get("phase", ""), clock.age(ns)]


PRINTERS: dict[tuple[str, str], Printer] = {
    ("", "Service"): printer((
        NAME, Column("Type", doc=("ServiceSpec", "type")), Column("Cluster-IP", doc=("ServiceSpec", "clusterIP")),
        Column("External-IP", doc=("ServiceSpec", "externalIPs")), Column("Port(s)", doc=("ServiceSpec", "ports")),
        AGE, Column("Selector", priority=1, doc=("ServiceSpec", "selector")),
    ), _service_row),
    ("", "Endpoints"): printer((NAME, Column("Endpoints", doc=("Endpoints", "subsets")), AGE), _endpoints_row),
    ("", "Node"): printer((
        NAME, Column("Status", doc="The status of the node"), Column("Roles", doc="The roles of the node"), AGE,
        Column("Version", doc=("NodeSystemInfo", "kubeletVersion")),
        Column("Internal-IP", priority=1, doc=("NodeStatus", "addresses")),
        Column("External-IP", priority=1, doc=("NodeStatus", "addresses")),
        Column("OS-Image", priority=1, doc=("NodeSystemInfo", "osImage")),
        Column("Kernel-Version", priority=1, doc=("NodeSystemInfo", "kernelVersion")),
        Column("Container-Runtime", priority=1, doc=("NodeSystemInfo", "containerRuntimeVersion")),
    ), _node_row),
    ("", "Namespace"): printer((NAME, Column("Status", doc="The status of the namespace"), AGE), _namespace_row),
    ("", "Event"): printer(EVENT_COLUMNS, _event_row),
    ("events.k8s.io", "Event"): printer(EVENT_COLUMNS, _events_v1_row),
    ("", "ConfigMap"): printer((NAME, Column("Data", doc=("ConfigMap", "data")), AGE), _count_row("data", "binaryData")),
    ("", "Secret"): printer((NAME, Column("Type", doc=("Secret", "type")), Column("Data", doc=("Secret", "data")), AGE),
                            _secret_row),
    ("", "ServiceAccount"): printer((NAME, Column("Secrets", doc=("ServiceAccount", "secrets")), AGE),
                                    _count_row("secrets")),
    ("", "PersistentVolume"): printer((
        NAME, Column("Capacity", doc=("PersistentVolumeSpec", "capacity")),
        Column("Access Modes", doc=("PersistentVolumeSpec", "accessModes")),
        Column("Reclaim Policy", doc=("PersistentVolumeSpec", "persistentVolumeReclaimPolicy")),
        Column("Status", doc=("PersistentVolumeStatus", "phase")),
        Column("Claim", doc=("PersistentVolumeSpec", "claimRef")),
        Column("StorageClass", doc="StorageClass of the pv"),
        Column("VolumeAttributesClass", doc="VolumeAttributesClass of the pv"),
        Column("Reason", doc=("PersistentVolumeStatus", "reason")), AGE,
        Column("VolumeMode", priority=1, doc=("PersistentVolumeSpec", "volumeMode")),
    ), _pv_row),
    ("", "PersistentVolumeClaim"): printer((
        NAME, Column("Status", doc=("PersistentVolumeClaimStatus", "phase")),
        Column("Volume", doc=("PersistentVolumeClaimSpec", "volumeName")),
        Column("Capacity", doc=("PersistentVolumeClaimStatus", "capacity")),
        Column("Access Modes", doc=("PersistentVolumeClaimStatus", "accessModes")),
        Column("StorageClass", doc="StorageClass of the pvc"),
        Column("VolumeAttributesClass", doc="VolumeAttributesClass of the pvc"), AGE,
        Column("VolumeMode", priority=1, doc=("PersistentVolumeClaimSpec", "volumeMode")),
    ), _pvc_row),
    ("", "ResourceQuota"): printer((
        NAME,
        Column("Request", doc="Request represents a minimum amount of cpu/memory that a container may consume."),
        Column("Limit", doc="Limits control the maximum amount of cpu/memory that a container may use independent "
                            "of contention on the node."),
        AGE,
    ), _resource_quota_row),
    ("", "ReplicationController"): printer((
        NAME, *replica_columns("ReplicationControllerSpec", "ReplicationControllerStatus"), AGE, CONTAINERS, IMAGES,
        Column("Selector", priority=1, doc=("ReplicationControllerSpec", "selector")),
    ), _replication_controller_row),
    ("", "PodTemplate"): printer((
        NAME, Column("Containers", doc="Names of each container in the template."),
        Column("Images", doc="Images referenced by each container in the template."),
        Column("Pod Labels", doc="The labels for the pod template."),
    ), _pod_template_row),
}
