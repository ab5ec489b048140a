"""Defaults for core/v1 kinds, as pkg/apis/core/v1/defaults.go (plus the v1 conversions that show
in `kubectl get -o yaml`: quantities re-rendered canonically, Secret stringData folded into data,
serviceAccount mirrored from serviceAccountName).

Every function fills only fields that are unset, so running it on an already defaulted object is a
no-op; the API server applies it to every create, update and patch result.
"""

from __future__ import annotations

import base64
from typing import Any, Callable

from kinn.api.quantity import Quantity, QuantityError, canonical_quantity

Obj = dict[str, Any]

DEFAULT_FILE_MODE = 0o644  # 420, the defaultMode of secret/configMap/downwardAPI/projected volumes
_PROBE_DEFAULTS = {"timeoutSeconds": 1, "periodSeconds": 10, "successThreshold": 1, "failureThreshold": 3}
_VOLUME_SOURCES_WITH_MODE = ("secret", "configMap", "downwardAPI", "projected")


def canonicalize_quantities(resources: Obj | None) -> None:
    """Quantities round-trip through resource.Quantity upstream, so `0.5` is stored as `500m`."""
    for name, value in (resources or {}).items():
        try:
            resources[name] = canonical_quantity(str(value))  # type: ignore[index]
        except QuantityError:
            pass  # left for validation to report


def _image_tag(image: str) -> str:
    """The tag of an image reference as the kubelet's parser sees it: `latest` when neither tag
    nor digest is given, empty for digests."""
    if "@" in image:
        return ""
    last = image.rsplit("/", 1)[-1]
    return last.rsplit(":", 1)[1] if ":" in last else "latest"


def _default_probe(probe: Obj | None) -> None:
    if probe is None:
        return
    for key, value in _PROBE_DEFAULTS.items():
        probe.setdefault(key, value)
    _default_http_get(probe.get("httpGet"))


def _default_http_get(action: Obj | None) -> None:
    if action is not None:
        action.setdefault("path", "/")
        action.setdefault("scheme", "HTTP")


def _default_env(env: list[Obj]) -> None:
    for var in env:
        source = var.get("valueFrom") or {}
        if source.get("fieldRef") is not None:
            source["fieldRef"].setdefault("apiVersion", "v1")
        if source.get("resourceFieldRef") is not None:
            source["resourceFieldRef"].setdefault("divisor", "0")


def default_container(container: Obj) -> None:
    """SetDefaults_Container and friends: pull policy from the tag, termination message, ports,
    probes, lifecycle handlers, env field references and canonical resource quantities."""
    if not container.get("imagePullPolicy"):
        container["imagePullPolicy"] = "Always" if _image_tag(container.get("image") or "") == "latest" else "IfNotPresent"
    container.setdefault("terminationMessagePath", "/dev/termination-log")
    container.setdefault("terminationMessagePolicy", "File")
    for port in container.get("ports") or []:
        port.setdefault("protocol", "TCP")
    for probe in ("livenessProbe", "readinessProbe", "startupProbe"):
        _default_probe(container.get(probe))
    for hook in ((container.get("lifecycle") or {}).get(k) for k in ("postStart", "preStop")):
        _default_http_get((hook or {}).get("httpGet"))
    _default_env(container.get("env") or [])
    resources = container.setdefault("resources", {})
    canonicalize_quantities(resources.get("limits"))
    canonicalize_quantities(resources.get("requests"))


def _default_downward_items(items: list[Obj]) -> None:
    for item in items:
        if item.get("fieldRef") is not None:
            item["fieldRef"].setdefault("apiVersion", "v1")


def default_volume(volume: Obj) -> None:
    """A volume with no source is an emptyDir (SetDefaults_Volume); file-projecting sources get
    mode 0644 and hostPath an explicit empty type."""
    if not any(isinstance(v, dict) for k, v in volume.items() if k != "name"):
        volume["emptyDir"] = {}
    for kind in _VOLUME_SOURCES_WITH_MODE:
        if volume.get(kind) is not None:
            volume[kind].setdefault("defaultMode", DEFAULT_FILE_MODE)
    if volume.get("hostPath") is not None:
        volume["hostPath"].setdefault("type", "")
    _default_downward_items((volume.get("downwardAPI") or {}).get("items") or [])
    for projection in (volume.get("projected") or {}).get("sources") or []:
        _default_downward_items((projection.get("downwardAPI") or {}).get("items") or [])
        token = projection.get("serviceAccountToken")
        if token is not None:
            token.setdefault("expirationSeconds", 3600)
    empty_dir = volume.get("emptyDir") or {}
    if empty_dir.get("sizeLimit") is not None:
        size = {"sizeLimit": empty_dir["sizeLimit"]}
        canonicalize_quantities(size)
        empty_dir.update(size)


def default_pod_spec(spec: Obj) -> None:
    """SetDefaults_PodSpec plus the v1 conversion of the deprecated `serviceAccount` field."""
    spec.setdefault("dnsPolicy", "ClusterFirst")
    spec.setdefault("restartPolicy", "Always")
    if spec.get("securityContext") is None:
        spec["securityContext"] = {}
    if spec.get("terminationGracePeriodSeconds") is None:
        spec["terminationGracePeriodSeconds"] = 30
    spec.setdefault("schedulerName", "default-scheduler")
    if not spec.get("serviceAccountName") and spec.get("serviceAccount"):
        spec["serviceAccountName"] = spec["serviceAccount"]
    if spec.get("serviceAccountName"):
        spec["serviceAccount"] = spec["serviceAccountName"]
    for kind in ("containers", "initContainers", "ephemeralContainers"):
        for container in spec.get(kind) or []:
            default_container(container)
    for volume in spec.get("volumes") or []:
        default_volume(volume)


def default_pod_template_spec(template: Obj | None) -> None:
    if template is not None:
        default_pod_spec(template.setdefault("spec", {}))


def _requests_from_limits(containers: list[Obj]) -> None:
    """A Pod (not a template) whose container sets only limits requests exactly those limits."""
    for container in containers:
        resources = container.get("resources") or {}
        limits = resources.get("limits")
        if limits:
            requests = resources.setdefault("requests", {})
            for name, value in limits.items():
                requests.setdefault(name, value)


def _host_network_ports(containers: list[Obj]) -> None:
    """With hostNetwork a container port is a host port; upstream fills hostPort to say so."""
    for container in containers:
        for port in container.get("ports") or []:
            if not port.get("hostPort"):
                port["hostPort"] = port.get("containerPort")


def qos_class(spec: Obj) -> str:
    """The pod's QoS class (pkg/apis/core/helper/qos): Guaranteed when every container has equal
    cpu and memory requests and limits, BestEffort when none sets any, else Burstable."""
    containers = (spec.get("containers") or []) + (spec.get("initContainers") or [])
    any_set, guaranteed = False, True
    for container in containers:
        resources = container.get("resources") or {}
        requests, limits = resources.get("requests") or {}, resources.get("limits") or {}
        for name in ("cpu", "memory"):
            if name in requests or name in limits:
                any_set = True
            if name not in limits or Quantity.parse(str(requests.get(name, limits[name]))) != Quantity.parse(str(limits[name])):
                guaranteed = False
    if not any_set:
        return "BestEffort"
    return "Guaranteed" if guaranteed else "Burstable"


def default_pod(pod: Obj) -> None:
    """SetDefaults_Pod, plus what a 1.32 server shows on every new Pod without extra admission:
    priority 0 / PreemptLowerPriority (the Priority plugin's default class) and status Pending."""
    spec = pod.setdefault("spec", {})
    _requests_from_limits(spec.get("containers") or [])
    _requests_from_limits(spec.get("initContainers") or [])
    spec.setdefault("enableServiceLinks", True)
    if spec.get("hostNetwork"):
        _host_network_ports((spec.get("containers") or []) + (spec.get("initContainers") or []))
    default_pod_spec(spec)
    if not spec.get("priorityClassName"):
        spec.setdefault("priority", 0)
        spec.setdefault("preemptionPolicy", "PreemptLowerPriority")
    status = pod.setdefault("status", {})
    status.setdefault("phase", "Pending")
    try:
        status.setdefault("qosClass", qos_class(spec))
    except QuantityError:
        pass  # validation reports the bad quantity


def default_service(svc: Obj) -> None:
    """SetDefaults_Service. Cluster IPs, IP families and node ports come from the allocators."""
    spec = svc.setdefault("spec", {})
    spec.setdefault("type", "ClusterIP")
    spec.setdefault("sessionAffinity", "None")
    if spec["sessionAffinity"] == "None":
        spec.pop("sessionAffinityConfig", None)
    elif spec["sessionAffinity"] == "ClientIP":
        client_ip = spec.setdefault("sessionAffinityConfig", {}).setdefault("clientIP", {})
        client_ip.setdefault("timeoutSeconds", 10800)
    for port in spec.get("ports") or []:
        port.setdefault("protocol", "TCP")
        if port.get("targetPort") in (None, 0, ""):
            port["targetPort"] = port.get("port")
    kind = spec["type"]
    if (kind in ("NodePort", "LoadBalancer") or (kind == "ClusterIP" and spec.get("externalIPs"))) and not spec.get(
        "externalTrafficPolicy"
    ):
        spec["externalTrafficPolicy"] = "Cluster"
    if kind in ("ClusterIP", "NodePort", "LoadBalancer"):
        spec.setdefault("internalTrafficPolicy", "Cluster")
    if kind == "LoadBalancer":
        spec.setdefault("allocateLoadBalancerNodePorts", True)
    svc.setdefault("status", {}).setdefault("loadBalancer", {})


def default_replication_controller(rc: Obj) -> None:
    """Selector and object labels come from the template's labels when unset; one replica."""
    spec = rc.setdefault("spec", {})
    template = spec.get("template")
    labels = ((template or {}).get("metadata") or {}).get("labels")
    if labels:
        if not spec.get("selector"):
            spec["selector"] = dict(labels)
        meta = rc.setdefault("metadata", {})
        if not meta.get("labels"):
            meta["labels"] = dict(labels)
    if spec.get("replicas") is None:
        spec["replicas"] = 1
    default_pod_template_spec(template)


def default_pod_template(template: Obj) -> None:
    default_pod_template_spec(template.get("template"))


def default_namespace(ns: Obj) -> None:
    """The immutable `kubernetes.io/metadata.name` label, the `kubernetes` finalizer that the
    namespace controller removes after emptying it, and phase Active."""
    meta = ns.setdefault("metadata", {})
    if meta.get("name"):
        meta.setdefault("labels", {})["kubernetes.io/metadata.name"] = meta["name"]
    spec = ns.setdefault("spec", {})
    if not spec.get("finalizers"):
        spec["finalizers"] = ["kubernetes"]
    ns.setdefault("status", {}).setdefault("phase", "Active")


def default_secret(secret: Obj) -> None:
    """Type Opaque; `stringData` is write-only and merged over `data`, base64-encoded, as the v1
    conversion does."""
    if not secret.get("type"):
        secret["type"] = "Opaque"
    string_data = secret.pop("stringData", None)
    if string_data:
        data = secret.setdefault("data", {})
        for key, value in string_data.items():
            data[key] = base64.b64encode(str(value).encode()).decode()


def default_persistent_volume(pv: Obj) -> None:
    spec = pv.setdefault("spec", {})
    spec.setdefault("persistentVolumeReclaimPolicy", "Retain")
    spec.setdefault("volumeMode", "Filesystem")
    canonicalize_quantities(spec.get("capacity"))
    if spec.get("hostPath") is not None:
        spec["hostPath"].setdefault("type", "")
    pv.setdefault("status", {}).setdefault("phase", "Pending")


def default_persistent_volume_claim(pvc: Obj) -> None:
    spec = pvc.setdefault("spec", {})
    spec.setdefault("volumeMode", "Filesystem")
    resources = spec.get("resources") or {}
    canonicalize_quantities(resources.get("requests"))
    canonicalize_quantities(resources.get("limits"))
    pvc.setdefault("status", {}).setdefault("phase", "Pending")


def default_endpoints(ep: Obj) -> None:
    for subset in ep.get("subsets") or []:
        for port in subset.get("ports") or []:
            port.setdefault("protocol", "TCP")


def default_node(node: Obj) -> None:
    """Allocatable defaults to capacity (SetDefaults_NodeStatus)."""
    status = node.get("status")
    if status and status.get("capacity") and status.get("allocatable") is None:
        status["allocatable"] = dict(status["capacity"])


def default_limit_range(lr: Obj) -> None:
    """For Container items: default limit from max, default request from the default limit, then
    from min (SetDefaults_LimitRangeItem)."""
    for item in (lr.get("spec") or {}).get("limits") or []:
        for key in ("max", "min", "default", "defaultRequest", "maxLimitRequestRatio"):
            canonicalize_quantities(item.get(key))
        if item.get("type") != "Container":
            continue
        default = {**(item.get("max") or {}), **(item.get("default") or {})}
        request = {**(item.get("min") or {}), **default, **(item.get("defaultRequest") or {})}
        if default:
            item["default"] = default
        if request:
            item["defaultRequest"] = request


def default_resource_quota(quota: Obj) -> None:
    canonicalize_quantities((quota.get("spec") or {}).get("hard"))


DEFAULTERS: dict[str, Callable[[Obj], None]] = {
    "Pod": default_pod,
    "PodTemplate": default_pod_template,
    "ReplicationController": default_replication_controller,
    "Service": default_service,
    "Namespace": default_namespace,
    "Secret": default_secret,
    "PersistentVolume": default_persistent_volume,
    "PersistentVolumeClaim": default_persistent_volume_claim,
    "Endpoints": default_endpoints,
    "Node": default_node,
    "LimitRange": default_limit_range,
    "ResourceQuota": default_resource_quota,
}
