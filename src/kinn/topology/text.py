"""`kinn topology --format text`: the cluster's network as an indented tree, top (underlay) to bottom (pods)."""

from __future__ import annotations

from dataclasses import dataclass, field

from kinn.topology.model import Backend, NodeNetwork, ServiceView, Topology


@dataclass
class Branch:
    label: str
    children: list[Branch] = field(default_factory=list)


def tree_lines(branch: Branch, prefix: str = "", last: bool = True, root: bool = True) -> list[str]:
    """`tree`-style lines: ├─ for a child with siblings after it, └─ for the last one."""
    lines = [branch.label if root else f"{prefix}{'└─ ' if last else '├─ '}{branch.label}"]
    inner = "" if root else prefix + ("   " if last else "│  ")
    for i, child in enumerate(branch.children):
        lines += tree_lines(child, inner, i == len(branch.children) - 1, root=False)
    return lines


def _node(node: NodeNetwork) -> Branch:
    branch = Branch(f"node {node.name}  eth0 {node.ip}")
    if node.bridge is not None:
        bridge = Branch(f"{node.bridge.name} {', '.join(node.bridge.addresses) or '(no address)'}  bridge")
        for pod in node.pods:
            name = pod.key if pod.namespace else f"(no pod) {pod.netns}"
            bridge.children.append(Branch(f"{pod.veth_label} ↔ {pod.eth0}  {pod.ip}  {name}  netns {pod.netns}"))
        branch.children.append(bridge)
    if node.vtep is not None:
        vtep = Branch(f"{node.vtep.name} {', '.join(node.vtep.addresses)}  VTEP {node.vtep.mac}")
        vtep.children = [Branch(t.describe()) for t in node.tunnels if t.device == node.vtep.name]
        branch.children.append(vtep)
    branch.children += [Branch(t.describe()) for t in node.tunnels if t.vtep_mac is None]
    return branch


def _where(backend: Backend) -> str:
    if backend.pod:
        return f"{backend.pod} on {backend.node}" if backend.node else backend.pod
    return f"node {backend.node}" if backend.node else "outside the cluster"


def _service(service: ServiceView) -> Branch:
    ports = ", ".join(f"{p.port}/{p.protocol}" + (f":{p.node_port}" if p.node_port else "") for p in service.ports)
    ingress = f"LoadBalancer {', '.join(service.ingress)}" if service.ingress else ""
    branch = Branch("  ".join(part for part in (service.key, f"{service.type} {service.address}", ports, ingress)
                              if part))
    branch.children = [Branch(f"→ {b.ip}:{','.join(map(str, b.ports))}  {_where(b)}" + ("" if b.ready else "  (not ready)"))
                       for b in service.backends]
    return branch


def render_text(topology: Topology) -> str:
    root = Branch(f"cluster {topology.cluster}  underlay {topology.underlay_bridge} {topology.underlay_address}  "
                  f"(flannel {topology.backend}, kube-proxy {topology.proxy_mode})")
    root.children = [_node(node) for node in topology.nodes]
    if topology.client:
        root.children.append(Branch(f"client {topology.client}  (outside host on {topology.underlay_bridge})"))
    root.children.append(Branch("services", [_service(service) for service in topology.services]))
    return "\n".join(tree_lines(root)) + "\n"
