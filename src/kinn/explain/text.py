"""`kinn explain`'s plain-text report: the objects, then one section per node, each headed by what it shows."""

from __future__ import annotations

from kinn.explain.explain import Explanation, NodeFindings

INDENT = "    "


def _section(title: str, lines: list[str]) -> list[str]:
    return [f"  {title}:", *(INDENT + line for line in lines or ["(none)"])]


def _node(found: NodeFindings, kind: str) -> list[str]:
    lines = [f"Node {found.name} ({found.ip})"]
    if found.wiring:
        lines += _section("the pod's wiring", found.wiring)
    for table, rules in found.rules.items():
        title = "kube-proxy's nftables (table ip kube-proxy)" if table == "nftables" else f"kube-proxy's iptables, {table} table"
        lines += _section(title, rules)
    if kind == "Service" and not found.rules:
        lines += _section("kube-proxy's rules", [])
    lines += _section("routes (ip route get)", [f"{ip}: {route}" for ip, route in found.routes.items()])
    if found.tunnels:
        title = ("host-gw routes to those pod subnets (via the node that has them, on eth0)" if found.host_gw
                 else "flannel.1 entries for those pod subnets (route; ip neigh; bridge fdb)")
        lines += _section(title, found.tunnels)
    lines += _section("conntrack -L", found.conntrack)
    return lines


def render_text(explanation: Explanation) -> str:
    lines = list(explanation.summary)
    for found in explanation.nodes:
        lines += ["", *_node(found, explanation.kind)]
    return "\n".join(lines) + "\n"
