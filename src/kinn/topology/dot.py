"""`kinn topology` as Graphviz DOT: the picture seeds 002 and 003 draw, laid out by `dot`.

Top to bottom, as those diagrams read: Services (ClusterIP, NodePorts) above the pods they
balance to; each node a box holding its pods, their veth ends, the CNI bridge, flannel.1 and eth0;
the underlay bridge (and the outside client) at the bottom. The VXLAN tunnels between flannel.1
devices (or host-gw routes between eth0s) are drawn across, outside the ranking, so they do not
pull the nodes out of line.
"""

from __future__ import annotations

from kinn.topology.model import NodeNetwork, PodPort, ServiceView, Topology

NODE_FILL, POD_FILL, SERVICE_FILL, DEVICE_FILL, UNDERLAY_FILL = "#eef3fb", "#d9f2d9", "#fff2cc", "#ffffff", "#e6e6e6"
TUNNEL_COLOR, SERVICE_EDGE_COLOR = "#1f5fbf", "#b38f00"


def quote(text: str) -> str:
    """A DOT double-quoted string (IDs and labels); `\\n` in labels stays a line break."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _attrs(**attrs: str) -> str:
    return "[" + ", ".join(f"{key}={quote(value)}" for key, value in attrs.items()) + "]"


def _id(*parts: str) -> str:
    return quote("/".join(parts))


def _vertex(vid: str, lines: list[str], **attrs: str) -> str:
    """A node statement; `lines` become its label, one per line."""
    return f"{vid} {_attrs(label=chr(10).join(lines), **attrs)};"


def _pod_id(pod: PodPort) -> str:
    return _id("pod", pod.ip)


def _node_lines(node: NodeNetwork) -> list[str]:
    n = node.name
    lines = [f"  subgraph {quote('cluster_' + n)} {{",
             f"    label={quote(f'node {n}')}; style=\"rounded,filled\"; fillcolor={quote(NODE_FILL)}; "
             f"color=\"#7f9cc9\"; fontsize=13;"]
    for pod in node.pods:
        lines.append("    " + _vertex(_pod_id(pod), [pod.name or "(no pod)", pod.ip, pod.eth0], fillcolor=POD_FILL))
        lines.append("    " + _vertex(_id(n, pod.veth), [pod.veth_label], style="filled", fontsize="9"))
    if node.bridge is not None:
        bridge = node.bridge
        lines.append("    " + _vertex(_id(n, bridge.name), [bridge.name, *bridge.addresses], fillcolor=DEVICE_FILL))
    if node.vtep is not None:
        vtep = node.vtep
        lines.append("    " + _vertex(_id(n, vtep.name), [vtep.name, *vtep.addresses, vtep.mac], fillcolor=DEVICE_FILL))
    lines.append("    " + _vertex(_id(n, "eth0"), ["eth0", node.ip], fillcolor=DEVICE_FILL))
    lines.append("  }")
    return lines


def _wiring(node: NodeNetwork, underlay: str) -> list[str]:
    """Edges inside a node, bottom-up in meaning: pod ↔ veth ↔ bridge, bridge → flannel.1 → eth0 → underlay."""
    n, lines = node.name, []
    for pod in node.pods:
        lines.append(f"  {_pod_id(pod)} -> {_id(n, pod.veth)} [dir=none, label=\"veth\"];")
        if pod.bridge:
            lines.append(f"  {_id(n, pod.veth)} -> {_id(n, pod.bridge)} [dir=none];")
    lower = [name for name in (node.bridge and node.bridge.name, node.vtep and node.vtep.name, "eth0") if name]
    for upper, below in zip(lower, lower[1:]):  # the node's routing between its devices: ranks, not cables
        lines.append(f"  {_id(n, upper)} -> {_id(n, below)} [style=dotted, arrowhead=none, color=\"#999999\"];")
    lines.append(f"  {_id(n, 'eth0')} -> {quote(underlay)} [dir=none, penwidth=2];")
    return lines


def _tunnels(topology: Topology) -> list[str]:
    """One edge per pair of nodes: VXLAN between flannel.1 devices, or host-gw routes between eth0s."""
    lines, seen = [], set()
    for node in topology.nodes:
        for tunnel in node.tunnels:
            if tunnel.remote_node is None or frozenset((node.name, tunnel.remote_node)) in seen:
                continue
            seen.add(frozenset((node.name, tunnel.remote_node)))
            label, device = ("VXLAN", tunnel.device) if tunnel.vtep_mac is not None else ("host-gw", "eth0")
            lines.append(f"  {_id(node.name, device)} -> {_id(tunnel.remote_node, device)} "
                         f"[dir=both, constraint=false, style=dashed, penwidth=2, color={quote(TUNNEL_COLOR)}, "
                         f"fontcolor={quote(TUNNEL_COLOR)}, label={quote(label)}];")
    return lines


def _service_label(service: ServiceView) -> list[str]:
    ports = [f"{p.port}/{p.protocol}" + (f" → NodePort {p.node_port}" if p.node_port else "") for p in service.ports]
    return [service.key, f"{service.type} {service.address}", *ports, *(f"LB {ip}" for ip in service.ingress)]


def _services(topology: Topology) -> list[str]:
    pods = {pod.ip: pod for node in topology.nodes for pod in node.pods}
    node_ips = {node.ip: node.name for node in topology.nodes}
    lines = []
    for service in topology.services:
        sid = _id("svc", service.key)
        lines.append("  " + _vertex(sid, _service_label(service), fillcolor=SERVICE_FILL))
        for backend in service.backends:
            target = _pod_id(pods[backend.ip]) if backend.ip in pods else (
                _id(node_ips[backend.ip], "eth0") if backend.ip in node_ips else None)
            if target:  # an endpoint on a node's own IP (the API server) must not pull that node up a rank
                extra = "" if backend.ip in pods else ", constraint=false"
                style = "dashed" if backend.ready else "dotted"
                lines.append(f"  {sid} -> {target} [color={quote(SERVICE_EDGE_COLOR)}, style={style}{extra}];")
    return lines


def render_dot(topology: Topology) -> str:
    underlay = f"underlay {topology.underlay_bridge}"
    tunnels = "blue dashed: VXLAN tunnels between flannel.1 devices (VNI 1, UDP 8472)" if topology.backend == "vxlan" \
        else "blue dashed: host-gw routes to each node's pod subnet via its eth0"
    title = (f"kinn cluster {topology.cluster}: flannel {topology.backend}, kube-proxy {topology.proxy_mode}\n"
             f"{tunnels}; yellow: Services → their endpoints")
    lines = [f"digraph {quote('kinn-' + topology.cluster)} {{",
             f"  graph [rankdir=TB, nodesep=0.25, ranksep=0.45, fontname=\"Helvetica\", "
             f"label={quote(title)}, labelloc=t, fontsize=16];",
             "  node [shape=box, style=\"rounded,filled\", fontname=\"Helvetica\", fontsize=10, margin=\"0.08,0.04\"];",
             "  edge [fontname=\"Helvetica\", fontsize=9];"]
    for node in topology.nodes:
        lines += _node_lines(node)
    lines.append("  " + _vertex(quote(underlay), [f"{topology.underlay_bridge} (underlay bridge)", topology.underlay_address],
                                fillcolor=UNDERLAY_FILL, width="6"))
    if topology.client:
        lines.append("  " + _vertex('"client"', ["outside client", topology.client], fillcolor=UNDERLAY_FILL))
        lines.append(f"  {quote(underlay)} -> \"client\" [dir=none, penwidth=2];")
    for node in topology.nodes:
        lines += _wiring(node, underlay)
    lines += _tunnels(topology)
    lines += _services(topology)
    lines.append("}")
    return "\n".join(lines) + "\n"
