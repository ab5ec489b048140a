"""The kubelet's own iptables chains (kubelet_network_linux.go), which `iptables-save` on a real node
shows beside kube-proxy's, whatever the proxy mode:

- mangle `KUBE-IPTABLES-HINT`, empty: its presence tells other components (kube-proxy's iptables
  wrapper script) which iptables backend this node's rules are in;
- filter `KUBE-FIREWALL`, jumped to first from INPUT and OUTPUT: it drops packets for 127.0.0.0/8
  that did not come from there, the martians that kube-proxy's `route_localnet=1` (for localhost
  NodePorts) would otherwise let in. kube-proxy's iptables mode writes the identical rule;
- an empty `KUBE-KUBELET-CANARY` in mangle, nat and filter, checked once a minute: when it is gone,
  something deleted the tables' chains (a firewall reload), and the chains above are written again.

Only inside a node: run in the host's network namespace, the kubelet leaves the host's firewall alone.
"""

from __future__ import annotations

import asyncio
import logging

from kinn import iptables, netlink

log = logging.getLogger(__name__)

HINT_CHAIN = "KUBE-IPTABLES-HINT"
FIREWALL_CHAIN = "KUBE-FIREWALL"
CANARY_CHAIN = "KUBE-KUBELET-CANARY"
CANARY_TABLES = ("mangle", "nat", "filter")
MONITOR_PERIOD = 60.0  # seconds, upstream's (not configurable there)
LOCALNET_RULE = ["-m", "comment", "--comment", "block incoming localnet connections", "-d", "127.0.0.0/8",
                 "!", "-s", "127.0.0.0/8", "-m", "conntrack", "!", "--ctstate", "RELATED,ESTABLISHED,DNAT",
                 "-j", "DROP"]


def sync_iptables_rules() -> None:
    """syncIPTablesRules: the hint chain, and KUBE-FIREWALL with its rule and its jumps, each added
    only where missing (kube-proxy may have written the same ones already)."""
    iptables.ensure_chain("mangle", HINT_CHAIN)
    iptables.ensure_chain("filter", FIREWALL_CHAIN)
    iptables.insert_unique("filter", "OUTPUT", ["-j", FIREWALL_CHAIN])
    iptables.insert_unique("filter", "INPUT", ["-j", FIREWALL_CHAIN])
    iptables.append_unique("filter", FIREWALL_CHAIN, LOCALNET_RULE)


def resync_if_flushed() -> bool:
    """One look of the canary monitor: if a canary is gone, write the rules, then the canaries
    (last, so a failure before them is retried at the next look). True if it wrote them."""
    if iptables.canaries_present(CANARY_CHAIN, CANARY_TABLES):
        return False
    sync_iptables_rules()
    for table in CANARY_TABLES:
        iptables.ensure_chain(table, CANARY_CHAIN)
    return True


async def monitor(period: float = MONITOR_PERIOD) -> None:
    """initNetworkUtil and its iptables Monitor: write the chains at start, then look every `period`."""
    if await asyncio.to_thread(netlink.in_host_netns):  # where the rules would be written
        log.warning("not writing the kubelet's iptables chains: this is the host's network namespace")
        return
    first = True
    while True:
        try:
            if await asyncio.to_thread(resync_if_flushed) and not first:
                log.info("kubelet iptables canary deleted (tables flushed?): rules written again")
        except (iptables.IptablesError, OSError) as error:
            log.error("failed to write the kubelet's iptables rules (will retry): %s", error)
        first = False
        await asyncio.sleep(period)
