"""Resolving `kinn trace`'s FROM and TO (`pod/NAME`, `svc/NAME`, `node/NAME`, `client` or an IP) to
places on the network: a network namespace, the address packets leave or arrive with, and its node.

A pod's netns is the `cni-<uuid>` file its kubelet bind-mounted under the node's /run/netns, inside the
node's mount namespace — reached from the host through the node holder's /proc/<pid>/root. Which
one is the pod's is answered by the kernel (the netns holding the pod's IP), not by kubelet state.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
from dataclasses import dataclass, field
from pathlib import Path

from kinn import netlink
from kinn.client.rest import Client, resource
from kinn.cluster.cluster import Cluster
from kinn.cluster.node import Node

PODS = resource("v1", "pods")
SERVICES = resource("v1", "services")
ENDPOINT_SLICES = resource("discovery.k8s.io/v1", "endpointslices")
NODES = resource("v1", "nodes")


class TargetError(LookupError):
    """FROM or TO names nothing that can send or receive a probe."""


@dataclass(frozen=True)
class Place:
    """A network namespace on a packet's path."""

    label: str  # "pod default/client", "node worker-1", "client"
    netns: str  # a name under /var/run/netns or a path
    node: str | None = None  # the node it is on (for a pod) or is
    bridge: str | None = None  # the bridge it switches packets on, for the underlay
    bridge_mac: str | None = None  # that bridge's own address: packets sent to it are routed, not switched


@dataclass(frozen=True)
class Target:
    """What a probe is sent from or to."""

    label: str
    ip: str
    place: Place | None = None  # None for a Service's virtual IP or an address outside the cluster
    port: int | None = None  # a Service's port
    protocol: str | None = None  # a Service port's protocol
    backends: list[Place] = field(default_factory=list)  # a Service's endpoints' pods
    endpoints: list[tuple[str, int]] = field(default_factory=list)  # their (ip, port) for the chosen port


async def resolve(client: Client, cluster: Cluster, spec: str, namespace: str, port: int | None = None,
                  outside: bool = False) -> Target:
    """The Target named by `spec`; `port` picks a Service's port (default: its first). From
    `outside` the cluster (the client), a Service is reached at its LoadBalancer or external IP."""
    kind, _, name = spec.partition("/")
    if "/" in name:  # as kubectl, the namespace is not part of the name: the API would answer a bare 404
        namespace_given, _, bare = name.rpartition("/")
        raise TargetError(f'"{spec}": give the namespace with -n, as in -n {namespace_given} {kind}/{bare} '
                          "(-n applies to FROM and TO alike: to trace across namespaces, give one end's IP, "
                          "as `kubectl get svc,pods -A -o wide` shows it)")
    if spec == "client":
        from kinn.cluster.outside import ensure_client_netns  # creating the client netns needs pyroute2

        netns = await asyncio.to_thread(ensure_client_netns, cluster)
        return Target("client", cluster.spec.networking.client_ip, Place("client", netns))
    if kind == "node" and name:
        node = cluster.node(name)
        return await _exposed(client, cluster, Target(f"node {name}", node.spec.ip, node_place(node)), port)
    if kind in ("pod", "po") and name:
        return await _pod_target(client, cluster, await client.get(PODS, name, namespace))
    if kind in ("svc", "service") and name:
        return await _service_target(client, cluster, await client.get(SERVICES, name, namespace), port, outside)
    try:
        ipaddress.IPv4Address(spec)
    except ValueError:
        raise TargetError(f'"{spec}" is not pod/NAME, svc/NAME, node/NAME, client or an IPv4 address') from None
    return await _exposed(client, cluster, await _address_target(client, cluster, spec), port)


def node_place(node: Node) -> Place:
    return Place(f"node {node.name}", node.paths.netns, node.name)


async def _pod_target(client: Client, cluster: Cluster, pod: dict) -> Target:
    ip, node_name = pod.get("status", {}).get("podIP"), pod["spec"].get("nodeName")
    label = f"pod {pod['metadata']['namespace']}/{pod['metadata']['name']}"
    if not ip or not node_name:
        raise TargetError(f"{label} has no IP yet (phase {pod.get('status', {}).get('phase', 'Pending')})")
    if pod["spec"].get("hostNetwork"):
        return Target(label, ip, node_place(cluster.node(node_name)))
    return Target(label, ip, Place(label, str(await pod_netns(cluster.node(node_name), ip)), node_name))


async def _service_target(client: Client, cluster: Cluster, service: dict, port: int | None,
                          outside: bool) -> Target:
    meta, spec = service["metadata"], service["spec"]
    label = f"service {meta['namespace']}/{meta['name']}"
    ports = spec.get("ports", [])
    chosen = next((p for p in ports if port is None or p["port"] == port), None)
    if chosen is None or spec.get("clusterIP") in (None, "", "None"):
        raise TargetError(f"{label} has no cluster IP with port {port}")
    ip = spec["clusterIP"]
    if outside:  # no route leads from the underlay to a cluster IP, as on a real cluster
        reachable = _outside_ips(service)
        if not reachable:
            hint = f": trace to its NodePort instead, node/NAME --port {chosen['nodePort']}" \
                if chosen.get("nodePort") else ""
            raise TargetError(f"{label} has no LoadBalancer or external IP, and its cluster IP {ip} answers "
                              f"inside the cluster only{hint}")
        label, ip = f"{label} at", reachable[0]
    return await _with_backends(client, cluster, Target(label, ip, port=chosen["port"]), service, chosen)


async def _with_backends(client: Client, cluster: Cluster, target: Target, service: dict, service_port: dict) -> Target:
    """`target` with the pods behind one of `service`'s ports: their netns are on the probe's path."""
    meta = service["metadata"]
    slices = (await client.list(ENDPOINT_SLICES, meta["namespace"],
                                label_selector=f"kubernetes.io/service-name={meta['name']}")).get("items", [])
    backends = [await _backend_place(f"pod {meta['namespace']}/{endpoint['targetRef']['name']}",
                                     cluster.node(endpoint["nodeName"]), endpoint["addresses"][0])
                for eps in slices for endpoint in eps.get("endpoints") or []
                if endpoint.get("nodeName") and (endpoint.get("targetRef") or {}).get("kind") == "Pod"]
    return dataclasses.replace(target, protocol=service_port.get("protocol", "TCP").lower(), backends=backends,
                               endpoints=_endpoints(slices, service_port.get("name", "")))


async def _backend_place(label: str, node: Node, ip: str) -> Place:
    """Where an endpoint's pod receives: its own netns, or its node's for a hostNetwork pod (whose
    address is the node's: no pod netns holds it)."""
    if ip == node.spec.ip:
        return node_place(node)
    return Place(label, str(await pod_netns(node, ip)), node.name)


def _outside_ips(service: dict) -> list[str]:
    """The addresses a Service answers on from outside the cluster: LoadBalancer ingress, external IPs."""
    ingress = (service.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
    return [entry["ip"] for entry in ingress if entry.get("ip")] + list(service["spec"].get("externalIPs") or [])


async def _exposed(client: Client, cluster: Cluster, target: Target, port: int | None) -> Target:
    """A node, or an address, with the Service port it exposes at `port`, if any: a NodePort on a
    node; a port of a Service whose cluster IP, LoadBalancer IP or external IP the address is (a
    cluster IP given as an address is how a trace reaches a Service of another namespace). kube-proxy
    DNATs the probe to one of that Service's pods, so they are on its path too."""
    on_node = target.label.startswith("node ")
    if port is None or not (on_node or target.place is None):
        return target
    for service in (await client.list(SERVICES)).get("items", []):
        meta, answers_outside = service["metadata"], target.ip in _outside_ips(service)
        cluster_ip = not on_node and target.ip == service["spec"].get("clusterIP")
        for service_port in service["spec"].get("ports", []):
            if on_node and service_port.get("nodePort") == port:
                exposed = f"service {meta['namespace']}/{meta['name']}'s NodePort on {target.label}"
            elif cluster_ip and service_port["port"] == port:
                exposed = f"service {meta['namespace']}/{meta['name']}"
            elif answers_outside and service_port["port"] == port:
                exposed = f"service {meta['namespace']}/{meta['name']} at"
            else:
                continue
            return await _with_backends(client, cluster, dataclasses.replace(target, label=exposed), service,
                                        service_port)
    return target


def _endpoints(slices: list[dict], port_name: str) -> list[tuple[str, int]]:
    """The (ip, port) pairs behind a service port: its EndpointSlices' port of the same name."""
    return [(address, port["port"]) for eps in slices for port in eps.get("ports") or []
            if port.get("name", "") == port_name and port.get("port")
            for endpoint in eps.get("endpoints") or [] for address in endpoint.get("addresses", [])]


async def _address_target(client: Client, cluster: Cluster, ip: str) -> Target:
    """An address is whatever owns it: a node, a pod, the client — or nothing kinn knows (an outside address)."""
    for node in cluster.nodes:
        if node.spec.ip == ip:
            return Target(f"node {node.name}", ip, node_place(node))
    if ip == cluster.spec.networking.client_ip:
        return await resolve(client, cluster, "client", "")
    pods = await client.list(PODS, field_selector=f"status.podIP={ip}")
    for pod in pods.get("items", []):
        if pod.get("status", {}).get("phase") == "Running":
            return await _pod_target(client, cluster, pod)
    return Target(ip, ip)


async def pod_netns(node: Node, ip: str) -> Path:
    """The pod netns on `node` that holds `ip` (its eth0's address); netlink runs off the event loop."""
    return await asyncio.to_thread(_pod_netns, node, ip)


def _pod_netns(node: Node, ip: str) -> Path:
    holder = node.holder_pid()
    if holder is None:
        raise TargetError(f"node {node.name} is not running")
    for path in sorted(Path(f"/proc/{holder}/root/run/netns").glob("cni-*")):
        with netlink.iproute(path) as ipr:
            if ipr.get_addr(family=2, address=ip):
                return path
    raise TargetError(f"no pod network namespace on node {node.name} holds {ip}")
