"""What every proxy mode sees: service ports and their endpoints (pkg/proxy's ServicePort and Endpoint).

A Service becomes one `ServicePort` per port; its EndpointSlices become, per (port name, protocol),
a sorted list of `Endpoint`s. Both are frozen values built by pure functions, so a mode's rule
generator is a pure function of them and a change tracker can compare old with new.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from typing import Any, Iterable

Obj = dict[str, Any]

DEFAULT_STICKY_SECONDS = 10800  # v1.DefaultClientIPServiceAffinitySeconds
SERVICE_NAME_LABEL = "kubernetes.io/service-name"
PROXYABLE_TYPES = {"ClusterIP", "NodePort", "LoadBalancer"}


@dataclass(frozen=True, order=True)
class ServicePortName:
    """namespace/name:port — the `ns/svc:p` of kube-proxy's comments and chain hashes."""

    namespace: str
    name: str
    port: str = ""

    @property
    def service(self) -> tuple[str, str]:
        return self.namespace, self.name

    def __str__(self) -> str:
        # The `:` goes when the port has no name (upstream since v1.19; seed 000 shows `default/kubia:`).
        return f"{self.namespace}/{self.name}:{self.port}" if self.port else f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class ServicePort:
    name: ServicePortName
    protocol: str  # TCP, UDP, SCTP as in the Service
    cluster_ip: str
    port: int
    node_port: int = 0
    external_ips: tuple[str, ...] = ()
    load_balancer_ips: tuple[str, ...] = ()
    load_balancer_source_ranges: tuple[str, ...] = ()
    sticky_seconds: int = 0  # sessionAffinity ClientIP timeout; 0: no affinity
    external_policy_local: bool = False
    internal_policy_local: bool = False
    health_check_node_port: int = 0

    @property
    def externally_accessible(self) -> bool:
        return bool(self.node_port or self.external_ips or self.load_balancer_ips)

    @property
    def uses_cluster_endpoints(self) -> bool:
        """Cluster endpoints serve internal traffic under Cluster policy, and any external traffic: even
        under Local policy, pods and the node itself reach an external address through them."""
        return not self.internal_policy_local or self.externally_accessible

    @property
    def uses_local_endpoints(self) -> bool:
        return self.internal_policy_local or (self.externally_accessible and self.external_policy_local)


@dataclass(frozen=True, order=True)
class Endpoint:
    """One backend address of a service port; ordered by `ip:port` text as upstream sorts them."""

    text: str  # "ip:port", the sort key and what comments and hashes use
    ip: str
    port: int
    ready: bool = True
    serving: bool = True
    terminating: bool = False
    local: bool = False  # on this proxy's node

    def __str__(self) -> str:
        return self.text


def service_ports(service: Obj) -> list[ServicePort]:
    """The ports kube-proxy programs for a Service: none for headless, ExternalName or IP-less Services."""
    spec = service.get("spec") or {}
    cluster_ip = spec.get("clusterIP") or ""
    if spec.get("type", "ClusterIP") not in PROXYABLE_TYPES or cluster_ip in ("", "None") or ":" in cluster_ip:
        return []
    meta = service["metadata"]
    affinity = (spec.get("sessionAffinityConfig") or {}).get("clientIP") or {}
    sticky = (affinity.get("timeoutSeconds") or DEFAULT_STICKY_SECONDS) if spec.get("sessionAffinity") == "ClientIP" else 0
    ingress = ((service.get("status") or {}).get("loadBalancer") or {}).get("ingress") or []
    # ipMode Proxy means the load balancer, not the node, terminates the traffic: no node rules for it.
    lb_ips = tuple(i["ip"] for i in ingress if i.get("ip") and i.get("ipMode", "VIP") == "VIP" and ":" not in i["ip"])
    return [ServicePort(
        name=ServicePortName(meta.get("namespace", "default"), meta["name"], port.get("name") or ""),
        protocol=port.get("protocol", "TCP"),
        cluster_ip=cluster_ip,
        port=int(port["port"]),
        node_port=int(port.get("nodePort") or 0) if spec.get("type") in ("NodePort", "LoadBalancer") else 0,
        external_ips=tuple(ip for ip in spec.get("externalIPs") or () if ":" not in ip),
        load_balancer_ips=lb_ips if spec.get("type") == "LoadBalancer" else (),
        load_balancer_source_ranges=tuple(_cidrs(spec.get("loadBalancerSourceRanges") or ())),
        sticky_seconds=int(sticky),
        external_policy_local=spec.get("externalTrafficPolicy") == "Local",
        internal_policy_local=spec.get("internalTrafficPolicy") == "Local",
        health_check_node_port=int(spec.get("healthCheckNodePort") or 0),
    ) for port in spec.get("ports") or ()]


def _cidrs(ranges: Iterable[str]) -> Iterable[str]:
    for text in ranges:
        try:
            yield str(ipaddress.ip_network(text.strip(), strict=False))
        except ValueError:
            continue  # validation rejects these; an old object must not stop the sync


def slice_service(endpoint_slice: Obj) -> tuple[str, str] | None:
    """The (namespace, name) of the Service an EndpointSlice belongs to; None for IPv6 or unowned slices."""
    meta = endpoint_slice["metadata"]
    service = (meta.get("labels") or {}).get(SERVICE_NAME_LABEL)
    if not service or endpoint_slice.get("addressType", "IPv4") != "IPv4":
        return None
    return meta.get("namespace", "default"), service


def slice_endpoints(slices: Iterable[Obj], node_name: str) -> dict[tuple[str, str], list[Endpoint]]:
    """Endpoints per (port name, protocol) of one Service's slices, de-duplicated by `ip:port`
    (the same pod can appear in two slices while the controller moves it) and sorted."""
    merged: dict[tuple[str, str], dict[str, Endpoint]] = {}
    for endpoint_slice in slices:
        for port in endpoint_slice.get("ports") or ():
            if port.get("port") is None:
                continue
            by_text = merged.setdefault((port.get("name") or "", port.get("protocol", "TCP")), {})
            for endpoint in endpoint_slice.get("endpoints") or ():
                for ep in _endpoints(endpoint, int(port["port"]), node_name):
                    by_text.setdefault(ep.text, ep)
    return {key: sorted(by_text.values()) for key, by_text in merged.items()}


def _endpoints(endpoint: Obj, port: int, node_name: str) -> Iterable[Endpoint]:
    conditions = endpoint.get("conditions") or {}
    ready = conditions.get("ready") is not False  # nil means ready
    serving = conditions.get("serving") is not False  # nil means serving, as upstream reads it
    for ip in (endpoint.get("addresses") or ())[:1]:  # upstream uses the first address only
        yield Endpoint(text=f"{ip}:{port}", ip=ip, port=port, ready=ready, serving=serving,
                       terminating=conditions.get("terminating") is True,
                       local=bool(node_name) and endpoint.get("nodeName") == node_name)


@dataclass(frozen=True)
class Categorized:
    """CategorizeEndpoints' answer for one service port on one node."""

    cluster: tuple[Endpoint, ...]  # what Cluster policy balances over
    local: tuple[Endpoint, ...]  # what Local policy balances over
    reachable: tuple[Endpoint, ...]  # every endpoint some rule of this node may send to
    has_any: bool  # usable endpoints exist somewhere in the cluster


def categorize(endpoints: list[Endpoint], svc: ServicePort) -> Categorized:
    """Ready endpoints, falling back to serving-and-terminating ones when none is ready (so a rolling
    update's last old pod still answers); the local subset for Local policies."""
    cluster: list[Endpoint] = []
    has_any = False
    if svc.uses_cluster_endpoints:
        cluster = [ep for ep in endpoints if ep.ready] or [ep for ep in endpoints if ep.serving and ep.terminating]
        has_any = bool(cluster)
    if not svc.uses_local_endpoints:
        return Categorized(tuple(cluster), (), tuple(cluster), has_any)
    usable = [ep for ep in endpoints if ep.ready or (ep.serving and ep.terminating)]
    has_any = has_any or bool(usable)
    local = [ep for ep in endpoints if ep.local and ep.ready] or \
            [ep for ep in endpoints if ep.local and ep.serving and ep.terminating]
    if not svc.uses_cluster_endpoints:
        return Categorized((), tuple(local), tuple(local), has_any)
    reachable = {ep.text: ep for ep in (*cluster, *local)}
    return Categorized(tuple(cluster), tuple(local), tuple(sorted(reachable.values())), has_any)
