"""What a node's kernel holds right now, read with the tools kube-proxy itself uses and over netlink.

Each read runs in the node's network namespace only, through the helper `kinn trace` runs its tools
with: that is all iptables-save, nft and conntrack need, their state being per network namespace.
Routes come from the kernel's own lookup (`ip route get`), not from re-implementing it.
"""

from __future__ import annotations

import dataclasses
import subprocess

from kinn import netlink
from kinn.cluster.node import Node
from kinn.proxy.iptables.proxier import iptables_save
from kinn.topology.model import format_route
from kinn.trace import inside

KUBE_PROXY_NFT_TABLE = ("ip", "kube-proxy")


class ToolError(RuntimeError):
    pass


def _tool(node: Node, *argv: str) -> str:
    try:
        return inside.run(node.paths.netns, *argv)
    except subprocess.CalledProcessError as error:
        raise ToolError(f"{' '.join(argv)}: {error.stderr.strip()}") from error


def iptables_rules(node: Node) -> str:
    """`iptables-save` of the nat and filter tables, as kube-proxy reads them."""
    return netlink.run_in(node.paths.netns, lambda: iptables_save("nat") + iptables_save("filter"))


def nft_kube_proxy_table(node: Node) -> str:
    """`nft list table ip kube-proxy` (empty if kube-proxy has not created it)."""
    try:
        return _tool(node, "nft", "list", "table", *KUBE_PROXY_NFT_TABLE)
    except ToolError:
        return ""


def conntrack_table(node: Node) -> str:
    """`conntrack -L`: every tracked flow with its original and reply tuple (the NAT it got)."""
    return _tool(node, "conntrack", "-L")


def routes_to(node: Node, ips: list[str]) -> dict[str, str]:
    """`ip route get <ip>` for each IP, as the node's kernel would route a packet to it now."""
    with netlink.iproute(node.paths.netns) as ipr:
        names = {link.index: link.name for link in netlink.list_links(ipr)}
        return {ip: format_route(dataclasses.asdict(netlink.get_route(ipr, ip)), names) for ip in ips}
