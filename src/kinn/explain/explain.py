"""`kinn explain svc/NAME | pod/NAME`: the objects involved, then per node the kernel state implementing them.

The objects come from the API (through kinn.topology's snapshot, which also holds each node's links,
pod sandboxes and flannel entries); the rules, routes and conntrack entries are read from each
node's kernel as the command runs. For a Service, every node is shown, because kube-proxy programs
every node; for a pod, every node too, since any node may route to it.
"""

from __future__ import annotations

import dataclasses
import ipaddress
from dataclasses import dataclass, field
from typing import Any

from kinn.cluster.cluster import Cluster
from kinn.cluster.node import Node
from kinn.controllers.endpointsutil import selector_matches
from kinn.explain import kernel
from kinn.explain.rules import conntrack_entries, iptables_service_rules, nft_service_rules
from kinn.topology.model import NodeNetwork, PodPort, ServiceView, Topology, build, service_view

Obj = dict[str, Any]


class NotFound(LookupError):
    pass


@dataclass
class NodeFindings:
    name: str
    ip: str
    rules: dict[str, list[str]] = field(default_factory=dict)  # iptables table or "nftables" → lines
    routes: dict[str, str] = field(default_factory=dict)  # destination IP → `ip route get`
    tunnels: list[str] = field(default_factory=list)  # flannel.1 route/neighbour/FDB (host-gw: route) toward those IPs
    host_gw: bool = False  # the tunnels are host-gw routes: no flannel.1, no neighbour or FDB entry
    wiring: list[str] = field(default_factory=list)  # the pod's veth, bridge port, sandbox (its node only)
    conntrack: list[str] = field(default_factory=list)


@dataclass
class Explanation:
    kind: str  # Service | Pod
    namespace: str
    name: str
    summary: list[str]  # the objects, one line each, for people
    detail: Obj  # the same, structured, for tools
    nodes: list[NodeFindings]


def _find(items: list[Obj], kind: str, namespace: str, name: str) -> Obj:
    for item in items:
        if (item["metadata"].get("namespace"), item["metadata"]["name"]) == (namespace, name):
            return item
    raise NotFound(f'{kind} "{name}" not found in namespace "{namespace}"')


def _tunnels_toward(node: NodeNetwork, ips: list[str]) -> list[str]:
    addresses = [ipaddress.ip_address(ip) for ip in ips]
    return [tunnel.describe() for tunnel in node.tunnels
            if any(address in ipaddress.ip_network(tunnel.subnet) for address in addresses)]


def _findings(node: Node, view: NodeNetwork, targets: list[str], ips: set[str], ports: set[int]) -> NodeFindings:
    """Routes and tunnel entries toward `targets`, conntrack entries naming `ips` or `ports`."""
    return NodeFindings(view.name, view.ip, routes=kernel.routes_to(node, targets),
                        tunnels=_tunnels_toward(view, targets),
                        host_gw=any(tunnel.vtep_mac is None for tunnel in view.tunnels),
                        conntrack=conntrack_entries(kernel.conntrack_table(node), ips, ports))


def _proxy_rules(node: Node, mode: str, service: str) -> dict[str, list[str]]:
    if mode == "nftables":
        return {"nftables": nft_service_rules(kernel.nft_kube_proxy_table(node), service)}
    return iptables_service_rules(kernel.iptables_rules(node), service)  # iptables and userspace (KUBE-PORTALS-…)


def _service_summary(view: ServiceView, nodes: list[NodeNetwork]) -> list[str]:
    lines = [f"Service {view.key}: type {view.type}, ClusterIP {view.cluster_ip or 'None'}"]
    for port in view.ports:
        lines.append(f"  port {port.name or '(unnamed)'} {port.port}/{port.protocol} → targetPort {port.target_port}"
                     + (f", NodePort {port.node_port} on every node" if port.node_port else ""))
    lines += [f"  LoadBalancer ingress {ip}" for ip in view.ingress]
    lines.append("EndpointSlices:" if view.backends else "EndpointSlices: no endpoints")
    for b in view.backends:
        state = ", ".join(name for name, on in (("ready", b.ready), ("serving", b.serving), ("terminating", b.terminating))
                          if on) or "not ready"
        where = f"pod {b.pod} on node {b.node}" if b.pod else (f"node {b.node}" if b.node else "not a pod")
        lines.append(f"  {b.slice}: {b.ip}:{','.join(map(str, b.ports))} ({state}) {where}")
    lines.append("Nodes: " + ", ".join(f"{node.name} {node.ip}" for node in nodes))
    return lines


def explain_service(cluster: Cluster, snapshot: Obj, namespace: str, name: str) -> Explanation:
    objects = snapshot["objects"]
    topology = build(snapshot)
    service = _find(objects["services"], "services", namespace, name)
    view = service_view(service, objects["endpointslices"], objects["pods"], {n.ip: n.name for n in topology.nodes})
    ips = {ip for ip in (view.cluster_ip, *view.ingress) if ip}
    ports = {port.node_port for port in view.ports if port.node_port}
    backends = sorted({b.ip for b in view.backends})
    findings = []
    for node in cluster.nodes:
        found = _findings(node, topology.node(node.name), backends, ips, ports)
        found.rules = _proxy_rules(node, snapshot["underlay"]["proxyMode"], view.key)
        findings.append(found)
    return Explanation("Service", namespace, name, _service_summary(view, list(topology.nodes)),
                       dataclasses.asdict(view), findings)


def _controller(pod: Obj, replicasets: list[Obj]) -> str | None:
    """`ReplicaSet web-5d4f (Deployment web)`: the controller owning the pod, and the one owning that."""
    owner = next((ref for ref in pod["metadata"].get("ownerReferences") or [] if ref.get("controller")), None)
    if owner is None:
        return None
    text = f"{owner['kind']} {owner['name']}"
    if owner["kind"] == "ReplicaSet":
        rs = next((r for r in replicasets if (r["metadata"]["namespace"], r["metadata"]["name"]) ==
                   (pod["metadata"]["namespace"], owner["name"])), None)
        parent = next((ref for ref in (rs or {}).get("metadata", {}).get("ownerReferences") or [] if ref.get("controller")), None)
        if parent:
            text += f" ({parent['kind']} {parent['name']})"
    return text


def _pod_summary(pod: Obj, port: PodPort, node: NodeNetwork, objects: dict[str, list[Obj]], cni_network: str) -> list[str]:
    controller = _controller(pod, objects["replicasets"])
    selecting = [f"{s['metadata']['namespace']}/{s['metadata']['name']}" for s in objects["services"]
                 if s["metadata"]["namespace"] == port.namespace and s["spec"].get("selector")
                 and selector_matches(s["spec"]["selector"], pod["metadata"].get("labels"))]
    return [
        f"Pod {port.key}: IP {port.ip} on node {node.name} ({node.ip}), phase {pod['status'].get('phase')}",
        f"  controlled by {controller}" if controller else "  no controller (a bare pod)",
        f"  sandbox netns {port.netns} (`ip netns` on {node.name}); sandbox ID {port.sandbox_id or 'unknown'}"
        f" (/var/lib/cni/networks/{cni_network}/{port.ip})",
        f"  {port.eth0} in the pod ↔ {port.veth_label} on the node" + (f", a port of bridge {port.bridge}" if port.bridge else ""),
        "  routes in the pod: " + "; ".join(port.routes),
        "  selected by Services: " + (", ".join(selecting) or "none"),
    ]


def _pod_wiring(port: PodPort) -> list[str]:
    return [f"netns {port.netns}: eth0 ifindex {port.eth0_index}, peer ifindex {port.veth_index}",
            f"{port.veth} ifindex {port.veth_index}, peer ifindex {port.eth0_index}"
            + (f", master {port.bridge}" if port.bridge else ", on no bridge")]


def explain_pod(cluster: Cluster, snapshot: Obj, namespace: str, name: str) -> Explanation:
    objects = snapshot["objects"]
    pod = _find(objects["pods"], "pods", namespace, name)
    topology: Topology = build(snapshot)
    found = topology.pod(namespace, name)
    host = pod["spec"].get("nodeName")
    if found is None and pod["spec"].get("hostNetwork") and host:
        raise NotFound(f'pod "{name}" uses its node\'s network (hostNetwork): no netns, veth or IP of its own to '
                       f"explain; `kinn node exec --name {cluster.name} {host} -- ip addr` shows node {host}'s")
    if found is None:
        raise NotFound(f'pod "{name}" has no network sandbox on any node (phase {pod["status"].get("phase")})')
    home, port = found
    findings = []
    for node in cluster.nodes:
        result = _findings(node, topology.node(node.name), [port.ip], {port.ip}, set())
        if node.name == home.name:
            result.wiring = _pod_wiring(port)
        findings.append(result)
    return Explanation("Pod", namespace, name,
                       _pod_summary(pod, port, home, objects, cluster.spec.networking.cni_network),
                       {"node": home.name, **dataclasses.asdict(port), "eth0": port.eth0}, findings)
