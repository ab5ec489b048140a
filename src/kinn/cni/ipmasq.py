"""ip.SetupIPMasq / TeardownIPMasq of the reference plugins: per-container nat chain that leaves
traffic to the pod's own network alone and masquerades the rest (except multicast)."""

from __future__ import annotations

import ipaddress

from kinn import iptables

MULTICAST_NET = "224.0.0.0/4"


def setup_ip_masq(address: str, chain: str, comment: str) -> None:
    """`address` is the pod's CIDR (10.244.1.5/24): its network is exempt, its IP jumps to `chain`."""
    iface = ipaddress.ip_interface(address)
    iptables.ensure_chain("nat", chain)
    iptables.append_unique("nat", chain, ["-d", str(iface.network), "-j", "ACCEPT", "-m", "comment", "--comment", comment])
    iptables.append_unique("nat", chain, ["!", "-d", MULTICAST_NET, "-j", "MASQUERADE", "-m", "comment", "--comment", comment])
    iptables.append_unique("nat", "POSTROUTING", ["-s", str(iface.ip), "-j", chain, "-m", "comment", "--comment", comment])


def teardown_ip_masq(address: str, chain: str, comment: str) -> None:
    iface = ipaddress.ip_interface(address)
    iptables.delete_rule("nat", "POSTROUTING", ["-s", str(iface.ip), "-j", chain, "-m", "comment", "--comment", comment])
    iptables.delete_chain("nat", chain)
