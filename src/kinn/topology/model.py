"""The cluster's network as seeds 002 and 003 draw it, built from a live snapshot (kinn.topology.live).

Nodes on the underlay bridge; in each node its CNI bridge, the veth pairs to its pods (a pod's
`eth0@ifN` is the node's `vethXXXX` with ifindex N), flannel.1 and the tunnels its routes,
neighbours and FDB entries make to the other nodes (or host-gw routes via their eth0); Services
with their ClusterIPs, NodePorts and the endpoints behind them. A pure function of the snapshot,
so it is tested on captured snapshots and shared by every renderer and by `kinn explain`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Iterable

Obj = dict[str, Any]
UNDERLAY_LINK = "eth0"


@dataclass(frozen=True)
class Interface:
    name: str
    index: int
    mac: str
    addresses: tuple[str, ...]


@dataclass(frozen=True)
class PodPort:
    """A pod as its node wires it: the sandbox netns and the veth pair to the bridge."""

    namespace: str  # "" for a sandbox the API no longer knows (e.g. being torn down)
    name: str
    ip: str
    netns: str  # cni-<uuid>
    sandbox_id: str | None  # from host-local's file for the IP
    eth0_index: int
    veth: str  # the node's end
    veth_index: int
    bridge: str | None  # the veth's master
    routes: tuple[str, ...]  # inside the pod, as `ip route` prints them

    @property
    def eth0(self) -> str:
        """`eth0@ifN`: N is the node-side veth's ifindex, as `ip link` in the pod shows it."""
        return f"eth0@if{self.veth_index}"

    @property
    def veth_label(self) -> str:
        return f"{self.veth}@if{self.eth0_index}"

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}" if self.namespace else self.netns


@dataclass(frozen=True)
class Tunnel:
    """How a node reaches another node's pod subnet: flannel.1 (VXLAN) or, in host-gw mode, eth0."""

    subnet: str
    device: str
    gateway: str | None
    vtep_mac: str | None  # the neighbour entry for the gateway (VXLAN)
    remote_ip: str | None  # the FDB entry's dst for that MAC (VXLAN) or the gateway (host-gw)
    remote_node: str | None

    def describe(self) -> str:
        """The route and, for VXLAN, the neighbour and FDB entries it relies on, as `ip`/`bridge` print them."""
        remote = f" ({self.remote_node})" if self.remote_node else ""
        if self.vtep_mac is None:
            return f"{self.subnet} via {self.gateway} dev {self.device}{remote}  host-gw"
        return (f"{self.subnet} via {self.gateway} dev {self.device} onlink; neigh {self.gateway} lladdr {self.vtep_mac} "
                f"PERMANENT; fdb {self.vtep_mac} dst {self.remote_ip or '?'}{remote}")


@dataclass(frozen=True)
class NodeNetwork:
    name: str
    ip: str
    eth0: Interface | None
    bridge: Interface | None
    vtep: Interface | None
    pods: tuple[PodPort, ...]
    tunnels: tuple[Tunnel, ...]
    link_names: dict[int, str]


@dataclass(frozen=True)
class Backend:
    slice: str  # the EndpointSlice listing it
    ip: str
    ports: tuple[int, ...]
    ready: bool
    serving: bool
    terminating: bool
    pod: str | None  # namespace/name, if a pod
    node: str | None  # the pod's node, or the node whose IP it is (the kubernetes Service's API server)


@dataclass(frozen=True)
class ServicePortView:
    name: str
    protocol: str
    port: int
    target_port: str
    node_port: int | None


@dataclass(frozen=True)
class ServiceView:
    namespace: str
    name: str
    type: str
    cluster_ip: str | None
    ports: tuple[ServicePortView, ...]
    ingress: tuple[str, ...]  # status.loadBalancer.ingress IPs
    backends: tuple[Backend, ...]
    external_name: str | None = None  # an ExternalName Service's DNS name (a CNAME, no cluster IP)

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def address(self) -> str:
        """What the Service's name resolves to: its cluster IP, `None` (headless), or `→ NAME` (ExternalName)."""
        return f"→ {self.external_name}" if self.external_name else self.cluster_ip or "None"


@dataclass(frozen=True)
class Topology:
    cluster: str
    underlay_bridge: str
    underlay_address: str
    backend: str
    proxy_mode: str
    client: str | None
    nodes: tuple[NodeNetwork, ...]
    services: tuple[ServiceView, ...]

    def node(self, name: str) -> NodeNetwork | None:
        return next((node for node in self.nodes if node.name == name), None)

    def pod(self, namespace: str, name: str) -> tuple[NodeNetwork, PodPort] | None:
        return next(((node, pod) for node in self.nodes for pod in node.pods
                     if (pod.namespace, pod.name) == (namespace, name)), None)


def format_route(route: Obj, link_names: dict[int, str]) -> str:
    """One route as `ip route` prints it: `10.244.2.0/24 via 10.244.2.0 dev flannel.1 onlink`."""
    dst = "default" if route["dst"] == "0.0.0.0/0" else route["dst"].removesuffix("/32")
    parts = [dst]
    if route.get("gateway"):
        parts += ["via", route["gateway"]]
    if route.get("oif") is not None:
        parts += ["dev", link_names.get(route["oif"], f"if{route['oif']}")]
    if route.get("onlink"):
        parts.append("onlink")
    return " ".join(parts)


def _interface(links: Iterable[Obj], name: str | None = None, kind: str | None = None) -> Interface | None:
    for link in links:
        if (name is None or link["name"] == name) and (kind is None or link["kind"] == kind):
            return Interface(link["name"], link["index"], link["mac"], tuple(link["addresses"]))
    return None


def _pod_index(pods: list[Obj]) -> dict[tuple[str, str], Obj]:
    """Running pods by (node, pod IP); hostNetwork pods share their node's IP and have no sandbox netns."""
    return {(pod["spec"].get("nodeName", ""), pod["status"]["podIP"]): pod for pod in pods
            if pod.get("status", {}).get("podIP") and not pod["spec"].get("hostNetwork")}


def _pod_ports(state: Obj, pods: dict[tuple[str, str], Obj]) -> tuple[PodPort, ...]:
    node_links = {link["index"]: link for link in state["links"]}
    ports = []
    for sandbox in state["sandboxes"]:
        eth0 = next((link for link in sandbox["links"] if link["name"] == "eth0"), None)
        if eth0 is None or not eth0["addresses"]:
            continue
        ip = eth0["addresses"][0].split("/")[0]
        veth = node_links.get(eth0["peer_index"]) or {"name": "?", "index": eth0["peer_index"], "master": None}
        pod = pods.get((state["name"], ip))
        names = {link["index"]: link["name"] for link in sandbox["links"]}
        master = node_links.get(veth["master"]) if veth.get("master") else None
        ports.append(PodPort(
            namespace=pod["metadata"]["namespace"] if pod else "", name=pod["metadata"]["name"] if pod else "",
            ip=ip, netns=sandbox["netns"], sandbox_id=state["ipam"].get(ip), eth0_index=eth0["index"],
            veth=veth["name"], veth_index=veth["index"], bridge=master["name"] if master else None,
            routes=tuple(format_route(route, names) for route in sandbox["routes"])))
    return tuple(sorted(ports, key=lambda port: (port.key, port.ip)))


def _tunnels(state: Obj, node_ips: dict[str, str]) -> tuple[Tunnel, ...]:
    """flannel's routes `<subnet> via <subnet>.0 dev flannel.1 onlink`, resolved through the permanent
    neighbour (gateway → VTEP MAC) and FDB (MAC → remote node IP) entries; host-gw's `via <node IP> dev eth0`."""
    names = {link["index"]: link["name"] for link in state["links"]}
    macs = {n["ip"]: n["mac"] for n in state["neighbours"]}
    vteps = {f["mac"]: f["dst"] for f in state["fdb"] if f.get("dst")}
    tunnels = []
    for route in state["routes"]:
        device, gateway = names.get(route["oif"]), route.get("gateway")
        if route["dst"] == "0.0.0.0/0" or gateway is None:
            continue
        if device == UNDERLAY_LINK and gateway in node_ips:
            tunnels.append(Tunnel(route["dst"], device, gateway, None, gateway, node_ips[gateway]))
        elif device is not None and device.startswith("flannel."):
            mac = macs.get(gateway)
            remote = vteps.get(mac) if mac else None
            tunnels.append(Tunnel(route["dst"], device, gateway, mac, remote, node_ips.get(remote or "")))
    return tuple(tunnels)


def _node(state: Obj, pods: dict[tuple[str, str], Obj], node_ips: dict[str, str], bridge: str) -> NodeNetwork:
    links = state["links"]
    return NodeNetwork(
        name=state["name"], ip=state["ip"], eth0=_interface(links, UNDERLAY_LINK),
        bridge=_interface(links, bridge, "bridge"), vtep=_interface(links, kind="vxlan"),
        pods=_pod_ports(state, pods), tunnels=_tunnels(state, node_ips),
        link_names={link["index"]: link["name"] for link in links})


def _backends(service: Obj, slices: list[Obj], pods_by_ip: dict[str, Obj],
              node_ips: dict[str, str]) -> tuple[Backend, ...]:
    meta = service["metadata"]
    backends = []
    for item in slices:
        labels = item["metadata"].get("labels") or {}
        if item["metadata"]["namespace"] != meta["namespace"] or labels.get("kubernetes.io/service-name") != meta["name"]:
            continue
        ports = tuple(sorted({p["port"] for p in item.get("ports") or [] if p.get("port")}))
        for endpoint in item.get("endpoints") or []:
            conditions = endpoint.get("conditions") or {}
            ref = endpoint.get("targetRef") or {}
            for ip in endpoint.get("addresses") or []:
                pod = pods_by_ip.get(ip)
                name = f"{ref['namespace']}/{ref['name']}" if ref.get("kind") == "Pod" else None
                backends.append(Backend(
                    slice=item["metadata"]["name"], ip=ip, ports=ports, ready=conditions.get("ready", True) is not False,
                    serving=conditions.get("serving", True) is not False,
                    terminating=bool(conditions.get("terminating")), pod=name,
                    node=endpoint.get("nodeName") or (pod["spec"].get("nodeName") if pod else node_ips.get(ip))))
    return tuple(sorted(backends, key=lambda b: (b.ip, b.ports)))


def service_view(service: Obj, slices: list[Obj], pods: list[Obj], node_ips: dict[str, str]) -> ServiceView:
    """A Service with its ports and the endpoints its EndpointSlices list (each with its pod and node)."""
    spec, meta = service["spec"], service["metadata"]
    pods_by_ip = {pod["status"]["podIP"]: pod for pod in pods if pod.get("status", {}).get("podIP")
                  and not pod["spec"].get("hostNetwork")}
    ports = tuple(ServicePortView(p.get("name", ""), p.get("protocol", "TCP"), p["port"], str(p.get("targetPort", p["port"])),
                                  p.get("nodePort")) for p in spec.get("ports") or [])
    ingress = tuple(i["ip"] for i in (service.get("status", {}).get("loadBalancer") or {}).get("ingress") or []
                    if i.get("ip"))
    cluster_ip = spec.get("clusterIP") if spec.get("clusterIP") not in (None, "", "None") else None
    type_ = spec.get("type", "ClusterIP")
    return ServiceView(meta["namespace"], meta["name"], type_, cluster_ip, ports, ingress,
                       _backends(service, slices, pods_by_ip, node_ips),
                       spec.get("externalName") if type_ == "ExternalName" else None)


def build(snapshot: Obj) -> Topology:
    """The Topology of a snapshot from kinn.topology.live.read_snapshot."""
    objects, underlay = snapshot["objects"], snapshot["underlay"]
    pods = _pod_index(objects["pods"])
    node_ips = {state["ip"]: state["name"] for state in snapshot["nodes"]}
    nodes = tuple(_node(state, pods, node_ips, underlay["cniBridge"]) for state in snapshot["nodes"])
    services = tuple(sorted((service_view(s, objects["endpointslices"], objects["pods"], node_ips)
                             for s in objects["services"]),
                            key=lambda view: view.key))
    return Topology(snapshot["cluster"], underlay["bridge"], underlay["address"], underlay["backend"],
                    underlay["proxyMode"], underlay["client"], nodes, services)
