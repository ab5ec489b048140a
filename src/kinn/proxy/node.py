"""What every proxy mode's rules need to know about the node and the proxy's flags."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class NodeContext:
    node_ip: str
    cluster_cidr: str = ""  # --cluster-cidr: traffic from outside it to a ClusterIP is masqueraded
    masquerade_all: bool = False
    mark: str = "0x4000"  # 1 << --iptables-masquerade-bit (14)
